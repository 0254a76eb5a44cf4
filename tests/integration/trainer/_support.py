"""Helpers shared by the TrainerService integration tests: data, requests, event streams, error checks."""

from __future__ import annotations

import csv
import hashlib
import io
import math
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import numpy as np
from google.protobuf import struct_pb2
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from mlsuite.trainer.v1 import trainer_service_pb2 as pb
from mlsuite.trainer.v1 import trainer_service_pb2_grpc as pb_grpc

__all__ = [
    "BINARY_METRICS",
    "ERROR_DOMAIN",
    "MULTICLASS_METRICS",
    "REGRESSION_METRICS",
    "RPC_TIMEOUT",
    "SERVICE_NAME",
    "SKLEARN_CLASSIFIERS",
    "SKLEARN_REGRESSORS",
    "TERMINAL_STATES",
    "ErrorDetails",
    "circle_rows",
    "collect_events",
    "error_details",
    "expect_error",
    "get_job",
    "hyper",
    "linear_rows",
    "long_nn_spec",
    "make_spec",
    "nonlinear_csv",
    "payload",
    "pb",
    "pb_grpc",
    "predict",
    "predict_numbers",
    "r2_score",
    "regression_rows",
    "regression_truth",
    "stored",
    "struct",
    "three_class_rows",
    "to_csv",
    "train",
    "upload",
    "upload_requests",
    "wait_for",
    "wait_for_epochs",
    "watch",
]

RPC_TIMEOUT = 30.0
ERROR_DOMAIN = "trainer.mlsuite"
SERVICE_NAME = "mlsuite.trainer.v1.TrainerService"
TERMINAL_STATES = frozenset(
    {
        pb.TRAINING_JOB_STATE_SUCCEEDED,
        pb.TRAINING_JOB_STATE_FAILED,
        pb.TRAINING_JOB_STATE_CANCELLED,
    }
)

SKLEARN_REGRESSORS = (
    "linear_regression",
    "ridge",
    "lasso",
    "elastic_net",
    "random_forest_regressor",
    "gradient_boosting_regressor",
    "hist_gradient_boosting_regressor",
    "svr",
    "knn_regressor",
)
SKLEARN_CLASSIFIERS = (
    "logistic_regression",
    "random_forest_classifier",
    "gradient_boosting_classifier",
    "hist_gradient_boosting_classifier",
    "svc",
    "knn_classifier",
)
REGRESSION_METRICS = frozenset({"r2", "mae", "rmse", "mse"})
BINARY_METRICS = frozenset({"accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc"})
MULTICLASS_METRICS = frozenset({"accuracy", "precision_macro", "recall_macro", "f1_macro"})


# Data


def to_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """CSV bytes with a header; None becomes an empty (missing) field, floats keep full precision."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if v is None else (repr(v) if isinstance(v, float) else v) for v in row])
    return out.getvalue().encode()


def regression_truth(x: np.ndarray) -> np.ndarray:
    """The noise-free non-linear target: sin(x0) + x1**2 + 0.5*x2*x3."""
    return np.sin(x[:, 0]) + x[:, 1] ** 2 + 0.5 * x[:, 2] * x[:, 3]


def regression_rows(n: int, seed: int, noise: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Features in [-2, 2]^4 and the noisy non-linear target."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, size=(n, 4))
    return x, regression_truth(x) + rng.normal(0.0, noise, size=n)


def nonlinear_csv(n: int = 2000, seed: int = 1) -> bytes:
    """CSV (x0..x3, y) of the non-linear regression."""
    x, y = regression_rows(n, seed)
    return to_csv(
        ["x0", "x1", "x2", "x3", "y"], [(*row, target) for row, target in zip(x.tolist(), y.tolist(), strict=True)]
    )


def linear_rows(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three standard-normal features and y = 10*x0 - 5*x1 + 3*x2 + noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    return x, 10 * x[:, 0] - 5 * x[:, 1] + 3 * x[:, 2] + rng.normal(0.0, 0.1, size=n)


def circle_rows(n: int, seed: int) -> tuple[np.ndarray, list[str]]:
    """Two features in [-2, 2]^2, labelled "inside" within radius 1.3 of the origin, else "outside"."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2.0, 2.0, size=(n, 2))
    inside = x[:, 0] ** 2 + x[:, 1] ** 2 < 1.3**2
    return x, ["inside" if flag else "outside" for flag in inside]


