"""Python values -> request protos: enums by name, hyperparameters, Predict instances, job specs."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence

from google.protobuf import struct_pb2
from mlsuite.trainer.v1 import trainer_service_pb2 as pb

from mlsuite_client.trainer_types import JobState, TrainingJobSpec

__all__ = [
    "device_to_proto",
    "format_to_proto",
    "category_to_proto",
    "state_to_proto",
    "hyperparameter_to_proto",
    "hyperparameters_to_proto",
    "struct_value",
    "instance_to_struct",
    "PredictColumn",
    "feature_values_to_proto",
    "spec_to_proto",
]

DEVICES = ("auto", "cpu", "cuda", "mps")
FORMATS = ("csv", "parquet")
CATEGORIES = ("regression", "classification")


def device_to_proto(device: str) -> int:
    """ "auto" | "cpu" | "cuda" | "mps" -> the Device enum number."""
    key = device.lower()
    if key not in DEVICES:
        raise ValueError(f"device must be one of {', '.join(DEVICES)}, not {device!r}")
    return int(pb.Device.Value(f"DEVICE_{key.upper()}"))


def format_to_proto(fmt: str) -> int:
    """ "csv" | "parquet" -> the DatasetFormat enum number."""
    key = fmt.lower().lstrip(".")
    if key not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    return int(pb.DatasetFormat.Value(f"DATASET_FORMAT_{key.upper()}"))


def category_to_proto(category: str | None) -> int:
    """ "regression" | "classification" | None -> the ModelCategory enum number."""
    if not category:
        return int(pb.MODEL_CATEGORY_UNSPECIFIED)
    key = category.lower()
    if key not in CATEGORIES:
        raise ValueError(f"category must be one of {', '.join(CATEGORIES)}, not {category!r}")
    return int(pb.ModelCategory.Value(f"MODEL_CATEGORY_SUPERVISED_{key.upper()}"))


def state_to_proto(state: JobState | str | None) -> int:
    """A JobState (or its name, any case) -> the TrainingJobState enum number; None means every state."""
    if state is None or state == "":
        return int(pb.TRAINING_JOB_STATE_UNSPECIFIED)
    try:
        return int(pb.TrainingJobState.Value(f"TRAINING_JOB_STATE_{JobState(str(state).upper()).value}"))
    except ValueError:
        names = ", ".join(s.value.lower() for s in JobState)
        raise ValueError(f"state must be one of {names}, not {state!r}") from None


def _is_bool(value: object) -> bool:
    """True for bool and numpy.bool_ (which is neither a bool nor an Integral)."""
    if isinstance(value, bool):
        return True
    return getattr(value, "ndim", None) == 0 and getattr(getattr(value, "dtype", None), "kind", "") == "b"


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not _is_bool(value)


def hyperparameter_to_proto(name: str, value: object) -> pb.HyperparameterValue:
    """A Python value -> HyperparameterValue: bool, int, float, str, or a list/tuple of ints."""
    # bool first: it is a subclass of int.
    if _is_bool(value):
        return pb.HyperparameterValue(bool_value=bool(value))
    if isinstance(value, numbers.Integral):
        return pb.HyperparameterValue(int_value=int(value))
    if isinstance(value, numbers.Real):
        return pb.HyperparameterValue(double_value=float(value))
    if isinstance(value, str):
        return pb.HyperparameterValue(string_value=value)
    if isinstance(value, Sequence) and all(_is_int(v) for v in value):
        return pb.HyperparameterValue(int_list_value=pb.IntList(values=[int(v) for v in value]))
    raise TypeError(
        f"hyperparameter {name!r}: expected bool, int, float, str or a list of ints, got {value!r}"
    )


def hyperparameters_to_proto(values: Mapping[str, object]) -> dict[str, pb.HyperparameterValue]:
    """A mapping of Python hyperparameters -> the proto map's values."""
    return {name: hyperparameter_to_proto(name, value) for name, value in values.items()}


