"""inspect_dataset: dtypes, null counts, row counts and the client-facing errors for CSV and Parquet."""

from __future__ import annotations

import datetime
import logging
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlsuite_common.errors import InvalidArgument
from trainer_service.datasets import ColumnInfo, DatasetFormat, DatasetStats, inspect_dataset

CSV = DatasetFormat.CSV
PARQUET = DatasetFormat.PARQUET

MIXED_CSV = (
    "id,score,name,active\n"
    "1,0.5,ann,true\n"
    "2,NaN,NA,false\n"
    "NA,1.5,,True\n"
    ',null,"",\n'
    "5,N/A,bob,false\n"
    "null,2,N/A,null\n"
)


def _file(tmp_path: Path, data: str | bytes, name: str = "ds.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def _error(path: Path, fmt: DatasetFormat, **kwargs: int) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        inspect_dataset(path, fmt, **kwargs)
    error = caught.value
    assert error.violations[0].field == "chunk"
    assert str(path.parent) not in error.message and "Traceback" not in error.message
    return error


def test_csv_types_and_nulls(tmp_path: Path) -> None:
    stats = inspect_dataset(_file(tmp_path, MIXED_CSV), CSV)
    assert stats == DatasetStats(
        row_count=6,
        columns=(
            ColumnInfo("id", "int64", 3),
            ColumnInfo("score", "double", 3),
            ColumnInfo("name", "string", 4),
            ColumnInfo("active", "bool", 2),
        ),
    )


def test_csv_dates_and_times_are_strings(tmp_path: Path) -> None:
    data = "day,at,clock\n2024-01-02,2024-01-02T03:04:05,10:30:00\n,,\n"
    stats = inspect_dataset(_file(tmp_path, data), CSV)
    assert [(c.dtype, c.null_count) for c in stats.columns] == [("string", 1)] * 3


def test_parquet_round_trip(tmp_path: Path) -> None:
    table = pa.table(
        {
            "small": pa.array([1, None, 3], pa.int32()),
            "ratio": pa.array([0.5, float("nan"), None], pa.float32()),
            "label": pa.array(["a", None, "c"]),
            "flag": pa.array([True, False, None]),
            "when": pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5), None, None], pa.timestamp("us")),
            "kind": pa.array(["x", "y", None]).dictionary_encode(),
            "big": pa.array([1, 2, 3], pa.uint64()),
        }
    )
    path = tmp_path / "ds.parquet"
    pq.write_table(table, path, row_group_size=2)
    stats = inspect_dataset(path, PARQUET)
    assert stats == DatasetStats(
        row_count=3,
        columns=(
            ColumnInfo("small", "int64", 1),
            ColumnInfo("ratio", "double", 2),
            ColumnInfo("label", "string", 1),
            ColumnInfo("flag", "bool", 1),
            ColumnInfo("when", "string", 2),
            ColumnInfo("kind", "string", 1),
            ColumnInfo("big", "int64", 0),
        ),
    )


def test_parquet_uint64_beyond_int64_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "ds.parquet"
    pq.write_table(pa.table({"big": pa.array([2**63], pa.uint64())}), path)
    assert _error(path, PARQUET).reason == "UNREADABLE_DATASET"


@pytest.mark.parametrize("fmt", [CSV, PARQUET])
def test_empty_file(tmp_path: Path, fmt: DatasetFormat) -> None:
    assert _error(_file(tmp_path, b""), fmt).reason == "EMPTY_DATASET"


@pytest.mark.parametrize("data", ["a,b,c\n", "a,b,c", "\n\n"])
def test_header_only_or_blank_csv(tmp_path: Path, data: str) -> None:
    assert _error(_file(tmp_path, data), CSV).reason == "EMPTY_DATASET"


def test_parquet_without_rows(tmp_path: Path) -> None:
    path = tmp_path / "ds.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.int64())}), path)
    assert _error(path, PARQUET).reason == "EMPTY_DATASET"


def test_ragged_row_in_first_block_names_the_row(tmp_path: Path) -> None:
    error = _error(_file(tmp_path, "a,b,c\n1,2,3\n\n4,5,6\n7,8\n"), CSV)
    assert error.reason == "RAGGED_ROW"
    assert "data row 3" in error.message
    assert "has 2 fields, expected 3" in error.message


def test_ragged_row_in_late_block_names_the_row(tmp_path: Path) -> None:
    rows = "".join(f"{i},{i},{i}\n" for i in range(1, 1001))
    error = _error(_file(tmp_path, "a,b,c\n" + rows + "1,2,3,4\n"), CSV, block_size=256)
    assert error.reason == "RAGGED_ROW"
    assert "data row 1001" in error.message
    assert "has 4 fields, expected 3" in error.message


def test_quoted_newlines_are_values_not_rows(tmp_path: Path) -> None:
    rows = "".join(f'{i},"line one\nline two"\n' for i in range(200))
    stats = inspect_dataset(_file(tmp_path, "n,text\n" + rows), CSV, block_size=256)
    assert stats.row_count == 200


