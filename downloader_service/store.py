"""Persistence of the last status: a small JSON file under the cache dir, written atomically by one thread."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from downloader_service.status import DownloadState, DownloadStatus, StatusBoard
from downloader_service.validation import is_commit, model_id_problem

__all__ = ["StatusStore", "StatusWriter", "status_to_json", "status_from_json"]

logger = logging.getLogger(__name__)

_FORMAT = 1


def status_to_json(status: DownloadStatus) -> dict[str, Any]:
    """A JSON-ready dict of `status`."""
    data = asdict(status)
    data["state"] = status.state.value
    for key in ("start_time", "update_time", "end_time"):
        value = getattr(status, key)
        data[key] = value.isoformat() if value is not None else None
    data["format"] = _FORMAT
    return data


def status_from_json(data: dict[str, Any]) -> DownloadStatus:
    """The status a dict of status_to_json describes; raises ValueError when it is malformed."""
    try:
        fields = {k: v for k, v in data.items() if k in DownloadStatus.__dataclass_fields__}
        fields["state"] = DownloadState(fields["state"])
        for key in ("start_time", "update_time", "end_time"):
            value = fields.get(key)
            fields[key] = datetime.fromisoformat(value) if value else None
        for key in ("allow_patterns", "ignore_patterns", "pending_files"):
            fields[key] = tuple(str(v) for v in fields.get(key) or ())
        status = DownloadStatus(**fields)
        _check_fields(status)
        return status
    except (AttributeError, KeyError, TypeError, ValueError) as exc:  # AttributeError: not a JSON object
        raise ValueError(f"malformed status file: {exc}") from exc


def _check_fields(status: DownloadStatus) -> None:
    """ValueError unless every field has its type and a value the server could have written.

    The restart cleanup deletes the pending files of current_model@commit: a hand-edited or damaged
    file must not name a path outside the cache, or crash the start with a type the code never expects.
    """
    for name in ("bytes_downloaded", "bytes_total", "files_downloaded", "files_total", "version"):
        value = getattr(status, name)
        if type(value) is not int or value < 0:
            raise ValueError(f"{name} must be a non-negative integer")
    if type(status.progress) not in (int, float) or not 0 <= status.progress <= 100:
        raise ValueError("progress must be a number in [0, 100]")
    for name in ("current_model", "status_message", "error", "error_reason", "revision", "commit", "request_id"):
        if not isinstance(getattr(status, name), str):
            raise ValueError(f"{name} must be a string")
    if status.current_model and model_id_problem(status.current_model):
        raise ValueError("current_model is not a model id")
    if status.commit and not is_commit(status.commit):
        raise ValueError("commit is not a commit sha")
    for path in status.pending_files:
        parts = path.split("/")
        if not path or path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
            raise ValueError("pending_files must be relative paths inside the snapshot")


class StatusStore:
    """Reads and atomically replaces one status file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> DownloadStatus | None:
        """The persisted status, or None when there is none (a corrupt file is set aside)."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            return status_from_json(json.loads(raw.decode("utf-8")))
        except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError; RecursionError: deep nesting
            aside = self.path.with_suffix(".corrupt")
            logger.warning("status file is corrupt; moved it aside to %s", aside)
            os.replace(self.path, aside)
            return None

    def save(self, status: DownloadStatus, *, sync: bool = False) -> None:
        """Write `status` to a temp file and rename it over the old one (readers never see half a file)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".status-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(status_to_json(status), handle)
                if sync:
                    handle.flush()
                    os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


class StatusWriter:
    """One thread that persists the newest status, in version order, outside the status lock.

    Progress-only changes are coalesced to at most one write per `min_interval` seconds; flush() waits
    until a given version is on disk. A write that fails (a full or read-only disk) is retried with a
    backoff of up to `max_retry_seconds`, logged once per run of failures, and flush() gives up at
    once instead of waiting out its timeout.
    """

    def __init__(self, board: StatusBoard, store: StatusStore, *, min_interval: float = 0.25,
                 max_retry_seconds: float = 10.0) -> None:
        self._board = board
        self._store = store
        self._min_interval = min_interval
        self._max_retry = max_retry_seconds
        self._cond = threading.Condition()  # guards _written, _failed; never taken with the status lock held
        self._io = threading.Lock()  # one save at a time, so an older status never replaces a newer one
        self._written = -1
        self._failing = False  # the last write failed
        self._failures = 0  # failed writes so far: flush() gives up at the first one after it started
        self._retry_seconds = 0.0
        self._stop = threading.Event()
        self._hurry = threading.Event()
        self._thread = threading.Thread(target=self._run, name="status-writer", daemon=True)

    def start(self) -> None:
        """Start the writer thread."""
        self._thread.start()

    def flush(self, version: int, timeout: float = 10.0) -> bool:
        """Wait until `version` (or newer) is persisted; True if it was in time."""
        with self._cond:
            failures = self._failures  # before the hurry: a write failing after it counts
        self._hurry.set()
        self._board.wake()
        with self._cond:
            self._cond.wait_for(lambda: self._written >= version or self._failures > failures, timeout)
            return self._written >= version

    def stop(self, timeout: float = 10.0) -> None:
        """Persist the final status and stop the thread."""
        self._stop.set()
        self._hurry.set()
        self._board.wake()
        if self._thread.ident is not None:
            self._thread.join(timeout)
        final = self._board.snapshot()
        if final.version > self._written:
            self._write(final, sync=True)

    def persist(self, status: DownloadStatus) -> bool:
        """Write `status` now, on the caller's thread, before it is published; True if it reached the disk."""
        return self._write(status, sync=True)

    def _write(self, status: DownloadStatus, *, sync: bool = False) -> bool:
        """Persist one status; False (logged once per run of failures) if the disk refused it."""
        try:
            with self._io:
                with self._cond:
                    if status.version <= self._written:  # a newer one is on disk already
                        return True
                self._store.save(status, sync=sync or status.state.is_terminal)
        except OSError as exc:
            with self._cond:
                first = not self._failing
                self._failing = True
                self._failures += 1
                self._cond.notify_all()
            self._retry_seconds = min(max(0.5, self._retry_seconds * 2), self._max_retry)
            if first:
                logger.error("could not persist the download status (%s); retrying every %g s at most",
                             exc, self._max_retry)
            return False
        with self._cond:
            if self._failing:
                logger.info("the download status is persisted again")
            self._failing, self._retry_seconds = False, 0.0
            self._written = max(self._written, status.version)
            self._cond.notify_all()
        return True

    def _run(self) -> None:
        while not self._stop.is_set():
            status = self._board.wait_for_change(self._written, None, self._stop.is_set)
            if status is None:
                if self._board.closed:
                    return
                continue
            if not self._write(status):
                # A full or read-only disk: back off, never spin; a flush() (or stop()) tries again at once.
                self._hurry.wait(self._retry_seconds)
                self._hurry.clear()
                continue
            if status.state is not DownloadState.DOWNLOADING:
                continue
            self._hurry.clear()
            self._hurry.wait(self._min_interval)
