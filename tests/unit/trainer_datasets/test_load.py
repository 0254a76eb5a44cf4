"""load_frame: the same dtypes and missing values inspect_dataset reports, column selection, conversions."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlsuite_common.errors import InvalidArgument
from trainer_service.datasets import DTYPES, DatasetFormat, DatasetStats, inspect_dataset, load_frame

CSV = DatasetFormat.CSV
PARQUET = DatasetFormat.PARQUET

MIXED_CSV = (
    "id,count,score,name,active,maybe\n"
    "1,10,0.5,ann,true,true\n"
    "2,NA,NaN,NA,false,\n"
    "3,30,1.5,,True,false\n"
    '4,null,nan,"",false,true\n'
)


def _assert_agrees(frame: pd.DataFrame, stats: DatasetStats) -> None:
    """Frame columns, dtypes and missing counts are what inspection reported."""
    assert list(frame.columns) == [c.name for c in stats.columns]
    assert len(frame) == stats.row_count
    for column in stats.columns:
        series = frame[column.name]
        assert column.dtype in DTYPES
        assert int(series.isna().sum()) == column.null_count, column.name
        has_nulls = column.null_count > 0
        if column.dtype == "int64":
            assert series.dtype == (np.float64 if has_nulls else np.int64), column.name
        elif column.dtype == "double":
            assert series.dtype == np.float64, column.name
        elif column.dtype == "bool":
            assert series.dtype == (object if has_nulls else np.bool_), column.name
        else:
            assert series.dtype == object, column.name
            assert all(v is None or isinstance(v, str) for v in series), column.name


def _csv(tmp_path: Path, data: str) -> Path:
    path = tmp_path / "ds.csv"
    path.write_text(data)
    return path


def test_csv_frame_agrees_with_inspect(tmp_path: Path) -> None:
    path = _csv(tmp_path, MIXED_CSV)
    frame = load_frame(path, CSV)
    _assert_agrees(frame, inspect_dataset(path, CSV))
    assert frame["id"].tolist() == [1, 2, 3, 4]
    assert frame["name"].tolist() == ["ann", None, None, None]
    assert frame["maybe"].tolist() == [True, None, False, True]


def test_late_type_change_frame_agrees_with_inspect(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i},{i}\n" for i in range(1, 1001))
    path = _csv(tmp_path, "a,b,c\n" + rows + "x,2.5,\n")
    stats = inspect_dataset(path, CSV, block_size=256)
    assert [c.dtype for c in stats.columns] == ["string", "double", "int64"]
    frame = load_frame(path, CSV, block_size=256)
    _assert_agrees(frame, stats)
    assert frame["a"].iloc[0] == "1" and frame["a"].iloc[-1] == "x"


def test_columns_restricts_and_keeps_file_order(tmp_path: Path) -> None:
    path = _csv(tmp_path, MIXED_CSV)
    frame = load_frame(path, CSV, columns=["name", "id"])
    assert list(frame.columns) == ["id", "name"]
    assert frame["id"].dtype == np.int64


@pytest.mark.parametrize("fmt", [CSV, PARQUET])
def test_unknown_column_is_rejected(tmp_path: Path, fmt: DatasetFormat) -> None:
    path = tmp_path / "ds"
    pq.write_table(pa.table({"a": [1]}), path) if fmt is PARQUET else path.write_text("a\n1\n")
    with pytest.raises(InvalidArgument) as caught:
        load_frame(path, fmt, columns=["a", "nope"])
    assert caught.value.reason == "UNKNOWN_COLUMN"
    assert "'nope'" in caught.value.message


def test_csv_dates_keep_their_text(tmp_path: Path) -> None:
    path = _csv(tmp_path, "day,at\n2024-01-02,2024-01-02T03:04:05\n,\n")
    frame = load_frame(path, CSV)
    assert frame["day"].tolist() == ["2024-01-02", None]
    assert frame["at"].tolist() == ["2024-01-02T03:04:05", None]


def test_parquet_frame_agrees_with_inspect(tmp_path: Path) -> None:
    table = pa.table(
        {
            "small": pa.array([1, None, 3], pa.int16()),
            "whole": pa.array([1, 2, 3], pa.int64()),
            "ratio": pa.array([0.5, float("nan"), None], pa.float64()),
            "label": pa.array(["a", None, "c"], pa.large_string()),
            "flag": pa.array([True, False, True]),
            "day": pa.array([datetime.date(2024, 1, 2), None, None], pa.date32()),
            "when": pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5), None, None], pa.timestamp("s")),
            "kind": pa.array(["x", "y", None]).dictionary_encode(),
            "tags": pa.array([[1, 2], None, []], pa.list_(pa.int64())),
        }
    )
    path = tmp_path / "ds.parquet"
    pq.write_table(table, path)
    stats = inspect_dataset(path, PARQUET)
    frame = load_frame(path, PARQUET)
    _assert_agrees(frame, stats)
    assert frame["whole"].dtype == np.int64
    assert frame["day"].tolist() == ["2024-01-02", None, None]
    assert frame["when"].tolist() == ["2024-01-02T03:04:05", None, None]
    assert frame["kind"].tolist() == ["x", "y", None]
    assert frame["tags"].tolist() == ["[1, 2]", None, "[]"]


def test_parquet_columns_restricts(tmp_path: Path) -> None:
    path = tmp_path / "ds.parquet"
    pq.write_table(pa.table({"a": [1, 2], "b": ["x", "y"], "c": [0.5, 1.5]}), path)
    frame = load_frame(path, PARQUET, columns=["c", "a"])
    assert list(frame.columns) == ["a", "c"]


@pytest.mark.parametrize("data", ["", "a,b\n", "a,b\n1\n"])
def test_load_raises_what_inspect_raises(tmp_path: Path, data: str) -> None:
    path = _csv(tmp_path, data)
    with pytest.raises(InvalidArgument) as from_inspect:
        inspect_dataset(path, CSV)
    with pytest.raises(InvalidArgument) as from_load:
        load_frame(path, CSV)
    assert from_load.value.reason == from_inspect.value.reason
