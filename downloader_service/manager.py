"""The downloader core: one download at a time, resolved on the calling thread, fetched by a worker thread.

StartDownload checks and claims the status under the RLock, resolves outside it, then hands the file
list to the worker (downloads.py). The RLock is held only for quick bookkeeping; network and disk I/O
always run without it.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

from downloader_service import errors
from downloader_service.cache import DeleteResult, ModelCache, ModelPage
from downloader_service.config import Config
from downloader_service.downloads import DownloadJob, DownloadWorker
from downloader_service.hub import HubClient
from downloader_service.plan import DownloadPlan, DownloadPolicy, select_files
from downloader_service.status import DownloadState, DownloadStatus, StatusBoard
from downloader_service.store import StatusStore, StatusWriter
from downloader_service.validation import DownloadRequest, revision_problem, validate_model_id
from downloader_service.verify import verify_snapshot
from downloader_service.watch import StatusUpdate, watch_status
from mlsuite_common.errors import Aborted, FailedPrecondition, InvalidArgument, ServiceError, Unavailable

__all__ = ["DownloadManager", "STATUS_FILE", "CRASH_VERSION_GAP"]

logger = logging.getLogger(__name__)

STATUS_FILE = Path(".mlsuite-downloader") / "status.json"
# After a crash the last few versions may not have reached the disk; skip far past them so versions
# seen by clients before the crash never repeat.
CRASH_VERSION_GAP = 1_000_000


def _same_error(error: Exception) -> Exception:
    """A copy of a refusal for another caller (one exception object is not raised on two threads)."""
    if not isinstance(error, ServiceError):
        return RuntimeError("resolving the download failed")  # INTERNAL, as for the first caller
    clone = error.__class__.__new__(error.__class__)
    clone.__dict__.update(error.__dict__)
    clone.args = error.args
    return clone


class DownloadManager:
    """Starts, cancels and reports downloads; lists and deletes cached models."""

    def __init__(
        self,
        hub: HubClient,
        store: StatusStore,
        policy: DownloadPolicy,
        *,
        heartbeat_seconds: float = 10.0,
        cancel_wait_seconds: float = 10.0,
        verify: Callable[[Path, str], str] = verify_snapshot,
    ) -> None:
        self._hub = hub
        self._cache = ModelCache(hub)
        self._store = store
        self._policy = policy
        self._heartbeat = heartbeat_seconds
        self._cancel_wait = cancel_wait_seconds
        self._board = StatusBoard()
        self._lock = self._board.lock  # one RLock for the status and the fields below
        self._worker = DownloadWorker(hub, self._cache, self._board, verify, self._end_job)
        self._writer = StatusWriter(self._board, store)
        self._job: DownloadJob | None = None
        self._ending: DownloadJob | None = None  # claimed, its terminal status not yet published
        self._deleting: set[str] = set()
        self._open = False
        self._closing = False

    @classmethod
    def from_config(cls, config: Config) -> DownloadManager:
        """A manager for the server `config` describes."""
        hub = HubClient(
            config.hub_endpoint,
            cache_dir=config.cache_dir,
            token=config.hub_token,
            timeout=config.hub_timeout_seconds,
        )
        policy = DownloadPolicy(config.max_download_bytes, config.allow_pickle_weights)
        return cls(
            hub,
            StatusStore(config.cache_dir / STATUS_FILE),
            policy,
            heartbeat_seconds=config.heartbeat_seconds,
        )

    # -- lifecycle -----------------------------------------------------------------------------------

    def open(self) -> None:
        """Load the last status; a download the process died in ends FAILED (INTERRUPTED) without partials."""
        last = self._store.load()
        if last is not None and last.is_downloading:
            logger.warning(
                "the last download (%s) was interrupted; removing its partial files", last.current_model
            )
            try:
                self._cache.remove_partial(last.current_model, last.commit, last.pending_files)
            except OSError:
                logger.exception("could not remove the partial files of %s", last.current_model)
            self._board.restore(dataclasses.replace(last, version=last.version + CRASH_VERSION_GAP))
            error = (
                f"the download of {last.current_model} was interrupted: the server stopped before it ended"
            )
            self._board.finish(
                DownloadState.FAILED, "download interrupted", error=error, error_reason=errors.INTERRUPTED
            )
        elif last is not None:
            self._board.restore(last)
        self._writer.start()
        self._writer.flush(self._board.snapshot().version)
        with self._lock:
            self._open = True

    def close(self, timeout: float = 10.0) -> None:
        """Cancel the running download cleanly, persist the final status and release every watcher."""
        ending = None
        with self._lock:
            self._closing = True
            job = self._job
            ending_job = self._ending
            if job is not None:
                job.cancel_message = "cancelled: the server is shutting down"
                job.cancel.set()
                if self._board.snapshot().state is DownloadState.RESOLVING:
                    # Nothing on disk and no worker: the resolving call ends within the Hub timeout.
                    ending = self._claim_end(job, DownloadState.CANCELLED, job.cancel_message)
        if ending is not None and job is not None:
            self._publish_end(job, ending, log=False)
        elif job is not None:
            logger.info("shutting down: cancelling the download of %s", job.request.model_id)
            job.done.wait(timeout)
        elif ending_job is not None:  # its terminal status must reach the disk before the process exits
            ending_job.published.wait(timeout)
        self._writer.stop()
        self._board.close()

    def _require_open(self) -> None:
        with self._lock:
            if not self._open:
                raise Unavailable("the downloader is starting", reason=errors.SERVER_STARTING)
            if self._closing:
                raise Unavailable("the downloader is shutting down", reason=errors.SERVER_STOPPING)

    # -- status --------------------------------------------------------------------------------------

    def status(self) -> DownloadStatus:
        """A consistent copy of the status, taken under the lock."""
        return self._board.snapshot()

    def watch(self, should_stop: Callable[[], bool]) -> Iterator[StatusUpdate]:
        """The current status, then each change (coalesced), with heartbeats, until `should_stop()`."""
        return watch_status(self._board, self._heartbeat, should_stop)

    def wake_watchers(self) -> None:
        """Make watchers re-check their stop condition (a client left)."""
        self._board.wake()

    # -- start ---------------------------------------------------------------------------------------

    def start(self, request: DownloadRequest) -> DownloadStatus:
        """Start (or join) a download; returns once it runs, or has finished when everything is cached."""
        self._require_open()
        joined: DownloadJob | None = None
        with self._lock:
            current = self._board.snapshot()
            if request.request_id and request.request_id == current.request_id:
                same = (
                    current.current_model == request.model_id
                    and request.revision in (current.revision, current.commit)
                    and (current.allow_patterns, current.ignore_patterns)
                    == (request.allow_patterns, request.ignore_patterns)
                )
                if not same:
                    raise InvalidArgument(
                        "request_id was already used for another download (model, revision or patterns differ)",
                        field="request_id", reason="REQUEST_ID_REUSED",
                    )
                if current.state is not DownloadState.RESOLVING:
                    return current
                job, joined = None, self._job or self._ending  # not accepted yet: share its outcome
            elif current.is_downloading:
                if current.current_model == request.model_id and request.revision in (
                    current.revision,
                    current.commit,
                ):
                    job, joined = None, self._job or self._ending
                else:
                    raise Aborted(
                        f"{current.current_model} is downloading; wait for it to finish or cancel it",
                        reason=errors.DOWNLOAD_IN_PROGRESS,
                        metadata={
                            "current_model": current.current_model,
                            "current_revision": current.revision,
                        },
                    )
            elif request.model_id in self._deleting:
                raise Aborted(
                    f"{request.model_id} is being deleted",
                    reason=errors.MODEL_BEING_DELETED,
                    metadata={"model_id": request.model_id},
                )
            else:
                job = DownloadJob(request)
                self._job = job
                self._board.begin(request)
        if job is None:
            logger.info("joining the running download of %s@%s", request.model_id, request.revision)
            if joined is not None:
                # However long it takes: every Hub request of a resolve has a timeout, and an OK with
                # RESOLVING (or with the refusal's FAILED status) would tell this caller it was accepted.
                joined.resolved.wait()
                if joined.refusal is not None:
                    raise _same_error(joined.refusal)  # joiners of a refused download are refused alike
            return self._board.wait_until(lambda s: s.state is not DownloadState.RESOLVING, self._cancel_wait)
        try:
            return self._resolve_and_launch(job)
        except Exception as exc:
            job.refusal = exc
            raise
        finally:
            job.resolved.set()

    def _resolve_and_launch(self, job: DownloadJob) -> DownloadStatus:
        request = job.request
        try:
            listing = self._hub.list_files(request.model_id, request.revision)
            selected = select_files(listing, request.allow_patterns, request.ignore_patterns, self._policy)
            cached = frozenset(
                f.path for f in selected if self._hub.is_cached(request.model_id, listing.commit, f.path)
            )
            plan = DownloadPlan(listing.commit, selected, cached)
            if plan.pending:
                self._hub.check_access(request.model_id, plan.commit, plan.pending[0].path)
        except ServiceError as exc:
            self._end(job, DownloadState.FAILED, "download refused", error=exc.message, reason=exc.reason,
                      refused=True)
            raise
        except Exception:
            logger.exception("resolving %s@%s failed unexpectedly", request.model_id, request.revision)
            self._end(
                job,
                DownloadState.FAILED,
                "download failed",
                error="unexpected error while resolving; see the server log",
                reason=errors.DOWNLOAD_FAILED,  # the status reasons README lists; the call itself is INTERNAL
                refused=True,
            )
            raise
        with self._lock:
            if self._job is not job:  # cancelled (or shut down) while resolving
                return job.final or self._board.snapshot()
            status = self._board.plan(plan.commit, {f.path: f.size for f in plan.files}, plan.cached)
            worker = self._worker.thread_for(job, plan)
        # The pending file list reaches the disk before the first byte, so a crash can be cleaned up.
        self._writer.flush(status.version, timeout=5.0)
        worker.start()
        logger.info(
            "downloading %s@%s (%s): %d files, %d bytes, %d cached",
            request.model_id,
            request.revision,
            plan.commit,
            len(plan.files),
            plan.bytes_total,
            len(plan.cached),
        )
        if not plan.pending:
            job.done.wait(self._cancel_wait)
            return job.final or self._board.snapshot()
        return self._board.snapshot()

    def _end_job(self, job: DownloadJob, state: DownloadState, message: str, error: str, reason: str) -> None:
        self._end(job, state, message, error=error, reason=reason)

    def _end(
        self,
        job: DownloadJob,
        state: DownloadState,
        message: str,
        *,
        error: str = "",
        reason: str = "",
        log: bool = True,
        refused: bool = False,
    ) -> None:
        """End `job` unless something else already did; a `refused` one (StartDownload failed) keeps no request_id.

        The terminal status reaches the disk before any client can see it: a client that saw SUCCEEDED
        must not find the model FAILED (INTERRUPTED) and deleted after a crash.
        """
        ending = self._claim_end(job, state, message, error=error, reason=reason)
        if ending is not None:
            if refused:  # a request_id binds only to an accepted download: the retry must start it
                ending = dataclasses.replace(ending, request_id="")
            self._publish_end(job, ending, log=log)

    def _claim_end(
        self, job: DownloadJob, state: DownloadState, message: str, *, error: str = "", reason: str = ""
    ) -> DownloadStatus | None:
        """Claim the ending of `job` (None if something else ended it); publish it with _publish_end."""
        with self._lock:
            if self._job is not job:
                return None
            self._job = None  # claimed: nothing else ends it, and nothing changes the status until published
            self._ending = job
            return self._board.ending(state, message, error=error, error_reason=reason)

    def _publish_end(self, job: DownloadJob, ending: DownloadStatus, *, log: bool = True) -> None:
        """Persist the terminal status, then publish it; never called with the status lock held."""
        if not self._writer.persist(ending):
            logger.warning("the end of the download of %s is published but not persisted", job.request.model_id)
        job.final = self._board.publish(ending)
        with self._lock:
            if self._ending is job:
                self._ending = None
        job.published.set()
        if log:
            logger.info(
                "download of %s ended %s: %s", job.request.model_id, ending.state.value,
                ending.error or ending.status_message,
            )

    # -- cancel --------------------------------------------------------------------------------------

    def cancel(self) -> DownloadStatus:
        """Stop the download within about a second, remove its partial files; FAILED_PRECONDITION if idle."""
        self._require_open()
        with self._lock:
            job = self._job
            state = self._board.snapshot().state
            ending_job = self._ending if job is None else None
            if ending_job is None and (job is None or not state.is_active):
                raise FailedPrecondition("no download is running", reason=errors.NOT_DOWNLOADING)
            ending = None
            if job is not None:
                job.cancel.set()
                if state is DownloadState.RESOLVING:  # nothing on disk yet: end now
                    ending = self._claim_end(job, DownloadState.CANCELLED, job.cancel_message)
                else:
                    self._board.note(f"cancelling {job.request.model_id}")
        if ending_job is not None:  # it is ending (its final status being persisted): that is the answer
            ending_job.published.wait(self._cancel_wait)
            return ending_job.final or self._board.snapshot()
        assert job is not None
        if ending is not None:
            self._publish_end(job, ending, log=False)
        logger.info("cancel requested for %s", job.request.model_id)
        if job.final is None:
            job.done.wait(self._cancel_wait)
        return job.final or self._board.snapshot()

    # -- cache ---------------------------------------------------------------------------------------

    def list_models(self, page_size: int, page_token: str) -> ModelPage:
        """One page of the cached models (not the revision a download is filling right now)."""
        self._require_open()
        current = self._board.snapshot()
        downloading = (current.current_model, current.commit) if current.is_downloading and current.commit else None
        return self._cache.list_page(page_size, page_token, downloading)

    def delete_model(self, model_id: str, revision: str) -> DeleteResult:
        """Delete a cached model (one revision or all); ABORTED while it is downloading."""
        self._require_open()
        validate_model_id(model_id)
        if revision and (problem := revision_problem(revision)) is not None:
            raise InvalidArgument(problem, field="revision")
        with self._lock:
            current = self._board.snapshot()
            if current.is_downloading and current.current_model == model_id:
                raise Aborted(
                    f"{model_id} is downloading; cancel it or wait before deleting it",
                    reason=errors.DOWNLOAD_IN_PROGRESS,
                    metadata={"current_model": model_id},
                )
            if model_id in self._deleting:
                raise Aborted(
                    f"{model_id} is already being deleted",
                    reason=errors.MODEL_BEING_DELETED,
                    metadata={"model_id": model_id},
                )
            self._deleting.add(model_id)
        try:
            return self._cache.delete(model_id, revision)
        finally:
            with self._lock:
                self._deleting.discard(model_id)
