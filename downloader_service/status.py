"""The downloader's status: one frozen snapshot behind one RLock, changed only through StatusBoard.

Every change happens with the RLock held, bumps `version` and wakes waiters through a Condition on
the same lock. Readers get the current frozen snapshot, taken under the lock, so they never see a torn
status. No method holds the lock across network or disk I/O.
"""

from __future__ import annotations

import dataclasses
import enum
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from downloader_service.validation import DownloadRequest

__all__ = ["DownloadState", "DownloadStatus", "StatusBoard"]


class DownloadState(enum.Enum):
    """Lifecycle of the downloader (-ING transient, past participle terminal)."""

    IDLE = "IDLE"
    RESOLVING = "RESOLVING"
    DOWNLOADING = "DOWNLOADING"
    VERIFYING = "VERIFYING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_active(self) -> bool:
        """True while a download runs: RESOLVING, DOWNLOADING, VERIFYING."""
        return self in _ACTIVE

    @property
    def is_terminal(self) -> bool:
        """True for SUCCEEDED, FAILED and CANCELLED."""
        return self in _TERMINAL


_ACTIVE = frozenset({DownloadState.RESOLVING, DownloadState.DOWNLOADING, DownloadState.VERIFYING})
_TERMINAL = frozenset({DownloadState.SUCCEEDED, DownloadState.FAILED, DownloadState.CANCELLED})


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class DownloadStatus:
    """One consistent snapshot of the downloader's status (the seed's five fields first)."""

    state: DownloadState = DownloadState.IDLE
    current_model: str = ""
    progress: float = 0.0
    status_message: str = "idle"
    error: str = ""
    error_reason: str = ""
    revision: str = ""
    commit: str = ""
    bytes_downloaded: int = 0
    bytes_total: int = 0
    files_downloaded: int = 0
    files_total: int = 0
    version: int = 0
    start_time: datetime | None = None
    update_time: datetime | None = None
    end_time: datetime | None = None
    allow_patterns: tuple[str, ...] = ()
    ignore_patterns: tuple[str, ...] = ()
    request_id: str = ""
    # Files this download fetches (not cached when it started): what cleanup removes if it does not finish.
    pending_files: tuple[str, ...] = ()

    @property
    def is_downloading(self) -> bool:
        """True exactly in RESOLVING, DOWNLOADING and VERIFYING."""
        return self.state.is_active


