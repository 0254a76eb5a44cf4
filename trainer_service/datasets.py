"""Dataset files: formats, streaming inspection (rows, dtypes, null counts) and loading into pandas.

Inspection and loading share one reader per format, so the dtypes a dataset reports are the dtypes
training sees. CSV types are inferred by pyarrow from the first block; when a later block does not
convert, the file is re-read with that column widened (null -> int64 -> bool -> double -> string,
pyarrow's own inference order), so one scan's answer holds for the whole file.
"""

from __future__ import annotations

import enum
import json
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from mlsuite_common.errors import InvalidArgument
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

CSV_NULL_VALUES = ("", "NA", "N/A", "null", "NaN")
"""CSV field values read as missing (quoted or not)."""

CSV_BLOCK_BYTES = 1 << 20
"""CSV read block: types are inferred from the first; pyarrow buffers ~32 of them, whatever the file size."""

_PARQUET_BATCH_ROWS = 64 * 1024
_SNIFF_BYTES = 8192
_ARROW_TYPES = {"int64": pa.int64(), "double": pa.float64(), "bool": pa.bool_(), "string": pa.string()}
_DTYPE_TESTS = (
    (pa.types.is_integer, "int64"),
    (pa.types.is_floating, "double"),
    (pa.types.is_boolean, "bool"),
)
# pyarrow's CSV inference order, without the temporal types (those are read as text here).
_WIDENING = (
    (pa.types.is_null, pa.int64()),
    (pa.types.is_integer, pa.bool_()),
    (pa.types.is_boolean, pa.float64()),
    (pa.types.is_floating, pa.string()),
)
_CONVERSION_ERROR = re.compile(r"In CSV column #(\d+): CSV conversion error")

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


class CsvSource(Protocol):
    """Where a CSV's bytes come from: a stored file, or an upload still arriving (upload.UploadFollower)."""

    @property
    def label(self) -> str:
        """The server path behind the source, kept out of error messages."""

    def head(self, size: int) -> bytes:
        """The first `size` bytes, fewer only if the CSV is shorter."""

    def open(self) -> Any:
        """A new readable file object (or pyarrow NativeFile) positioned at the first byte."""


@dataclass(frozen=True)
class _FileSource:
    path: Path

    @property
    def label(self) -> str:
        return str(self.path)

    def head(self, size: int) -> bytes:
        with open(self.path, "rb") as head:
            return head.read(size)

    def open(self) -> pa.NativeFile:
        return pa.OSFile(str(self.path))


def inspect_csv(source: CsvSource, *, block_size: int = CSV_BLOCK_BYTES) -> DatasetStats:
    """inspect_dataset for a CSV from any source, e.g. an upload while it arrives."""
    return _read_csv(source, lambda reader: _tally(reader, reader.schema), None, block_size)