def three_class_rows(n: int, seed: int) -> tuple[np.ndarray, list[int]]:
    """Two features; integer class 0, 1 or 2 by which third of x0 + x1 the row falls in."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 3.0, size=(n, 2))
    total = x[:, 0] + x[:, 1]
    return x, [0 if t < -1.5 else (1 if t < 1.5 else 2) for t in total]


# Requests


def upload_requests(
    data: bytes,
    *,
    chunk_size: int = 64 * 1024,
    display_name: str = "test data",
    fmt: int = pb.DATASET_FORMAT_CSV,
    sha256: str = "",
    request_id: str = "",
) -> Iterator[pb.UploadDatasetRequest]:
    """Metadata, then `data` in chunks of `chunk_size` bytes."""
    yield pb.UploadDatasetRequest(
        metadata=pb.DatasetMetadata(
            display_name=display_name, format=fmt, sha256=sha256, request_id=request_id
        )
    )
    for start in range(0, len(data), chunk_size):
        yield pb.UploadDatasetRequest(chunk=data[start : start + chunk_size])


def upload(stub: pb_grpc.TrainerServiceStub, data: bytes, **kwargs: Any) -> pb.Dataset:
    """Upload `data` and return the stored dataset."""
    return stub.UploadDataset(upload_requests(data, **kwargs), timeout=RPC_TIMEOUT).dataset


def hyper(value: Any) -> pb.HyperparameterValue:
    """A HyperparameterValue for a Python value (bool, int, float, str or a list of ints)."""
    if isinstance(value, bool):
        return pb.HyperparameterValue(bool_value=value)
    if isinstance(value, int):
        return pb.HyperparameterValue(int_value=value)
    if isinstance(value, float):
        return pb.HyperparameterValue(double_value=value)
    if isinstance(value, str):
        return pb.HyperparameterValue(string_value=value)
    return pb.HyperparameterValue(int_list_value=pb.IntList(values=list(value)))


def make_spec(
    dataset: str,
    target: str,
    model_type: str,
    hyperparameters: Mapping[str, Any] | None = None,
    *,
    features: Sequence[str] = (),
    validation_fraction: float = 0.0,
    seed: int = 7,
    device: int = pb.DEVICE_CPU,
) -> pb.TrainingJobSpec:
    """A TrainingJobSpec from plain Python values."""
    return pb.TrainingJobSpec(
        dataset=dataset,
        target_column=target,
        feature_columns=list(features),
        model_type=model_type,
        hyperparameters={k: hyper(v) for k, v in (hyperparameters or {}).items()},
        validation_fraction=validation_fraction,
        seed=seed,
        device=device,
    )


def long_nn_spec(dataset: str, target: str = "y") -> pb.TrainingJobSpec:
    """A network that trains for minutes (1000 epochs of 50 steps on 2000 rows): cancel, queue, restart."""
    return make_spec(
        dataset, target, "neural_network", {"epochs": 1000, "batch_size": 32, "hidden_layers": [16]}
    )


def struct(values: Mapping[str, Any]) -> struct_pb2.Struct:
    """A Predict instance."""
    out = struct_pb2.Struct()
    out.update(dict(values))
    return out


# Events


def payload(event: pb.TrainingEvent) -> str | None:
    """Which payload an event carries."""
    return event.WhichOneof("payload")


def stored(events: Iterable[pb.TrainingEvent]) -> list[pb.TrainingEvent]:
    """The stored events among a stream's messages (no snapshot, no heartbeat)."""
    return [e for e in events if payload(e) not in ("snapshot", "heartbeat")]


def collect_events(stream: Iterable[Any], deadline_s: float = 120.0) -> list[pb.TrainingEvent]:
    """Every event of a Watch/Train stream until it ends; fails if it runs past `deadline_s`."""
    started = time.monotonic()
    events = []
    for response in stream:
        events.append(response.event)
        assert time.monotonic() - started < deadline_s, f"stream still open after {deadline_s}s"
    return events


def watch(
    stub: pb_grpc.TrainerServiceStub, name: str, after: int = 0, timeout: float = 120.0
) -> list[pb.TrainingEvent]:
    """The whole WatchTrainingJob stream (it ends after the terminal event)."""
    call = stub.WatchTrainingJob(pb.WatchTrainingJobRequest(name=name, after_sequence=after), timeout=timeout)
    return collect_events(call, timeout)


def train(
    stub: pb_grpc.TrainerServiceStub, spec: pb.TrainingJobSpec, request_id: str = "", timeout: float = 180.0
) -> list[pb.TrainingEvent]:
    """The whole Train stream."""
    call = stub.Train(pb.TrainRequest(spec=spec, request_id=request_id), timeout=timeout)
    return collect_events(call, timeout)


def get_job(stub: pb_grpc.TrainerServiceStub, name: str) -> pb.TrainingJob:
    """GetTrainingJob."""
    return stub.GetTrainingJob(pb.GetTrainingJobRequest(name=name), timeout=RPC_TIMEOUT).training_job


