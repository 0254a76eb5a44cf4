"""Prediction rows checked against a model's feature schema and gathered into one array per column.

Rows arrive either as instances, mappings of feature name to value (None or NaN for missing), or
as ColumnRows, one array per feature. Instance values are checked by type in bulk first: numeric
features of plain floats / ints (bools for bool features) become one float64 matrix in one numpy
call, string features one array each. Only a column that fails the bulk check is walked value by
value, to name the bad instance in the error. Columns need no walk at all: each arrives typed.
numeric_table stops before the matrix, for the few-row path that encodes Python floats (predictor).
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlsuite_common.errors import InvalidArgument
from trainer_service.preprocessing import NUMERIC_DTYPES, VALUE_LIMIT, FeatureColumn

__all__ = ["ColumnRows", "FeatureLayout", "FeatureValues", "InstanceColumns", "PredictRows", "instance_columns",
           "instances_to_frame", "numeric_table"]

_NONE = type(None)
# Types a whole column may hold to skip the value-by-value check (None means missing).
_PLAIN_TYPES = {
    "double": frozenset({float, int, _NONE}),
    "int64": frozenset({float, int, _NONE}),
    "bool": frozenset({bool, np.bool_, _NONE}),
    "string": frozenset({str, _NONE}),
}


def _instance_value(value: object, column: FeatureColumn, field: str) -> object:
    """One instance value checked against its column: a float (NaN if missing) or a str (NaN if missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return np.nan
    if column.dtype == "string":
        if isinstance(value, str):
            return value
        expected = "a string"
    elif column.dtype == "bool":
        if isinstance(value, (bool, np.bool_)):
            return float(value)
        expected = "a bool"
    else:
        if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
            number = float(value)
            if not abs(number) <= VALUE_LIMIT:  # infinite, or beyond what the models compute in (NaN is missing)
                raise InvalidArgument(
                    f"feature {column.name!r} must be finite and within ±3.4e38, got {value!r}",
                    field=field,
                    reason="INVALID_FEATURE_VALUE",
                )
            return number
        expected = "a number"
    raise InvalidArgument(
        f"feature {column.name!r} ({column.dtype}) must be {expected} or null, got {type(value).__name__}",
        field=field,
        reason="INVALID_FEATURE_TYPE",
    )


@dataclass(frozen=True)
class InstanceColumns:
    """Checked instance values: every numeric feature in one float64 matrix, each string feature as an array."""

    rows: int
    numeric_names: tuple[str, ...]
    numeric: np.ndarray  # (rows, len(numeric_names)) float64; NaN marks a missing value; bools are 0 / 1
    strings: Mapping[str, np.ndarray]  # object arrays of str; NaN marks a missing value

    def numeric_of(self, names: Sequence[str]) -> np.ndarray:
        """A fresh (rows, len(names)) float64 matrix of those numeric features."""
        if tuple(names) == self.numeric_names:
            return self.numeric.copy()
        positions = {name: index for index, name in enumerate(self.numeric_names)}
        return self.numeric[:, [positions[name] for name in names]]

    def frame(self) -> pd.DataFrame:
        """The same values as a frame (the shape scikit-learn's ColumnTransformer reads)."""
        columns: dict[str, np.ndarray] = dict(zip(self.numeric_names, self.numeric.T, strict=True))
        return pd.DataFrame({**columns, **self.strings}, index=pd.RangeIndex(self.rows))


@dataclass(frozen=True)
class FeatureLayout:
    """A model's feature schema split once, when the model loads: its numeric and its string features.

    A one-row Predict runs in a few hundred microseconds, so what can be worked out once per model is.
    """

    schema: tuple[FeatureColumn, ...]
    numeric: tuple[FeatureColumn, ...]  # int64, double and bool features, in schema order
    numeric_names: tuple[str, ...]
    strings: tuple[FeatureColumn, ...]
    has_bool: bool

    @classmethod
    def of(cls, schema: Sequence[FeatureColumn]) -> FeatureLayout:
        """The layout of `schema`."""
        numeric = tuple(column for column in schema if column.dtype in NUMERIC_DTYPES)
        return cls(
            schema=tuple(schema),
            numeric=numeric,
            numeric_names=tuple(column.name for column in numeric),
            strings=tuple(column for column in schema if column.dtype not in NUMERIC_DTYPES),
            has_bool=any(column.dtype == "bool" for column in numeric),
        )


def _first_missing(
    instances: Sequence[Mapping[str, object]], schema: Sequence[FeatureColumn]
) -> InvalidArgument:
    index, name = next(
        (i, column.name)
        for i, instance in enumerate(instances)
        for column in schema
        if column.name not in instance
    )
    return InvalidArgument(
        f"instance {index} lacks feature {name!r}",
        field=f"instances[{index}].{name}",
        reason="MISSING_FEATURE",
    )


def _check_numeric(table: list[list[object]], layout: FeatureLayout) -> None:
    """Replace, in place, values a column's fast path cannot take with their checked floats (or raise)."""
    types = set(map(type, itertools.chain.from_iterable(table)))
    if types <= _PLAIN_TYPES["double"] and not layout.has_bool:
        return
    for j, column in enumerate(layout.numeric):
        if set(type(row[j]) for row in table) <= _PLAIN_TYPES[column.dtype]:
            continue
        for i, row in enumerate(table):
            row[j] = _instance_value(row[j], column, f"instances[{i}].{column.name}")


def _row(instance: Mapping[str, object], names: Sequence[str]) -> list[object]:
    """[instance[name] for name in names], through the instance's own bulk read where it has one.

    A Predict request's instances read their values in place from protobuf (convert._StructInstance),
    where one call for all features skips most of the per-value work.
    """
    values_of = getattr(instance, "values_of", None)
    if values_of is not None:
        return values_of(names)
    return [instance[name] for name in names]


def numeric_table(instances: Sequence[Mapping[str, object]], layout: FeatureLayout) -> list[list[object]]:
    """Each instance's numeric feature values in layout order, checked by type.

    A value is then an int or a float (bools 1.0 / 0.0 in bool features), None or NaN where it is
    missing; one beyond ±VALUE_LIMIT is not yet refused (instance_columns does that).
    """
    try:
        table = [_row(instance, layout.numeric_names) for instance in instances]
    except KeyError:
        raise _first_missing(instances, layout.schema) from None
    _check_numeric(table, layout)
    return table


def _numeric_matrix(instances: Sequence[Mapping[str, object]], layout: FeatureLayout) -> np.ndarray:
    names = layout.numeric_names
    table = numeric_table(instances, layout)
    matrix = np.array(table, dtype=np.float64).reshape(len(instances), len(names))  # None becomes NaN
    magnitude = np.abs(matrix)
    # One reduction accepts the usual matrix: no value beyond the limit (nor NaN, which fails <=).
    if not np.maximum.reduce(magnitude, axis=None, initial=0.0) <= VALUE_LIMIT:
        beyond = magnitude > VALUE_LIMIT  # infinities too; NaN (missing) compares False
        if beyond.any():
            i, j = (int(k) for k in np.argwhere(beyond)[0])
            _instance_value(table[i][j], layout.numeric[j], f"instances[{i}].{names[j]}")  # raises
    return matrix


def _string_column(instances: Sequence[Mapping[str, object]], column: FeatureColumn) -> np.ndarray:
    values = [instance[column.name] for instance in instances]
    if not set(map(type, values)) <= _PLAIN_TYPES["string"]:
        values = [
            _instance_value(value, column, f"instances[{i}].{column.name}") for i, value in enumerate(values)
        ]
    array = np.array(values, dtype=object).reshape(len(values))
    array[array == None] = np.nan  # noqa: E711 - elementwise comparison with None
    return array


def instance_columns(instances: Sequence[Mapping[str, object]], layout: FeatureLayout) -> InstanceColumns:
    """The checked values of every feature of every instance; extra keys are ignored."""
    try:
        matrix = _numeric_matrix(instances, layout)
        strings = {column.name: _string_column(instances, column) for column in layout.strings}
    except KeyError:
        raise _first_missing(instances, layout.schema) from None
    return InstanceColumns(len(instances), layout.numeric_names, matrix, strings)


def instances_to_frame(
    instances: Sequence[Mapping[str, object]], schema: Sequence[FeatureColumn]
) -> pd.DataFrame:
    """instance_columns as a frame, the shape the fitted ColumnTransformer reads."""
    return instance_columns(instances, FeatureLayout.of(schema)).frame()


@dataclass(frozen=True)
class FeatureValues:
    """One feature's values for every row of a columnar Predict: numbers or text, NaN marking a missing one."""

    numbers: np.ndarray | None = None  # float64
    strings: np.ndarray | None = None  # object array of str

    def __len__(self) -> int:
        values = self.numbers if self.numbers is not None else self.strings
        return 0 if values is None else len(values)


class ColumnRows:
    """Prediction rows by column (PredictRequest.columns): every column holds the same number of rows."""

    def __init__(self, columns: Mapping[str, FeatureValues]) -> None:
        lengths = {name: len(values) for name, values in columns.items()}
        self.rows = max(lengths.values(), default=0)
        short = sorted(name for name, length in lengths.items() if length != self.rows)
        if short:
            raise InvalidArgument(
                f"every column must hold {self.rows} rows, like the longest; {short[0]!r} holds {lengths[short[0]]}",
                field=f"columns[{short[0]}]",
                reason="COLUMN_LENGTH_MISMATCH",
            )
        self._columns = dict(columns)

    def __len__(self) -> int:
        return self.rows

    def instance_columns(self, layout: FeatureLayout) -> InstanceColumns:
        """The checked values of every feature; columns the layout does not name are ignored."""
        matrix = np.empty((self.rows, len(layout.numeric)), dtype=np.float64)
        for j, column in enumerate(layout.numeric):
            matrix[:, j] = self._numbers(column)
        strings = {column.name: self._strings(column) for column in layout.strings}
        return InstanceColumns(self.rows, layout.numeric_names, matrix, strings)

    def _values(self, column: FeatureColumn) -> FeatureValues:
        values = self._columns.get(column.name)
        if values is None:
            raise InvalidArgument(f"columns lack feature {column.name!r}", field=f"columns[{column.name}]",
                                  reason="MISSING_FEATURE")
        return values

    def _numbers(self, column: FeatureColumn) -> np.ndarray:
        numbers = self._values(column).numbers
        if numbers is None:
            raise _wrong_kind(column, "doubles")
        bad = np.abs(numbers) > VALUE_LIMIT  # infinities too; NaN (missing) compares False
        if column.dtype == "bool":
            bad |= ~(np.isnan(numbers) | (numbers == 0.0) | (numbers == 1.0))
        if bad.any():
            row = int(np.argmax(bad))
            expected = "1 or 0 (or NaN)" if column.dtype == "bool" else "finite and within ±3.4e38 (or NaN)"
            raise InvalidArgument(
                f"feature {column.name!r} ({column.dtype}) must be {expected}, "
                f"got {float(numbers[row])!r} in row {row}",
                field=f"columns[{column.name}]",
                reason="INVALID_FEATURE_VALUE",
            )
        return numbers

    def _strings(self, column: FeatureColumn) -> np.ndarray:
        values = self._values(column)
        if values.strings is not None:
            return values.strings
        if values.numbers is not None and np.isnan(values.numbers).all():
            # Only missing values: a client that cannot tell a text column from its values sends NaN.
            return np.full(self.rows, np.nan, dtype=object)
        raise _wrong_kind(column, "strings")


def _wrong_kind(column: FeatureColumn, expected: str) -> InvalidArgument:
    return InvalidArgument(
        f"feature {column.name!r} ({column.dtype}) must be sent as {expected}",
        field=f"columns[{column.name}]",
        reason="INVALID_FEATURE_TYPE",
    )


PredictRows = Sequence[Mapping[str, object]] | ColumnRows
"""The rows of a Predict: instances, or columns."""
