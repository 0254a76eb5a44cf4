"""grpcurl, a client that knows nothing but server reflection, against both real servers.

Every command here is one the README shows: list, describe, health, ListModelTypes, GetDownloadStatus,
a rejected request's google.rpc details, and a Train stream from a JSON spec.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from mlsuite.downloader.v1 import downloader_service_pb2 as downloader_pb
from mlsuite.trainer.v1 import trainer_service_pb2 as trainer_pb

from mlsuite_client import JobState, TrainerClient
from tests.integration.polyglot._grpcurl import Grpcurl

TRAINER = "mlsuite.trainer.v1.TrainerService"
DOWNLOADER = "mlsuite.downloader.v1.DownloaderService"
HEALTH = "grpc.health.v1.Health"
REFLECTION = "grpc.reflection.v1alpha.ServerReflection"
GRPC_EXIT_OFFSET = 64  # grpcurl exits with 64 + the status code when the RPC fails


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def test_list_shows_each_server_its_service_health_and_reflection(
    grpcurl: Grpcurl, trainer, downloader
) -> None:
    for address, own, other in (
        (trainer.address, TRAINER, DOWNLOADER),
        (downloader.address, DOWNLOADER, TRAINER),
    ):
        services = set(_lines(grpcurl.run(address, "list").stdout))
        assert {own, HEALTH, REFLECTION} <= services
        assert other not in services
        assert {s for s in services if s.startswith("mlsuite.")} == {own}


def test_list_names_every_rpc_of_the_contract(grpcurl: Grpcurl, trainer, downloader) -> None:
    for address, service, descriptor in (
        (trainer.address, TRAINER, trainer_pb.DESCRIPTOR.services_by_name["TrainerService"]),
        (downloader.address, DOWNLOADER, downloader_pb.DESCRIPTOR.services_by_name["DownloaderService"]),
    ):
        methods = _lines(grpcurl.run(address, "list", service).stdout)
        assert sorted(methods) == sorted(f"{service}.{method.name}" for method in descriptor.methods)
        assert len(methods) == len(descriptor.methods)


def test_describe_shows_messages_enums_and_services_as_the_proto_declares_them(
    grpcurl: Grpcurl, trainer, downloader
) -> None:
    spec = _lines(grpcurl.run(trainer.address, "describe", "mlsuite.trainer.v1.TrainingJobSpec").stdout)
    assert spec == [
        "mlsuite.trainer.v1.TrainingJobSpec is a message:",
        "message TrainingJobSpec {",
        "string dataset = 1;",
        "string target_column = 2;",
        "repeated string feature_columns = 3;",
        "string model_type = 4;",
        "map<string, .mlsuite.trainer.v1.HyperparameterValue> hyperparameters = 5;",
        "double validation_fraction = 6;",
        "int64 seed = 7;",
        ".mlsuite.trainer.v1.Device device = 8;",
        "}",
    ]

    status = _lines(
        grpcurl.run(downloader.address, "describe", "mlsuite.downloader.v1.DownloadStatus").stdout
    )
    fields = downloader_pb.DownloadStatus.DESCRIPTOR.fields
    assert len(status) == 3 + len(fields)
    for field in fields:
        assert sum(line.endswith(f" {field.name} = {field.number};") for line in status) == 1, field.name
    assert "double progress = 3;" in status
    assert ".mlsuite.downloader.v1.DownloadState state = 6;" in status
    assert ".google.protobuf.Timestamp start_time = 14;" in status

    states = _lines(grpcurl.run(downloader.address, "describe", "mlsuite.downloader.v1.DownloadState").stdout)
    assert "DOWNLOAD_STATE_SUCCEEDED = 5;" in states

    service = _lines(grpcurl.run(trainer.address, "describe", TRAINER).stdout)
    assert (
        "rpc Train ( .mlsuite.trainer.v1.TrainRequest ) returns ( stream .mlsuite.trainer.v1.TrainResponse );"
        in service
    )
    assert (
        "rpc UploadDataset ( stream .mlsuite.trainer.v1.UploadDatasetRequest )"
        " returns ( .mlsuite.trainer.v1.UploadDatasetResponse );"
    ) in service


def test_health_check_is_serving_for_the_server_and_its_service(
    grpcurl: Grpcurl, trainer, downloader
) -> None:
    for address, service in ((trainer.address, TRAINER), (downloader.address, DOWNLOADER)):
        for name in ("", service):
            assert grpcurl.call(address, f"{HEALTH}/Check", {"service": name}) == [{"status": "SERVING"}]
        unknown = grpcurl.run(
            address,
            f"{HEALTH}/Check",
            flags=["-format-error"],
            data={"service": "no.such.Service"},
            check=False,
        )
        assert unknown.returncode == GRPC_EXIT_OFFSET + 5
        assert json.loads(unknown.stderr)["code"] == 5  # NOT_FOUND; -format-error writes to stderr


def test_list_model_types_from_json(grpcurl: Grpcurl, trainer) -> None:
    [everything] = grpcurl.call(trainer.address, f"{TRAINER}/ListModelTypes")
    types = everything["model_types"]
    with TrainerClient(trainer.address) as client:
        assert [t["id"] for t in types] == [t.id for t in client.list_model_types()]
    network = next(t for t in types if t["id"] == "neural_network")
    assert network["category"] == "MODEL_CATEGORY_SUPERVISED_REGRESSION"
    assert network["available"] is True
    epochs = next(p for p in network["parameters"] if p["name"] == "epochs")
    # Proto JSON writes int64 as strings.
    assert epochs["int_spec"] == {"default_value": "100", "min_value": "10", "max_value": "1000"}

    classification = "MODEL_CATEGORY_SUPERVISED_CLASSIFICATION"
    [only] = grpcurl.call(trainer.address, f"{TRAINER}/ListModelTypes", {"category": classification})
    assert [t["id"] for t in only["model_types"]] == [
        t["id"] for t in types if t["category"] == classification
    ]
    assert "logistic_regression" in [t["id"] for t in only["model_types"]]


def test_get_download_status_from_json(grpcurl: Grpcurl, downloader) -> None:
    [response] = grpcurl.call(downloader.address, f"{DOWNLOADER}/GetDownloadStatus", flags=["-emit-defaults"])
    status = response["status"]
    assert status["state"] == "DOWNLOAD_STATE_IDLE"
    assert status["is_downloading"] is False
    assert status["current_model"] == ""
    assert status["progress"] == 0
    assert status["bytes_total"] == "0"


def test_a_rejected_request_shows_its_google_rpc_details(grpcurl: Grpcurl, downloader) -> None:
    result = grpcurl.run(
        downloader.address,
        f"{DOWNLOADER}/StartDownload",
        flags=["-format-error"],
        data={"model_id": "https://example.com/org/model"},
        check=False,
    )
    assert result.returncode == GRPC_EXIT_OFFSET + 3
    error = json.loads(result.stderr)
    assert error["code"] == 3  # INVALID_ARGUMENT
    by_type = {detail["@type"]: detail for detail in error["details"]}
    assert by_type["type.googleapis.com/google.rpc.ErrorInfo"]["domain"] == "downloader.mlsuite"
    violations = by_type["type.googleapis.com/google.rpc.BadRequest"]["field_violations"]
    assert [v["field"] for v in violations] == ["model_id"]


def _linear_csv(path: Path, rows: int = 400) -> None:
    rng = random.Random(5)
    lines = ["a,b,y"]
    for _ in range(rows):
        a, b = rng.uniform(-2, 2), rng.uniform(-2, 2)
        lines.append(f"{a},{b},{2 * a - b + rng.uniform(-0.05, 0.05)}")
    path.write_text("\n".join(lines) + "\n")


def test_train_streams_from_a_json_spec_until_the_terminal_event(
    grpcurl: Grpcurl, trainer, tmp_path: Path
) -> None:
    csv = tmp_path / "linear.csv"
    _linear_csv(csv)
    with TrainerClient(trainer.address) as client:
        dataset = client.upload_dataset(csv, display_name="for grpcurl")
        request = {
            "spec": {
                "dataset": dataset.name,
                "target_column": "y",
                "model_type": "neural_network",
                "hyperparameters": {
                    "epochs": {"int_value": "10"},
                    "hidden_layers": {"int_list_value": {"values": ["16", "8"]}},
                    "learning_rate": {"double_value": 0.01},
                },
                "seed": "3",
                "device": "DEVICE_CPU",
            },
            "request_id": "grpcurl-train-1",
        }
        events = [message["event"] for message in grpcurl.call(trainer.address, f"{TRAINER}/Train", request)]

        snapshot = events[0]["snapshot"]
        assert snapshot["name"].startswith("trainingJobs/")
        assert snapshot["spec"]["hyperparameters"]["hidden_layers"] == {
            "int_list_value": {"values": ["16", "8"]}
        }
        stored = [e for e in events[1:] if "heartbeat" not in e]
        assert [int(e["sequence"]) for e in stored] == list(range(1, len(stored) + 1))
        epochs = [e["epoch_progress"] for e in stored if "epoch_progress" in e]
        assert [p["epoch"] for p in epochs] == list(range(1, 11))
        assert all(p["total_epochs"] == 10 and p["train_loss"] >= 0 for p in epochs)
        phases = [e["phase_change"]["phase"] for e in stored if "phase_change" in e]
        assert phases == [
            "TRAINING_PHASE_LOADING_DATA",
            "TRAINING_PHASE_PREPROCESSING",
            "TRAINING_PHASE_FITTING",
            "TRAINING_PHASE_EVALUATING",
            "TRAINING_PHASE_SAVING",
        ]
        last = events[-1]
        assert last["state"] == "TRAINING_JOB_STATE_SUCCEEDED"
        assert set(last["result"]["metrics"]) == {"r2", "mae", "rmse", "mse"}
        assert last["result"]["metrics"]["r2"] > 0.8

        job = client.get_training_job(snapshot["name"])
        assert job.state is JobState.SUCCEEDED
        assert job.model == last["result"]["model"]
        assert job.last_sequence == int(last["sequence"])
