"""CSV through pyarrow's streaming reader, with the service's parsing rules and type widening.

Types are inferred by pyarrow from the first block; when a later block does not convert, the CSV is
re-read from its first byte with that column widened (null -> int64 -> bool -> double -> string,
pyarrow's own inference order), so one scan's answer holds for the whole file. A source is a stored
file (FileSource) or an upload still arriving (upload.UploadFollower).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pyarrow as pa
import pyarrow.csv as pa_csv

from mlsuite_common.errors import InvalidArgument

__all__ = [
    "CSV_NULL_VALUES",
    "CsvSource",
    "FileSource",
    "check_names",
    "invalid_dataset",
    "read_csv",
    "selected_columns",
    "text_before",
]

logger = logging.getLogger(__name__)

CSV_NULL_VALUES = ("", "NA", "N/A", "null", "NaN")
"""CSV field values read as missing (quoted or not)."""

_SNIFF_BYTES = 8192
# pyarrow's CSV inference order, without the temporal types (those are read as text here).
_WIDENING = (
    (pa.types.is_null, pa.int64()),
    (pa.types.is_integer, pa.bool_()),
    (pa.types.is_boolean, pa.float64()),
    (pa.types.is_floating, pa.string()),
)
_CONVERSION_ERROR = re.compile(r"In CSV column #(\d+): CSV conversion error")

T = TypeVar("T")


class CsvSource(Protocol):
    """Where a CSV's bytes come from: a stored file, or an upload still arriving (upload.UploadFollower)."""

    @property
    def label(self) -> str:
        """The server path behind the source, kept out of error messages."""

    def head(self, size: int) -> bytes:
        """The first `size` bytes, fewer only if the CSV is shorter."""

    def tail_text(self, size: int) -> bytes:
        """The last `size` bytes before any trailing white space, once all of the CSV has been read."""

    def open(self) -> Any:
        """A new readable file object (or pyarrow NativeFile) positioned at the first byte."""


@dataclass(frozen=True)
class FileSource:
    """A CSV stored on disk."""

    path: Path

    @property
    def label(self) -> str:
        """The file's path."""
        return str(self.path)

    def head(self, size: int) -> bytes:
        """The first `size` bytes."""
        with open(self.path, "rb") as head:
            return head.read(size)

    def tail_text(self, size: int) -> bytes:
        """The last `size` bytes before any trailing white space."""
        with open(self.path, "rb") as file:
            fd = file.fileno()
            return text_before(lambda offset, count: os.pread(fd, count, offset), os.fstat(fd).st_size, size)

    def open(self) -> pa.NativeFile:
        """The file, opened for pyarrow."""
        return pa.OSFile(str(self.path))


_WHITE_SPACE = b" \t\r\n"
_BACKWARD_STEP = 64 * 1024


def text_before(read_at: Callable[[int, int], bytes], end: int, size: int) -> bytes:
    """The last `size` bytes before `end` once trailing white space is dropped (read_at(offset, count) reads).

    Reads backwards a block at a time, so a file ending in a megabyte of blank lines costs no more memory
    than one ending in none.
    """
    while end > 0:
        start = max(0, end - _BACKWARD_STEP)
        text = read_at(start, end - start).rstrip(_WHITE_SPACE)
        if text:
            end = start + len(text)
            return read_at(max(0, end - size), min(size, end))
        end = start
    return b""


def invalid_dataset(message: str, reason: str) -> InvalidArgument:
    """A client-visible dataset problem, reported against the uploaded bytes."""
    return InvalidArgument(message, field="chunk", reason=reason)


MAX_COLUMN_NAME_LENGTH = 1024
"""Longest column name a dataset may have (a name is echoed in specs, errors and every listing; survey
exports with whole questions as headers stay well inside it)."""


def check_names(names: Sequence[str]) -> None:
    """Reject a dataset without columns, or with empty, overlong or repeated column names."""
    if not names:
        raise invalid_dataset("the dataset has no columns", "EMPTY_DATASET")
    seen: set[str] = set()
    for position, name in enumerate(names, start=1):
        if not name.strip():
            raise invalid_dataset(f"column {position} has an empty name", "INVALID_COLUMN_NAMES")
        if len(name) > MAX_COLUMN_NAME_LENGTH:
            raise invalid_dataset(f"column {position}'s name is longer than {MAX_COLUMN_NAME_LENGTH} characters",
                                  "INVALID_COLUMN_NAMES")
        if name in seen:
            raise invalid_dataset(f"column name {name!r} appears more than once", "INVALID_COLUMN_NAMES")
        seen.add(name)


def selected_columns(names: Sequence[str], columns: Sequence[str] | None) -> list[str] | None:
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


def _wider(arrow_type: pa.DataType) -> pa.DataType | None:
    """The next type to try for a CSV column that failed to convert; None past string."""
    return next((wider for is_kind, wider in _WIDENING if is_kind(arrow_type)), None)


def read_csv(
    source: CsvSource,
    consume: Callable[[pa_csv.CSVStreamingReader], T],
    columns: Sequence[str] | None,
    block_size: int,
) -> T:
    """Stream a CSV into `consume`; re-read from the start with widened types until every block converts."""
    head = source.head(_SNIFF_BYTES)
    if not head:
        raise invalid_dataset("the dataset file is empty", "EMPTY_DATASET")
    if b"\0" in head:
        # An upload's reader (upload.UploadFollower) refuses a NUL anywhere first; this guards stored files.
        raise invalid_dataset("the dataset is not a text CSV file (it holds a NUL byte)", "UNREADABLE_DATASET")
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
                    check_names(inferred.names)
                    include = selected_columns(inferred.names, columns)
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
            raise invalid_dataset("the CSV header is not valid UTF-8 text", "UNREADABLE_DATASET") from None
        except pa.ArrowInvalid as exc:
            if ragged:
                if ragged[0].number is None and use_threads:
                    use_threads = False  # only the serial reader knows row numbers
                    continue
                raise _ragged(ragged[0]) from None
            name = _failed_column(exc, inferred)
            if name is None or inferred is None:
                raise _unreadable(exc, source.label, block_size) from None
            current = column_types.get(name, inferred.field(name).type)
            wider = _wider(current)
            if wider is None:
                raise invalid_dataset(
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
    return invalid_dataset(
        f"{where} (1-based, header and blank lines not counted) has {row.actual_columns} fields,"
        f" expected {row.expected_columns}",
        "RAGGED_ROW",
    )


def _unreadable(exc: pa.ArrowInvalid, label: str, block_size: int) -> InvalidArgument:
    """EMPTY_DATASET or UNREADABLE_DATASET from a pyarrow parse error, without server paths."""
    detail = str(exc).replace(label, "<dataset>")
    if "Empty CSV file" in detail:
        return invalid_dataset("the dataset has no header row", "EMPTY_DATASET")
    if "straddling object" in detail:  # a row longer than the reader's two blocks
        return invalid_dataset(
            f"a row is longer than the reader's limit of about {2 * block_size:,} bytes, or a quote is never"
            " closed (a stray quote character makes the rows after it one value)",
            "UNREADABLE_DATASET",
        )
    if len(detail) > 200:
        detail = detail[:200] + "..."
    return invalid_dataset(f"the upload is not a readable CSV file: {detail}", "UNREADABLE_DATASET")
