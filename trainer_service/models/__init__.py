"""Model families (one module per family) and the factory from model type + hyperparameters to estimator.

This package stays importable without torch: the neural-network module is imported only when
such a model is built.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sklearn.base import BaseEstimator

from mlsuite_common.errors import FailedPrecondition
from trainer_service.events import ProgressReporter
from trainer_service.registry import HyperValue, ModelCategory, get_model_type, resolve_hyperparameters

__all__ = ["TrainingDiverged", "TrainingData", "NEURAL_NETWORK_TYPES", "build_estimator"]

NEURAL_NETWORK_TYPES: frozenset[str] = frozenset({"neural_network", "neural_network_classifier"})


class TrainingDiverged(FailedPrecondition):
    """The training loss became NaN or infinite; the message says at which epoch and what to change."""

    def __init__(self, message: str) -> None:
        super().__init__(message, reason="TRAINING_DIVERGED")


@dataclass(frozen=True)
class TrainingData:
    """What a builder may need to know about the training split: its row count and per-class row counts."""

    rows: int
    class_rows: tuple[int, ...] = ()


def build_estimator(
    model_type: str,
    hyperparameters: Mapping[str, HyperValue],
    *,
    seed: int,
    device: str,
    data: TrainingData,
    reporter: ProgressReporter | None = None,
) -> BaseEstimator:
    """An unfitted estimator for a registered model type (hyperparameters re-resolved: defaults filled)."""
    described = get_model_type(model_type)
    hyperparameters = resolve_hyperparameters(model_type, hyperparameters)
    if not described.available:
        raise FailedPrecondition(
            f"model type {model_type!r} is not available on this server (its library is not installed)",
            reason="MODEL_TYPE_UNAVAILABLE",
        )
    if model_type in NEURAL_NETWORK_TYPES:
        from trainer_service.models import neural_network

        kind = (
            neural_network.NeuralNetworkClassifier
            if described.category is ModelCategory.CLASSIFICATION
            else neural_network.NeuralNetworkRegressor
        )
        values: dict[str, Any] = {name: hyperparameters[name] for name in neural_network.HYPERPARAMETER_NAMES}
        return kind(**values, device=device, random_state=seed, reporter=reporter)
    from trainer_service.models import sklearn_classifiers, sklearn_regressors

    for family in (sklearn_regressors, sklearn_classifiers):
        builder = family.BUILDERS.get(model_type)
        if builder is not None:
            return builder(hyperparameters, seed, data)
    raise FailedPrecondition(f"model type {model_type!r} has no builder", reason="MODEL_TYPE_UNAVAILABLE")
