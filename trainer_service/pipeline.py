"""Training and prediction end to end: frame -> split -> ColumnTransformer -> estimator -> metrics -> files.

run_training turns a pandas frame and a resolved request into a saved model directory; load_model
reads one back as a thread-safe LoadedModel.
"""

from __future__ import annotations

import importlib.metadata
import logging
import math
import pathlib
import platform
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split

from mlsuite_common.errors import FailedPrecondition, InvalidArgument
from trainer_service.artifacts import ModelManifest, load_manifest, load_parts, save_model
from trainer_service.events import Phase, ProgressReporter
from trainer_service.feature_encoder import FeatureEncoder
from trainer_service.instances import ColumnRows, FeatureLayout, PredictRows, instance_columns, numeric_table
from trainer_service.metrics import classification_metrics, regression_metrics
from trainer_service.models import NEURAL_NETWORK_TYPES, TrainingData, TrainingDiverged, build_estimator
from trainer_service.preprocessing import (
    VALUE_LIMIT,
    FeatureColumn,
    build_preprocessor,
    encode_labels,
    infer_feature_schema,
    normalize_features,
    numeric_target,
)
from trainer_service.registry import HyperValue, ModelCategory, get_model_category

__all__ = [
    "FeatureColumn",
    "TrainingRequest",
    "TrainingOutcome",
    "TrainingDiverged",
    "Prediction",
    "LoadedModel",
    "SMALL_BATCH_ROWS",
    "run_training",
    "load_model",
]

logger = logging.getLogger(__name__)

_BASE_LIBRARIES = ("mlsuite", "numpy", "pandas", "scikit-learn", "skops")
_TORCH_LIBRARIES = ("torch", "safetensors")

SMALL_BATCH_ROWS = 8
"""Up to this many instances, an all-numeric model's features are encoded in Python floats, not numpy
(one-row Predict latency; see FeatureEncoder.encode_rows)."""


@dataclass(frozen=True)
class TrainingRequest:
    """A resolved training request: hyperparameters already validated, device already chosen."""

    target_column: str
    feature_columns: tuple[str, ...]
    model_type: str
    hyperparameters: Mapping[str, HyperValue]
    validation_fraction: float  # in (0, 0.5]
    seed: int
    device: str  # "cpu" | "cuda" | "mps"


@dataclass(frozen=True)
class TrainingOutcome:
    """What a finished training run produced besides the files in its artifact directory."""

    metrics: dict[str, float]
    feature_schema: tuple[FeatureColumn, ...]
    classes: tuple[str, ...]  # class labels as strings; empty for regression
    device: str  # actually used, e.g. "cpu", "cuda:0"
    dropped_target_rows: int
    train_rows: int
    validation_rows: int
    library_versions: dict[str, str]


@dataclass(frozen=True)
class Prediction:
    """One prediction: `number` for regression, `label` + per-class `probabilities` for classification."""

    number: float | None
    label: str | None
    probabilities: dict[str, float]


def _library_versions(model_type: str) -> dict[str, str]:
    """Versions of python and the installed distributions this model depends on."""
    versions = {"python": platform.python_version()}
    for name in _BASE_LIBRARIES + (_TORCH_LIBRARIES if model_type in NEURAL_NETWORK_TYPES else ()):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:  # e.g. mlsuite run from a source checkout
            logger.debug("distribution %s is not installed; its version is not recorded", name)
    return versions


def _seed(request: TrainingRequest) -> int:
    """The request's int64 seed as a seed numpy, scikit-learn and torch accept (0 .. 2**32 - 1).

    Seeds in that range are used as they are; any other int64 (negative, or 2**32 and up) is hashed
    into it with numpy's SeedSequence, so that distinct seeds give distinct runs (a plain modulo made
    -1 and 2**63 - 1 the same run).
    """
    if 0 <= request.seed < 2**32:
        return request.seed
    return int(np.random.SeedSequence(request.seed % 2**64).generate_state(1)[0])


def _check_request(frame: pd.DataFrame, request: TrainingRequest) -> None:
    """Columns exist, exclude the target and do not repeat; the validation fraction lies in (0, 0.5]."""
    problems: list[tuple[str, str, str]] = []  # (message, field, reason); the first one is raised
    if not 0 < request.validation_fraction <= 0.5:
        message = f"validation_fraction must lie in (0, 0.5], got {request.validation_fraction}"
        problems.append((message, "spec.validation_fraction", "INVALID_VALIDATION_FRACTION"))
    if request.target_column not in frame.columns:
        message = f"target column {request.target_column!r} is not in the dataset"
        problems.append((message, "spec.target_column", "UNKNOWN_COLUMN"))
    if not request.feature_columns:
        problems.append(("no feature columns were given", "spec.feature_columns", "NO_FEATURES"))
    for index, name in enumerate(request.feature_columns):
        field = f"spec.feature_columns[{index}]"
        if name not in frame.columns:
            problems.append((f"feature column {name!r} is not in the dataset", field, "UNKNOWN_COLUMN"))
        elif name == request.target_column:
            problems.append((f"the target {name!r} cannot also be a feature", field, "TARGET_IN_FEATURES"))
        elif name in request.feature_columns[:index]:
            problems.append((f"feature column {name!r} is listed twice", field, "DUPLICATE_FEATURE"))
    if problems:
        message, field, reason = problems[0]
        raise InvalidArgument(message, field=field, reason=reason)


