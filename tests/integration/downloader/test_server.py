"""Server plumbing: health, reflection, the watch stream's heartbeats and release, startup ordering."""

from __future__ import annotations

import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from mlsuite.downloader.v1 import downloader_service_pb2 as pb
from mlsuite.downloader.v1 import downloader_service_pb2_grpc as pb_grpc

from downloader_service.config import Config
from downloader_service.manager import DownloadManager
from downloader_service.server import SERVICE_NAME, build_server
from mlsuite_client.downloader import DownloaderClient
from mlsuite_client.errors import UnavailableError, from_rpc_error
from mlsuite_common.lifecycle import ConnectionSettings


def test_health_and_reflection(downloader) -> None:
    with grpc.insecure_channel(downloader.target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in ("", SERVICE_NAME):
            response = health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert response.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        answers = reflection.ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=5
        )
        names = {s.name for answer in answers for s in answer.list_services_response.service}
    assert {SERVICE_NAME, "grpc.health.v1.Health"} <= names


def test_not_serving_until_the_core_is_open(tmp_path, hub) -> None:
    config = Config(port=0, cache_dir=tmp_path / "cache", hub_endpoint=hub.url)
    core = DownloadManager.from_config(config)
    server, port, health_state = build_server(config, core)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            check = health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=5)
            assert check.status == health_pb2.HealthCheckResponse.NOT_SERVING
            with pytest.raises(UnavailableError) as starting:
                DownloaderClient(channel, timeout=5).start_download("org/name")
            assert starting.value.reason == "SERVER_STARTING"
            core.open()
            health_state.set_serving(True)
            check = health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=5)
            assert check.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        core.close(timeout=2)
        server.stop(0).wait()


def test_watch_sends_current_status_first_then_heartbeats(make_downloader) -> None:
    running = make_downloader(heartbeat_seconds=0.3)
    with grpc.insecure_channel(running.target) as channel:
        stub = pb_grpc.DownloaderServiceStub(channel)
        call = stub.WatchDownloadStatus(pb.WatchDownloadStatusRequest(), timeout=10)
        started = time.monotonic()
        messages = [next(call) for _ in range(4)]
        elapsed = time.monotonic() - started
        call.cancel()
    assert messages[0].heartbeat is False
    assert messages[0].status.state == pb.DOWNLOAD_STATE_IDLE
    assert all(m.heartbeat for m in messages[1:])
    assert {m.status.version for m in messages} == {messages[0].status.version}
    assert 0.6 < elapsed < 5


def test_watchers_are_released_when_clients_leave(make_downloader, repos) -> None:
    # Room for 27 open status watchers (40 calls: a quarter kept for unary ones, an eighth of the other 30
    # for health / reflection streams) and 80 watchers that leave one after another: a thread or stream
    # slot not given back would refuse the later ones.
    running = make_downloader(heartbeat_seconds=10.0, connection=ConnectionSettings(max_concurrent_rpcs=40))
    with grpc.insecure_channel(running.target) as channel:
        stub = pb_grpc.DownloaderServiceStub(channel)
        for _ in range(80):
            call = stub.WatchDownloadStatus(pb.WatchDownloadStatusRequest())
            next(call)
            call.cancel()
        held = [stub.WatchDownloadStatus(pb.WatchDownloadStatusRequest()) for _ in range(27)]
        assert all(next(call).status.state == pb.DOWNLOAD_STATE_IDLE for call in held)  # every slot is free
        for call in held:
            call.cancel()
        try:
            status = stub.GetDownloadStatus(pb.GetDownloadStatusRequest(), timeout=5).status
        except grpc.RpcError as exc:
            raise AssertionError(f"server starved after watchers left: {from_rpc_error(exc)}") from None
    assert status.state == pb.DOWNLOAD_STATE_IDLE
    running.client.start_download(repos.tiny)  # and downloads still run
    assert running.client.wait(timeout=30).state.value == "SUCCEEDED"
