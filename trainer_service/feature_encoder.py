"""Prediction-time feature encoding: the fitted ColumnTransformer's numbers applied with plain numpy.

ColumnTransformer.transform on a one-row frame costs about 4 ms here (pandas column selection and
scikit-learn's input validation in every step), which is most of a one-row Predict. FeatureEncoder
reads the fitted imputer, scaler and one-hot parameters once, when a model is loaded, and applies
the same float64 arithmetic to the instance columns in microseconds; the tests compare its output
with scikit-learn's bit for bit. A transformer of any shape this module does not know (another
step, an indicator column, infrequent categories) is not compiled, and the caller keeps
scikit-learn's transform.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from trainer_service.instances import InstanceColumns
from trainer_service.preprocessing import VALUE_LIMIT

__all__ = ["FeatureEncoder"]


@dataclass(frozen=True)
class _NumericBlock:
    """Median (or other fitted) imputation, then (x - mean) / scale, as StandardScaler does it."""

    columns: tuple[str, ...]
    fill: np.ndarray
    mean: np.ndarray | None
    scale: np.ndarray | None

    @property
    def width(self) -> int:
        return len(self.columns)

    @functools.cached_property
    def _per_column(self) -> tuple[tuple[float, float, float], ...]:
        """(fill, mean, scale) of each column as Python floats; mean 0 and scale 1 where the scaler has none."""
        mean = self.mean if self.mean is not None else np.zeros(self.width)
        scale = self.scale if self.scale is not None else np.ones(self.width)
        return tuple(zip(self.fill.tolist(), mean.tolist(), scale.tolist(), strict=True))

    def encode_rows(self, table: Sequence[Sequence[object]]) -> list[list[float]] | None:
        """What values() and the clip to ±VALUE_LIMIT give for checked rows, in Python float arithmetic.

        The same IEEE double operations in the same order, so the same bits (the tests compare the two);
        None when a value lies beyond ±VALUE_LIMIT, which the array path refuses by name.
        """
        encoded_rows = []
        for row in table:
            encoded = []
            for value, (fill, mean, scale) in zip(row, self._per_column, strict=True):
                if value is None or value != value:  # missing (None or NaN)
                    value = fill
                elif not -VALUE_LIMIT <= value <= VALUE_LIMIT:  # type: ignore[operator]
                    return None
                number = (value - mean) / scale  # type: ignore[operator]
                encoded.append(VALUE_LIMIT if number > VALUE_LIMIT else -VALUE_LIMIT if number < -VALUE_LIMIT
                               else number)
            encoded_rows.append(encoded)
        return encoded_rows

    def values(self, columns: InstanceColumns) -> np.ndarray:
        """A fresh (rows, width) matrix of the encoded values."""
        values = columns.numeric_of(self.columns)
        missing = np.isnan(values)
        if missing.any():
            values = np.where(missing, self.fill, values)
        if self.mean is not None:
            values -= self.mean
        if self.scale is not None:
            values /= self.scale
        return values

    def encode(self, columns: InstanceColumns, out: np.ndarray) -> None:
        out[:] = self.values(columns)


@dataclass(frozen=True)
class _CategoricalBlock:
    """Most-frequent imputation, then one-hot over the training categories; unseen values are all zeros."""

    columns: tuple[str, ...]
    fill: tuple[str, ...]
    positions: tuple[dict[str, int], ...]  # per column: category -> output column within the block
    width: int

    def encode(self, columns: InstanceColumns, out: np.ndarray) -> None:
        out[:] = 0.0
        for name, fill, positions in zip(self.columns, self.fill, self.positions, strict=True):
            for row, value in enumerate(columns.strings[name].tolist()):
                position = positions.get(value if isinstance(value, str) else fill)
                if position is not None:
                    out[row, position] = 1.0


def _imputer_fill(imputer: object) -> np.ndarray | None:
    if not isinstance(imputer, SimpleImputer) or imputer.add_indicator:
        return None
    missing = imputer.missing_values
    if not (isinstance(missing, float) and np.isnan(missing)):
        return None
    fill = np.asarray(imputer.statistics_)
    if fill.dtype.kind == "f" and np.isnan(fill).any():  # an all-missing column would be dropped
        return None
    return fill


def _numeric(columns: tuple[str, ...], steps: Sequence[object]) -> _NumericBlock | None:
    if len(steps) != 2 or not isinstance(steps[1], StandardScaler):
        return None
    fill, scaler = _imputer_fill(steps[0]), steps[1]
    if fill is None or fill.dtype.kind != "f":
        return None
    mean = np.asarray(scaler.mean_, dtype=np.float64) if scaler.with_mean else None
    scale = np.asarray(scaler.scale_, dtype=np.float64) if scaler.with_std else None
    return _NumericBlock(columns, fill.astype(np.float64), mean, scale)


def _categorical(columns: tuple[str, ...], steps: Sequence[object]) -> _CategoricalBlock | None:
    if len(steps) != 2 or not isinstance(steps[1], OneHotEncoder):
        return None
    fill, encoder = _imputer_fill(steps[0]), steps[1]
    plain = (
        encoder.drop is None
        and encoder.handle_unknown == "ignore"
        and encoder.min_frequency is None
        and encoder.max_categories is None
        and not encoder.sparse_output
        and encoder.dtype in (np.float64, float)
    )
    if fill is None or not plain or not all(isinstance(value, str) for value in fill):
        return None
    positions, offset = [], 0
    for categories in encoder.categories_:
        if not all(isinstance(value, str) for value in categories):
            return None
        positions.append({value: offset + index for index, value in enumerate(categories)})
        offset += len(categories)
    return _CategoricalBlock(columns, tuple(fill), tuple(positions), offset)


class FeatureEncoder:
    """The encoded feature matrix of instance columns, equal to the fitted ColumnTransformer's output."""

    def __init__(self, blocks: Sequence[_NumericBlock | _CategoricalBlock]) -> None:
        self._blocks = tuple(blocks)
        self.width = sum(block.width for block in self._blocks)
        numeric = self._blocks[0] if len(self._blocks) == 1 and isinstance(self._blocks[0], _NumericBlock) else None
        self._numeric: _NumericBlock | None = numeric
        # An encoder of numeric features only: its input features in order (what encode_rows reads).
        self.numeric_inputs: tuple[str, ...] | None = numeric.columns if numeric is not None else None

    @classmethod
    def compile(cls, transformer: ColumnTransformer) -> FeatureEncoder | None:
        """The encoder of a fitted imputer + scaler / imputer + one-hot transformer, or None for any other."""
        if transformer.remainder != "drop" or not hasattr(transformer, "transformers_"):
            return None
        blocks: list[_NumericBlock | _CategoricalBlock] = []
        for _name, fitted, selected in transformer.transformers_:
            if isinstance(fitted, str) and fitted == "drop":
                continue
            if not isinstance(fitted, Pipeline) or not all(isinstance(column, str) for column in selected):
                return None
            columns, steps = tuple(selected), [step for _, step in fitted.steps]
            block = _numeric(columns, steps) or _categorical(columns, steps)
            if block is None:
                return None
            blocks.append(block)
        return cls(blocks) if blocks else None

    def encode(self, columns: InstanceColumns) -> np.ndarray:
        """(rows, width) float64 of checked instance values."""
        if self._numeric is not None:
            return self._numeric.values(columns)  # every feature numeric: no matrix to assemble
        out = np.empty((columns.rows, self.width), dtype=np.float64)
        start = 0
        for block in self._blocks:
            block.encode(columns, out[:, start : start + block.width])
            start += block.width
        return out

    def encode_rows(self, table: Sequence[Sequence[object]]) -> list[list[float]] | None:
        """encode() clipped to ±VALUE_LIMIT, as Python floats, for rows of numeric_inputs checked by numeric_table.

        In the server each numpy call of a one-row Predict costs several microseconds (its code and data
        went cold during grpc's thread hand-offs), so a few rows are encoded in Python float arithmetic
        instead. None if the encoder has other than numeric features, or a value lies beyond the limit.
        """
        return None if self._numeric is None else self._numeric.encode_rows(table)
