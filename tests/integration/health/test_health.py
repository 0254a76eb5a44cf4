"""grpc.health.v1 on both servers: Check, Watch, List; NOT_SERVING until open and first thing on SIGTERM."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_status import rpc_status
from mlsuite.downloader.v1 import downloader_service_pb2 as dpb
from mlsuite.downloader.v1 import downloader_service_pb2_grpc as dpb_grpc
from mlsuite.trainer.v1 import trainer_service_pb2 as tpb
from mlsuite.trainer.v1 import trainer_service_pb2_grpc as tpb_grpc

from downloader_service.manager import DownloadManager
from downloader_service.server import build_server as build_downloader
from mlsuite_common.lifecycle import ConnectionSettings, PendingCore
from mlsuite_common.security import ServerSecurity
from tests.integration.security._servers import (
    KINDS,
    SERVICE_NAMES,
    InProcessServer,
    downloader_config,
    start_server,
    trainer_config,
)
from tests.support.processes import start_server_process
from trainer_service.core import TrainerCore
from trainer_service.server import build_server as build_trainer

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING


@pytest.fixture(params=KINDS)
def running(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[InProcessServer]:
    """An open, SERVING server of each kind."""
    server = start_server(request.param, tmp_path)
    yield server
    server.stop()


def _names(kind: str) -> list[str]:
    return ["", SERVICE_NAMES[kind]]


def _statuses(channel: grpc.Channel) -> dict[str, int]:
    listed = health_pb2_grpc.HealthStub(channel).List(health_pb2.HealthListRequest(), timeout=5)
    return {name: response.status for name, response in listed.statuses.items()}


def _reason(error: grpc.RpcError) -> str:
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    info = error_details_pb2.ErrorInfo()
    assert status is not None and status.details[0].Unpack(info)
    return info.reason


def test_check_watch_and_list_report_serving(running: InProcessServer) -> None:
    with grpc.insecure_channel(running.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        for name in _names(running.kind):
            assert health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status == SERVING
            watch = health.Watch(health_pb2.HealthCheckRequest(service=name), timeout=5)
            assert next(watch).status == SERVING
            watch.cancel()
        assert _statuses(channel) == {name: SERVING for name in _names(running.kind)}


def test_an_unknown_service_is_not_found_and_unlisted(running: InProcessServer) -> None:
    with grpc.insecure_channel(running.address) as channel:
        request = health_pb2.HealthCheckRequest(service="no.Such")
        with pytest.raises(grpc.RpcError) as raised:
            health_pb2_grpc.HealthStub(channel).Check(request, timeout=5)
        assert raised.value.code() is grpc.StatusCode.NOT_FOUND  # type: ignore[attr-defined]
        assert "no.Such" not in _statuses(channel)


def test_drain_reports_not_serving_to_watchers_for_good(running: InProcessServer) -> None:
    with grpc.insecure_channel(running.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        watches = [health.Watch(health_pb2.HealthCheckRequest(service=name), timeout=10)
                   for name in _names(running.kind)]
        assert [next(w).status for w in watches] == [SERVING, SERVING]
        running.health.begin_drain()
        assert [next(w).status for w in watches] == [NOT_SERVING, NOT_SERVING]
        running.health.set_serving(True)  # too late: a draining server never reports SERVING again
        assert _statuses(channel) == {name: NOT_SERVING for name in _names(running.kind)}
        for watch in watches:
            watch.cancel()


def test_the_trainer_is_not_serving_until_its_core_is_open(tmp_path: Path) -> None:
    config = trainer_config(tmp_path, ServerSecurity(), ConnectionSettings())
    pending: PendingCore[TrainerCore] = PendingCore()
    server, port, health_state = build_trainer(config, pending)
    server.start()
    core = None
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            watch = health.Watch(health_pb2.HealthCheckRequest(service=SERVICE_NAMES["trainer"]), timeout=10)
            assert next(watch).status == NOT_SERVING
            assert _statuses(channel) == {name: NOT_SERVING for name in _names("trainer")}
            stub = tpb_grpc.TrainerServiceStub(channel)
            with pytest.raises(grpc.RpcError) as starting:
                stub.ListDatasets(tpb.ListDatasetsRequest(), timeout=5)
            assert starting.value.code() is grpc.StatusCode.UNAVAILABLE  # type: ignore[attr-defined]
            assert _reason(starting.value) == "SERVER_STARTING"
            core = TrainerCore.open(config)
            pending.fill(core)
            health_state.set_serving(True)
            assert next(watch).status == SERVING
            stub.ListDatasets(tpb.ListDatasetsRequest(), timeout=5)
            watch.cancel()
    finally:
        server.stop(0).wait()
        if core is not None:
            core.close(timeout=5)


def test_the_downloader_is_not_serving_until_its_core_is_open(tmp_path: Path) -> None:
    config = downloader_config(tmp_path, ServerSecurity(), ConnectionSettings())
    manager = DownloadManager.from_config(config)
    server, port, health_state = build_downloader(config, manager)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=10)
            assert next(watch).status == NOT_SERVING
            assert _statuses(channel) == {name: NOT_SERVING for name in _names("downloader")}
            manager.open()
            health_state.set_serving(True)
            assert next(watch).status == SERVING
            stub = dpb_grpc.DownloaderServiceStub(channel)
            stub.GetDownloadStatus(dpb.GetDownloadStatusRequest(), timeout=5)
            watch.cancel()
    finally:
        manager.close(timeout=2)
        server.stop(0).wait()


@pytest.mark.parametrize("kind", KINDS)
def test_watchers_see_serving_then_not_serving_at_sigterm(kind: str, tmp_path: Path) -> None:
    module, args = {
        "trainer": ("trainer_service", ["--data-dir", str(tmp_path / "trainer")]),
        "downloader": ("downloader_service", ["--cache-dir", str(tmp_path / "cache"),
                                              "--hub-endpoint", "http://127.0.0.1:9"]),
    }[kind]
    process = start_server_process(module, [*args, "--grace-seconds", "5"])
    try:
        with grpc.insecure_channel(process.address) as channel:
            health = health_pb2_grpc.HealthStub(channel)
            assert _statuses(channel) == {name: SERVING for name in _names(kind)}
            watches = [health.Watch(health_pb2.HealthCheckRequest(service=name), timeout=30)
                       for name in _names(kind)]
            assert [next(w).status for w in watches] == [SERVING, SERVING]
            process.process.send_signal(signal.SIGTERM)
            assert [next(w).status for w in watches] == [NOT_SERVING, NOT_SERVING]
            for watch in watches:  # leaving lets the drain finish before its grace period
                watch.cancel()
        assert process.process.wait(timeout=30) == 0
    finally:
        process.kill()
