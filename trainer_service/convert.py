"""Conversions between TrainerService protos and domain records (no logic beyond the mapping)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2
from mlsuite.trainer.v1 import trainer_service_pb2 as pb

from mlsuite_common.errors import InvalidArgument
from trainer_service import registry
from trainer_service.datasets import DatasetFormat
from trainer_service.events import EpochProgress, JobState, Phase
from trainer_service.instances import ColumnRows, FeatureValues, PredictRows
from trainer_service.jobs import Heartbeat, Snapshot, WatchItem
from trainer_service.predictor import Prediction
from trainer_service.records import DatasetRecord, HyperValue, JobEvent, JobRecord, JobSpec, ModelRecord

__all__ = [
    "dataset_format", "dataset", "model_type", "spec_from_proto", "training_job", "job_state_from_proto",
    "event", "model", "prediction", "instances", "prediction_rows",
]

_FORMATS = {pb.DATASET_FORMAT_CSV: DatasetFormat.CSV, pb.DATASET_FORMAT_PARQUET: DatasetFormat.PARQUET}
_FORMAT_TO_PB = {v.value: k for k, v in _FORMATS.items()}
_DTYPES = {"int64": pb.COLUMN_TYPE_INT64, "double": pb.COLUMN_TYPE_DOUBLE, "string": pb.COLUMN_TYPE_STRING,
           "bool": pb.COLUMN_TYPE_BOOL}
_CATEGORIES = {registry.ModelCategory.REGRESSION: pb.MODEL_CATEGORY_SUPERVISED_REGRESSION,
               registry.ModelCategory.CLASSIFICATION: pb.MODEL_CATEGORY_SUPERVISED_CLASSIFICATION}
_SPEEDS = {"fast": pb.MODEL_SPEED_FAST, "medium": pb.MODEL_SPEED_MEDIUM, "slow": pb.MODEL_SPEED_SLOW}
_COMPLEXITIES = {"low": pb.MODEL_COMPLEXITY_LOW, "medium": pb.MODEL_COMPLEXITY_MEDIUM,
                 "high": pb.MODEL_COMPLEXITY_HIGH}
_DEVICES = {pb.DEVICE_UNSPECIFIED: "auto", pb.DEVICE_AUTO: "auto", pb.DEVICE_CPU: "cpu",
            pb.DEVICE_CUDA: "cuda", pb.DEVICE_MPS: "mps"}
_DEVICE_TO_PB = {"auto": pb.DEVICE_AUTO, "cpu": pb.DEVICE_CPU, "cuda": pb.DEVICE_CUDA, "mps": pb.DEVICE_MPS}
_STATES = {state: getattr(pb, f"TRAINING_JOB_STATE_{state.value}") for state in JobState}
_STATES_FROM_PB = {v: k for k, v in _STATES.items()}
_PHASES = {phase: getattr(pb, f"TRAINING_PHASE_{phase.value}") for phase in Phase}


def _timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    if value is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(value)
    return stamp


def _duration(seconds: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(int(max(seconds, 0.0) * 1e9))
    return duration


def dataset_format(value: int) -> DatasetFormat | None:
    """The domain format of a DatasetFormat number; None for UNSPECIFIED or unknown numbers."""
    return _FORMATS.get(value)  # type: ignore[call-overload]


def dataset(record: DatasetRecord) -> pb.Dataset:
    """Dataset resource."""
    return pb.Dataset(
        name=f"datasets/{record.id}", display_name=record.display_name, format=_FORMAT_TO_PB[record.format],
        row_count=record.row_count,
        columns=[pb.DatasetColumn(name=c.name, dtype=_DTYPES[c.dtype], null_count=c.null_count)
                 for c in record.columns],
        size_bytes=record.size_bytes, sha256=record.sha256, create_time=_timestamp(record.create_time),
    )


def _parameter(spec: registry.ParamSpec) -> pb.ParameterSpec:
    out = pb.ParameterSpec(name=spec.name, description=spec.description)
    if isinstance(spec, registry.IntParam):
        out.int_spec.CopyFrom(pb.IntParameterSpec(default_value=spec.default, min_value=spec.min_value,
                                                  max_value=spec.max_value))
    elif isinstance(spec, registry.DoubleParam):
        out.double_spec.CopyFrom(pb.DoubleParameterSpec(default_value=spec.default, min_value=spec.min_value,
                                                        max_value=spec.max_value))
    elif isinstance(spec, registry.CategoricalParam):
        out.categorical_spec.CopyFrom(pb.CategoricalParameterSpec(default_value=spec.default,
                                                                  choices=spec.choices))
    elif isinstance(spec, registry.BoolParam):
        out.bool_spec.CopyFrom(pb.BoolParameterSpec(default_value=spec.default))
    else:
        out.int_list_spec.CopyFrom(pb.IntListParameterSpec(
            default_value=spec.default, min_length=spec.min_length, max_length=spec.max_length,
            min_value=spec.min_value, max_value=spec.max_value))
    return out


def model_type(value: registry.ModelType) -> pb.ModelType:
    """ModelType with its typed parameter specs."""
    return pb.ModelType(
        id=value.id, display_name=value.display_name, category=_CATEGORIES[value.category],
        description=value.description, speed=_SPEEDS[value.speed], complexity=_COMPLEXITIES[value.complexity],
        available=value.available, gpu_accelerated=value.gpu_accelerated,
        parameters=[_parameter(p) for p in value.parameters],
    )


def category_from_proto(value: int) -> registry.ModelCategory | None:
    """The domain category of a ModelCategory number; None for UNSPECIFIED."""
    for domain, number in _CATEGORIES.items():
        if number == value:
            return domain
    if value != pb.MODEL_CATEGORY_UNSPECIFIED:
        raise InvalidArgument(f"unknown category {value}", field="category", reason="INVALID_CATEGORY")
    return None


def _hyper_from_proto(name: str, value: pb.HyperparameterValue) -> HyperValue:
    kind = value.WhichOneof("kind")
    if kind is None:
        raise InvalidArgument(f"hyperparameter {name!r} has no value set", field=f"spec.hyperparameters[{name}]",
                              reason="INVALID_HYPERPARAMETER_TYPE")
    if kind == "int_list_value":
        return tuple(value.int_list_value.values)
    return getattr(value, kind)  # type: ignore[no-any-return]


def _hyper_to_proto(value: HyperValue) -> pb.HyperparameterValue:
    if isinstance(value, bool):
        return pb.HyperparameterValue(bool_value=value)
    if isinstance(value, int):
        return pb.HyperparameterValue(int_value=value)
    if isinstance(value, float):
        return pb.HyperparameterValue(double_value=value)
    if isinstance(value, str):
        return pb.HyperparameterValue(string_value=value)
    return pb.HyperparameterValue(int_list_value=pb.IntList(values=list(value)))


def _hypers(values: Mapping[str, HyperValue]) -> dict[str, pb.HyperparameterValue]:
    return {k: _hyper_to_proto(v) for k, v in values.items()}


def spec_from_proto(spec: pb.TrainingJobSpec) -> JobSpec:
    """The domain spec; the dataset keeps its resource name until the job manager parses it."""
    if spec.device not in _DEVICES:
        raise InvalidArgument(f"unknown device {spec.device}", field="spec.device", reason="INVALID_DEVICE")
    return JobSpec(
        dataset_id=spec.dataset, target_column=spec.target_column, feature_columns=tuple(spec.feature_columns),
        model_type=spec.model_type,
        hyperparameters={k: _hyper_from_proto(k, v) for k, v in sorted(spec.hyperparameters.items())},
        validation_fraction=spec.validation_fraction, seed=spec.seed, device=_DEVICES[spec.device],
    )


def _spec_to_proto(spec: JobSpec) -> pb.TrainingJobSpec:
    return pb.TrainingJobSpec(
        dataset=f"datasets/{spec.dataset_id}", target_column=spec.target_column,
        feature_columns=spec.feature_columns, model_type=spec.model_type,
        hyperparameters=_hypers(spec.hyperparameters), validation_fraction=spec.validation_fraction,
        seed=spec.seed, device=_DEVICE_TO_PB[spec.device],
    )


def job_state_from_proto(value: int) -> JobState | None:
    """The domain state of a TrainingJobState number; None for UNSPECIFIED."""
    if value == pb.TRAINING_JOB_STATE_UNSPECIFIED:
        return None
    if value not in _STATES_FROM_PB:
        raise InvalidArgument(f"unknown state {value}", field="state", reason="INVALID_STATE")
    return _STATES_FROM_PB[value]


def _epoch(progress: EpochProgress) -> pb.EpochProgress:
    return pb.EpochProgress(
        epoch=progress.epoch, total_epochs=progress.total_epochs, train_loss=progress.train_loss,
        validation_loss=progress.validation_loss, learning_rate=progress.learning_rate,
        samples_per_second=progress.samples_per_second, elapsed=_duration(progress.elapsed_seconds),
        eta=_duration(progress.eta_seconds),
    )


def _error(reason: str, message: str) -> pb.TrainingError | None:
    return pb.TrainingError(reason=reason, message=message) if reason else None


def training_job(job: JobRecord) -> pb.TrainingJob:
    """TrainingJob resource."""
    return pb.TrainingJob(
        name=f"trainingJobs/{job.id}", spec=_spec_to_proto(job.spec), state=_STATES[job.state],
        request_id=job.request_id, create_time=_timestamp(job.create_time), start_time=_timestamp(job.start_time),
        end_time=_timestamp(job.end_time), phase=_PHASES[job.phase] if job.phase else pb.TRAINING_PHASE_UNSPECIFIED,
        latest_epoch=_epoch(job.latest_epoch) if job.latest_epoch else None, metrics=job.metrics,
        model=f"models/{job.model_id}" if job.model_id else "", error=_error(job.error_reason, job.error_message),
        device=job.device, dropped_target_rows=job.dropped_target_rows, train_rows=job.train_rows,
        validation_rows=job.validation_rows, last_sequence=job.last_sequence,
        resolved_hyperparameters=_hypers(job.resolved_hyperparameters),
    )


def event(item: WatchItem, now: datetime) -> pb.TrainingEvent:
    """The TrainingEvent of a watch item (snapshot, heartbeat or stored event)."""
    if isinstance(item, Snapshot):
        return pb.TrainingEvent(sequence=item.job.last_sequence, time=_timestamp(now),
                                state=_STATES[item.job.state], snapshot=training_job(item.job))
    if isinstance(item, Heartbeat):
        return pb.TrainingEvent(sequence=item.sequence, time=_timestamp(now), state=_STATES[item.state],
                                heartbeat=pb.Heartbeat())
    out = pb.TrainingEvent(sequence=item.sequence, time=_timestamp(item.time), state=_STATES[item.state])
    _fill_payload(out, item)
    return out


def _fill_payload(out: pb.TrainingEvent, item: JobEvent) -> None:
    if item.kind == "epoch_progress" and item.epoch is not None:
        out.epoch_progress.CopyFrom(_epoch(item.epoch))
    elif item.kind == "phase_change" and item.phase is not None:
        out.phase_change.phase = _PHASES[item.phase]
    elif item.kind == "result":
        out.result.CopyFrom(pb.TrainingResult(metrics=item.metrics, model=f"models/{item.model_id}"))
    else:
        out.state_change.CopyFrom(pb.StateChange(error=_error(item.error_reason, item.error_message),
                                                 message=item.message))


def model(record: ModelRecord) -> pb.Model:
    """Model resource."""
    return pb.Model(
        name=f"models/{record.id}", training_job=f"trainingJobs/{record.training_job_id}",
        model_type=record.model_type, category=_CATEGORIES[registry.ModelCategory(record.category)],
        target_column=record.target_column,
        feature_columns=[pb.FeatureColumn(name=f.name, dtype=_DTYPES[f.dtype]) for f in record.feature_columns],
        classes=record.classes, hyperparameters=_hypers(record.hyperparameters), metrics=record.metrics,
        device=record.device, dataset=f"datasets/{record.dataset_id}", dataset_sha256=record.dataset_sha256,
        library_versions=record.library_versions, size_bytes=record.size_bytes,
        create_time=_timestamp(record.create_time),
    )


def prediction(value: Prediction) -> pb.Prediction:
    """One Prediction message."""
    if value.label is not None:
        return pb.Prediction(label=value.label, probabilities=value.probabilities)
    return pb.Prediction(number=value.number)


class _StructInstance(Mapping[str, Any]):
    """One Predict instance read in place: only the features the model asks for are converted."""

    __slots__ = ("_fields",)

    def __init__(self, struct: struct_pb2.Struct) -> None:
        self._fields = struct.fields

    def __getitem__(self, key: str) -> Any:
        value = self._fields.get(key)
        if value is None:
            raise KeyError(key)
        kind = value.WhichOneof("kind")
        if kind == "number_value" or kind == "string_value" or kind == "bool_value":  # noqa: PLR1714
            return getattr(value, kind)
        # No feature takes a nested value, so it is only ever refused by its type: its contents are never
        # read (converting them failed on a NaN inside, which JSON cannot spell).
        if kind == "struct_value":
            return {}
        if kind == "list_value":
            return []
        return None  # null_value, or a Value with nothing set

    def values_of(self, keys: Sequence[str]) -> list[Any]:
        """[self[key] for key in keys], with most numbers read without asking the Value's kind.

        A Value whose number_value is non-zero (NaN included) holds a number: every other kind reads as
        0.0 there. Only the zeros take __getitem__'s path, which tells 0.0 from a string, a bool or null.
        Asking each Value its kind costs more than the rest of a one-row Predict's reading together.
        """
        get = self._fields.get
        try:
            values = [get(key).number_value for key in keys]
        except AttributeError:  # get gave None: a key this instance lacks
            raise KeyError(next(key for key in keys if key not in self._fields)) from None
        if not all(values):
            values = [value or self[key] for value, key in zip(values, keys, strict=True)]
        return values

    def __contains__(self, key: object) -> bool:
        return key in self._fields

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)


def instances(values: Any) -> list[Mapping[str, Any]]:
    """Predict instances as mappings (numbers arrive as floats, null as None), converted on access."""
    return [_StructInstance(v) if isinstance(v, struct_pb2.Struct) else dict(v) for v in values]


def _feature_values(name: str, values: pb.FeatureValues) -> FeatureValues:
    kind = values.WhichOneof("kind")
    if kind == "strings":
        strings = np.array(values.strings.values, dtype=object).reshape(-1)
        missing = np.array(values.strings.missing_rows, dtype=np.int64)
        if missing.size and (missing.min() < 0 or missing.max() >= len(strings)):
            raise InvalidArgument(f"column {name!r}: missing_rows must name rows 0-{len(strings) - 1}",
                                  field=f"columns[{name}].strings.missing_rows", reason="INVALID_MISSING_ROWS")
        strings[missing] = np.nan
        return FeatureValues(strings=strings)
    # An unset kind holds no rows; ColumnRows reports it as too short.
    return FeatureValues(numbers=np.array(values.doubles.values, dtype=np.float64))


def prediction_rows(request: pb.PredictRequest) -> PredictRows:
    """A Predict's rows: its instances, or its columns (never both)."""
    if request.columns and request.instances:
        raise InvalidArgument("send the rows as instances or as columns, not both", field="columns",
                              reason="INSTANCES_AND_COLUMNS")
    if request.columns:
        return ColumnRows({name: _feature_values(name, values) for name, values in request.columns.items()})
    return instances(request.instances)
