"""Fixtures for the client and CLI tests: a real `python -m trainer_service` subprocess on port 0."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlsuite_client import TrainerClient
from mlsuite_client.trainer_types import Dataset, TrainingJob

CliRunner = Callable[..., subprocess.CompletedProcess[str]]


def _read_listening_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The HOST:PORT from the server's `listening on HOST:PORT` line (stdout is read on a thread)."""
    found: list[str] = []

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            match = re.match(r"listening on (\S+:\d+)", line.strip())
            if match:
                found.append(match.group(1))
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not found:
        process.kill()
        raise RuntimeError(f"trainer did not print 'listening on HOST:PORT' within {timeout}s")
    return found[0]


@pytest.fixture(scope="session")
def trainer_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Address of a TrainerService subprocess with its own data dir; stopped with SIGTERM (exit 0)."""
    data_dir = tmp_path_factory.mktemp("trainer-data")
    log = (data_dir.parent / "trainer.log").open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "trainer_service",
            "--port",
            "0",
            "--data-dir",
            str(data_dir),
            "--max-concurrent-jobs",
            "4",
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        yield _read_listening_line(process, timeout=60)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            code = process.wait()
        log.close()
    assert code == 0, f"trainer exited {code} on SIGTERM"


@pytest.fixture
def client(trainer_target: str) -> Iterator[TrainerClient]:
    """A TrainerClient on the test server."""
    with TrainerClient(trainer_target, timeout=30) as trainer:
        yield trainer


@pytest.fixture(scope="session")
def cli(trainer_target: str) -> CliRunner:
    """Run `python -m mlsuite_client --trainer TARGET ARGS...` and return the finished process."""

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "COLUMNS": "200"}
        return subprocess.run(
            [sys.executable, "-m", "mlsuite_client", "--trainer", trainer_target, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            check=False,
        )

    return run


def _write_regression_csv(path: Path, rows: int = 160, seed: int = 0) -> Path:
    """A small non-linear regression with a string column and a few missing values."""
    rng = np.random.default_rng(seed)
    x1, x2 = rng.uniform(-2, 2, rows), rng.uniform(0, 3, rows)
    color = rng.choice(["red", "green", "blue"], rows)
    y = np.sin(x1) * 3 + x2**2 + np.where(color == "red", 2.0, 0.0) + rng.normal(0, 0.1, rows)
    frame = pd.DataFrame({"x1": x1.round(4), "x2": x2.round(4), "color": color, "y": y.round(4)})
    frame.loc[[3, 17], "x2"] = None
    frame.to_csv(path, index=False)
    return path


def _write_classification_csv(path: Path, rows: int = 160, seed: int = 1) -> Path:
    """Two numeric features and a string label that depends on them."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(0, 1, rows), rng.normal(0, 1, rows)
    label = np.where(a + b > 0, "yes", "no")
    pd.DataFrame({"a": a.round(4), "b": b.round(4), "label": label}).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def make_regression_csv() -> Callable[..., Path]:
    """Writer of regression CSVs: (path, rows=160, seed=0) -> path."""
    return _write_regression_csv


@pytest.fixture(scope="session")
def run_to_end() -> Callable[[TrainerClient, TrainingJob | str], TrainingJob]:
    """Helper: watch a job until it ends, then return it."""
    return _run_to_end


@pytest.fixture(scope="session")
def regression_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of the small regression CSV."""
    return _write_regression_csv(tmp_path_factory.mktemp("csv") / "regression.csv")


@pytest.fixture(scope="session")
def classification_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Path of the small classification CSV."""
    return _write_classification_csv(tmp_path_factory.mktemp("csv") / "classification.csv")


@pytest.fixture(scope="session")
def regression_dataset(trainer_target: str, regression_csv: Path) -> Dataset:
    """The regression CSV, uploaded once."""
    with TrainerClient(trainer_target) as trainer:
        return trainer.upload_dataset(regression_csv, display_name="regression")


@pytest.fixture(scope="session")
def classification_dataset(trainer_target: str, classification_csv: Path) -> Dataset:
    """The classification CSV, uploaded once."""
    with TrainerClient(trainer_target) as trainer:
        return trainer.upload_dataset(classification_csv, display_name="classification")


def _run_to_end(trainer: TrainerClient, job: TrainingJob | str) -> TrainingJob:
    """Watch a job until its stream ends and return it as it finished."""
    for _ in trainer.watch_training_job(job, timeout=120):
        pass
    return trainer.get_training_job(job)


@pytest.fixture(scope="session")
def nn_job(trainer_target: str, regression_dataset: Dataset) -> TrainingJob:
    """A finished 10-epoch neural_network job on the regression dataset."""
    with TrainerClient(trainer_target) as trainer:
        job = trainer.create_training_job(
            regression_dataset,
            "y",
            model_type="neural_network",
            hyperparameters={"epochs": 10, "hidden_layers": [32, 16], "learning_rate": 0.01},
            seed=1,
        )
        finished = _run_to_end(trainer, job)
    assert finished.state.value == "SUCCEEDED", finished.error
    return finished


@pytest.fixture(scope="session")
def classifier_job(trainer_target: str, classification_dataset: Dataset) -> TrainingJob:
    """A finished logistic_regression job on the classification dataset."""
    with TrainerClient(trainer_target) as trainer:
        job = trainer.create_training_job(classification_dataset, "label", model_type="logistic_regression")
        finished = _run_to_end(trainer, job)
    assert finished.state.value == "SUCCEEDED", finished.error
    return finished
