"""Persistence of the status: atomic JSON, corrupt files set aside, a writer outside the lock."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path

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
