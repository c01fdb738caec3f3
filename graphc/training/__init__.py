"""Training any graphc model the Keras way: `compile(optimizer, loss, metrics, loss_weights)`, `fit`,
`evaluate`, `train_on_batch`, `test_on_batch` (front.py), over a train-step graph (step.py) that a
back end's trainer runs. The trainer lives in the runtime room; `TRAINERS` names its module, which
is imported only when a model first trains (the core never imports the runtime)."""
from graphc.training.checkpoint import load_checkpoint, save_checkpoint
from graphc.training.step import TRAINERS, TrainingError, TrainStep, build_train_step

__all__ = ["TRAINERS", "load_checkpoint", "save_checkpoint", "TrainingError", "TrainStep", "build_train_step"]
