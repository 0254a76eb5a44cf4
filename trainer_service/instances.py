"""Prediction rows checked against a model's feature schema and gathered into one array per column.

Rows arrive either as instances, mappings of feature name to value (None or NaN for missing), or
as ColumnRows, one array per feature. Instance values are checked by type in bulk first: numeric
features of plain floats / ints (bools for bool features) become one float64 matrix in one numpy
call, string features one array each. Only a column that fails the bulk check is walked value by
value, to name the bad instance in the error. Columns need no walk at all: each arrives typed.
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

__all__ = ["ColumnRows", "FeatureValues", "InstanceColumns", "PredictRows", "instance_columns", "instances_to_frame"]

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


def _check_numeric(table: list[list[object]], columns: Sequence[FeatureColumn]) -> None:
    """Replace, in place, values a column's fast path cannot take with their checked floats (or raise)."""
    types = set(map(type, itertools.chain.from_iterable(table)))
    if types <= _PLAIN_TYPES["double"] and all(column.dtype != "bool" for column in columns):
        return
    for j, column in enumerate(columns):
        if set(type(row[j]) for row in table) <= _PLAIN_TYPES[column.dtype]:
            continue
        for i, row in enumerate(table):
            row[j] = _instance_value(row[j], column, f"instances[{i}].{column.name}")


def _numeric_matrix(
    instances: Sequence[Mapping[str, object]], columns: Sequence[FeatureColumn]
) -> np.ndarray:
    names = [column.name for column in columns]
    table = [[instance[name] for name in names] for instance in instances]
    _check_numeric(table, columns)
    matrix = np.array(table, dtype=np.float64).reshape(len(instances), len(names))  # None becomes NaN
    beyond = np.abs(matrix) > VALUE_LIMIT  # infinities too; NaN (missing) compares False
    if beyond.any():
        i, j = (int(k) for k in np.argwhere(beyond)[0])
        _instance_value(table[i][j], columns[j], f"instances[{i}].{names[j]}")  # raises
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


def instance_columns(
    instances: Sequence[Mapping[str, object]], schema: Sequence[FeatureColumn]
) -> InstanceColumns:
    """The checked values of every schema feature of every instance; extra keys are ignored."""
    numeric = [column for column in schema if column.dtype in NUMERIC_DTYPES]
    try:
        matrix = _numeric_matrix(instances, numeric)
        strings = {
            column.name: _string_column(instances, column)
            for column in schema
            if column.dtype not in NUMERIC_DTYPES
        }
    except KeyError:
        raise _first_missing(instances, schema) from None
    return InstanceColumns(len(instances), tuple(column.name for column in numeric), matrix, strings)


def instances_to_frame(
    instances: Sequence[Mapping[str, object]], schema: Sequence[FeatureColumn]
) -> pd.DataFrame:
    """instance_columns as a frame, the shape the fitted ColumnTransformer reads."""
    return instance_columns(instances, schema).frame()


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

    def instance_columns(self, schema: Sequence[FeatureColumn]) -> InstanceColumns:
        """The checked values of every schema feature; columns the schema does not name are ignored."""
        numeric = [column for column in schema if column.dtype in NUMERIC_DTYPES]
        matrix = np.empty((self.rows, len(numeric)), dtype=np.float64)
        for j, column in enumerate(numeric):
            matrix[:, j] = self._numbers(column)
        strings = {column.name: self._strings(column) for column in schema if column.dtype not in NUMERIC_DTYPES}
        return InstanceColumns(self.rows, tuple(column.name for column in numeric), matrix, strings)

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
