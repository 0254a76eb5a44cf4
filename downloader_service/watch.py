"""Watching the status: the current snapshot first, then each newer one (coalesced), with heartbeats."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from downloader_service.status import DownloadStatus, StatusBoard

__all__ = ["StatusUpdate", "watch_status"]


@dataclass(frozen=True)
class StatusUpdate:
    """One message of a status watch: the status, and whether it only repeats an unchanged one."""

    status: DownloadStatus
    heartbeat: bool = False


def watch_status(
    board: StatusBoard, heartbeat_seconds: float, should_stop: Callable[[], bool]
) -> Iterator[StatusUpdate]:
    """The current status, then each newer one (coalesced), with a heartbeat after each quiet interval."""
    current = board.snapshot()
    yield StatusUpdate(current)
    while not should_stop():
        newer = board.wait_for_change(current.version, heartbeat_seconds, should_stop)
        if newer is not None:
            current = newer
            yield StatusUpdate(current)
        elif should_stop() or board.closed:
            return
        else:
            yield StatusUpdate(board.snapshot(), heartbeat=True)
