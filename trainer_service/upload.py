"""Receiving an uploaded dataset: chunks streamed to a temp file, hashed, size-capped, moved atomically.

While the chunks arrive, other threads can read the bytes already written (DatasetWriter.follow), so
a dataset can be inspected during its upload instead of after it.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import os
import re
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Self

from mlsuite_common.errors import InvalidArgument, ResourceExhausted
from trainer_service.csv_reader import text_before

__all__ = ["MAX_CHUNK_BYTES", "DatasetWriter", "UploadAbandoned", "UploadFollower", "validate_sha256"]

logger = logging.getLogger(__name__)

MAX_CHUNK_BYTES = 1 << 20
"""Largest accepted single chunk (1 MiB), matching the streaming contract of the upload RPC."""

_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")


def validate_sha256(value: str) -> str:
    """Return `value` lower-cased if it is "" or 64 hex digits; otherwise raise InvalidArgument."""
    if value == "":
        return ""
    if _SHA256_HEX.fullmatch(value) is None:
        raise InvalidArgument(
            "sha256 must be empty or 64 hexadecimal characters",
            field="metadata.sha256",
            reason="INVALID_SHA256",
        )
    return value.lower()


class UploadAbandoned(OSError):
    """The upload a follower reads was aborted; its bytes are gone."""


class DatasetWriter:
    """Receives an upload's chunks into a temp file under `directory`, hashing as it goes."""

    def __init__(self, directory: Path, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError("max_bytes must be positive")
        self._max_bytes = max_bytes
        fd, name = tempfile.mkstemp(dir=directory, prefix=".upload-", suffix=".part")
        self._temp_path: Path | None = Path(name)
        self._file = os.fdopen(fd, "wb")
        self._hash = hashlib.sha256()
        self._size = 0
        self._chunks = 0
        # Followers wait on this for more bytes; _path is where the bytes are now (temp, then final).
        self._changed = threading.Condition()
        self._path = Path(name)
        self._state = "open"  # "open" | "finished" | "aborted"

    @property
    def size_bytes(self) -> int:
        """Bytes received so far."""
        return self._size

    @property
    def sha256(self) -> str:
        """Lower-case hex SHA-256 of the bytes received so far."""
        return self._hash.hexdigest()

    @property
    def chunk_count(self) -> int:
        """Number of chunks received so far."""
        return self._chunks

    def write(self, chunk: bytes) -> None:
        """Append one chunk; enforces the per-chunk limit and the total size cap."""
        self._require_open()
        if len(chunk) > MAX_CHUNK_BYTES:
            self.abort()
            raise InvalidArgument(
                f"a chunk may hold at most {MAX_CHUNK_BYTES} bytes, got {len(chunk)}",
                field="chunk",
                reason="CHUNK_TOO_LARGE",
            )
        if self._size + len(chunk) > self._max_bytes:
            self.abort()
            raise ResourceExhausted(
                f"the upload exceeds the maximum dataset size of {self._max_bytes} bytes",
                reason="UPLOAD_TOO_LARGE",
                metadata={"max_bytes": str(self._max_bytes)},
            )
        try:
            self._file.write(chunk)
            self._file.flush()  # followers read through their own descriptors
        except OSError as exc:
            self.abort()
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise ResourceExhausted(
                    "the server has no storage left for this upload", reason="STORAGE_FULL"
                ) from exc
            raise
        self._hash.update(chunk)
        self._chunks += 1
        with self._changed:
            self._size += len(chunk)
            self._changed.notify_all()

    def finish(self, final_path: Path, expected_sha256: str | None) -> None:
        """Check the upload, fsync it and atomically move it to `final_path` (same filesystem)."""
        temp_path = self._require_open()
        if self._chunks == 0 or self._size == 0:
            self.abort()
            raise InvalidArgument("the upload contained no data chunks", field="chunk", reason="EMPTY_UPLOAD")
        try:
            expected = validate_sha256(expected_sha256 or "")
        except InvalidArgument:
            self.abort()
            raise
        if expected and expected != self.sha256:
            actual = self.sha256
            self.abort()
            raise InvalidArgument(
                f"sha256 of the received bytes is {actual}, the metadata declared {expected}",
                field="metadata.sha256",
                reason="SHA256_MISMATCH",
            )
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            with self._changed:
                os.replace(temp_path, final_path)
                self._path = final_path
                self._state = "finished"
                self._changed.notify_all()
        except BaseException:
            self.abort()
            raise
        self._temp_path = None
        _fsync_directory(final_path.parent)
        logger.info("stored upload of %d bytes in %d chunks", self._size, self._chunks)

    def abort(self) -> None:
        """Discard the upload and remove the temp file; safe to call more than once, a no-op once finished."""
        with self._changed:
            if self._state == "open":
                self._state = "aborted"
                self._changed.notify_all()
        if not self._file.closed:
            self._file.close()
        if self._temp_path is not None:
            self._temp_path.unlink(missing_ok=True)
            self._temp_path = None

    def follow(self) -> UploadFollower:
        """A reader of this upload's bytes, from the start, that waits for the ones still to come."""
        return UploadFollower(self)

    def __enter__(self) -> Self:
        """Return the writer itself."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Abort unless `finish` completed (always on an exception)."""
        self.abort()

    def _require_open(self) -> Path:
        if self._temp_path is None:
            raise RuntimeError("the upload was already finished or aborted")
        return self._temp_path


class UploadFollower:
    """A CSV source (datasets.CsvSource) over an upload in progress: every open() reads from the first byte.

    Its readers refuse a NUL byte wherever it lies (UNREADABLE_DATASET, with its offset): text CSV holds
    none, and the inspection's look at the first bytes alone let one through 8 KiB in. Only uploads are
    checked, so a dataset stored before keeps loading.
    """

    def __init__(self, writer: DatasetWriter) -> None:
        self._writer = writer

    @property
    def label(self) -> str:
        """The temp file's path, to keep out of error messages."""
        return str(self._writer._path)  # noqa: SLF001 - the writer's own follower

    def head(self, size: int) -> bytes:
        """The first `size` bytes (fewer only if the whole upload is shorter)."""
        with self.open() as stream:
            data = b""
            while len(data) < size and (more := stream.read(size - len(data))):
                data += more
            return data

    def tail_text(self, size: int) -> bytes:
        """The last `size` bytes received so far before any trailing white space (all of them once finished)."""
        writer = self._writer
        with writer._changed:  # noqa: SLF001 - opened under the lock so a concurrent rename cannot slip in
            fd = os.open(writer._path, os.O_RDONLY)  # noqa: SLF001
            end = writer._size  # noqa: SLF001
        try:
            return text_before(lambda offset, count: os.pread(fd, count, offset), end, size)
        finally:
            os.close(fd)

    def open(self) -> io.RawIOBase:
        """A new reader from the first byte."""
        return _FollowingReader(self._writer)


class _FollowingReader(io.RawIOBase):
    """Reads an upload's file as it grows: blocks for bytes not yet written, EOF once it is finished.

    pyarrow's read-ahead may still call readinto after the reader was closed; that is an error here,
    never a read through a descriptor number the process may already have reused.
    """

    def __init__(self, writer: DatasetWriter) -> None:
        super().__init__()
        self._writer = writer
        with writer._changed:  # noqa: SLF001 - opened under the lock so a concurrent rename cannot slip in
            self._fd: int | None = os.open(writer._path, os.O_RDONLY)  # noqa: SLF001
        self._position = 0

    def readable(self) -> bool:
        """Always."""
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        """Fill `buffer` with the next bytes, waiting for the writer when there are none yet."""
        writer = self._writer
        with writer._changed:  # noqa: SLF001
            while self._fd is not None and self._position >= writer._size and writer._state == "open":  # noqa: SLF001
                writer._changed.wait()  # noqa: SLF001
            if self._fd is None:
                raise ValueError("read from a closed upload reader")
            if writer._state == "aborted":  # noqa: SLF001
                raise UploadAbandoned("the upload was abandoned")
            available = writer._size - self._position  # noqa: SLF001
            if available <= 0:
                return 0
            # Under the lock, so close() cannot release the descriptor mid-read (a page-cache copy).
            data = os.pread(self._fd, min(len(buffer), available), self._position)
        nul = data.find(b"\0")
        if nul >= 0:
            raise InvalidArgument(
                f"the upload is not a text CSV file: it holds a NUL byte at offset {self._position + nul} (from 0)",
                field="chunk",
                reason="UNREADABLE_DATASET",
            )
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def close(self) -> None:
        """Close the descriptor and wake a read waiting on it."""
        writer = self._writer
        with writer._changed:  # noqa: SLF001
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
                writer._changed.notify_all()  # noqa: SLF001
        super().close()


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not every platform lets a directory be opened.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
