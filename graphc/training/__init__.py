"""Training any graphc model the Keras way: `compile(optimizer, loss, metrics, loss_weights)`, `fit`,
`evaluate`, `train_on_batch`, `test_on_batch` (front.py), over a train-step graph (step.py) that a
back end's trainer runs. The trainer lives in the runtime room; `TRAINERS` names its module, which
is imported only when a model first trains (the core never imports the runtime)."""
from graphc.training.step import TrainingError, TrainStep, build_train_step

TRAINERS = {"ort": "graphc.runtime.train:Trainer"}

__all__ = ["TRAINERS", "TrainingError", "TrainStep", "build_train_step"]