def _split(rows: int, codes: np.ndarray | None, request: TrainingRequest) -> tuple[np.ndarray, np.ndarray]:
    """Seeded train / validation row indices, stratified when every class can appear on both sides."""
    validation_rows = math.ceil(request.validation_fraction * rows)
    train_rows = rows - validation_rows
    if train_rows < 2:
        raise InvalidArgument(
            f"{rows} row(s) with a target leave {max(train_rows, 0)} for training; at least 2 are needed",
            field="spec.dataset",
            reason="TOO_FEW_ROWS",
        )
    stratify = None
    if codes is not None:
        counts = np.bincount(codes)
        present = int((counts > 0).sum())
        if counts[counts > 0].min() >= 2 and min(train_rows, validation_rows) >= present:
            stratify = codes
    train, validation = train_test_split(
        np.arange(rows), test_size=validation_rows, random_state=_seed(request), stratify=stratify
    )
    return np.sort(train), np.sort(validation)


def _in_range(encoded: np.ndarray) -> np.ndarray:
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


def _predict_numbers(estimator: BaseEstimator, features: np.ndarray) -> np.ndarray:
    numbers = np.asarray(estimator.predict(features), dtype=np.float64).reshape(-1)
    if not np.isfinite(numbers).all():
        raise _non_finite_prediction()
    return numbers


def _predict_probabilities(estimator: BaseEstimator, features: np.ndarray, n_classes: int) -> np.ndarray:
    """Probabilities over all classes (columns = class codes); classes unseen in training get 0."""
    found = np.asarray(estimator.predict_proba(features), dtype=np.float64)
    probabilities = np.zeros((len(features), n_classes))
    probabilities[:, np.asarray(estimator.classes_, dtype=np.int64)] = found
    if not np.isfinite(probabilities).all():
        raise FailedPrecondition(
            "the model produced non-finite probabilities", reason="NON_FINITE_PREDICTION"
        )
    return probabilities


def run_training(
    frame: pd.DataFrame, request: TrainingRequest, reporter: ProgressReporter, artifact_dir: pathlib.Path
) -> TrainingOutcome:
    """Preprocess, fit, evaluate and save one model into the empty `artifact_dir`; JobCancelled propagates."""
    reporter.check_cancelled()
    reporter.on_phase(Phase.PREPROCESSING)
    category = get_model_category(request.model_type)
    _check_request(frame, request)
    schema = infer_feature_schema(frame, request.feature_columns)
    has_target = frame[request.target_column].notna().to_numpy()
    dropped = int((~has_target).sum())
    kept = frame.loc[has_target]
    features = normalize_features(kept, schema)
    classes: tuple[str, ...] = ()
    if category is ModelCategory.CLASSIFICATION:
        target, classes = encode_labels(kept[request.target_column])
        if len(classes) < 2:
            raise InvalidArgument(
                f"classification needs at least 2 classes; "
                f"target {request.target_column!r} has {len(classes)}",
                field="spec.target_column",
                reason="TOO_FEW_CLASSES",
            )
    else:
        target = numeric_target(kept[request.target_column])
    codes = target if category is ModelCategory.CLASSIFICATION else None
    train, validation = _split(len(kept), codes, request)
    y_train, y_val = target[train], target[validation]
    class_rows: tuple[int, ...] = ()
    if codes is not None:
        class_rows = tuple(int(count) for count in np.bincount(y_train) if count > 0)
        if len(class_rows) < 2:
            raise InvalidArgument(
                "the training split holds a single class; add rows of the other classes",
                field="spec.target_column",
                reason="TOO_FEW_CLASSES",
            )
    preprocessor = build_preprocessor(features.iloc[train], schema)
    x_train = _in_range(preprocessor.fit_transform(features.iloc[train]))
    x_val = _in_range(preprocessor.transform(features.iloc[validation]))
    logger.info(
        "%s: %d train / %d validation rows, %d encoded features, %d rows dropped for a missing target",
        request.model_type,
        len(train),
        len(validation),
        x_train.shape[1],
        dropped,
    )

    reporter.check_cancelled()
    reporter.on_phase(Phase.FITTING)
    estimator = build_estimator(
        request.model_type,
        request.hyperparameters,
        seed=_seed(request),
        device=request.device,
        data=TrainingData(rows=len(train), class_rows=class_rows),
        reporter=reporter,
    )
    if request.model_type in NEURAL_NETWORK_TYPES:
        estimator.fit(x_train, y_train, X_val=x_val, y_val=y_val)
        device = str(estimator.device_)
    else:
        estimator.fit(x_train, y_train)
        device = "cpu"

    reporter.check_cancelled()
    reporter.on_phase(Phase.EVALUATING)
    if category is ModelCategory.CLASSIFICATION:
        metrics = classification_metrics(y_val, _predict_probabilities(estimator, x_val, len(classes)))
    else:
        metrics = regression_metrics(y_val, _predict_numbers(estimator, x_val))
    logger.info("%s validation metrics: %s", request.model_type, metrics)

    reporter.check_cancelled()
    reporter.on_phase(Phase.SAVING)
    versions = _library_versions(request.model_type)
    manifest = ModelManifest(request.model_type, category, schema, classes, versions)
    save_model(artifact_dir, manifest, preprocessor, estimator)
    return TrainingOutcome(
        metrics=metrics,
        feature_schema=schema,
        classes=classes,
        device=device,
        dropped_target_rows=dropped,
        train_rows=len(train),
        validation_rows=len(validation),
        library_versions=versions,
    )


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
            return _in_range(self._encoder.encode(columns))
        return _in_range(self._preprocessor.transform(columns.frame()))

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
                Prediction(value, None, {}) for value in _predict_numbers(self._estimator, features).tolist()
            ]
        probabilities = _predict_probabilities(self._estimator, features, len(self.classes))
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
