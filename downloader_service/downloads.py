"""The download worker: fetches a plan's files one by one, verifies the snapshot, cleans up if it stops early.

It runs on its own thread and reports into the StatusBoard; it never takes the status lock around a
transfer or a disk operation. Cancel works through the job's threading.Event, checked between files and
inside every 64 KiB chunk (see hub.py).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from downloader_service import errors
from downloader_service.cache import ModelCache
from downloader_service.hub import HubClient
from downloader_service.plan import DownloadPlan
from downloader_service.status import DownloadState, DownloadStatus, StatusBoard
from downloader_service.validation import DownloadRequest
from downloader_service.verify import VerificationError

__all__ = ["DownloadJob", "DownloadWorker", "EndJob"]

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class DownloadJob:
    """One claimed download: its request, cancel flag and outcome (`final` is set under the status RLock)."""

    request: DownloadRequest
    cancel: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    cancel_message: str = "cancelled by request"
    final: DownloadStatus | None = None
    # Set once resolving ended; `refusal` is why it failed (what callers who joined it raise too).
    resolved: threading.Event = field(default_factory=threading.Event)
    refusal: Exception | None = None
    # Set once its terminal status is persisted and published (between its claim and then, it is ending).
    published: threading.Event = field(default_factory=threading.Event)


class _Capped:
    """Counts a file's bytes and fails the transfer once it exceeds the size the Hub listed for it.

    The size cap (--max-download-bytes) and the progress are computed from the listing before the first
    byte, so a Hub that lists less than it serves must not get more onto the disk than was accepted.
    """

    def __init__(self, path: str, listed: int, on_bytes: Callable[[int], None]) -> None:
        self._path = path
        self._listed = listed
        self._on_bytes = on_bytes
        self._received = 0

    def __call__(self, count: int) -> None:
        self._received += count  # negative when a retried transfer rewinds
        if self._received > self._listed:
            raise errors.DownloadFailed(
                f"the Hub sent more than the {self._listed} bytes it listed for {self._path}",
                reason=errors.HUB_ERROR,
            )
        self._on_bytes(count)


CONFIG_FILE = "config.json"  # what transformers loads: verified only when the download includes it


class _NotAsListed(VerificationError):
    """A selected file is missing from the snapshot or has another size than the Hub listed."""


def _check_sizes(snapshot: Path, plan: DownloadPlan) -> None:
    """_NotAsListed unless every selected file is in the snapshot with the size the Hub listed."""
    for file in plan.files:
        try:
            size = (snapshot / file.path).stat().st_size
        except OSError:
            raise _NotAsListed(f"{file.path} is missing from the snapshot") from None
        if size != file.size:
            raise _NotAsListed(f"{file.path} has {size} bytes, the Hub listed {file.size}")


# end(job, state, message, error, reason): ends the job in a terminal state unless something else did.
EndJob = Callable[[DownloadJob, DownloadState, str, str, str], None]


class DownloadWorker:
    """Runs jobs, one thread each; the manager makes sure only one runs at a time."""

    def __init__(
        self,
        hub: HubClient,
        cache: ModelCache,
        board: StatusBoard,
        verify: Callable[[Path, str], str],
        end: EndJob,
    ) -> None:
        self._hub = hub
        self._cache = cache
        self._board = board
        self._verify = verify
        self._end = end

    def thread_for(self, job: DownloadJob, plan: DownloadPlan) -> threading.Thread:
        """A (not yet started) thread that runs `plan` for `job`."""
        return threading.Thread(target=self._run, args=(job, plan), name="download-worker", daemon=True)

    def _run(self, job: DownloadJob, plan: DownloadPlan) -> None:
        request = job.request
        try:
            for file in plan.pending:
                if job.cancel.is_set():
                    raise errors.DownloadCancelled()
                self._board.file_started(file.path)
                on_bytes = _Capped(file.path, file.size, functools.partial(self._board.add_bytes, file.path))
                self._hub.download(request.model_id, plan.commit, file.path, on_bytes, job.cancel)
                self._board.file_done(file.path)
            if job.cancel.is_set():
                raise errors.DownloadCancelled()
            self._board.verifying()
            snapshot = self._hub.snapshot_dir(request.model_id, plan.commit)
            _check_sizes(snapshot, plan)
            if any(f.path == CONFIG_FILE for f in plan.files):
                model_type = self._verify(snapshot, f"{request.model_id}@{plan.commit[:8]}")
            else:  # patterns left the config out (tokenizer files only...): nothing to load, sizes checked
                model_type = f"no {CONFIG_FILE}, files checked"
            if job.cancel.is_set():
                raise errors.DownloadCancelled()
            self._cache.write_ref(request.model_id, request.revision, plan.commit)
            message = (
                f"downloaded {request.model_id}@{request.revision} ({model_type}, {len(plan.files)} files)"
            )
            self._end(job, DownloadState.SUCCEEDED, message, "", "")
        except errors.DownloadCancelled:
            self._board.note("cancelling: removing partial files")
            self._cleanup(request.model_id, plan)
            self._end(job, DownloadState.CANCELLED, job.cancel_message, "", "")
        except errors.DownloadFailed as exc:
            self._cleanup(request.model_id, plan)
            self._end(job, DownloadState.FAILED, "download failed", exc.message, exc.reason)
        except _NotAsListed as exc:
            # Known bad: kept, a retry would count them as cached and fail the same way.
            self._cleanup(request.model_id, plan)
            error = f"the downloaded files differ from the Hub's listing: {exc}"
            self._end(job, DownloadState.FAILED, "verification failed", error, errors.VERIFICATION_FAILED)
        except VerificationError as exc:
            error = f"the downloaded config does not load: {exc}"
            self._end(job, DownloadState.FAILED, "verification failed", error, errors.VERIFICATION_FAILED)
        except Exception:
            logger.exception("download of %s failed unexpectedly", request.model_id)
            self._cleanup(request.model_id, plan)
            error = "unexpected error while downloading; see the server log"
            self._end(job, DownloadState.FAILED, "download failed", error, errors.DOWNLOAD_FAILED)
        finally:
            job.done.set()

    def _cleanup(self, model_id: str, plan: DownloadPlan) -> None:
        try:
            self._cache.remove_partial(model_id, plan.commit, [f.path for f in plan.pending])
        except OSError:
            logger.exception("could not remove the partial files of %s", model_id)
