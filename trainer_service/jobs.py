"""Training jobs: a bounded worker pool, an event log per job, cancel, and re-attachable watches.

Every event is stored first and then published to in-memory watchers, so a watcher that re-attaches
with after_sequence reads the gap from the store and never sees an event twice. Training reports
through a ProgressReporter (relayed from the job's process); publishing only appends and notifies,
so slow or vanished watchers never slow training down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime

from mlsuite_common.errors import FailedPrecondition, InvalidArgument, NotFound, ResourceExhausted
from trainer_service.events import JobCancelled, JobState, Phase
from trainer_service.job_runner import JobRunner
from trainer_service.job_specs import ResolvedSpec, dataset_id_of, resolve_spec
from trainer_service.job_watch import Heartbeat, LiveJob, Snapshot, WatchItem, watch_job
from trainer_service.names import TRAINING_JOBS, new_id, parse_name
from trainer_service.records import JobEvent, JobRecord, JobSpec
from trainer_service.store import ACTIVE_STATES, DatasetMissing, Page, Store

__all__ = ["JobManager", "LiveJob", "Snapshot", "Heartbeat", "WatchItem"]

logger = logging.getLogger(__name__)


def _now() -> datetime:
    return datetime.now(UTC)


class JobManager:
    """Creates, runs, cancels and watches training jobs."""

    def __init__(
        self,
        store: Store,
        runner: JobRunner,
        *,
        max_concurrent_jobs: int,
        max_queued_jobs: int,
        heartbeat_seconds: float,
    ) -> None:
        self._store = store
        self._runner = runner
        self._max_queued = max_queued_jobs
        self._heartbeat = heartbeat_seconds
        self._pool = ThreadPoolExecutor(max_workers=max_concurrent_jobs, thread_name_prefix="train")
        self._live: dict[str, LiveJob] = {}
        self._lock = threading.Lock()
        self._observers: list[Callable[[JobRecord, JobEvent], None]] = []
        self._fail_interrupted()

    def _fail_interrupted(self) -> None:
        for job in self._store.jobs_in_states(ACTIVE_STATES):
            logger.warning("job %s was %s when the server stopped; marking it FAILED", job.id, job.state.value)
            self._store.record_event(*self._transition(
                job, JobState.FAILED, error=("INTERRUPTED", "interrupted: the server stopped while the job was active")
            ))

    @staticmethod
    def _transition(
        job: JobRecord, state: JobState, *, message: str = "", error: tuple[str, str] | None = None, **changes: object
    ) -> tuple[JobRecord, JobEvent]:
        now = _now()
        reason, text = error or ("", "")
        if state.is_terminal:
            changes.update(end_time=now, phase=None)
        job = replace(job, state=state, error_reason=reason, error_message=text, **changes)
        event = JobEvent(sequence=0, time=now, state=state, kind="state_change", message=message,
                         error_reason=reason, error_message=text)
        return job, event

    def warm(self) -> None:
        """Start loading the training processes' libraries now rather than with the first job."""
        self._runner.processes.warm()

    def add_observer(self, observer: Callable[[JobRecord, JobEvent], None]) -> None:
        """Call `observer(job, event)` after every published event (it must be cheap and not block)."""
        self._observers.append(observer)

    def publish(self, live: LiveJob, job: JobRecord, event: JobEvent, **extra: object) -> None:
        """Store the job's new record with its event, then wake the watchers (the only write path)."""
        with live.changed:
            stored = self._store.record_event(job, event, **extra)  # type: ignore[arg-type]
            live.record = stored
            event = replace(event, sequence=stored.last_sequence)
            live.events.append(event)
            live.changed.notify_all()
        if stored.state.is_terminal:
            with self._lock:
                self._live.pop(stored.id, None)
        for observer in self._observers:
            try:
                observer(stored, event)
            except Exception:  # noqa: BLE001 - telemetry must never break a job
                logger.exception("job observer failed")

    # Create / get / list / cancel

    def create(self, spec: JobSpec, request_id: str) -> JobRecord:
        """Validate the spec, store a QUEUED job and queue it; a known request_id returns its job."""
        if len(request_id) > 128:
            raise InvalidArgument("request_id is longer than 128 characters", field="request_id",
                                  reason="INVALID_REQUEST_ID")
        existing = self._store.find_job_by_request_id(request_id)
        if existing is not None:
            return self._same_request(existing, spec)
        resolved = resolve_spec(spec, self._store, self._runner.gpu)
        with self._lock:
            queued = sum(1 for live in self._live.values() if live.record.state is JobState.QUEUED)
            if queued >= self._max_queued:
                raise ResourceExhausted(
                    f"{queued} jobs are already queued (limit {self._max_queued}); retry later",
                    reason="JOB_QUEUE_FULL",
                )
            record = JobRecord(
                id=new_id(), spec=replace(spec, dataset_id=dataset_id_of(spec.dataset_id)), state=JobState.QUEUED,
                request_id=request_id, create_time=_now(), resolved_hyperparameters=resolved.hyperparameters,
            )
            try:
                stored = self._store.insert_job(record, require_dataset=True)
            except DatasetMissing:  # deleted since resolve_spec looked it up
                raise NotFound(f"dataset {spec.dataset_id!r} does not exist", reason="DATASET_NOT_FOUND") from None
            if stored.id != record.id:  # a concurrent create with the same request_id won
                return self._same_request(stored, spec)
            live = LiveJob(stored)
            self._live[stored.id] = live
        self._pool.submit(self._run, live, resolved)
        logger.info("job %s queued: %s on datasets/%s", stored.id, spec.model_type, stored.spec.dataset_id)
        return stored

    @staticmethod
    def _same_request(existing: JobRecord, spec: JobSpec) -> JobRecord:
        asked = replace(spec, dataset_id=dataset_id_of(spec.dataset_id)) if spec.dataset_id else spec
        if asked != existing.spec:
            raise InvalidArgument(
                "request_id was already used for a different training job spec", field="request_id",
                reason="REQUEST_ID_REUSED",
            )
        return existing

    def get(self, name: str, field: str = "name") -> JobRecord:
        """The job named trainingJobs/{id}; NOT_FOUND if unknown."""
        job_id = parse_name(name, TRAINING_JOBS, field)
        with self._lock:
            live = self._live.get(job_id)
        if live is not None:
            return live.record
        job = self._store.get_job(job_id)
        if job is None:
            raise NotFound(f"training job {name!r} does not exist", reason="TRAINING_JOB_NOT_FOUND")
        return job

    def list(self, state: JobState | None, page_size: int, page_token: str) -> Page:
        """A page of jobs, newest first."""
        return self._store.list_jobs(state, page_size, page_token)

    def cancel(self, name: str) -> JobRecord:
        """QUEUED -> CANCELLED at once; RUNNING -> CANCELLING (stops within a batch); finished: FAILED_PRECONDITION."""
        job = self.get(name)
        with self._lock:
            live = self._live.get(job.id)
        if live is None:
            if job.state.is_terminal:
                raise FailedPrecondition(f"job {name!r} already finished ({job.state.value})",
                                         reason="JOB_ALREADY_FINISHED")
            raise FailedPrecondition(f"job {name!r} runs on another server", reason="JOB_NOT_LOCAL")
        with live.changed:
            state = live.record.state
            if state.is_terminal:
                raise FailedPrecondition(f"job {name!r} already finished ({state.value})",
                                         reason="JOB_ALREADY_FINISHED")
            live.cancel_requested.set()
            if state is JobState.QUEUED:
                self.publish(live, *self._transition(live.record, JobState.CANCELLED, message="cancelled while queued"))
            elif state is JobState.RUNNING:
                self.publish(live, *self._transition(live.record, JobState.CANCELLING, message="cancel requested"))
            return live.record

    # Running

    def _run(self, live: LiveJob, resolved: ResolvedSpec) -> None:
        with live.changed:
            if live.record.state is not JobState.QUEUED:
                return
            self.publish(live, *self._transition(
                live.record, JobState.RUNNING, message=f"started on {resolved.device}", start_time=_now(),
                device=resolved.device,
            ))
        try:
            self._runner.run(live, resolved, self)
        except JobCancelled:
            if live.shutdown:
                error = ("INTERRUPTED", "interrupted: the server shut down while the job was running")
                self.publish(live, *self._transition(live.record, JobState.FAILED, error=error))
            else:
                self.publish(live, *self._transition(live.record, JobState.CANCELLED, message="cancelled"))
        except Exception as exc:  # noqa: BLE001 - every failure ends the job FAILED with a safe message
            reason = getattr(exc, "reason", None)
            if reason is None:
                logger.error("job %s failed unexpectedly", live.record.id, exc_info=exc)
                error = ("INTERNAL", "internal error during training; see the server log")
            else:
                logger.info("job %s failed: %s %s", live.record.id, reason, exc)
                error = (reason, getattr(exc, "message", str(exc)))
            self.publish(live, *self._transition(live.record, JobState.FAILED, error=error))

    def record_phase(self, live: LiveJob, phase: Phase) -> None:
        """Publish a phase change of a running job."""
        with live.changed:
            job = replace(live.record, phase=phase)
            event = JobEvent(sequence=0, time=_now(), state=job.state, kind="phase_change", phase=phase)
            self.publish(live, job, event)

    # Watching

    def watch(
        self, name: str, after_sequence: int, on_leave: Callable[[Callable[[], None]], bool]
    ) -> Iterator[WatchItem]:
        """Snapshot, stored events after `after_sequence`, live events, heartbeats; ends after the terminal one.

        `on_leave(callback)` must run `callback` when the client leaves (it is grpc's
        `context.add_callback`, which returns False if the client is already gone). Leaving wakes the
        wait for the next event at once: until the handler returns, the stream keeps one of the
        connection's HTTP/2 stream slots, and a client that opens and leaves watches faster than
        they are freed has its other calls on that connection refused (RST_STREAM REFUSED_STREAM).
        """
        if after_sequence < 0:
            raise InvalidArgument("after_sequence must not be negative", field="after_sequence",
                                  reason="INVALID_SEQUENCE")
        job = self.get(name)
        with self._lock:
            live = self._live.get(job.id)
        if live is not None:
            job = live.record
        yield from watch_job(self._store, job, live, after_sequence, on_leave, self._heartbeat)

    def shutdown(self, timeout: float) -> None:
        """Stop taking work, interrupt running jobs (they end FAILED "interrupted"), wait up to `timeout`."""
        with self._lock:
            lives = list(self._live.values())
        for live in lives:
            live.shutdown = True
            live.cancel_requested.set()
            with live.changed:
                if live.record.state is JobState.QUEUED:
                    error = ("INTERRUPTED", "interrupted: the server shut down before the job started")
                    self.publish(live, *self._transition(live.record, JobState.FAILED, error=error))
        waiter = threading.Thread(target=self._pool.shutdown, kwargs={"wait": True}, daemon=True)
        waiter.start()
        waiter.join(timeout)
