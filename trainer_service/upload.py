"""Receiving an uploaded dataset: chunks streamed to a temp file, hashed, size-capped, moved atomically."""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Self

from mlsuite_common.errors import InvalidArgument, ResourceExhausted

__all__ = ["MAX_CHUNK_BYTES", "DatasetWriter", "validate_sha256"]

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
        except OSError as exc:
            self.abort()
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise ResourceExhausted(
                    "the server has no storage left for this upload", reason="STORAGE_FULL"
                ) from exc
            raise
        self._hash.update(chunk)
        self._size += len(chunk)
        self._chunks += 1

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
            os.replace(temp_path, final_path)
        except BaseException:
            self.abort()
            raise
        self._temp_path = None
        _fsync_directory(final_path.parent)
        logger.info("stored upload of %d bytes in %d chunks", self._size, self._chunks)

    def abort(self) -> None:
        """Discard the upload and remove the temp file; safe to call more than once."""
        if not self._file.closed:
            self._file.close()
        if self._temp_path is not None:
            self._temp_path.unlink(missing_ok=True)
            self._temp_path = None

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