def inspect_dataset(path: Path, fmt: DatasetFormat, *, block_size: int = CSV_BLOCK_BYTES) -> DatasetStats:
    """Stream through the file and report rows, dtypes and null counts (NaN counts as null)."""
    if fmt is DatasetFormat.CSV:
        return inspect_csv(_FileSource(path), block_size=block_size)
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
        table = _read_csv(_FileSource(path), lambda reader: reader.read_all(), columns, block_size)
    else:
        table = _read_parquet(path, lambda pf: pf.read(columns=_selected(pf.schema_arrow.names, columns)))
    if table.num_rows == 0:
        raise _invalid("the dataset has no data rows", "EMPTY_DATASET")
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
        raise _invalid(
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
        raise _invalid("the dataset has no data rows", "EMPTY_DATASET")
    columns = tuple(ColumnInfo(f.name, _dtype(f.type), n) for f, n in zip(schema, missing, strict=True))
    return DatasetStats(row_count=rows, columns=columns)


def _to_series(column: pa.Array | pa.ChunkedArray) -> pd.Series:
    """A normalized column as pandas: int64 (float64 with nulls), float64, bool, or object text."""
    if pa.types.is_string(column.type):
        return pd.Series(column.to_numpy(zero_copy_only=False), dtype=object)
    series: pd.Series = column.to_pandas()
    return series


def _invalid(message: str, reason: str) -> InvalidArgument:
    """A client-visible dataset problem, reported against the uploaded bytes."""
    return InvalidArgument(message, field="chunk", reason=reason)


def _check_names(names: Sequence[str]) -> None:
    """Reject a dataset without columns, or with empty or repeated column names."""
    if not names:
        raise _invalid("the dataset has no columns", "EMPTY_DATASET")
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name.strip():
            raise _invalid(f"column {position} has an empty name", "INVALID_COLUMN_NAMES")
        if name in seen:
            raise _invalid(f"column name {name!r} appears more than once", "INVALID_COLUMN_NAMES")
        seen.add(name)


def _selected(names: Sequence[str], columns: Sequence[str] | None) -> list[str] | None:
    """The requested columns in file order; None means all."""
    if columns is None:
        return None
    unknown = sorted(set(columns) - set(names))
    if unknown or not columns:
        missing = ", ".join(map(repr, unknown))
        message = f"the dataset has no column(s) {missing}" if unknown else "no columns were requested"
        raise InvalidArgument(message, field="columns", reason="UNKNOWN_COLUMN")
    wanted = set(columns)
    return [name for name in names if name in wanted]


def _check_size(path: Path) -> None:
    """Reject a zero-byte file before any parser sees it."""
    if path.stat().st_size == 0:
        raise _invalid("the dataset file is empty", "EMPTY_DATASET")


def _read_parquet(path: Path, consume: Callable[[pq.ParquetFile], T]) -> T:
    """Open a Parquet file, check its columns and hand it to `consume`."""
    _check_size(path)
    try:
        with pa.OSFile(str(path)) as source:
            parquet = pq.ParquetFile(source)
            _check_names(parquet.schema_arrow.names)
            return consume(parquet)
    except (pa.ArrowInvalid, pa.ArrowIOError, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        raise _invalid("the upload is not a readable Parquet file", "UNREADABLE_DATASET") from None


def _wider(arrow_type: pa.DataType) -> pa.DataType | None:
    """The next type to try for a CSV column that failed to convert; None past string."""
    return next((wider for is_kind, wider in _WIDENING if is_kind(arrow_type)), None)


def _read_csv(
    source: CsvSource,
    consume: Callable[[pa_csv.CSVStreamingReader], T],
    columns: Sequence[str] | None,
    block_size: int,
) -> T:
    """Stream a CSV into `consume`; re-read from the start with widened types until every block converts."""
    head = source.head(_SNIFF_BYTES)
    if not head:
        raise _invalid("the dataset file is empty", "EMPTY_DATASET")
    if b"\0" in head:
        raise _invalid("the upload is not a text CSV file", "UNREADABLE_DATASET")
    inferred: pa.Schema | None = None
    column_types: dict[str, pa.DataType] = {}
    include: list[str] | None = None
    use_threads = True
    while True:
        ragged: list[pa_csv.InvalidRow] = []
        try:
            with source.open() as stream:
                reader = _open_csv(stream, block_size, use_threads, column_types, include, ragged)
                if inferred is None:
                    inferred = reader.schema
                    _check_names(inferred.names)
                    include = _selected(inferred.names, columns)
                    # Dates and times stay text: their dtype is "string" and the file's spelling is kept.
                    column_types = {
                        f.name: pa.string()
                        for f in inferred
                        if _wider(f.type) is None and not pa.types.is_string(f.type)
                    }
                    if include is not None or column_types:
                        continue
                return consume(reader)
        except UnicodeDecodeError:
            raise _invalid("the CSV header is not valid UTF-8 text", "UNREADABLE_DATASET") from None
        except pa.ArrowInvalid as exc:
            if ragged:
                if ragged[0].number is None and use_threads:
                    use_threads = False  # only the serial reader knows row numbers
                    continue
                raise _ragged(ragged[0]) from None
            name = _failed_column(exc, inferred)
            if name is None or inferred is None:
                raise _unreadable(exc, source.label) from None
            current = column_types.get(name, inferred.field(name).type)
            wider = _wider(current)
            if wider is None:
                raise _invalid(
                    f"column {name!r} holds text that is not valid UTF-8", "UNREADABLE_DATASET"
                ) from None
            message = "CSV column %r does not convert as %s past the first block; re-reading as %s"
            logger.info(message, name, current, wider)
            column_types[name] = wider


def _open_csv(
    source: Any,
    block_size: int,
    use_threads: bool,
    column_types: dict[str, pa.DataType],
    include: list[str] | None,
    ragged: list[pa_csv.InvalidRow],
) -> pa_csv.CSVStreamingReader:
    """Open pyarrow's streaming CSV reader with the service's parsing rules."""

    def on_invalid_row(row: pa_csv.InvalidRow) -> str:
        ragged.append(row)
        return "error"

    return pa_csv.open_csv(
        source,
        read_options=pa_csv.ReadOptions(block_size=block_size, use_threads=use_threads),
        parse_options=pa_csv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid_row),
        convert_options=pa_csv.ConvertOptions(
            column_types=column_types,
            include_columns=include or [],
            null_values=list(CSV_NULL_VALUES),
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )


def _failed_column(exc: pa.ArrowInvalid, inferred: pa.Schema | None) -> str | None:
    """Name of the column a conversion error is about (pyarrow numbers them from 0 in the file)."""
    match = _CONVERSION_ERROR.search(str(exc))
    if match is None or inferred is None or int(match.group(1)) >= len(inferred):
        return None
    return str(inferred.names[int(match.group(1))])


def _ragged(row: pa_csv.InvalidRow) -> InvalidArgument:
    """RAGGED_ROW naming the data row (pyarrow counts the header as row 1 and skips blank lines)."""
    where = f"data row {row.number - 1}" if row.number is not None else "a data row"
    return _invalid(
        f"{where} (1-based, header and blank lines not counted) has {row.actual_columns} fields,"
        f" expected {row.expected_columns}",
        "RAGGED_ROW",
    )


def _unreadable(exc: pa.ArrowInvalid, label: str) -> InvalidArgument:
    """EMPTY_DATASET or UNREADABLE_DATASET from a pyarrow parse error, without server paths."""
    detail = str(exc).replace(label, "<dataset>")
    if "Empty CSV file" in detail:
        return _invalid("the dataset has no header row", "EMPTY_DATASET")
    if len(detail) > 200:
        detail = detail[:200] + "..."
    return _invalid(f"the upload is not a readable CSV file: {detail}", "UNREADABLE_DATASET")
