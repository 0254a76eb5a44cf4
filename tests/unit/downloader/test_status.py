"""The RLock-guarded status board: transitions, versions, progress, lock discipline, coalesced watching."""

from __future__ import annotations

import threading
import time

import pytest

from downloader_service.status import DownloadState, DownloadStatus, StatusBoard
from downloader_service.validation import DownloadRequest
from downloader_service.watch import watch_status

SIZES = {"config.json": 100, "model.safetensors": 900}


def _downloading(board: StatusBoard, cached: tuple[str, ...] = ()) -> DownloadStatus:
    board.begin(DownloadRequest("org/name"))
    return board.plan("a" * 40, SIZES, cached)


def test_lifecycle_and_versions() -> None:
    board = StatusBoard()
    assert board.snapshot().state is DownloadState.IDLE and not board.snapshot().is_downloading
    resolving = board.begin(DownloadRequest("org/name", "v1", ("*.json",)))
    assert (resolving.state, resolving.current_model, resolving.revision) == (
        DownloadState.RESOLVING,
        "org/name",
        "v1",
    )
    assert resolving.is_downloading and resolving.commit == "" and resolving.start_time is not None
    planned = board.plan("a" * 40, SIZES, cached=("config.json",))
    assert (planned.bytes_total, planned.bytes_downloaded, planned.files_downloaded) == (1000, 100, 1)
    assert planned.progress == 10.0 and planned.pending_files == ("model.safetensors",)
    board.add_bytes("model.safetensors", 450)
    assert board.snapshot().progress == 55.0
    board.file_done("model.safetensors")
    verifying = board.verifying()
    assert (verifying.state, verifying.progress) == (DownloadState.VERIFYING, 100.0)
    done = board.finish(DownloadState.SUCCEEDED, "ok")
    assert not done.is_downloading and done.end_time is not None and done.pending_files == ()
    versions = [resolving.version, planned.version, verifying.version, done.version]
    assert versions == sorted(versions) and len(set(versions)) == 4
    with pytest.raises(ValueError):
        board.finish(DownloadState.DOWNLOADING, "not terminal")


def test_only_one_download_can_begin() -> None:
    board = StatusBoard()
    board.begin(DownloadRequest("org/a"))
    with pytest.raises(RuntimeError):
        board.begin(DownloadRequest("org/b"))


def test_progress_never_goes_back_and_bytes_stay_within_total() -> None:
    board = StatusBoard()
    _downloading(board)
    board.add_bytes("model.safetensors", 600)
    board.add_bytes("model.safetensors", -600)  # a library retry rewinding its bar
    assert board.snapshot().bytes_downloaded == 600
    board.add_bytes("model.safetensors", 10_000)  # more than the file: clamped
    status = board.snapshot()
    assert status.bytes_downloaded == 900 and status.progress == 90.0
    board.add_bytes("unknown.bin", 5)  # not part of the plan: ignored
    assert board.snapshot().bytes_downloaded == 900


def test_updates_after_the_download_ended_are_ignored() -> None:
    board = StatusBoard()
    _downloading(board)
    ended = board.finish(DownloadState.CANCELLED, "cancelled")
    board.add_bytes("model.safetensors", 100)
    board.file_done("model.safetensors")
    assert board.snapshot() == ended


def test_empty_files_count_as_complete() -> None:
    board = StatusBoard()
    board.begin(DownloadRequest("org/name"))
    planned = board.plan("a" * 40, {"empty.json": 0}, cached=("empty.json",))
    assert planned.progress == 100.0 and planned.files_downloaded == 1


def test_status_changes_only_with_the_rlock_held() -> None:
    board = StatusBoard()
    with pytest.raises(RuntimeError):
        board._status = DownloadStatus()  # the setter refuses without the lock
    with board.lock:
        board._status = DownloadStatus(version=7)  # and accepts with it
    assert board.snapshot().version == 7


def test_every_mutation_happens_with_the_rlock_held(monkeypatch: pytest.MonkeyPatch) -> None:
    """Instrument the single write path and drive a whole download from many threads at once."""
    owned: list[bool] = []
    setter = StatusBoard._status.fset  # type: ignore[attr-defined]
    getter = StatusBoard._status.fget  # type: ignore[attr-defined]

    def recording_setter(self: StatusBoard, value: DownloadStatus) -> None:
        owned.append(self._lock._is_owned())  # type: ignore[attr-defined]
        setter(self, value)

    monkeypatch.setattr(StatusBoard, "_status", property(getter, recording_setter))
    board = StatusBoard()
    board.begin(DownloadRequest("org/name"))
    sizes = {f"shard-{i}.safetensors": 64 * 1024 for i in range(8)}
    board.plan("b" * 40, sizes, cached=())
    readers_stop = threading.Event()

    def feed(path: str) -> None:
        for _ in range(64):
            board.add_bytes(path, 1024)
        board.file_done(path)

    def read() -> None:
        while not readers_stop.is_set():
            status = board.snapshot()
            assert status.bytes_downloaded <= status.bytes_total

    readers = [threading.Thread(target=read) for _ in range(4)]
    feeders = [threading.Thread(target=feed, args=(path,)) for path in sizes]
    for thread in (*readers, *feeders):
        thread.start()
    for thread in feeders:
        thread.join()
    board.verifying()
    final = board.finish(DownloadState.SUCCEEDED, "ok")
    readers_stop.set()
    for thread in readers:
        thread.join()
    assert final.bytes_downloaded == final.bytes_total == 8 * 64 * 1024
    assert final.files_downloaded == 8
    assert len(owned) == final.version > 8 * 64  # every change went through the setter...
    assert all(owned)  # ...with the RLock held by the mutating thread


def test_wait_for_change_returns_the_newest_status() -> None:
    board = StatusBoard()
    start = board.snapshot().version
    assert board.wait_for_change(start, timeout=0.05) is None
    for _ in range(100):
        board.note("busy")
    newest = board.wait_for_change(start, timeout=1)
    assert newest is not None and newest.version == start + 100  # no backlog: straight to the newest


def test_watch_is_coalesced_and_sends_heartbeats() -> None:
    board = StatusBoard()
    stop = threading.Event()
    updates = watch_status(board, heartbeat_seconds=0.1, should_stop=stop.is_set)
    first = next(updates)
    assert not first.heartbeat and first.status.version == 0
    for index in range(50):  # a slow watcher falls behind...
        board.note(f"step {index}")
    second = next(updates)
    assert second.status.version == 50 and not second.heartbeat  # ...and gets only the newest status
    started = time.monotonic()
    beat = next(updates)
    assert beat.heartbeat and beat.status.version == 50
    assert 0.05 < time.monotonic() - started < 2
    stop.set()
    board.wake()
    assert list(updates) == []


def test_watch_ends_when_the_board_closes() -> None:
    board = StatusBoard()
    updates = watch_status(board, heartbeat_seconds=30, should_stop=lambda: False)
    next(updates)
    closer = threading.Timer(0.1, board.close)
    closer.start()
    started = time.monotonic()
    assert list(updates) == []
    assert time.monotonic() - started < 5
