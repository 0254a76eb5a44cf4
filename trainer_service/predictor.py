"""Prediction with a trained model: LoadedModel (read back by load_model) and the helpers training evaluates with.

The fitted preprocessing runs without pandas (feature_encoder), a network on the CPU as folded numpy layers,
and a few instances of an all-numeric model in Python floats (SMALL_BATCH_ROWS): the same results, bit for bit,
as the array path, which also words the errors.
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer

from mlsuite_common.errors import FailedPrecondition
from trainer_service.artifacts import ModelManifest, load_manifest, load_parts
from trainer_service.feature_encoder import FeatureEncoder
from trainer_service.instances import ColumnRows, FeatureLayout, PredictRows, instance_columns, numeric_table
from trainer_service.preprocessing import VALUE_LIMIT, FeatureColumn
from trainer_service.registry import ModelCategory

__all__ = [
    "SMALL_BATCH_ROWS",
    "LoadedModel",
    "Prediction",
    "in_range",
    "load_model",
    "predict_numbers",
    "predict_probabilities",
]

SMALL_BATCH_ROWS = 8
"""Up to this many instances, an all-numeric model's features are encoded in Python floats, not numpy
(one-row Predict latency; see FeatureEncoder.encode_rows)."""


@dataclass(frozen=True)
class Prediction:
    """One prediction: `number` for regression, `label` + per-class `probabilities` for classification."""

    number: float | None
    label: str | None
    probabilities: dict[str, float]


def in_range(encoded: np.ndarray) -> np.ndarray:
    """The encoded features clipped (in place) to ±VALUE_LIMIT.

    Raw values are within ±3.4e38 (checked), but standardising divides by the training spread: 3e38 over
    a std of 0.3 is 1e39, finite in float64 yet infinite in the float32 tree ensembles compute in, where
    scikit-learn refuses it. Clipping changes no tree's answer (every split threshold is far inside the
    range) and keeps every model's input finite in float32.
    """
    # Two ufuncs rather than np.clip, whose Python-level argument handling costs more than both on one row.
    np.minimum(encoded, VALUE_LIMIT, out=encoded)
    np.maximum(encoded, -VALUE_LIMIT, out=encoded)
    return encoded


def _non_finite_prediction() -> FailedPrecondition:
    return FailedPrecondition(
        "the model produced a non-finite prediction; an input value is probably far outside the training range",
        reason="NON_FINITE_PREDICTION",
    )


def predict_numbers(estimator: BaseEstimator, features: np.ndarray) -> np.ndarray:
    """A regressor's predictions as float64, or NON_FINITE_PREDICTION."""
    numbers = np.asarray(estimator.predict(features), dtype=np.float64).reshape(-1)
    if not np.isfinite(numbers).all():
        raise _non_finite_prediction()
    return numbers


def predict_probabilities(estimator: BaseEstimator, features: np.ndarray, n_classes: int) -> np.ndarray:
    """Probabilities over all classes (columns = class codes); classes unseen in training get 0."""
    found = np.asarray(estimator.predict_proba(features), dtype=np.float64)
    probabilities = np.zeros((len(features), n_classes))
    probabilities[:, np.asarray(estimator.classes_, dtype=np.int64)] = found
    if not np.isfinite(probabilities).all():
        raise FailedPrecondition(
            "the model produced non-finite probabilities", reason="NON_FINITE_PREDICTION"
        )
    return probabilities


class LoadedModel:
    """A trained model ready to predict; safe to share between threads (a network guards its weights)."""

    def __init__(
        self, manifest: ModelManifest, preprocessor: ColumnTransformer, estimator: BaseEstimator
    ) -> None:
        self.feature_schema: tuple[FeatureColumn, ...] = manifest.feature_schema
        self._layout = FeatureLayout.of(manifest.feature_schema)
        self.classes: tuple[str, ...] = manifest.classes
        self.category = manifest.category
        self.model_type = manifest.model_type
        self._preprocessor = preprocessor
        # Encodes instances without pandas; None keeps scikit-learn's transform (see feature_encoder).
        self._encoder = FeatureEncoder.compile(preprocessor)
        # A few instances of an all-numeric model are encoded in Python floats (FeatureEncoder.encode_rows).
        self._encodes_rows = (
            self._encoder is not None
            and self._encoder.numeric_inputs == self._layout.numeric_names
            and not self._layout.strings
        )
        self._estimator = estimator
        # A regressor with predict_rows (the neural network's) answers those rows in Python floats too.
        self._predict_rows: Callable[[list[list[float]]], list[float]] | None = (
            getattr(estimator, "predict_rows", None)
            if self._encodes_rows and self.category is ModelCategory.REGRESSION
            else None
        )

    def features(self, rows: PredictRows) -> np.ndarray:
        """The encoded feature matrix of rows (instances or columns) validated against feature_schema."""
        return self._features(rows, self._encoded_rows(rows))

    def _features(self, rows: PredictRows, encoded: list[list[float]] | None) -> np.ndarray:
        if encoded is not None:
            return np.array(encoded, dtype=np.float64).reshape(len(rows), len(self._layout.numeric))
        if isinstance(rows, ColumnRows):
            columns = rows.instance_columns(self._layout)
        else:
            columns = instance_columns(rows, self._layout)
        if self._encoder is not None:
            return in_range(self._encoder.encode(columns))
        return in_range(self._preprocessor.transform(columns.frame()))

    def predict(self, rows: PredictRows) -> list[Prediction]:
        """One prediction per row, in order; rows (instances or columns) are validated against feature_schema."""
        encoded = self._encoded_rows(rows)
        if encoded is not None and self._predict_rows is not None:
            numbers = self._predict_rows(encoded)
            if not all(map(math.isfinite, numbers)):
                raise _non_finite_prediction()
            return [Prediction(value, None, {}) for value in numbers]
        features = self._features(rows, encoded)
        if not len(rows):
            return []
        if self.category is ModelCategory.REGRESSION:
            return [
                Prediction(value, None, {}) for value in predict_numbers(self._estimator, features).tolist()
            ]
        probabilities = predict_probabilities(self._estimator, features, len(self.classes))
        return [
            Prediction(
                None, self.classes[int(row.argmax())], dict(zip(self.classes, row.tolist(), strict=True))
            )
            for row in probabilities
        ]

    def _encoded_rows(self, rows: PredictRows) -> list[list[float]] | None:
        """A few instances of an all-numeric model, encoded in Python floats (FeatureEncoder.encode_rows).

        None for columns, more than SMALL_BATCH_ROWS rows, other models, or a value the array path must
        refuse by name.
        """
        if not self._encodes_rows or isinstance(rows, ColumnRows) or not 0 < len(rows) <= SMALL_BATCH_ROWS:
            return None
        return self._encoder.encode_rows(numeric_table(rows, self._layout))  # type: ignore[union-attr]


def load_model(artifact_dir: pathlib.Path, device: str = "cpu") -> LoadedModel:
    """A model directory written by run_training, loaded without unpickling anything (network on `device`)."""
    manifest = load_manifest(artifact_dir)
    preprocessor, estimator = load_parts(artifact_dir, manifest, device)
    return LoadedModel(manifest, preprocessor, estimator)