@pytest.mark.parametrize("ending", ["", "\n", "  \r\n\n"])
def test_a_quote_left_open_in_the_last_field_is_unreadable(tmp_path: Path, ending: str) -> None:
    rows = "".join(f"{i},plain text\n" for i in range(200))
    closed = f'n,text\n{rows}200,"last value\non two lines"{ending}'
    assert inspect_dataset(_file(tmp_path, closed), CSV, block_size=256).row_count == 201
    # A stray quote opens a value that pyarrow ends at the end of the file: 200 rows would be one value.
    stray = _file(tmp_path, f'n,text\n0,"stray quote\n{rows}')
    error = _error(stray, CSV)
    assert error.reason == "UNREADABLE_DATASET" and "in the last row is never closed" in error.message, error
    # Past two blocks pyarrow itself gives up; its words ("straddling object") are translated.
    error = _error(stray, CSV, block_size=256)
    assert error.reason == "UNREADABLE_DATASET" and "limit of about 512 bytes" in error.message, error.message
    # Unclosed at the very end of the file, it takes in no row: read as it stands. A line break after
    # it belongs to the open value, though, so that file's quote is refused as never closed too.
    open_at_end = _file(tmp_path, f'n,text\n{rows}9,"open at the end{ending}')
    if ending:
        assert "never closed" in _error(open_at_end, CSV).message
    else:
        assert inspect_dataset(open_at_end, CSV).row_count == 201


@pytest.mark.parametrize(
    ("data", "rows"),
    [
        (b'a,b\n1,"x\ny"\n' + b"\n" * 70_000, 1),  # blank lines past the first read back: skipped
        (b'a,b\r\n1,"x\r\ny"\r\n' + b"\r\n" * 40, 1),
        (b'a,b\n1,"x\nsay ""hi"""\n', 1),  # escaped quotes, then the closing one: an odd run
        (b'a,b\n1,"x\ny"   \n', 1),
        (b'\xef\xbb\xbfa,b\n1,"x\ny"', 1),
        (b'a,b\n1,"stray\n2,3\n4,""\n', None),  # the stray quote's value ends in an escaped pair: still open
        (b'a,b\n1,"stray\n2,3\n4,say ""hi""\n', None),
    ],
)
def test_the_last_values_closing_quote_is_found_by_its_run(tmp_path: Path, data: bytes, rows: int | None) -> None:
    path = _file(tmp_path, data)
    if rows is None:
        assert "in the last row is never closed" in _error(path, CSV).message
    else:
        assert inspect_dataset(path, CSV).row_count == rows


def test_binary_garbage_csv_is_unreadable(tmp_path: Path) -> None:
    garbage = random.Random(0).randbytes(4096)
    assert _error(_file(tmp_path, garbage), CSV).reason == "UNREADABLE_DATASET"


def test_invalid_utf8_csv_is_unreadable(tmp_path: Path) -> None:
    rows = b"".join(b"%d,x\n" % i for i in range(300)) + b"1,\xff\xfe\n"
    error = _error(_file(tmp_path, b"a,b\n" + rows), CSV, block_size=256)
    assert error.reason == "UNREADABLE_DATASET"
    assert "'b'" in error.message


def test_garbage_parquet_is_unreadable(tmp_path: Path) -> None:
    garbage = random.Random(1).randbytes(4096)
    assert _error(_file(tmp_path, garbage, "x.parquet"), PARQUET).reason == "UNREADABLE_DATASET"


def test_truncated_parquet_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "ds.parquet"
    pq.write_table(pa.table({"a": list(range(1000)), "b": [str(i) for i in range(1000)]}), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] + data[-8:])
    assert _error(path, PARQUET).reason == "UNREADABLE_DATASET"


def test_csv_uploaded_as_parquet_is_unreadable(tmp_path: Path) -> None:
    assert _error(_file(tmp_path, MIXED_CSV), PARQUET).reason == "UNREADABLE_DATASET"


@pytest.mark.parametrize("header", ["a,b,a", "a,,c", "a, ,c"])
def test_bad_column_names(tmp_path: Path, header: str) -> None:
    error = _error(_file(tmp_path, header + "\n1,2,3\n"), CSV)
    assert error.reason == "INVALID_COLUMN_NAMES"


def test_duplicate_parquet_column_names(tmp_path: Path) -> None:
    path = tmp_path / "ds.parquet"
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    pq.write_table(table, path)
    assert _error(path, PARQUET).reason == "INVALID_COLUMN_NAMES"


def _late_change_csv(tmp_path: Path) -> Path:
    """First ~1000 rows look int/int/int/empty/int; the last rows change every column's type."""
    rows = "".join(f"{i},{i % 2},{i},,{i}\n" for i in range(1, 1001))
    late = "x500,true,2.5,7,2024-01-01\n1001,NaN,3,8,9\n"
    return _file(tmp_path, "code,flag,amount,late,mixed\n" + rows + late)


LATE_COLUMNS = (
    ColumnInfo("code", "string", 0),
    ColumnInfo("flag", "bool", 1),
    ColumnInfo("amount", "double", 0),
    ColumnInfo("late", "int64", 1000),
    ColumnInfo("mixed", "string", 0),
)


def test_type_change_in_a_late_block_widens_the_column(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="trainer_service.csv_reader"):
        stats = inspect_dataset(_late_change_csv(tmp_path), CSV, block_size=512)
    assert stats == DatasetStats(row_count=1002, columns=LATE_COLUMNS)
    widened = {record.args[0] for record in caplog.records if isinstance(record.args, tuple)}
    assert widened == {"code", "flag", "amount", "late", "mixed"}


def test_late_change_matches_whole_file_inference(tmp_path: Path) -> None:
    path = _late_change_csv(tmp_path)
    assert inspect_dataset(path, CSV) == inspect_dataset(path, CSV, block_size=512)
