"""Dataset files: formats, streaming inspection (rows, dtypes, null counts) and loading into pandas.

Inspection and loading share one reader per format (CSV: csv_reader, with its type widening), so the
dtypes a dataset reports are the dtypes training sees.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from trainer_service.csv_reader import (
    CSV_NULL_VALUES,
    CsvSource,
    FileSource,
    check_names,
    invalid_dataset,
    read_csv,
    selected_columns,
)
from trainer_service.upload import MAX_CHUNK_BYTES, DatasetWriter, validate_sha256

__all__ = [
    "CSV_BLOCK_BYTES",
    "CSV_NULL_VALUES",
    "DTYPES",
    "MAX_CHUNK_BYTES",
    "ColumnInfo",
    "DatasetFormat",
    "DatasetStats",
    "DatasetWriter",
    "CsvSource",
    "inspect_csv",
    "inspect_dataset",
    "load_frame",
    "validate_sha256",
]

logger = logging.getLogger(__name__)

DTYPES = ("int64", "double", "string", "bool")
"""Every dtype a column can report."""

CSV_BLOCK_BYTES = 1 << 20
"""CSV read block: types are inferred from the first; pyarrow buffers ~32 of them, whatever the file size."""

_PARQUET_BATCH_ROWS = 64 * 1024
_ARROW_TYPES = {"int64": pa.int64(), "double": pa.float64(), "bool": pa.bool_(), "string": pa.string()}
_DTYPE_TESTS = (
    (pa.types.is_integer, "int64"),
    (pa.types.is_floating, "double"),
    (pa.types.is_boolean, "bool"),
)

T = TypeVar("T")


class DatasetFormat(enum.Enum):
    """File format of an uploaded dataset."""

    CSV = "CSV"
    PARQUET = "PARQUET"


@dataclass(frozen=True)
class ColumnInfo:
    """One column: its name, its dtype (one of DTYPES) and how many values are missing."""

    name: str
    dtype: str
    null_count: int


@dataclass(frozen=True)
class DatasetStats:
    """What inspecting a dataset found: data row count and the columns in file order."""

    row_count: int
    columns: tuple[ColumnInfo, ...]


def inspect_csv(source: CsvSource, *, block_size: int = CSV_BLOCK_BYTES) -> DatasetStats:
    """inspect_dataset for a CSV from any source, e.g. an upload while it arrives.

    Also refuses a file whose last value spans lines and is still inside its quotes at the end of the
    file (UNREADABLE_DATASET): pyarrow ends such a value there, so every row after a stray opening quote
    would silently become part of it. (A quote left open on the file's last line takes in no row and is
    read as it stands.)
    """
    last: list[pa.RecordBatch] = []

    def tally(reader: pa_csv.CSVStreamingReader) -> DatasetStats:
        last.clear()  # a re-read with widened types starts over

        def batches() -> Iterator[pa.RecordBatch]:
            for batch in reader:
                if batch.num_rows:
                    last[:] = [batch]
                yield batch

        return _tally(batches(), reader.schema)

    stats = read_csv(source, tally, None, block_size)
    if last and _ends_inside_quotes(last[0], source):
        raise invalid_dataset(
            "a quoted value in the last row is never closed: it runs to the end of the file, taking in"
            " any rows after its opening quote (a stray quote character?)",
            "UNREADABLE_DATASET",
        )
    return stats


def _ends_inside_quotes(batch: pa.RecordBatch, source: CsvSource) -> bool:
    """Whether the file's last value spans lines and the file ends before its closing quote.

    A value holds a line break only when quoted, and a closed quoted value is the file's last text
    (trailing white space aside), ending in its closing quote after any doubled ("escaped") ones: an odd
    run of quotes. An even run (none, or only escaped pairs) leaves the value open.
    """
    value = batch.column(batch.num_columns - 1)[batch.num_rows - 1].as_py()
    if not isinstance(value, str) or ("\n" not in value and "\r" not in value):
        return False
    text = source.tail_text(4096)
    quotes = len(text) - len(text.rstrip(b'"'))
    return quotes % 2 == 0


def inspect_dataset(path: Path, fmt: DatasetFormat, *, block_size: int = CSV_BLOCK_BYTES) -> DatasetStats:
    """Stream through the file and report rows, dtypes and null counts (NaN counts as null)."""
    if fmt is DatasetFormat.CSV:
        return inspect_csv(FileSource(path), block_size=block_size)
    return _read_parquet(path, lambda pf: _tally(pf.iter_batches(_PARQUET_BATCH_ROWS), pf.schema_arrow))


def load_frame(
    path: Path,
    fmt: DatasetFormat,
    columns: Sequence[str] | None = None,
    *,
    block_size: int = CSV_BLOCK_BYTES,
) -> pd.DataFrame:
    """Load the dataset with the dtypes inspect_dataset reports, optionally only `columns` (file order)."""
    if fmt is DatasetFormat.CSV:
        table = read_csv(FileSource(path), lambda reader: reader.read_all(), columns, block_size)
    else:
        table = _read_parquet(
            path, lambda pf: pf.read(columns=selected_columns(pf.schema_arrow.names, columns))
        )
    if table.num_rows == 0:
        raise invalid_dataset("the dataset has no data rows", "EMPTY_DATASET")
    data: dict[str, pd.Series] = {}
    for name, column in zip(table.column_names, table.columns, strict=True):
        data[name] = _to_series(_normalized(column, name))
    return pd.DataFrame(data, index=pd.RangeIndex(table.num_rows), copy=False)


def _dtype(arrow_type: pa.DataType) -> str:
    """Map an arrow type to one of DTYPES."""
    if pa.types.is_dictionary(arrow_type):
        return _dtype(arrow_type.value_type)
    for is_kind, dtype in _DTYPE_TESTS:
        if is_kind(arrow_type):
            return dtype
    return "string"


def _normalized(column: pa.Array | pa.ChunkedArray, name: str) -> pa.Array | pa.ChunkedArray:
    """Cast a column to the arrow type of its dtype; temporal values become ISO 8601 text."""
    dtype = _dtype(column.type)
    try:
        if pa.types.is_dictionary(column.type):
            column = pc.cast(column, column.type.value_type)
        if dtype != "string" or pa.types.is_string(column.type):
            return pc.cast(column, _ARROW_TYPES[dtype])
        if pa.types.is_nested(column.type):
            values = column.to_pylist()
            return pa.array([None if v is None else json.dumps(v, default=str) for v in values], pa.string())
        text = pc.cast(column, pa.string())
        if pa.types.is_timestamp(column.type):
            text = pc.replace_substring(text, pattern=" ", replacement="T", max_replacements=1)
        if pa.types.is_timestamp(column.type) or pa.types.is_time(column.type):
            # The storage unit (Parquet has no seconds) should not show as ".000".
            text = pc.replace_substring_regex(text, pattern=r"\.0+($|[Z+-])", replacement=r"\1")
        return text
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise invalid_dataset(
            f"column {name!r} holds values that cannot be read as {dtype}", "UNREADABLE_DATASET"
        ) from None


def _missing(column: pa.Array) -> int:
    """Nulls plus NaNs, i.e. what pandas will count as missing."""
    count = int(column.null_count)
    if pa.types.is_floating(column.type):
        count += int(pc.sum(pc.is_nan(column)).as_py() or 0)
    return count


def _tally(batches: Iterable[pa.RecordBatch], schema: pa.Schema) -> DatasetStats:
    """Count rows and missing values batch by batch."""
    rows = 0
    missing = [0] * len(schema)
    for batch in batches:
        rows += batch.num_rows
        for i, (field, column) in enumerate(zip(schema, batch.columns, strict=True)):
            missing[i] += _missing(_normalized(column, field.name))
    if rows == 0:
        raise invalid_dataset("the dataset has no data rows", "EMPTY_DATASET")
    columns = tuple(ColumnInfo(f.name, _dtype(f.type), n) for f, n in zip(schema, missing, strict=True))
    return DatasetStats(row_count=rows, columns=columns)


def _to_series(column: pa.Array | pa.ChunkedArray) -> pd.Series:
    """A normalized column as pandas: int64 (float64 with nulls), float64, bool, or object text."""
    if pa.types.is_string(column.type):
        return pd.Series(column.to_numpy(zero_copy_only=False), dtype=object)
    series: pd.Series = column.to_pandas()
    return series


def _check_size(path: Path) -> None:
    """Reject a zero-byte file before any parser sees it."""
    if path.stat().st_size == 0:
        raise invalid_dataset("the dataset file is empty", "EMPTY_DATASET")


def _read_parquet(path: Path, consume: Callable[[pq.ParquetFile], T]) -> T:
    """Open a Parquet file, check its columns and hand it to `consume`."""
    _check_size(path)
    try:
        with pa.OSFile(str(path)) as source:
            parquet = pq.ParquetFile(source)
            check_names(parquet.schema_arrow.names)
            return consume(parquet)
    except (pa.ArrowInvalid, pa.ArrowIOError, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise invalid_dataset("the upload is not a readable Parquet file", "UNREADABLE_DATASET") from None