def wait_for(
    stub: pb_grpc.TrainerServiceStub,
    name: str,
    check: Callable[[pb.TrainingJob], bool],
    timeout: float = 60.0,
) -> pb.TrainingJob:
    """Poll GetTrainingJob until `check` holds."""
    deadline = time.monotonic() + timeout
    while True:
        job = get_job(stub, name)
        if check(job):
            return job
        assert time.monotonic() < deadline, f"{name} never got there; last seen:\n{job}"
        time.sleep(0.05)


def wait_for_epochs(
    stub: pb_grpc.TrainerServiceStub, name: str, epochs: int, timeout: float = 60.0
) -> pb.TrainingJob:
    """Wait until the job runs and has finished at least `epochs` epochs."""
    return wait_for(
        stub,
        name,
        lambda j: j.state == pb.TRAINING_JOB_STATE_RUNNING and j.latest_epoch.epoch >= epochs,
        timeout,
    )


# Errors


@dataclass(frozen=True)
class ErrorDetails:
    """What a failed call said: code, message, ErrorInfo reason/domain and BadRequest fields."""

    code: grpc.StatusCode
    message: str
    reason: str | None
    domain: str | None
    fields: tuple[str, ...]
    descriptions: tuple[str, ...]


def error_details(error: grpc.RpcError) -> ErrorDetails:
    """Decode google.rpc.Status details of a failed call."""
    status = rpc_status.from_call(error)
    reason = domain = None
    fields: list[str] = []
    descriptions: list[str] = []
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, domain = info.reason, info.domain
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                fields += [v.field for v in bad.field_violations]
                descriptions += [v.description for v in bad.field_violations]
    return ErrorDetails(
        error.code(), error.details() or "", reason, domain, tuple(fields), tuple(descriptions)
    )


def expect_error(
    call: Callable[[], Any],
    code: grpc.StatusCode,
    reason: str,
    field: str | None = None,
    *,
    data_dir: Path | None = None,
) -> ErrorDetails:
    """Run `call` (consuming a stream if it returns one) and check the status it fails with.

    Every failure must carry an ErrorInfo in the service's domain, never be UNKNOWN, never mention
    a traceback or the data directory; INVALID_ARGUMENT must name `field` in a BadRequest.
    """
    try:
        result = call()
        if isinstance(result, Iterator):
            for _ in result:
                pass
    except grpc.RpcError as error:
        details = error_details(error)
    else:
        raise AssertionError(f"expected {code.name} {reason}, but the call succeeded")
    assert details.code is not grpc.StatusCode.UNKNOWN, details
    assert details.code is code, details
    assert details.reason == reason, details
    assert details.domain == ERROR_DOMAIN, details
    text = " ".join((details.message, *details.descriptions))
    assert "Traceback" not in text, details
    if data_dir is not None:
        assert str(data_dir) not in text, details
        assert str(data_dir.resolve()) not in text, details
    if field is not None:
        assert field in details.fields, details
    return details


# Metrics and predictions


def r2_score(truth: Sequence[float], predicted: Sequence[float]) -> float:
    """Coefficient of determination."""
    t = np.asarray(truth, dtype=float)
    p = np.asarray(predicted, dtype=float)
    return 1.0 - float(np.sum((t - p) ** 2)) / float(np.sum((t - t.mean()) ** 2))


def predict(
    stub: pb_grpc.TrainerServiceStub, model: str, instances: Sequence[Mapping[str, Any]]
) -> list[pb.Prediction]:
    """Predict and check there is one prediction per instance."""
    response = stub.Predict(
        pb.PredictRequest(model=model, instances=[struct(i) for i in instances]), timeout=RPC_TIMEOUT
    )
    assert len(response.predictions) == len(instances)
    return list(response.predictions)


def predict_numbers(
    stub: pb_grpc.TrainerServiceStub, model: str, instances: Sequence[Mapping[str, Any]]
) -> list[float]:
    """Regression predictions as floats; each must be a finite number."""
    numbers = []
    for prediction in predict(stub, model, instances):
        assert prediction.WhichOneof("value") == "number", prediction
        assert not prediction.probabilities
        assert math.isfinite(prediction.number)
        numbers.append(prediction.number)
    return numbers


def sha256_hex(data: bytes) -> str:
    """Lower-case hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


__all__.append("sha256_hex")


def assert_same_events(got: Sequence[pb.TrainingEvent], expected: Sequence[pb.TrainingEvent]) -> None:
    """Two event logs are identical, message for message; names the first difference."""
    assert len(got) == len(expected), f"{len(got)} events, expected {len(expected)}"
    for index, (a, b) in enumerate(zip(got, expected, strict=True)):
        assert a == b, f"event {index} differs:\n{a}\n---- expected ----\n{b}"


__all__.append("assert_same_events")