def struct_value(value: object) -> struct_pb2.Value:
    """A Python cell -> a Struct Value; None and NaN become null."""
    if value is None:
        return struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)
    if _is_bool(value):
        return struct_pb2.Value(bool_value=bool(value))
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)
        return struct_pb2.Value(number_value=number)
    if isinstance(value, str):
        return struct_pb2.Value(string_value=value)
    raise TypeError(f"unsupported instance value {value!r}: use a number, string, bool or None")


def instance_to_struct(instance: Mapping[str, object]) -> struct_pb2.Struct:
    """One Predict instance (feature name -> value) as a google.protobuf.Struct."""
    struct = struct_pb2.Struct()
    for key, value in instance.items():
        struct.fields[str(key)].CopyFrom(struct_value(value))
    return struct


def _missing(value: object) -> bool:
    """None, any NaN, and pandas' NA / NaT (told apart by type name: the client does not need pandas)."""
    if value is None:
        return True
    if isinstance(value, numbers.Real) and not _is_bool(value):
        return math.isnan(value)
    return type(value).__name__ in ("NAType", "NaTType")


def _number(name: str, row: int, value: object) -> float:
    if _missing(value):
        return math.nan
    if _is_bool(value) or isinstance(value, numbers.Real):
        return float(value)  # type: ignore[arg-type]
    raise TypeError(f"column {name!r}, row {row}: unsupported value {value!r}; use a number, string, bool or None")


class PredictColumn:
    """One whole column of a columnar Predict, checked once: text if any value is a str, else numbers
    (bools as 1 / 0). None, NaN and pandas' NA are missing values; a column of text may hold nothing else.
    """

    def __init__(self, name: str, values: Iterable[object]) -> None:
        if isinstance(values, (str, bytes)):
            raise TypeError(f"column {name!r} must be a sequence of values, not a {type(values).__name__}")
        cells = list(values)
        self._cells = cells
        self.rows = len(cells)
        self._numbers: list[float] | None = None
        self._texts: list[str | None] | None = None
        if not any(isinstance(value, str) for value in cells):
            self._numbers = [_number(name, i, v) for i, v in enumerate(cells)]
            return
        texts: list[str | None] = []
        for row, value in enumerate(cells):
            if isinstance(value, str):
                texts.append(value)
            elif _missing(value):
                texts.append(None)
            else:
                raise TypeError(f"column {name!r}, row {row}: {value!r} in a column of text; use a str or None")
        self._texts = texts

    def values(self) -> list[object]:
        """The checked values as given (a bool stays a bool), every missing one as None: instance values."""
        return [None if _missing(value) else value for value in self._cells]

    def to_proto(self, start: int = 0, stop: int | None = None) -> pb.FeatureValues:
        """Rows start..stop (all by default) as FeatureValues."""
        if self._numbers is not None:
            return pb.FeatureValues(doubles=pb.DoubleValues(values=self._numbers[start:stop]))
        texts = self._texts[start:stop] if self._texts is not None else []
        return pb.FeatureValues(strings=pb.StringValues(
            values=["" if text is None else text for text in texts],
            missing_rows=[row for row, text in enumerate(texts) if text is None],
        ))


def feature_values_to_proto(name: str, values: Iterable[object]) -> pb.FeatureValues:
    """One whole column of a columnar Predict as FeatureValues (see PredictColumn)."""
    return PredictColumn(name, values).to_proto()


def spec_to_proto(spec: TrainingJobSpec) -> pb.TrainingJobSpec:
    """A TrainingJobSpec dataclass -> its proto."""
    return pb.TrainingJobSpec(
        dataset=spec.dataset,
        target_column=spec.target_column,
        feature_columns=list(spec.feature_columns),
        model_type=spec.model_type,
        hyperparameters=hyperparameters_to_proto(spec.hyperparameters),
        validation_fraction=spec.validation_fraction,
        seed=spec.seed,
        device=device_to_proto(spec.device),
    )
