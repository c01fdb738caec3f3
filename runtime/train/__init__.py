"""Training on ONNX Runtime: `Trainer` runs a train-step graph (graphc/training/step.py) with the
parameters and optimizer state resident in OrtValues between steps."""
from graphc.runtime.train.trainer import Trainer

__all__ = ["Trainer"]
