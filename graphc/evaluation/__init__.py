"""Evaluation as in DL4J: `Evaluation` (classification), `RegressionEvaluation`, `ROC` and
`ROCMultiClass` (exact AUC), each accumulating over batches and merging across workers."""
from graphc.evaluation.classification import Evaluation
from graphc.evaluation.regression import RegressionEvaluation
from graphc.evaluation.roc import ROC, ROCMultiClass, auc_exact, average_precision, roc_curve

__all__ = ["Evaluation", "RegressionEvaluation", "ROC", "ROCMultiClass", "auc_exact", "average_precision",
           "roc_curve"]
