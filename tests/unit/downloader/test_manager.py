"""The download manager over a fake Hub: lock discipline, cancel, crash recovery, request ids."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Collection
from pathlib import Path

import pytest

from downloader_service import errors
from downloader_service.hub_values import CachedRevision, RepoFile, RepoListing
from downloader_service.manager import CRASH_VERSION_GAP, STATUS_FILE, DownloadManager
from downloader_service.plan import DownloadPolicy
from downloader_service.status import DownloadState, DownloadStatus
from downloader_service.store import StatusStore
from downloader_service.validation import DownloadRequest
from downloader_service.verify import VerificationError
from mlsuite_common.errors import Aborted, FailedPrecondition, InvalidArgument, NotFound, Unavailable

COMMIT = "c" * 40
FILES = (RepoFile("config.json", 10), RepoFile("model.safetensors", 1000))


class FakeHub:
    """Records, for every call, whether the calling thread held the manager's RLock."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "repo" / "blobs").mkdir(parents=True)
        (root / "snap").mkdir()
        for file in FILES:  # the snapshot the worker checks: every file with its listed size
            (root / "snap" / file.path).write_bytes(b"x" * file.size)
        self.lock: threading.RLock | None = None
        self.calls: list[tuple[str, bool]] = []
        self.release = threading.Event()
        self.release.set()
        self.cached: set[str] = set()
        self.removed: list[tuple[str, str, set[str]]] = []

    def _record(self, name: str) -> None:
        assert self.lock is not None
        self.calls.append((name, self.lock._is_owned()))  # type: ignore[attr-defined]

    def list_files(self, model_id: str, revision: str) -> RepoListing:
        self._record("list_files")
        return RepoListing(model_id, revision, COMMIT, FILES)

    def check_access(self, model_id: str, commit: str, path: str) -> None:
        self._record("check_access")

    def is_cached(self, model_id: str, commit: str, path: str) -> bool:
        self._record("is_cached")
        return path in self.cached

    def download(
        self, model_id: str, commit: str, path: str, on_bytes: Callable[[int], None], cancel: threading.Event
    ) -> None:
        self._record("download")
        size = next(f.size for f in FILES if f.path == path)
        for _ in range(size // 10):
            if cancel.is_set():
                raise errors.DownloadCancelled()
            on_bytes(10)
            if path == "model.safetensors":
                self.release.wait(5)

    def snapshot_dir(self, model_id: str, commit: str) -> Path:
        return self.root / "snap"

    def repo_dir(self, model_id: str) -> Path:
        return self.root / "repo"

    def scan(self) -> list[CachedRevision]:
        self._record("scan")
        return []

    def is_damaged(self, model_id: str) -> bool:
        return False

    def delete_files(self, model_id: str, commit: str, paths: Collection[str]) -> bool:
        self._record("delete_files")
        self.removed.append((model_id, commit, set(paths)))
        return True

    def delete_revisions(self, model_id: str, commits: Collection[str]) -> int:
        self._record("delete_revisions")
        return 0


@pytest.fixture
def hub(tmp_path: Path) -> FakeHub:
    return FakeHub(tmp_path)


def _manager(
    hub: FakeHub,
    tmp_path: Path,
    verify: Callable[[Path, str], str] = lambda p, label: "bert",
) -> DownloadManager:
    manager = DownloadManager(
        hub,
        StatusStore(tmp_path / STATUS_FILE),
        DownloadPolicy(10**9),  # type: ignore[arg-type]
        heartbeat_seconds=0.2,
        cancel_wait_seconds=5,
        verify=verify,
    )
    hub.lock = manager._lock  # type: ignore[assignment]
    manager.open()
    return manager


def _wait_end(manager: DownloadManager) -> DownloadStatus:
    return manager._board.wait_until(lambda s: not s.is_downloading, 10)


def test_no_hub_io_with_the_lock_held(hub: FakeHub, tmp_path: Path) -> None:
    manager = _manager(hub, tmp_path)
    verified: list[bool] = []
    manager._worker._verify = lambda path, label: verified.append(manager._lock._is_owned()) or "bert"  # type: ignore
    manager.start(DownloadRequest("org/name"))
    final = _wait_end(manager)
    assert final.state is DownloadState.SUCCEEDED and final.progress == 100.0
    names = {name for name, _ in hub.calls}
    assert {"list_files", "check_access", "is_cached", "download"} <= names
    assert not any(owned for _, owned in hub.calls)
    assert verified == [False]
    assert (tmp_path / "repo" / "refs" / "main").read_text() == COMMIT
    manager.close()


def test_conflicts_joins_and_cancel(hub: FakeHub, tmp_path: Path) -> None:
    manager = _manager(hub, tmp_path)
    hub.release.clear()  # the big file stalls between chunks until released
    running = manager.start(DownloadRequest("org/name"))
    assert running.state is DownloadState.DOWNLOADING and running.bytes_total == 1010
    with pytest.raises(Aborted) as conflict:
        manager.start(DownloadRequest("org/other"))
    assert conflict.value.reason == "DOWNLOAD_IN_PROGRESS"
    assert conflict.value.metadata["current_model"] == "org/name"
    assert manager.start(DownloadRequest("org/name")).start_time == running.start_time
    assert manager.start(DownloadRequest("org/name", COMMIT)).start_time == running.start_time
    with pytest.raises(Aborted):
        manager.delete_model("org/name", "")
    threading.Timer(0.2, hub.release.set).start()
    cancelled = manager.cancel()
    assert cancelled.state is DownloadState.CANCELLED
    assert hub.removed == [("org/name", COMMIT, {"config.json", "model.safetensors"})]
    with pytest.raises(FailedPrecondition) as idle:
        manager.cancel()
    assert idle.value.reason == "NOT_DOWNLOADING"
    manager.close()


def test_cached_files_are_not_fetched_again(hub: FakeHub, tmp_path: Path) -> None:
    manager = _manager(hub, tmp_path)
    hub.cached = {f.path for f in FILES}
    done = manager.start(DownloadRequest("org/name"))
    assert done.state is DownloadState.SUCCEEDED  # finished before start() returned
    assert "download" not in {name for name, _ in hub.calls}
    manager.close()


def test_request_id_is_idempotent(hub: FakeHub, tmp_path: Path) -> None:
    manager = _manager(hub, tmp_path)
    first = manager.start(DownloadRequest("org/name", request_id="r1"))
    done = _wait_end(manager)
    assert manager.start(DownloadRequest("org/name", request_id="r1")) == done
    with pytest.raises(InvalidArgument):
        manager.start(DownloadRequest("org/else", request_id="r1"))
    assert first.request_id == "r1"
    manager.close()


def test_crash_recovery_marks_interrupted_and_cleans_up(hub: FakeHub, tmp_path: Path) -> None:
    store = StatusStore(tmp_path / STATUS_FILE)
    crashed = DownloadStatus(
        state=DownloadState.DOWNLOADING,
        current_model="org/name",
        revision="main",
        commit=COMMIT,
        version=77,
        pending_files=("model.safetensors",),
    )
    store.save(crashed)
    manager = _manager(hub, tmp_path)
    status = manager.status()
    assert status.state is DownloadState.FAILED and status.error_reason == "INTERRUPTED"
    assert "interrupted" in status.error and status.version == 77 + CRASH_VERSION_GAP + 1
    assert hub.removed == [("org/name", COMMIT, {"model.safetensors"})]
    assert store.load() == status  # persisted before the server reports SERVING
    manager.close()


def test_clean_restart_keeps_the_version(hub: FakeHub, tmp_path: Path) -> None:
    store = StatusStore(tmp_path / STATUS_FILE)
    store.save(dataclasses.replace(DownloadStatus(), state=DownloadState.SUCCEEDED, version=9))
    manager = _manager(hub, tmp_path)
    assert manager.status().version == 9 and manager.status().state is DownloadState.SUCCEEDED
    manager.close()


def test_calls_before_open_and_after_close_are_unavailable(hub: FakeHub, tmp_path: Path) -> None:
    manager = DownloadManager(hub, StatusStore(tmp_path / STATUS_FILE), DownloadPolicy(10**9))  # type: ignore[arg-type]
    hub.lock = manager._lock  # type: ignore[assignment]
    with pytest.raises(Unavailable) as starting:
        manager.start(DownloadRequest("org/name"))
    assert starting.value.reason == "SERVER_STARTING"
    manager.open()
    manager.close()
    with pytest.raises(Unavailable) as stopping:
        manager.list_models(0, "")
    assert stopping.value.reason == "SERVER_STOPPING"


def test_close_cancels_the_running_download(hub: FakeHub, tmp_path: Path) -> None:
    manager = _manager(hub, tmp_path)
    hub.release.clear()
    manager.start(DownloadRequest("org/name"))
    threading.Timer(0.2, hub.release.set).start()
    manager.close(timeout=5)
    final = StatusStore(tmp_path / STATUS_FILE).load()
    assert final is not None and final.state is DownloadState.CANCELLED
    assert final.status_message == "cancelled: the server is shutting down"


class _SlowStore(StatusStore):
    """A disk that takes a while to write terminal statuses (the window a crash can land in)."""

    def save(self, status: DownloadStatus, *, sync: bool = False) -> None:
        if status.state.is_terminal:
            threading.Event().wait(0.3)
        super().save(status, sync=sync)


def _verify_fails(path: Path, label: str) -> str:
    raise VerificationError("no config")


@pytest.mark.parametrize(
    ("verify", "cancel", "expected"),
    [
        (lambda p, label: "bert", False, DownloadState.SUCCEEDED),
        (_verify_fails, False, DownloadState.FAILED),
        (lambda p, label: "bert", True, DownloadState.CANCELLED),
    ],
)
def test_a_terminal_status_is_on_disk_before_anyone_sees_it(
    hub: FakeHub, tmp_path: Path, verify: Callable[[Path, str], str], cancel: bool, expected: DownloadState
) -> None:
    path = tmp_path / STATUS_FILE
    manager = DownloadManager(
        hub, _SlowStore(path), DownloadPolicy(10**9), cancel_wait_seconds=5, verify=verify  # type: ignore[arg-type]
    )
    hub.lock = manager._lock  # type: ignore[assignment]
    manager.open()
    if cancel:
        hub.release.clear()
    seen: list[tuple[DownloadStatus, DownloadStatus | None]] = []

    def watch() -> None:
        status = manager._board.wait_until(lambda s: s.state.is_terminal, 10)
        seen.append((status, StatusStore(path).load()))  # read the disk the moment it is visible

    watcher = threading.Thread(target=watch)
    watcher.start()
    manager.start(DownloadRequest("org/name"))
    if cancel:
        threading.Timer(0.2, hub.release.set).start()
        manager.cancel()
    watcher.join(10)
    (visible, on_disk), = seen
    assert visible.state is expected
    assert on_disk is not None and (on_disk.state, on_disk.version) == (expected, visible.version)
    manager.close()


class _SlowRefusingHub(FakeHub):
    """Resolves for longer than the manager's cancel wait, then refuses."""

    def list_files(self, model_id: str, revision: str) -> RepoListing:
        self._record("list_files")
        threading.Event().wait(1.0)
        raise NotFound(f"no revision {revision!r}", reason=errors.REVISION_NOT_FOUND)


def test_callers_that_join_a_slow_refused_resolve_are_refused_alike(tmp_path: Path) -> None:
    # With the joiners' wait capped by the cancel wait, they got OK with state RESOLVING (or, later,
    # the refusal's FAILED status): told they were accepted while their request_id stayed unbound.
    hub = _SlowRefusingHub(tmp_path)
    manager = DownloadManager(hub, StatusStore(tmp_path / STATUS_FILE), DownloadPolicy(10**9),  # type: ignore[arg-type]
                              cancel_wait_seconds=0.2, verify=lambda p, label: "bert")
    hub.lock = manager._lock  # type: ignore[assignment]
    manager.open()
    outcomes: list[object] = []

    def call(request: DownloadRequest) -> None:
        try:
            outcomes.append(manager.start(request))
        except NotFound as refused:
            outcomes.append(refused.reason)

    first = threading.Thread(target=call, args=(DownloadRequest("org/name", "nope", request_id="r1"),))
    first.start()
    manager._board.wait_until(lambda s: s.state is DownloadState.RESOLVING, 5)
    others = [threading.Thread(target=call, args=(request,)) for request in (
        DownloadRequest("org/name", "nope"), DownloadRequest("org/name", "nope", request_id="r1"))]
    for thread in others:
        thread.start()
    for thread in (first, *others):
        thread.join(10)
    assert outcomes == [errors.REVISION_NOT_FOUND] * 3
    manager.close()


def test_cancel_and_close_while_the_end_is_being_persisted_answer_the_end(hub: FakeHub, tmp_path: Path) -> None:
    # Between the claim of a download's end and its publication (a synchronous write) cancel answered
    # NOT_DOWNLOADING while the status still said downloading, and close did not wait for the write.
    path = tmp_path / STATUS_FILE
    manager = DownloadManager(hub, _SlowStore(path), DownloadPolicy(10**9),  # type: ignore[arg-type]
                              cancel_wait_seconds=5, verify=lambda p, label: "bert")
    hub.lock = manager._lock  # type: ignore[assignment]
    manager.open()
    manager.start(DownloadRequest("org/name"))
    deadline = time.monotonic() + 10
    while manager._ending is None and not manager.status().state.is_terminal and time.monotonic() < deadline:
        time.sleep(0.002)
    assert manager._ending is not None  # the slow store holds the end in its window for 0.3 s
    answer = manager.cancel()
    assert answer.state is DownloadState.SUCCEEDED
    manager.close()
    assert StatusStore(path).load().state is DownloadState.SUCCEEDED  # type: ignore[union-attr]
