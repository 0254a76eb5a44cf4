"""Validation metrics: r2 / mae / rmse / mse; accuracy, macro precision / recall / f1 and binary roc_auc.

A metric that is undefined on the validation split (r2 on fewer than 2 rows, roc_auc when the
split holds one class) is left out rather than reported as NaN.
"""

from __future__ import annotations

import logging
import math

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    mean_absolute_error,
    mean_squared_error,
    precision_recall_fscore_support,
    r2_score,
    roc_auc_score,
)

__all__ = ["regression_metrics", "classification_metrics"]

logger = logging.getLogger(__name__)


def regression_metrics(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """r2, mae, rmse and mse of predictions against the truth (r2 only on 2 rows or more)."""
    mse = float(mean_squared_error(y_true, y_pred))
    metrics = {"mae": float(mean_absolute_error(y_true, y_pred)), "rmse": math.sqrt(mse), "mse": mse}
    if len(y_true) >= 2:
        metrics["r2"] = float(r2_score(y_true, y_pred))
    else:
        logger.info("r2 is undefined on a validation split of %d row(s); left out", len(y_true))
    return {name: metrics[name] for name in ("r2", "mae", "rmse", "mse") if name in metrics}


def classification_metrics(y_true: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Metrics of class-code truth against per-class probabilities (columns indexed by class code)."""
    y_pred = probabilities.argmax(axis=1)
    precision, recall, f1, _ = precision_recall_fscore_support(
        y_true, y_pred, average="macro", zero_division=0
    )
    metrics = {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "precision_macro": float(precision),
        "recall_macro": float(recall),
        "f1_macro": float(f1),
    }
    if probabilities.shape[1] == 2:
        if len(np.unique(y_true)) == 2:
            metrics["roc_auc"] = float(roc_auc_score(y_true, probabilities[:, 1]))
        else:
            logger.info("roc_auc is undefined when the validation split holds one class; left out")
    return metrics
