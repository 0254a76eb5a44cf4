"""Feature schema, frame normalisation, target encoding, and the feature ColumnTransformer.

Numeric columns (int64, double, bool) are median-imputed and standardised; string columns are
imputed with their most frequent value and one-hot encoded, ignoring categories unseen in training.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas.api import types as pdtypes
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlsuite_common.errors import InvalidArgument

__all__ = [
    "FeatureColumn",
    "NUMERIC_DTYPES",
    "FEATURE_DTYPES",
    "infer_feature_schema",
    "normalize_features",
    "build_preprocessor",
    "encode_labels",
    "numeric_target",
]

logger = logging.getLogger(__name__)

NUMERIC_DTYPES: frozenset[str] = frozenset({"int64", "double", "bool"})
VALUE_LIMIT = float(np.finfo(np.float32).max)
"""The largest magnitude a numeric feature or target may have (about 3.4e38, float32's range).

Networks and tree ensembles compute in float32, where a larger value is infinite; standardising 1e200
overflows its variance even in float64. A bound for every model makes the rule one a user can know.
"""
FEATURE_DTYPES: frozenset[str] = NUMERIC_DTYPES | {"string"}

# pandas.api.types.infer_dtype results for object columns, mapped to feature dtypes.
_INFERRED_OBJECT_DTYPES = {
    "boolean": "bool",
    "integer": "int64",
    "floating": "double",
    "mixed-integer-float": "double",
    "decimal": "double",
    "string": "string",
    "empty": "string",
    "mixed": "string",
    "mixed-integer": "string",
}


@dataclass(frozen=True)
class FeatureColumn:
    """One model input column; dtype is "int64", "double", "string" or "bool"."""

    name: str
    dtype: str


def _column_dtype(series: pd.Series) -> str | None:
    """The feature dtype of a frame column, or None when the column's type is not supported."""
    dtype = series.dtype
    if pdtypes.is_bool_dtype(dtype):
        return "bool"
    if pdtypes.is_integer_dtype(dtype):
        return "int64"
    if pdtypes.is_float_dtype(dtype):
        return "double"
    if pdtypes.is_object_dtype(dtype):
        return _INFERRED_OBJECT_DTYPES.get(pdtypes.infer_dtype(series, skipna=True))
    if pdtypes.is_string_dtype(dtype):
        return "string"
    return None


def infer_feature_schema(frame: pd.DataFrame, columns: Sequence[str]) -> tuple[FeatureColumn, ...]:
    """The schema of `columns` in `frame`; an unsupported column type is an InvalidArgument."""
    schema = []
    for name in columns:
        dtype = _column_dtype(frame[name])
        if dtype is None:
            raise InvalidArgument(
                f"feature column {name!r} has unsupported type {frame[name].dtype}; "
                "supported: integers, floats, booleans and strings",
                field="spec.feature_columns",
                reason="UNSUPPORTED_FEATURE_TYPE",
            )
        schema.append(FeatureColumn(name, dtype))
    return tuple(schema)


def normalize_features(frame: pd.DataFrame, schema: Sequence[FeatureColumn]) -> pd.DataFrame:
    """Numeric columns as float64, string columns as object str, NaN for missing; infinities are refused."""
    columns: dict[str, np.ndarray] = {}
    for column in schema:
        series = frame[column.name]
        if column.dtype in NUMERIC_DTYPES:
            numeric = series.to_numpy(dtype="float64", na_value=np.nan)
            if np.isinf(numeric).any():
                raise InvalidArgument(
                    f"feature column {column.name!r} holds infinite values",
                    field="spec.feature_columns",
                    reason="NON_FINITE_VALUE",
                )
            _check_range(numeric, f"feature column {column.name!r}", "spec.feature_columns")
            columns[column.name] = numeric
        else:
            missing = series.isna().to_numpy()
            values = np.array([str(value) for value in series.astype(object)], dtype=object)
            values[missing] = np.nan
            columns[column.name] = values
    return pd.DataFrame(columns, index=frame.index)


def _numeric_pipeline() -> Pipeline:
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
        ]
    )


def _categorical_pipeline() -> Pipeline:
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )


def build_preprocessor(train: pd.DataFrame, schema: Sequence[FeatureColumn]) -> ColumnTransformer:
    """An unfitted ColumnTransformer for the columns of the normalised `train` frame that have any value.

    A column missing in every training row carries no information and cannot be imputed, so it is
    left out (and ignored at predict time); if no column is left that is an InvalidArgument.
    """
    observed = [column for column in schema if train[column.name].notna().any()]
    for column in schema:
        if column not in observed:
            logger.warning("feature %r has no value in the training split; it is ignored", column.name)
    if not observed:
        raise InvalidArgument(
            "every feature column is empty in the training split",
            field="spec.feature_columns",
            reason="NO_USABLE_FEATURES",
        )
    numeric = [column.name for column in observed if column.dtype in NUMERIC_DTYPES]
    categorical = [column.name for column in observed if column.dtype == "string"]
    transformers = []
    if numeric:
        transformers.append(("numeric", _numeric_pipeline(), numeric))
    if categorical:
        transformers.append(("categorical", _categorical_pipeline(), categorical))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


def _label(value: object) -> str:
    """A class label as text; integral floats drop their ".0" (an int column read with NaNs is float)."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def encode_labels(target: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class codes (int64 indexes into the labels) and sorted labels of a target without missing values."""
    kind = _column_dtype(target)
    if kind == "int64":
        values: np.ndarray = target.to_numpy(dtype=np.int64)
    elif kind in ("double", "bool"):
        values = target.to_numpy(dtype=np.float64 if kind == "double" else bool)
    else:
        values = np.array([str(value) for value in target.astype(object)], dtype=object)
    uniques, codes = np.unique(values, return_inverse=True)
    labels = tuple(_label(value) for value in uniques.tolist())
    return codes.astype(np.int64).reshape(-1), labels


def numeric_target(target: pd.Series) -> np.ndarray:
    """A regression target without missing values as float64; non-numeric or infinite is InvalidArgument."""
    if _column_dtype(target) not in ("int64", "double"):
        raise InvalidArgument(
            f"regression needs a numeric target; column {target.name!r} is {target.dtype}",
            field="spec.target_column",
            reason="NON_NUMERIC_TARGET",
        )
    values = target.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise InvalidArgument(
            f"target column {target.name!r} holds infinite values",
            field="spec.target_column",
            reason="NON_FINITE_VALUE",
        )
    _check_range(values, f"target column {target.name!r}", "spec.target_column")
    return values


def _check_range(values: np.ndarray, what: str, field: str) -> None:
    """InvalidArgument VALUE_OUT_OF_RANGE if a finite value lies beyond ±VALUE_LIMIT (NaN passes)."""
    beyond = np.abs(values) > VALUE_LIMIT
    if beyond.any():
        raise InvalidArgument(
            f"{what} holds {float(values[np.argmax(beyond)])!r}, beyond the ±3.4e38 every model can take; "
            "rescale the column",
            field=field,
            reason="VALUE_OUT_OF_RANGE",
        )
