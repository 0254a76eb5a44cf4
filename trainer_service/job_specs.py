"""Validation of a training job spec against its dataset, the model registry and the devices."""

from __future__ import annotations

import math
from dataclasses import dataclass

from mlsuite_common.errors import InvalidArgument, NotFound
from trainer_service import devices, registry
from trainer_service.names import DATASETS, parse_name
from trainer_service.records import DatasetRecord, JobSpec
from trainer_service.store import Store

__all__ = ["ResolvedSpec", "resolve_spec", "DEFAULT_VALIDATION_FRACTION"]

DEFAULT_VALIDATION_FRACTION = 0.2
_NUMERIC = {"int64", "double"}


@dataclass(frozen=True)
class ResolvedSpec:
    """A spec checked against its dataset, with defaults filled in."""

    dataset: DatasetRecord
    feature_columns: tuple[str, ...]
    hyperparameters: dict[str, registry.HyperValue]
    validation_fraction: float
    device: str  # "cpu" | "cuda" | "mps"


def dataset_id_of(name: str) -> str:
    """The id of a spec's dataset name."""
    return parse_name(name, DATASETS, "spec.dataset")


def _columns(spec: JobSpec, dataset: DatasetRecord) -> tuple[str, ...]:
    known = {c.name: c for c in dataset.columns}
    if not spec.target_column:
        raise InvalidArgument("target_column is required", field="spec.target_column", reason="MISSING_TARGET")
    if spec.target_column not in known:
        raise InvalidArgument(
            f"target column {spec.target_column!r} is not in the dataset (columns: {', '.join(known)})",
            field="spec.target_column", reason="UNKNOWN_COLUMN",
        )
    seen: set[str] = set()
    for index, column in enumerate(spec.feature_columns):
        field = f"spec.feature_columns[{index}]"
        if column not in known:
            raise InvalidArgument(f"feature column {column!r} is not in the dataset", field=field,
                                  reason="UNKNOWN_COLUMN")
        if column == spec.target_column:
            raise InvalidArgument(f"the target column {column!r} cannot also be a feature", field=field,
                                  reason="TARGET_IN_FEATURES")
        if column in seen:
            raise InvalidArgument(f"feature column {column!r} is listed twice", field=field,
                                  reason="DUPLICATE_FEATURE")
        seen.add(column)
    features = spec.feature_columns or tuple(c for c in known if c != spec.target_column)
    if not features:
        raise InvalidArgument("the dataset has no column besides the target", field="spec.feature_columns",
                              reason="NO_FEATURES")
    return features


def _validation_fraction(value: float) -> float:
    if value == 0:
        return DEFAULT_VALIDATION_FRACTION
    if math.isnan(value) or not 0 < value <= 0.5:
        raise InvalidArgument(
            f"validation_fraction must be 0 (meaning {DEFAULT_VALIDATION_FRACTION}) or lie in (0, 0.5], got {value}",
            field="spec.validation_fraction", reason="INVALID_VALIDATION_FRACTION",
        )
    return value


def resolve_spec(spec: JobSpec, store: Store, gpu: devices.GpuSettings) -> ResolvedSpec:
    """Check every field of `spec`; INVALID_ARGUMENT / NOT_FOUND / FAILED_PRECONDITION on the first problem."""
    dataset_id = dataset_id_of(spec.dataset_id)
    model_type = registry.get_model_type(spec.model_type) if spec.model_type else None
    if model_type is None:
        raise InvalidArgument("model_type is required", field="spec.model_type", reason="UNKNOWN_MODEL_TYPE")
    hyperparameters = registry.resolve_hyperparameters(spec.model_type, spec.hyperparameters)
    fraction = _validation_fraction(spec.validation_fraction)
    dataset = store.get_dataset(dataset_id)
    if dataset is None:
        raise NotFound(f"dataset {spec.dataset_id!r} does not exist", reason="DATASET_NOT_FOUND")
    features = _columns(spec, dataset)
    target = next(c for c in dataset.columns if c.name == spec.target_column)
    category = registry.get_model_category(spec.model_type)
    if category is registry.ModelCategory.REGRESSION and target.dtype not in _NUMERIC:
        raise InvalidArgument(
            f"regression needs a numeric target; column {target.name!r} is {target.dtype}",
            field="spec.target_column", reason="NON_NUMERIC_TARGET",
        )
    device = devices.resolve_device(spec.device, gpu)
    if not model_type.gpu_accelerated:
        device = "cpu"
    return ResolvedSpec(dataset, features, hyperparameters, fraction, device)
