"""One download at a time: conflicts, joins, racing starts and 50 concurrent status readers."""

from __future__ import annotations

import contextlib
import threading
import time

import grpc
import pytest
from mlsuite.downloader.v1 import downloader_service_pb2 as pb
from mlsuite.downloader.v1 import downloader_service_pb2_grpc as pb_grpc

from mlsuite_client.downloader_types import DownloadState
from mlsuite_client.errors import (
    AbortedError,
    DeadlineExceededError,
    DownloadInProgressError,
    FailedPreconditionError,
    NotFoundError,
)
from tests.support.downloader_testing import THROTTLE, wait_for

ACTIVE = {pb.DOWNLOAD_STATE_RESOLVING, pb.DOWNLOAD_STATE_DOWNLOADING, pb.DOWNLOAD_STATE_VERIFYING}


def test_other_model_is_aborted_and_same_model_joins(downloader, repos, hub) -> None:
    hub.throttle_bytes_per_second = THROTTLE
    client = downloader.client
    running = client.start_download(repos.padded)
    assert running.state is DownloadState.DOWNLOADING

    with pytest.raises(DownloadInProgressError) as conflict:
        client.start_download(repos.other)
    assert conflict.value.code is grpc.StatusCode.ABORTED
    assert conflict.value.reason == "DOWNLOAD_IN_PROGRESS"
    assert conflict.value.metadata["current_model"] == repos.padded
    assert repos.padded in conflict.value.message

    joined = client.start_download(repos.padded)  # same model, same revision: joins
    assert joined.current_model == repos.padded and joined.start_time == running.start_time
    assert joined.is_downloading and joined.version >= running.version
    joined_by_commit = client.start_download(repos.padded, revision=running.commit)
    assert joined_by_commit.start_time == running.start_time
    with pytest.raises(DeadlineExceededError):
        client.wait(timeout=0.3)

    with pytest.raises(AbortedError) as deleting:
        client.delete_model(repos.padded)
    assert deleting.value.reason == "DOWNLOAD_IN_PROGRESS"

    assert client.wait(timeout=30).state is DownloadState.SUCCEEDED
    hub.throttle_bytes_per_second = None
    client.start_download(repos.other)  # the service is free again
    assert client.wait(timeout=30).state is DownloadState.SUCCEEDED


def test_racing_starts_claim_the_downloader_once(downloader, repos, hub) -> None:
    hub.throttle_bytes_per_second = 200_000  # even the smallest model takes most of a second
    models = [repos.padded, repos.tiny, repos.other, repos.single]
    barrier = threading.Barrier(len(models) * 2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def start(model: str) -> None:
        barrier.wait()
        try:
            status = downloader.client.start_download(model)
            result = f"started {status.current_model}"
        except DownloadInProgressError as exc:
            result = f"aborted {exc.metadata['current_model']}"
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=start, args=(m,)) for m in models * 2]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    winner = downloader.client.get_status().current_model
    # Exactly one model won; its second caller joined, everyone else was told who is downloading.
    assert sorted(outcomes) == sorted([f"started {winner}"] * 2 + [f"aborted {winner}"] * 6)
    with contextlib.suppress(FailedPreconditionError):
        downloader.client.cancel()


@pytest.mark.timeout(90)
def test_fifty_status_readers_see_only_consistent_snapshots(downloader, repos, hub) -> None:
    hub.throttle_bytes_per_second = THROTTLE
    channel = grpc.insecure_channel(downloader.target)
    stub = pb_grpc.DownloaderServiceStub(channel)
    stop = threading.Event()
    problems: list[str] = []
    seen_states: set[int] = set()
    mid_progress: list[float] = []
    counts: list[int] = []
    guard = threading.Lock()

    def read() -> None:
        last_version = -1
        count = 0
        while not stop.is_set():
            s = stub.GetDownloadStatus(pb.GetDownloadStatusRequest(), timeout=10).status
            count += 1
            issues = []
            if not 0 <= s.bytes_downloaded <= s.bytes_total and s.bytes_total:
                issues.append(f"bytes {s.bytes_downloaded}/{s.bytes_total}")
            if s.bytes_total == 0 and s.bytes_downloaded:
                issues.append("bytes without a total")
            if s.is_downloading != (s.state in ACTIVE):
                issues.append(f"is_downloading={s.is_downloading} in state {s.state}")
            if not 0 <= s.files_downloaded <= s.files_total and s.files_total:
                issues.append(f"files {s.files_downloaded}/{s.files_total}")
            if s.version < last_version:
                issues.append(f"version went back {last_version} -> {s.version}")
            if s.bytes_total and abs(s.progress - 100.0 * s.bytes_downloaded / s.bytes_total) > 1e-6:
                issues.append(f"progress {s.progress} does not match bytes")
            if s.state == pb.DOWNLOAD_STATE_DOWNLOADING and s.end_time.seconds:
                issues.append("end_time set while downloading")
            last_version = s.version
            with guard:
                problems.extend(issues)
                seen_states.add(s.state)
                if s.state == pb.DOWNLOAD_STATE_DOWNLOADING and 0 < s.progress < 100:
                    mid_progress.append(s.progress)
        with guard:
            counts.append(count)

    readers = [threading.Thread(target=read) for _ in range(50)]
    for reader in readers:
        reader.start()
    started = time.monotonic()
    downloader.client.start_download(repos.padded)
    final = downloader.client.wait(timeout=60)
    stop.set()
    for reader in readers:
        reader.join(20)
    channel.close()
    assert not any(r.is_alive() for r in readers), "a status reader is stuck (deadlock?)"
    assert final.state is DownloadState.SUCCEEDED
    assert problems == []
    assert pb.DOWNLOAD_STATE_DOWNLOADING in seen_states and pb.DOWNLOAD_STATE_SUCCEEDED in seen_states
    assert len(set(mid_progress)) > 5  # the readers really ran while bytes were arriving
    assert len(counts) == 50 and min(counts) > 0
    assert time.monotonic() - started < 60
    wait_for(lambda: not downloader.client.get_status().is_downloading)


def test_callers_that_join_a_refused_download_are_refused_alike(downloader, repos, hub) -> None:
    hub.api_delay = 0.5  # the first resolve is still running when the others join it
    outcomes: list[object] = []

    def start() -> None:
        try:
            outcomes.append(downloader.client.start_download(repos.tiny, revision="no-such-branch").state)
        except NotFoundError as exc:
            outcomes.append(exc.reason)

    callers = [threading.Thread(target=start) for _ in range(8)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join(30)
    assert outcomes == ["REVISION_NOT_FOUND"] * 8
    assert sum(1 for r in hub.requests if "/api/models/" in r.path) < 8  # most of them joined
