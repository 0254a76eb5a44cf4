"""The server as a real process: the listening line, SIGKILL mid-download then restart, graceful SIGTERM."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from mlsuite_client.downloader import DownloaderClient
from mlsuite_client.downloader_types import DownloadState
from tests.support.downloader_testing import partial_files, snapshot_files, wait_for

SLOW = 400_000  # bytes/s: the kill lands well inside the big file


def _server_args(cache_dir, hub) -> list[str]:
    return ["--cache-dir", str(cache_dir), "--hub-endpoint", hub.url, "--log-level", "INFO"]


def test_sigkill_mid_download_comes_back_failed_interrupted(spawn_downloader, hub, repos, tmp_path) -> None:
    cache = tmp_path / "cache"
    hub.throttle_bytes_per_second = SLOW
    first = spawn_downloader(*_server_args(cache, hub))
    with DownloaderClient(first.target, timeout=20) as client:
        started = client.start_download(repos.padded)
        assert hub.wait_for_body("padding.safetensors", timeout=30)
        wait_for(lambda: partial_files(cache), timeout=10)
        last_seen = wait_for(lambda: (s := client.get_status()).bytes_downloaded > 200_000 and s, timeout=20)
        # The pending file list was persisted before the first byte.
        persisted = json.loads((cache / ".mlsuite-downloader" / "status.json").read_text())
        assert persisted["state"] == "DOWNLOADING" and "padding.safetensors" in persisted["pending_files"]
        assert snapshot_files(cache, repos.padded)  # finished files are already in the snapshot
        # A second downloader on this cache would mark the live download INTERRUPTED: it is refused.
        second = subprocess.run(
            [sys.executable, "-m", "downloader_service", "--port", "0", *_server_args(cache, hub)],
            capture_output=True, text=True, timeout=60,
        )
        assert second.returncode == 2, second.stderr
        assert f"in use by another downloader (pid {first.process.pid})" in second.stderr
        assert client.get_status().state is DownloadState.DOWNLOADING
    first.signal(signal.SIGKILL)
    assert first.wait(10) == -signal.SIGKILL
    assert partial_files(cache), "the kill should have left a partial file behind"

    hub.throttle_bytes_per_second = None
    second = spawn_downloader(*_server_args(cache, hub))
    with DownloaderClient(second.target, timeout=20) as client:
        status = client.get_status()
        assert status.state is DownloadState.FAILED
        assert status.error_reason == "INTERRUPTED"
        assert "interrupted" in status.error
        assert status.current_model == repos.padded and status.start_time == started.start_time
        assert status.version > last_seen.version
        assert not status.is_downloading and status.end_time is not None
        assert partial_files(cache) == []
        assert snapshot_files(cache, repos.padded) == []
        assert list(client.list_models()) == []

        client.start_download(repos.padded)
        assert client.wait(timeout=30).state is DownloadState.SUCCEEDED
    second.signal(signal.SIGTERM)
    assert second.wait(15) == 0


def test_sigterm_drains_cancels_cleanly_and_exits_zero(spawn_downloader, hub, repos, tmp_path) -> None:
    cache = tmp_path / "cache"
    hub.throttle_bytes_per_second = SLOW
    server = spawn_downloader(*_server_args(cache, hub))
    assert server.process.stdout is not None
    channel = grpc.insecure_channel(server.target)
    health = health_pb2_grpc.HealthStub(channel)
    service = "mlsuite.downloader.v1.DownloaderService"
    assert (
        health.Check(health_pb2.HealthCheckRequest(service=service), timeout=5).status
        == health_pb2.HealthCheckResponse.SERVING
    )
    seen: list[int] = []
    watching = threading.Event()

    def watch_health() -> None:
        call = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=30)
        try:
            for response in call:
                seen.append(response.status)
                watching.set()
                if response.status == health_pb2.HealthCheckResponse.NOT_SERVING:
                    call.cancel()  # leave, so the drain need not wait out its grace period
        except grpc.RpcError:
            pass

    watcher = threading.Thread(target=watch_health, daemon=True)
    watcher.start()
    assert watching.wait(10)

    with DownloaderClient(server.target, timeout=20) as client:
        client.start_download(repos.padded)
        assert hub.wait_for_body("padding.safetensors", timeout=30)
        wait_for(lambda: partial_files(cache), timeout=10)
    server.signal(signal.SIGTERM)
    assert server.wait(20) == 0
    watcher.join(10)
    channel.close()
    assert seen[0] == health_pb2.HealthCheckResponse.SERVING
    assert health_pb2.HealthCheckResponse.NOT_SERVING in seen
    assert server.process.stdout.read() == ""  # exactly one line on stdout: the listening line
    assert partial_files(cache) == [] and snapshot_files(cache, repos.padded) == []

    hub.throttle_bytes_per_second = None
    again = spawn_downloader(*_server_args(cache, hub))
    with DownloaderClient(again.target, timeout=20) as client:
        status = client.get_status()
        assert status.state is DownloadState.CANCELLED
        assert status.status_message == "cancelled: the server is shutting down"
    again.signal(signal.SIGTERM)
    assert again.wait(15) == 0


def test_sigkill_right_after_succeeded_keeps_the_model(spawn_downloader, hub, repos, tmp_path) -> None:
    cache = tmp_path / "cache"
    first = spawn_downloader(*_server_args(cache, hub))
    with DownloaderClient(first.target, timeout=20) as client:
        watch = client.watch_status(timeout=60)
        next(watch)
        client.start_download(repos.tiny)
        seen = next(s for s in watch if s.state.is_terminal)
        first.signal(signal.SIGKILL)  # the moment a client saw it end
    assert seen.state is DownloadState.SUCCEEDED
    first.wait(10)
    second = spawn_downloader(*_server_args(cache, hub))
    with DownloaderClient(second.target, timeout=20) as client:
        status = client.get_status()
        assert (status.state, status.version) == (DownloadState.SUCCEEDED, seen.version)
        assert [m.model_id for m in client.list_models()] == [repos.tiny]
