"""Response protos -> the client's frozen dataclasses."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from google.protobuf import duration_pb2, timestamp_pb2
from mlsuite.trainer.v1 import trainer_service_pb2 as pb

from mlsuite_client.trainer_types import (
    BoolParameter,
    CategoricalParameter,
    Dataset,
    DatasetColumn,
    DoubleParameter,
    EpochProgress,
    FeatureColumn,
    HyperparameterValue,
    IntListParameter,
    IntParameter,
    JobState,
    Model,
    ModelType,
    ParameterSpec,
    Prediction,
    TrainingError,
    TrainingEvent,
    TrainingJob,
    TrainingJobSpec,
)

__all__ = [
    "timestamp",
    "seconds",
    "hyperparameter_from_proto",
    "spec_from_proto",
    "dataset_from_proto",
    "parameter_from_proto",
    "model_type_from_proto",
    "epoch_from_proto",
    "job_from_proto",
    "event_from_proto",
    "model_from_proto",
    "prediction_from_proto",
]

_EVENT_KINDS = frozenset(
    {"snapshot", "epoch_progress", "phase_change", "heartbeat", "state_change", "result"}
)


def _enum_suffix(enum_type: object, value: int, prefix: str) -> str:
    """ "DEVICE_CPU" -> "CPU" for a proto enum number; "" for UNSPECIFIED or unknown numbers."""
    try:
        name: str = enum_type.Name(value)  # type: ignore[attr-defined]
    except ValueError:
        return ""
    return "" if name.endswith("_UNSPECIFIED") else name.removeprefix(prefix)


def timestamp(ts: timestamp_pb2.Timestamp, present: bool = True) -> datetime | None:
    """A Timestamp as an aware UTC datetime; None when unset."""
    if not present or (ts.seconds == 0 and ts.nanos == 0):
        return None
    value: datetime = ts.ToDatetime(tzinfo=UTC)
    return value


def seconds(duration: duration_pb2.Duration) -> float:
    """A Duration as float seconds."""
    return float(duration.seconds + duration.nanos / 1e9)


def _category(value: int) -> str:
    return _enum_suffix(pb.ModelCategory, value, "MODEL_CATEGORY_SUPERVISED_").lower()


def _dtype(value: int) -> str:
    return _enum_suffix(pb.ColumnType, value, "COLUMN_TYPE_").lower()


def _state(value: int) -> JobState:
    name = _enum_suffix(pb.TrainingJobState, value, "TRAINING_JOB_STATE_")
    return JobState(name) if name else JobState.QUEUED


def _phase(value: int) -> str | None:
    return _enum_suffix(pb.TrainingPhase, value, "TRAINING_PHASE_") or None


def hyperparameter_from_proto(value: pb.HyperparameterValue) -> HyperparameterValue:
    """A HyperparameterValue -> its Python value (an int list as a tuple)."""
    kind = value.WhichOneof("kind")
    if kind == "int_list_value":
        return tuple(value.int_list_value.values)
    if kind is None:
        raise ValueError("empty HyperparameterValue")
    return getattr(value, kind)  # type: ignore[no-any-return]


def _hyperparameters(values: Mapping[str, pb.HyperparameterValue]) -> dict[str, HyperparameterValue]:
    return {name: hyperparameter_from_proto(value) for name, value in sorted(values.items())}


def spec_from_proto(spec: pb.TrainingJobSpec) -> TrainingJobSpec:
    """A TrainingJobSpec proto -> its dataclass."""
    device = _enum_suffix(pb.Device, spec.device, "DEVICE_").lower() or "auto"
    return TrainingJobSpec(
        dataset=spec.dataset,
        target_column=spec.target_column,
        model_type=spec.model_type,
        feature_columns=tuple(spec.feature_columns),
        hyperparameters=_hyperparameters(spec.hyperparameters),
        validation_fraction=spec.validation_fraction,
        seed=spec.seed,
        device=device,
    )


def dataset_from_proto(ds: pb.Dataset) -> Dataset:
    """A Dataset proto -> its dataclass."""
    return Dataset(
        name=ds.name,
        display_name=ds.display_name,
        format=_enum_suffix(pb.DatasetFormat, ds.format, "DATASET_FORMAT_").lower(),
        row_count=ds.row_count,
        columns=tuple(DatasetColumn(c.name, _dtype(c.dtype), c.null_count) for c in ds.columns),
        size_bytes=ds.size_bytes,
        sha256=ds.sha256,
        create_time=timestamp(ds.create_time, ds.HasField("create_time")),
    )


def _int_bounds(s: pb.IntParameterSpec) -> tuple[int | None, int | None]:
    low = int(s.min_value) if s.HasField("min_value") else None
    return low, int(s.max_value) if s.HasField("max_value") else None


def _double_bounds(s: pb.DoubleParameterSpec) -> tuple[float | None, float | None]:
    low = float(s.min_value) if s.HasField("min_value") else None
    return low, float(s.max_value) if s.HasField("max_value") else None


def parameter_from_proto(p: pb.ParameterSpec) -> ParameterSpec:
    """A ParameterSpec proto -> its typed dataclass."""
    kind = p.WhichOneof("spec")
    if kind == "int_spec":
        return IntParameter(p.name, p.description, p.int_spec.default_value, *_int_bounds(p.int_spec))
    if kind == "double_spec":
        return DoubleParameter(
            p.name, p.description, p.double_spec.default_value, *_double_bounds(p.double_spec)
        )
    if kind == "categorical_spec":
        c = p.categorical_spec
        return CategoricalParameter(p.name, p.description, c.default_value, tuple(c.choices))
    if kind == "bool_spec":
        return BoolParameter(p.name, p.description, p.bool_spec.default_value)
    if kind == "int_list_spec":
        li = p.int_list_spec
        return IntListParameter(
            p.name,
            p.description,
            tuple(li.default_value),
            li.min_length,
            li.max_length,
            li.min_value,
            li.max_value,
        )
    raise ValueError(f"parameter {p.name!r} has no spec")


def model_type_from_proto(mt: pb.ModelType) -> ModelType:
    """A ModelType proto -> its dataclass."""
    return ModelType(
        id=mt.id,
        display_name=mt.display_name,
        category=_category(mt.category),
        description=mt.description,
        speed=_enum_suffix(pb.ModelSpeed, mt.speed, "MODEL_SPEED_").lower(),
        complexity=_enum_suffix(pb.ModelComplexity, mt.complexity, "MODEL_COMPLEXITY_").lower(),
        available=mt.available,
        gpu_accelerated=mt.gpu_accelerated,
        parameters=tuple(parameter_from_proto(p) for p in mt.parameters),
    )


def epoch_from_proto(e: pb.EpochProgress) -> EpochProgress:
    """An EpochProgress proto -> its dataclass (durations in seconds)."""
    return EpochProgress(
        epoch=e.epoch,
        total_epochs=e.total_epochs,
        train_loss=e.train_loss,
        validation_loss=e.validation_loss if e.HasField("validation_loss") else None,
        learning_rate=e.learning_rate,
        samples_per_second=e.samples_per_second,
        elapsed=seconds(e.elapsed),
        eta=seconds(e.eta),
    )


def job_from_proto(job: pb.TrainingJob) -> TrainingJob:
    """A TrainingJob proto -> its dataclass."""
    error = None
    if job.HasField("error") and (job.error.reason or job.error.message):
        error = TrainingError(job.error.reason, job.error.message)
    return TrainingJob(
        name=job.name,
        spec=spec_from_proto(job.spec),
        state=_state(job.state),
        request_id=job.request_id,
        create_time=timestamp(job.create_time, job.HasField("create_time")),
        start_time=timestamp(job.start_time, job.HasField("start_time")),
        end_time=timestamp(job.end_time, job.HasField("end_time")),
        phase=_phase(job.phase),
        latest_epoch=epoch_from_proto(job.latest_epoch) if job.HasField("latest_epoch") else None,
        metrics=dict(sorted(job.metrics.items())),
        model=job.model,
        error=error,
        device=job.device,
        dropped_target_rows=job.dropped_target_rows,
        train_rows=job.train_rows,
        validation_rows=job.validation_rows,
        last_sequence=job.last_sequence,
        resolved_hyperparameters=_hyperparameters(job.resolved_hyperparameters),
    )


def _event_payload(event: pb.TrainingEvent, kind: str) -> dict[str, Any]:
    """The TrainingEvent dataclass fields a payload sets."""
    if kind == "snapshot":
        job = job_from_proto(event.snapshot)
        return {"job": job, "phase": job.phase}
    if kind == "epoch_progress":
        return {"epoch": epoch_from_proto(event.epoch_progress)}
    if kind == "phase_change":
        return {"phase": _phase(event.phase_change.phase)}
    if kind == "state_change":
        change = event.state_change
        return {
            "error_reason": change.error.reason,
            "error_message": change.error.message,
            "message": change.message,
        }
    if kind == "result":
        return {"metrics": dict(sorted(event.result.metrics.items())), "model": event.result.model}
    return {}


def event_from_proto(event: pb.TrainingEvent) -> TrainingEvent:
    """A TrainingEvent proto -> its dataclass; kind is the payload's field name ("unknown" if newer)."""
    payload = event.WhichOneof("payload") or ""
    kind = payload if payload in _EVENT_KINDS else "unknown"
    return TrainingEvent(
        sequence=event.sequence,
        time=timestamp(event.time, event.HasField("time")),
        state=_state(event.state),
        kind=kind,
        **_event_payload(event, kind),
    )


def model_from_proto(m: pb.Model) -> Model:
    """A Model proto -> its dataclass."""
    return Model(
        name=m.name,
        training_job=m.training_job,
        model_type=m.model_type,
        category=_category(m.category),
        target_column=m.target_column,
        feature_columns=tuple(FeatureColumn(c.name, _dtype(c.dtype)) for c in m.feature_columns),
        classes=tuple(m.classes),
        hyperparameters=_hyperparameters(m.hyperparameters),
        metrics=dict(sorted(m.metrics.items())),
        device=m.device,
        dataset=m.dataset,
        dataset_sha256=m.dataset_sha256,
        library_versions=dict(sorted(m.library_versions.items())),
        size_bytes=m.size_bytes,
        create_time=timestamp(m.create_time, m.HasField("create_time")),
    )


def prediction_from_proto(p: pb.Prediction) -> Prediction:
    """A Prediction proto -> its dataclass."""
    which = p.WhichOneof("value")
    return Prediction(
        number=p.number if which == "number" else None,
        label=p.label if which == "label" else None,
        probabilities=dict(p.probabilities.items()),
    )
