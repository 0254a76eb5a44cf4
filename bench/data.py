"""Synthetic non-linear regression data, in memory and as Parquet / CSV files for the service."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

__all__ = ["Regression", "make_regression", "write_parquet", "write_csv", "FEATURES", "TARGET"]

FEATURES = 32
TARGET = "y"


@dataclass(frozen=True)
class Regression:
    """Rows split 80 / 20 for the in-process runs; the service gets every row and splits 80 / 20 itself."""

    x: np.ndarray  # (rows, FEATURES) float32
    y: np.ndarray  # (rows,) float32

    @property
    def split(self) -> int:
        """First validation row."""
        return int(len(self.x) * 0.8)

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        """The first 80 % of the rows."""
        return self.x[: self.split], self.y[: self.split]

    @property
    def validation(self) -> tuple[np.ndarray, np.ndarray]:
        """The last 20 % of the rows."""
        return self.x[self.split :], self.y[self.split :]


def _target(x: np.ndarray, weights: np.ndarray, noise: np.ndarray) -> np.ndarray:
    return (
        np.sin(x[:, 0]) + x[:, 1] ** 2 + 0.5 * x[:, 2] * x[:, 3] + np.tanh(x @ weights / 4)
        + 0.3 * np.cos(x[:, 4] + x[:, 5]) + noise
    )


def make_regression(rows: int, seed: int = 0) -> Regression:
    """`rows` standard-normal rows of FEATURES columns; y mixes sin, square, product, tanh, cos and noise."""
    rng = np.random.default_rng(seed)
    weights = np.random.default_rng(1234).normal(size=FEATURES)  # the same function for every size
    x = rng.normal(size=(rows, FEATURES)).astype(np.float32)
    y = _target(x.astype(np.float64), weights, rng.normal(0, 0.1, rows)).astype(np.float32)
    return Regression(x, y)


def _table(x: np.ndarray, y: np.ndarray) -> pa.Table:
    columns = {f"x{i}": x[:, i] for i in range(x.shape[1])}
    columns[TARGET] = y
    return pa.table(columns)


def write_parquet(data: Regression, path: Path) -> Path:
    """All rows as a Parquet file of float32 columns x0..x31, y."""
    pq.write_table(_table(data.x, data.y), path)
    return path


def write_csv(path: Path, target_bytes: int, seed: int = 0) -> Path:
    """A CSV of about `target_bytes` (same columns, six decimals), written in slices of 50,000 rows."""
    rng = np.random.default_rng(seed)
    weights = np.random.default_rng(1234).normal(size=FEATURES)
    schema = _table(np.zeros((1, FEATURES)), np.zeros(1)).schema
    with open(path, "wb") as sink, pa_csv.CSVWriter(sink, schema) as writer:
        while sink.tell() < target_bytes:
            x = np.round(rng.normal(size=(50_000, FEATURES)), 6)
            y = np.round(_target(x, weights, rng.normal(0, 0.1, len(x))), 6)
            writer.write_table(_table(x, y))
    return path