class StatusBoard:
    """The RLock-guarded state machine; the only place the status changes."""

    def __init__(
        self, initial: DownloadStatus | None = None, *, clock: Callable[[], datetime] = _utcnow
    ) -> None:
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._clock = clock
        self._closed = False
        self._current = initial or DownloadStatus(update_time=clock())
        # Byte accounting of the running download, folded into the snapshot on every update.
        self._sizes: dict[str, int] = {}
        self._inflight: dict[str, int] = {}
        self._done_bytes = 0

    @property
    def lock(self) -> threading.RLock:
        """The RLock guarding the status; callers may hold it to check and change atomically."""
        return self._lock  # type: ignore[return-value]

    @property
    def _status(self) -> DownloadStatus:
        return self._current

    @_status.setter
    def _status(self, value: DownloadStatus) -> None:
        if not self._lock._is_owned():  # type: ignore[attr-defined]
            raise RuntimeError("the download status may only change with its RLock held")
        self._current = value

    def _commit(self, **changes: object) -> DownloadStatus:
        """Apply `changes` as a new snapshot (version + 1) and wake every waiter; lock must be held."""
        new = dataclasses.replace(
            self._status,
            version=self._status.version + 1,
            update_time=self._clock(),
            **changes,  # type: ignore[arg-type]
        )
        self._status = new
        self._changed.notify_all()
        return new

    # -- reads ---------------------------------------------------------------------------------------

    def snapshot(self) -> DownloadStatus:
        """The current status, taken under the lock (immutable, so it is a consistent copy)."""
        with self._lock:
            return self._status

    @property
    def closed(self) -> bool:
        """True once close() was called."""
        with self._lock:
            return self._closed

    # -- transitions ---------------------------------------------------------------------------------

    def restore(self, status: DownloadStatus) -> None:
        """Replace the status with one loaded from disk (at startup, before any download runs)."""
        with self._lock:
            self._status = status
            self._changed.notify_all()

    def begin(self, request: DownloadRequest) -> DownloadStatus:
        """Claim the downloader for `request`: RESOLVING, counters reset."""
        with self._lock:
            if self._status.is_downloading:
                raise RuntimeError("a download is already running")
            self._sizes, self._inflight, self._done_bytes = {}, {}, 0
            return self._commit(
                state=DownloadState.RESOLVING,
                current_model=request.model_id,
                revision=request.revision,
                commit="",
                progress=0.0,
                status_message=f"resolving {request.model_id}@{request.revision}",
                error="",
                error_reason="",
                bytes_downloaded=0,
                bytes_total=0,
                files_downloaded=0,
                files_total=0,
                start_time=self._clock(),
                end_time=None,
                allow_patterns=request.allow_patterns,
                ignore_patterns=request.ignore_patterns,
                request_id=request.request_id,
                pending_files=(),
            )

    def plan(self, commit: str, sizes: Mapping[str, int], cached: Collection[str]) -> DownloadStatus:
        """The revision resolved and the files are known: DOWNLOADING with exact totals."""
        with self._lock:
            self._sizes = dict(sizes)
            self._inflight = {}
            self._done_bytes = sum(sizes[path] for path in cached)
            total = sum(sizes.values())
            pending = tuple(path for path in sizes if path not in cached)
            message = (
                f"all {len(sizes)} files already cached"
                if not pending
                else f"downloading {len(pending)} of {len(sizes)} files"
            )
            return self._commit(
                state=DownloadState.DOWNLOADING,
                commit=commit,
                bytes_total=total,
                files_total=len(sizes),
                bytes_downloaded=self._done_bytes,
                files_downloaded=len(sizes) - len(pending),
                progress=self._percent(self._done_bytes, total, finished=not pending),
                status_message=message,
                pending_files=pending,
            )

    def file_started(self, path: str) -> None:
        """A file's transfer starts."""
        with self._lock:
            if self._status.state is DownloadState.DOWNLOADING:
                self._commit(status_message=f"downloading {path}")

    def add_bytes(self, path: str, count: int) -> None:
        """Fold `count` new bytes of `path` (reported by a library thread) into the status."""
        with self._lock:
            status = self._status
            if status.state is not DownloadState.DOWNLOADING or path not in self._sizes:
                return
            before = self._inflight.get(path, 0)
            after = min(max(before + count, 0), self._sizes[path])
            self._inflight[path] = after
            done = min(self._done_bytes + sum(self._inflight.values()), status.bytes_total)
            done = max(done, status.bytes_downloaded)  # a library retry may rewind; progress never does
            if done != status.bytes_downloaded:
                self._commit(
                    bytes_downloaded=done, progress=self._percent(done, status.bytes_total, finished=False)
                )

    def file_done(self, path: str) -> None:
        """`path` is complete in the cache."""
        with self._lock:
            status = self._status
            if status.state is not DownloadState.DOWNLOADING or path not in self._sizes:
                return
            self._inflight.pop(path, None)
            self._done_bytes += self._sizes[path]
            files = status.files_downloaded + 1
            done = max(
                min(self._done_bytes + sum(self._inflight.values()), status.bytes_total),
                status.bytes_downloaded,
            )
            self._commit(
                files_downloaded=files,
                bytes_downloaded=done,
                progress=self._percent(done, status.bytes_total, finished=files == status.files_total),
            )

    def verifying(self) -> DownloadStatus:
        """Every file is in the cache: VERIFYING."""
        with self._lock:
            status = self._status
            return self._commit(
                state=DownloadState.VERIFYING,
                bytes_downloaded=status.bytes_total,
                files_downloaded=status.files_total,
                progress=100.0,
                status_message="verifying the model config",
            )

    def note(self, message: str) -> DownloadStatus:
        """Change only the status message."""
        with self._lock:
            return self._commit(status_message=message)

    def finish(
        self, state: DownloadState, message: str, *, error: str = "", error_reason: str = ""
    ) -> DownloadStatus:
        """End the current download in a terminal `state`."""
        with self._lock:
            return self.publish(self.ending(state, message, error=error, error_reason=error_reason))

    def ending(
        self, state: DownloadState, message: str, *, error: str = "", error_reason: str = ""
    ) -> DownloadStatus:
        """The terminal status finish() would publish, without publishing it (to persist it first)."""
        if not state.is_terminal:
            raise ValueError(f"{state} is not terminal")
        with self._lock:
            status = self._status
            changes: dict[str, object] = {}
            if state is DownloadState.SUCCEEDED:
                changes = {
                    "bytes_downloaded": status.bytes_total,
                    "files_downloaded": status.files_total,
                    "progress": 100.0,
                }
            now = self._clock()
            return dataclasses.replace(
                status,
                version=status.version + 1,
                update_time=now,
                state=state,
                status_message=message,
                error=error,
                error_reason=error_reason,
                end_time=now,
                pending_files=(),
                **changes,  # type: ignore[arg-type]
            )

    def publish(self, ending: DownloadStatus) -> DownloadStatus:
        """Make a status from ending() current (its version, or a newer one if the status moved since)."""
        with self._lock:
            if ending.version <= self._status.version:
                ending = dataclasses.replace(ending, version=self._status.version + 1)
            self._sizes, self._inflight = {}, {}
            self._status = ending
            self._changed.notify_all()
            return ending

    # -- waiting -------------------------------------------------------------------------------------

    def wait_for_change(
        self, after_version: int, timeout: float | None, should_stop: Callable[[], bool] = lambda: False
    ) -> DownloadStatus | None:
        """The newest status once its version exceeds `after_version`; None on timeout, stop or close."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._current.version > after_version or self._closed or should_stop(), timeout
            )
            return self._current if self._current.version > after_version else None

    def wait_until(self, predicate: Callable[[DownloadStatus], bool], timeout: float) -> DownloadStatus:
        """Wait (bounded) until `predicate(status)` holds or the board closes; returns the status then."""
        with self._changed:
            self._changed.wait_for(lambda: predicate(self._current) or self._closed, timeout)
            return self._current

    def wake(self) -> None:
        """Wake every waiter so it re-checks its stop condition."""
        with self._changed:
            self._changed.notify_all()

    def close(self) -> None:
        """Release every waiter for good (server shutdown)."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    @staticmethod
    def _percent(done: int, total: int, *, finished: bool) -> float:
        if total <= 0:
            return 100.0 if finished else 0.0
        return min(100.0, 100.0 * done / total)
