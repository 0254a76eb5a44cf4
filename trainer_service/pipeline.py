"""Training end to end: frame -> split -> ColumnTransformer -> estimator -> metrics -> files.

run_training turns a pandas frame and a resolved request into a saved model directory; predictor.load_model
reads one back as a thread-safe LoadedModel.
"""

from __future__ import annotations

import importlib.metadata
import logging
import math
import pathlib
import platform
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from mlsuite_common.errors import InvalidArgument
from trainer_service.artifacts import ModelManifest, save_model
from trainer_service.events import Phase, ProgressReporter
from trainer_service.metrics import classification_metrics, regression_metrics
from trainer_service.models import NEURAL_NETWORK_TYPES, TrainingData, TrainingDiverged, build_estimator
from trainer_service.predictor import in_range, predict_numbers, predict_probabilities
from trainer_service.preprocessing import (
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
    "run_training",
]

logger = logging.getLogger(__name__)

_BASE_LIBRARIES = ("mlsuite", "numpy", "pandas", "scikit-learn", "skops")
_TORCH_LIBRARIES = ("torch", "safetensors")

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
    x_train = in_range(preprocessor.fit_transform(features.iloc[train]))
    x_val = in_range(preprocessor.transform(features.iloc[validation]))
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
        metrics = classification_metrics(y_val, predict_probabilities(estimator, x_val, len(classes)))
    else:
        metrics = regression_metrics(y_val, predict_numbers(estimator, x_val))
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


