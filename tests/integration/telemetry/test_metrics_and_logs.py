"""Prometheus endpoints and structured logs of both servers, scraped after real traffic."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from mlsuite.trainer.v1 import trainer_service_pb2 as pb
from mlsuite.trainer.v1 import trainer_service_pb2_grpc as pb_grpc
from prometheus_client.parser import text_string_to_metric_families

from mlsuite_client import DownloaderClient, NotFoundError, TrainerClient
from tests.support.hub_server import LocalHub
from tests.support.processes import ServerProcess, start_server_process
from tests.support.tiny_models import tiny_bert_files

CSV = "x,z,y\n" + "".join(f"{i % 7},{(i * 3) % 5},{i % 7 * 2.0 + (i * 3) % 5}\n" for i in range(80))


def _scrape(server: ServerProcess) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(server.metrics_url(), timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def trainer_process(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path]]:
    log = tmp_path / "trainer.log"
    with log.open("w") as stderr:
        server = start_server_process(
            "trainer_service",
            ["--data-dir", str(tmp_path / "data"), "--metrics-port", "0", "--log-format", "json"],
            stderr=stderr,
        )
        yield server, log
        assert server.terminate() == 0


def test_trainer_metrics_count_rpcs_by_code_jobs_by_state_and_epochs(
    trainer_process: tuple[ServerProcess, Path], tmp_path: Path
) -> None:
    server, _ = trainer_process
    data = tmp_path / "small.csv"
    data.write_text(CSV)
    with TrainerClient(server.address) as client:
        client.list_model_types()
        with pytest.raises(NotFoundError):
            client.get_dataset("datasets/0123456789abcdef")
        dataset = client.upload_dataset(data)
        for model_type, hyper in (("ridge", {}), ("neural_network", {"epochs": 10, "hidden_layers": [8]})):
            events = list(client.train(dataset.name, "y", model_type=model_type, hyperparameters=hyper))
            assert events[-1].state == "SUCCEEDED"
    samples = _scrape(server)
    rpc = "mlsuite_rpc_requests_total"
    service = "mlsuite.trainer.v1.TrainerService"
    assert _value(samples, rpc, service=service, method="ListModelTypes", code="OK") == 1
    assert _value(samples, rpc, service=service, method="GetDataset", code="NOT_FOUND") == 1
    assert _value(samples, rpc, service=service, method="UploadDataset", code="OK") == 1
    assert _value(samples, rpc, service=service, method="Train", code="OK") == 2
    assert _value(samples, "mlsuite_rpc_duration_seconds_count", service=service, method="Train", code="OK") == 2
    assert _value(samples, "mlsuite_training_jobs", state="SUCCEEDED") == 2
    assert _value(samples, "mlsuite_training_jobs", state="RUNNING") == 0
    epochs = _value(samples, "mlsuite_training_epoch_duration_seconds_count", model_type="neural_network",
                    device="cpu")
    assert epochs == 10
    assert _value(samples, "mlsuite_training_epoch_duration_seconds_sum", model_type="neural_network",
                  device="cpu") > 0


def test_access_logs_are_json_with_method_code_and_the_callers_request_id(
    trainer_process: tuple[ServerProcess, Path],
) -> None:
    server, log = trainer_process
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.TrainerServiceStub(channel)
        _, call = stub.ListModelTypes.with_call(
            pb.ListModelTypesRequest(), metadata=(("x-request-id", "req-4711"),), timeout=10
        )
        # A unary call returns the id with its status, in the trailing metadata.
        assert dict(call.trailing_metadata())["x-request-id"] == "req-4711"
        with pytest.raises(grpc.RpcError) as rejected_call:
            stub.GetModel(pb.GetModelRequest(name="models/nope"), timeout=10)
        # An error keeps its google.rpc details beside the (generated) id.
        trailers = dict(rejected_call.value.trailing_metadata())
        assert len(trailers["x-request-id"]) == 32 and "grpc-status-details-bin" in trailers
        # A stream sends the id as initial metadata when it opens, and again with its status.
        stream = stub.WatchTrainingJob(pb.WatchTrainingJobRequest(name="trainingJobs/nope"),
                                       metadata=(("x-request-id", "req-4712"),), timeout=10)
        assert dict(stream.initial_metadata())["x-request-id"] == "req-4712"
        with pytest.raises(grpc.RpcError) as watched:
            next(stream)
        assert watched.value.code() == grpc.StatusCode.NOT_FOUND
        assert dict(watched.value.trailing_metadata())["x-request-id"] == "req-4712"
        # An id grpc-python lets through but the service does not take (over 128 characters, a space) is
        # replaced; ids with control characters, which other clients send, are checked in the unit tests.
        for odd in ("x" * 129, "with space"):
            _, call = stub.ListModelTypes.with_call(pb.ListModelTypesRequest(), metadata=(("x-request-id", odd),),
                                                    timeout=10)
            returned = dict(call.trailing_metadata())["x-request-id"]
            assert returned != odd and len(returned) == 32
    server.terminate()
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    access = [e for e in entries if e["logger"] == "mlsuite.access"]
    listed = [e for e in access if e["rpc_method"].endswith("/ListModelTypes")]
    assert listed and listed[0]["request_id"] == "req-4711" and listed[0]["rpc_code"] == "OK"
    rejected = [e for e in access if e["rpc_method"].endswith("/GetModel")]
    assert rejected[0]["rpc_code"] == "NOT_FOUND"
    assert len(rejected[0]["request_id"]) == 32  # generated when the caller sends none


def test_downloader_metrics_follow_a_download(tmp_path: Path) -> None:
    hub = LocalHub()
    try:
        hub.add_repo("mlsuite-test/metrics-bert", tiny_bert_files(seed=3))
        env = {"HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1"}
        env_clean = {k: v for k, v in os.environ.items() if k not in ("HF_TOKEN", "HF_ENDPOINT")}
        server = start_server_process(
            "downloader_service",
            ["--cache-dir", str(tmp_path / "cache"), "--hub-endpoint", hub.url, "--metrics-port", "0"],
            env={**env_clean, **env}, inherit_env=False,
        )
        try:
            idle = _scrape(server)
            assert _value(idle, "mlsuite_download_state", state="IDLE") == 1
            with DownloaderClient(server.address) as client:
                client.start_download("mlsuite-test/metrics-bert")
                final = client.wait(timeout=60)
            assert final.state.value == "SUCCEEDED"
            samples = _scrape(server)
            assert _value(samples, "mlsuite_download_state", state="SUCCEEDED") == 1
            assert _value(samples, "mlsuite_download_state", state="IDLE") == 0
            total = _value(samples, "mlsuite_download_bytes", kind="total")
            assert total > 0 and _value(samples, "mlsuite_download_bytes", kind="downloaded") == total
            assert _value(samples, "mlsuite_download_progress_percent") == 100
            service = "mlsuite.downloader.v1.DownloaderService"
            assert _value(samples, "mlsuite_rpc_requests_total", service=service, method="StartDownload",
                          code="OK") == 1
        finally:
            assert server.terminate() == 0
    finally:
        hub.stop()
