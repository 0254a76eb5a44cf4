"""Persistence of the status: atomic JSON, corrupt files set aside, a writer outside the lock."""

from __future__ import annotations

import json
import logging
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from downloader_service.status import DownloadState, DownloadStatus, StatusBoard
from downloader_service.store import StatusStore, StatusWriter, status_from_json, status_to_json
from downloader_service.validation import DownloadRequest


def test_round_trip(tmp_path: Path) -> None:
    status = DownloadStatus(
        state=DownloadState.DOWNLOADING,
        current_model="org/name",
        revision="main",
        commit="c" * 40,
        progress=12.5,
        bytes_downloaded=125,
        bytes_total=1000,
        files_downloaded=1,
        files_total=3,
        version=42,
        start_time=datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC),
        update_time=datetime.now(UTC),
        allow_patterns=("*.json",),
        pending_files=("a.safetensors", "b.json"),
        request_id="r1",
    )
    assert status_from_json(json.loads(json.dumps(status_to_json(status)))) == status
    store = StatusStore(tmp_path / "state" / "status.json")
    assert store.load() is None
    store.save(status)
    assert store.load() == status
    assert [p.name for p in store.path.parent.iterdir()] == ["status.json"]  # no temp file left


def test_corrupt_file_is_set_aside(tmp_path: Path) -> None:
    store = StatusStore(tmp_path / "status.json")
    store.path.write_text("{ not json")
    assert store.load() is None
    assert (tmp_path / "status.corrupt").read_text() == "{ not json"
    store.path.write_text(json.dumps({"state": "NOPE"}))
    assert store.load() is None


@pytest.mark.parametrize(
    "change",
    [
        {"current_model": "../../etc"},  # the restart cleanup deletes files of current_model@commit
        {"commit": "../x"},
        {"pending_files": ["../../outside.bin"]},
        {"pending_files": ["/etc/passwd"]},
        {"version": "abc"},
        {"bytes_total": -1},
        {"progress": "half"},
        {"error": 42},
    ],
)
def test_a_status_file_with_impossible_fields_is_set_aside_not_trusted(tmp_path: Path, change: dict) -> None:
    good = DownloadStatus(state=DownloadState.DOWNLOADING, current_model="org/name", commit="c" * 40,
                          pending_files=("weights/a.bin",), version=3)
    store = StatusStore(tmp_path / "status.json")
    store.path.write_text(json.dumps({**status_to_json(good), **change}))
    assert store.load() is None
    assert (tmp_path / "status.corrupt").exists()
    store.path.write_text(json.dumps(status_to_json(good)))
    assert store.load() == good
    store.path.write_text("[1, 2]")  # JSON, but not an object
    assert store.load() is None
    store.path.write_bytes(b"\xff\xfe not utf-8")
    assert store.load() is None
    store.path.write_text("[" * 100_000 + "]" * 100_000)  # nesting deeper than the parser's recursion
    assert store.load() is None


def test_writer_persists_outside_the_lock_in_version_order(tmp_path: Path) -> None:
    board = StatusBoard()
    saved: list[tuple[int, bool]] = []

    class RecordingStore(StatusStore):
        def save(self, status: DownloadStatus, *, sync: bool = False) -> None:
            saved.append((status.version, board.lock._is_owned()))  # type: ignore[attr-defined]
            super().save(status, sync=sync)

    store = RecordingStore(tmp_path / "status.json")
    writer = StatusWriter(board, store, min_interval=0.01)
    writer.start()
    board.begin(DownloadRequest("org/name"))
    board.plan("c" * 40, {"a": 1000}, ())
    for _ in range(200):
        board.add_bytes("a", 5)
    final = board.finish(DownloadState.SUCCEEDED, "ok")
    assert writer.flush(final.version, timeout=5)
    writer.stop()
    versions = [v for v, _ in saved]
    assert versions == sorted(versions) and versions[-1] == final.version
    assert len(versions) < final.version  # progress-only changes were coalesced
    assert not any(owned for _, owned in saved)  # the status RLock is never held across the write
    assert store.load() == final


def test_stop_writes_the_final_status(tmp_path: Path) -> None:
    board = StatusBoard()
    store = StatusStore(tmp_path / "status.json")
    writer = StatusWriter(board, store)
    writer.start()
    last = board.note("hello")
    done = threading.Event()
    threading.Thread(target=lambda: (writer.stop(), done.set())).start()
    assert done.wait(5)
    assert store.load() == last


def test_a_disk_that_refuses_writes_is_retried_with_backoff_not_in_a_loop(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="downloader_service.store")
    board = StatusBoard()
    attempts: list[float] = []
    broken = threading.Event()
    broken.set()

    class FailingStore(StatusStore):
        def save(self, status: DownloadStatus, *, sync: bool = False) -> None:
            attempts.append(time.monotonic())
            if broken.is_set():
                raise OSError(28, "No space left on device")
            super().save(status, sync=sync)

    store = FailingStore(tmp_path / "status.json")
    writer = StatusWriter(board, store, max_retry_seconds=0.4)
    writer.start()
    try:
        noted = board.note("hello")
        started = time.monotonic()
        assert writer.flush(noted.version, timeout=5) is False
        assert time.monotonic() - started < 1  # gives up at the failed write, not at the timeout
        time.sleep(1.5)
        # Backoff 0.5 s then capped at 0.4 s: a handful of tries in 1.5 s, not thousands.
        assert 2 <= len(attempts) <= 6, len(attempts)
        assert caplog.text.count("could not persist the download status") == 1  # once per run of failures
        writer._retry_seconds = writer._max_retry = 30.0  # noqa: SLF001 - a long backoff from here on
        time.sleep(0.5)  # the writer is asleep in it now
        started = time.monotonic()
        assert writer.flush(noted.version, timeout=5) is False  # a flush retries at once ...
        assert time.monotonic() - started < 1  # ... and gives up at that failure, not at its timeout
        broken.clear()
        assert writer.flush(noted.version, timeout=5) is True  # persisted once the disk takes it again
        assert store.load() == noted and "persisted again" in caplog.text
    finally:
        broken.clear()
        writer.stop()
