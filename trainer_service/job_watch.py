"""Watching one job: a snapshot, its stored events after a sequence, live events, heartbeats.

A job this process runs is a LiveJob: its events since creation are kept in memory and its
condition is notified on each, so live watchers wake at once; any other job is read from the store.
A watcher that leaves wakes its wait at once, so its stream (and HTTP/2 slot) is freed.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from trainer_service.events import JobState
from trainer_service.records import JobEvent, JobRecord
from trainer_service.store import Store

__all__ = ["LiveJob", "Snapshot", "Heartbeat", "WatchItem", "watch_job"]


@dataclass(frozen=True)
class Snapshot:
    """The job as it is when a watch starts."""

    job: JobRecord


@dataclass(frozen=True)
class Heartbeat:
    """Nothing happened for a while; carries the job's current state and latest stored sequence."""

    state: JobState
    sequence: int


WatchItem = Snapshot | Heartbeat | JobEvent


class LiveJob:
    """A job this process runs: its record, its events since creation, and its cancel flag."""

    def __init__(self, record: JobRecord) -> None:
        self.record = record
        self.events: list[JobEvent] = []
        self.changed = threading.Condition()
        self.cancel_requested = threading.Event()
        self.shutdown = False


def watch_job(
    store: Store,
    job: JobRecord,
    live: LiveJob | None,
    after_sequence: int,
    on_leave: Callable[[Callable[[], None]], bool],
    heartbeat_seconds: float,
) -> Iterator[WatchItem]:
    """Snapshot, events after `after_sequence`, heartbeats; ends after the terminal event or on leave."""
    left = threading.Event()

    def leave() -> None:
        left.set()
        if live is not None:
            with live.changed:
                live.changed.notify_all()

    if not on_leave(leave):
        return
    yield Snapshot(job)
    last = after_sequence
    last_sent = time.monotonic()
    while not left.is_set():
        events, current = _events_after(store, job.id, live, last, left, heartbeat_seconds)
        if not events:
            if current.state.is_terminal and current.last_sequence <= last:
                return
            if time.monotonic() - last_sent >= heartbeat_seconds and not left.is_set():
                yield Heartbeat(current.state, current.last_sequence)
                last_sent = time.monotonic()
            continue
        for event in events:
            yield event
            last = event.sequence
            if event.state.is_terminal:
                return
        last_sent = time.monotonic()


def _events_after(
    store: Store, job_id: str, live: LiveJob | None, last: int, left: threading.Event, heartbeat_seconds: float
) -> tuple[list[JobEvent], JobRecord]:
    """Events with sequence > last, waiting up to a second (a heartbeat may be due) for some to arrive.

    The wait ends early when the watcher leaves (`left` is set and, for a live job, `changed` notified).
    """
    deadline = min(1.0, heartbeat_seconds)
    if live is not None:
        with live.changed:
            live.changed.wait_for(lambda: left.is_set() or live.record.last_sequence > last, timeout=deadline)
            first_local = live.events[0].sequence if live.events else live.record.last_sequence + 1
            if last + 1 >= first_local:
                return live.events[last + 1 - first_local:], live.record
    # Not running here (finished, or another replica runs it): the store is the source of truth.
    events = store.list_events(job_id, last)
    record = store.get_job(job_id)
    if not events and record is not None and not record.state.is_terminal and live is None:
        left.wait(deadline)
        events = store.list_events(job_id, last)
    assert record is not None
    return events, record
