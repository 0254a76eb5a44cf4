"""Data stored before a bad request, which every rejection must leave intact, and request builders."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.trainer._support import (
    RPC_TIMEOUT,
    linear_rows,
    make_spec,
    pb,
    pb_grpc,
    predict_numbers,
    to_csv,
    upload,
    wait_for,
)

__all__ = ["ROW", "UNKNOWN_ID", "Baseline", "make_baseline"]

ROW = {"a": 1.0, "b": 2.0, "c": 3.0}
"""A valid Predict instance for the baseline model."""
UNKNOWN_ID = "0123456789abcdef0123456789abcdef"
"""A well-formed id that names nothing."""


@dataclass(frozen=True)
class Baseline:
    """A dataset (a, b, c -> y), a string-column dataset and a trained model, stored before any bad request."""

    stub: pb_grpc.TrainerServiceStub
    data_dir: Path
    dataset: pb.Dataset
    mixed: pb.Dataset
    model: str
    prediction: list[float]

    def check_intact(self) -> None:
        """The server still serves, and the earlier dataset and model are as they were."""
        got = self.stub.GetDataset(pb.GetDatasetRequest(name=self.dataset.name), timeout=RPC_TIMEOUT).dataset
        assert got == self.dataset
        listed = self.stub.ListDatasets(pb.ListDatasetsRequest(), timeout=RPC_TIMEOUT).datasets
        assert {d.name: d.sha256 for d in listed}[self.dataset.name] == self.dataset.sha256
        assert predict_numbers(self.stub, self.model, [ROW]) == self.prediction

    def create(self, spec: pb.TrainingJobSpec, request_id: str = "") -> Callable[[], Any]:
        """A CreateTrainingJob call, to run later."""
        request = pb.CreateTrainingJobRequest(spec=spec, request_id=request_id)
        return lambda: self.stub.CreateTrainingJob(request, timeout=RPC_TIMEOUT)

    def train(self, spec: pb.TrainingJobSpec) -> Callable[[], Any]:
        """A Train call (its stream consumed by expect_error), to run later."""
        return lambda: self.stub.Train(pb.TrainRequest(spec=spec), timeout=RPC_TIMEOUT)

    def upload(self, requests: Iterable[pb.UploadDatasetRequest]) -> Callable[[], Any]:
        """An UploadDataset call with these messages, to run later."""
        messages = list(requests)
        return lambda: self.stub.UploadDataset(iter(messages), timeout=RPC_TIMEOUT)

    def nn(self, **hyperparameters: Any) -> pb.TrainingJobSpec:
        """A neural_network spec on the baseline dataset."""
        return make_spec(self.dataset.name, "y", "neural_network", hyperparameters)


def make_baseline(stub: pb_grpc.TrainerServiceStub, data_dir: Path) -> Baseline:
    """Upload the baseline datasets and train a linear regression on the first."""
    x, y = linear_rows(60, seed=2)
    dataset = upload(stub, to_csv(["a", "b", "c", "y"], [(*r, t) for r, t in zip(x.tolist(), y.tolist(), strict=True)]))
    colors = [
        (1.0, "red", 2.0),
        (2.0, "blue", 3.5),
        (3.0, "red", 6.1),
        (4.0, "green", 8.2),
        (5.0, "blue", 9.9),
    ]
    mixed = upload(stub, to_csv(["n", "color", "y"], colors))
    request = pb.CreateTrainingJobRequest(spec=make_spec(dataset.name, "y", "linear_regression"))
    job = stub.CreateTrainingJob(request, timeout=RPC_TIMEOUT).training_job
    job = wait_for(stub, job.name, lambda j: j.state == pb.TRAINING_JOB_STATE_SUCCEEDED)
    return Baseline(stub, data_dir, dataset, mixed, job.model, predict_numbers(stub, job.model, [ROW]))
