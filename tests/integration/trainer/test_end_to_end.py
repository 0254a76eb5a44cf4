"""User journeys through the Python client and a real TrainerService: upload, train, watch, predict."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sklearn
import torch

from mlsuite_client import Dataset, JobState, Model, Prediction, TrainerClient, TrainingEvent, TrainingJob
from tests.integration.trainer._support import (
    BINARY_METRICS,
    MULTICLASS_METRICS,
    REGRESSION_METRICS,
    circle_rows,
    r2_score,
    regression_rows,
    regression_truth,
    sha256_hex,
    three_class_rows,
    to_csv,
)

NN_EPOCHS = 40
NN_HYPERPARAMETERS = {
    "hidden_layers": [64, 32],
    "epochs": NN_EPOCHS,
    "batch_size": 64,
    "learning_rate": 0.01,
    "dropout_rate": 0.0,
}
PHASES = ["LOADING_DATA", "PREPROCESSING", "FITTING", "EVALUATING", "SAVING"]
CHUNK = 32 * 1024
FEATURES = ("x0", "x1", "x2", "x3")


@pytest.fixture(scope="module")
def client(shared_trainer) -> Iterator[TrainerClient]:
    """The Python client on the module's server."""
    with TrainerClient(shared_trainer.address, timeout=30) as trainer_client:
        yield trainer_client


def _upload(client: TrainerClient, data: bytes, **kwargs) -> Dataset:
    return client.upload_dataset(io.BytesIO(data), format="csv", **kwargs)


def _train(
    client: TrainerClient, dataset: Dataset, target: str, model_type: str, **kwargs
) -> list[TrainingEvent]:
    return list(client.train(dataset, target, model_type=model_type, device="cpu", timeout=180, **kwargs))


def _stored(events: list[TrainingEvent]) -> list[TrainingEvent]:
    return [e for e in events if e.is_stored]


@dataclass(frozen=True)
class NNRun:
    """The neural-network regression journey, done once per module."""

    data: bytes
    dataset: Dataset
    events: list[TrainingEvent]
    job: TrainingJob
    model: Model


@pytest.fixture(scope="module")
def nn_run(client: TrainerClient) -> NNRun:
    """Upload 2000 rows of a non-linear regression in 32 KiB chunks and train neural_network on them."""
    x, y = regression_rows(2000, seed=1)
    data = to_csv([*FEATURES, "y"], [(*row, target) for row, target in zip(x.tolist(), y.tolist(), strict=True)])
    dataset = _upload(client, data, chunk_size=CHUNK, display_name="non-linear")
    events = _train(client, dataset, "y", "neural_network", hyperparameters=NN_HYPERPARAMETERS, seed=3)
    job = client.get_training_job(events[0].job.name)
    assert job.state is JobState.SUCCEEDED, job.error
    return NNRun(data, dataset, events, job, client.get_model(job.model))


def test_chunked_upload_stores_the_dataset(client: TrainerClient, nn_run: NNRun) -> None:
    dataset = nn_run.dataset
    assert len(nn_run.data) > 4 * CHUNK  # several chunks, each under 1 MiB
    assert dataset.name.startswith("datasets/")
    assert dataset.display_name == "non-linear"
    assert dataset.format == "csv"
    assert dataset.row_count == 2000
    assert [(c.name, c.dtype, c.null_count) for c in dataset.columns] == [
        (name, "double", 0) for name in (*FEATURES, "y")
    ]
    assert dataset.size_bytes == len(nn_run.data)
    assert dataset.sha256 == sha256_hex(nn_run.data)
    assert dataset.create_time is not None
    assert client.get_dataset(dataset.name) == dataset


def test_neural_network_regression_reaches_r2(nn_run: NNRun) -> None:
    metrics = nn_run.job.metrics
    assert set(metrics) == REGRESSION_METRICS
    assert metrics["r2"] >= 0.9, metrics
    assert metrics["rmse"] == pytest.approx(math.sqrt(metrics["mse"]), rel=1e-6)
    assert 0 < metrics["mae"] <= metrics["rmse"]


def test_neural_network_predictions_match_truth(client: TrainerClient, nn_run: NNRun) -> None:
    x, _ = regression_rows(300, seed=99)
    instances = [dict(zip(FEATURES, row, strict=True)) for row in x.tolist()]
    predictions = client.predict(nn_run.model, instances)
    assert all(p.label is None and not p.probabilities and math.isfinite(p.number) for p in predictions)
    numbers = [p.number for p in predictions]
    assert r2_score(regression_truth(x), numbers) >= 0.9
    # One prediction per instance, in request order.
    reversed_numbers = [p.number for p in client.predict(nn_run.model, instances[::-1])]
    assert reversed_numbers == pytest.approx(numbers[::-1], rel=1e-5, abs=1e-6)


def test_train_stream_reports_snapshot_phases_epochs_and_result(nn_run: NNRun) -> None:
    events = nn_run.events
    first = events[0]
    assert first.kind == "snapshot"
    assert first.job.name == nn_run.job.name
    assert first.state in (JobState.QUEUED, JobState.RUNNING)
    assert first.sequence == first.job.last_sequence
    assert all(e.kind != "snapshot" for e in events[1:])

    kept = _stored(events)
    assert [e.sequence for e in kept] == list(range(1, len(kept) + 1))
    assert (kept[0].kind, kept[0].state) == ("state_change", JobState.RUNNING)
    assert [e.phase for e in kept if e.kind == "phase_change"] == PHASES

    epochs = [e.epoch for e in kept if e.kind == "epoch_progress"]
    assert [p.epoch for p in epochs] == list(range(1, NN_EPOCHS + 1))
    assert {p.total_epochs for p in epochs} == {NN_EPOCHS}
    for progress in epochs:
        assert math.isfinite(progress.train_loss) and progress.train_loss >= 0
        assert progress.validation_loss is not None and math.isfinite(progress.validation_loss)
        assert progress.learning_rate == pytest.approx(0.01)
        assert progress.samples_per_second > 0
    assert epochs[-1].eta == 0
    assert [p.elapsed for p in epochs] == sorted(p.elapsed for p in epochs)
    # Epochs arrive while fitting: between the FITTING and EVALUATING phase changes, nothing else.
    kinds = [(e.kind, e.phase) for e in kept]
    fitting = kinds.index(("phase_change", "FITTING"))
    evaluating = kinds.index(("phase_change", "EVALUATING"))
    assert [k for k, _ in kinds[fitting + 1 : evaluating]] == ["epoch_progress"] * NN_EPOCHS

    last = events[-1]
    assert (last.kind, last.state) == ("result", JobState.SUCCEEDED)
    assert set(last.metrics) == REGRESSION_METRICS
    assert dict(last.metrics) == dict(nn_run.job.metrics)
    assert last.model == nn_run.job.model and last.model.startswith("models/")
    assert all(not e.state.is_terminal for e in events[:-1])


def test_training_job_records_the_run(nn_run: NNRun) -> None:
    job = nn_run.job
    assert job.last_sequence == nn_run.events[-1].sequence
    assert job.device == "cpu"
    assert job.dropped_target_rows == 0
    assert (job.train_rows, job.validation_rows) == (1600, 400)
    assert job.latest_epoch is not None and job.latest_epoch.epoch == NN_EPOCHS
    assert job.phase is None
    assert job.error is None
    assert job.create_time <= job.start_time <= job.end_time
    assert job.spec.dataset == nn_run.dataset.name
    assert job.spec.model_type == "neural_network"
    assert job.spec.device == "cpu"
    assert dict(job.resolved_hyperparameters) == dict(nn_run.model.hyperparameters)


def test_get_model_records_metrics_schema_and_provenance(nn_run: NNRun) -> None:
    model, job = nn_run.model, nn_run.job
    assert model.name == job.model
    assert model.training_job == job.name
    assert model.model_type == "neural_network"
    assert model.category == "regression"
    assert model.target_column == "y"
    assert [(f.name, f.dtype) for f in model.feature_columns] == [(name, "double") for name in FEATURES]
    assert model.classes == ()
    assert dict(model.metrics) == dict(job.metrics)
    assert model.device == "cpu"
    assert model.dataset == nn_run.dataset.name
    assert model.dataset_sha256 == sha256_hex(nn_run.data)
    assert model.size_bytes > 0
    assert job.start_time <= model.create_time <= job.end_time
    # Given hyperparameters as given, every other one at its default.
    assert dict(model.hyperparameters) == {
        "hidden_layers": (64, 32),
        "epochs": NN_EPOCHS,
        "batch_size": 64,
        "learning_rate": 0.01,
        "dropout_rate": 0.0,
        "weight_decay": 1e-5,
        "gradient_clip_norm": 1.0,
        "early_stopping": False,
        "patience": 10,
        "lr_schedule": "none",
    }
    versions = dict(model.library_versions)
    assert versions["numpy"] == np.__version__
    assert versions["scikit-learn"] == sklearn.__version__
    assert versions["torch"] == torch.__version__
    assert versions["python"].count(".") == 2
    # Model.library_versions is documented as "python, numpy, scikit-learn, torch, mlsuite".
    assert {"python", "numpy", "scikit-learn", "torch", "mlsuite"} <= set(versions), versions


def _check_labels(predictions: list[Prediction], classes: set[str]) -> list[str]:
    for prediction in predictions:
        assert prediction.number is None and prediction.label in classes
        probabilities = dict(prediction.probabilities)
        assert set(probabilities) == classes
        assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-6)
        assert all(0.0 <= p <= 1.0 for p in probabilities.values())
        assert probabilities[prediction.label] == max(probabilities.values())  # the most probable class
    return [p.label for p in predictions]


def test_neural_network_classifier_reaches_accuracy(client: TrainerClient) -> None:
    x, labels = circle_rows(1200, seed=5)
    dataset = _upload(
        client, to_csv(["a", "b", "zone"], [(*row, label) for row, label in zip(x.tolist(), labels, strict=True)])
    )
    assert [c.dtype for c in dataset.columns] == ["double", "double", "string"]
    hypers = {
        "hidden_layers": [32, 16],
        "epochs": 40,
        "batch_size": 32,
        "learning_rate": 0.01,
        "dropout_rate": 0.0,
    }
    events = _train(client, dataset, "zone", "neural_network_classifier", hyperparameters=hypers)
    last = events[-1]
    assert last.state is JobState.SUCCEEDED, last
    assert set(last.metrics) == BINARY_METRICS
    assert last.metrics["accuracy"] >= 0.9, last.metrics
    assert last.metrics["roc_auc"] >= 0.9
    assert [e.epoch.epoch for e in events if e.kind == "epoch_progress"] == list(range(1, 41))

    model = client.get_model(last.model)
    assert model.category == "classification"
    assert model.classes == ("inside", "outside")
    fresh, truth = circle_rows(300, seed=6)
    predicted = _check_labels(
        client.predict(model, [{"a": a, "b": b} for a, b in fresh.tolist()]), {"inside", "outside"}
    )
    assert np.mean([p == t for p, t in zip(predicted, truth, strict=True)]) >= 0.85
    by_columns = client.predict_columns(model, {"a": fresh[:, 0], "b": fresh[:, 1]})
    assert [p.label for p in by_columns] == predicted
    assert all(set(p.probabilities) == {"inside", "outside"} for p in by_columns)


def test_scikit_learn_classifier_reaches_accuracy_on_integer_classes(client: TrainerClient) -> None:
    x, classes = three_class_rows(600, seed=8)
    rows = [(*row, c) for row, c in zip(x.tolist(), classes, strict=True)]
    dataset = _upload(client, to_csv(["u", "v", "band"], rows))
    assert dataset.columns[2].dtype == "int64"
    events = _train(client, dataset, "band", "random_forest_classifier", hyperparameters={"n_estimators": 50})
    last = events[-1]
    assert last.state is JobState.SUCCEEDED, last
    assert set(last.metrics) == MULTICLASS_METRICS  # no roc_auc: three classes
    assert last.metrics["accuracy"] >= 0.85, last.metrics
    assert [e.phase for e in events if e.kind == "phase_change"] == PHASES

    model = client.get_model(last.model)
    assert model.classes == ("0", "1", "2")
    fresh, truth = three_class_rows(200, seed=9)
    predicted = _check_labels(
        client.predict(model, [{"u": u, "v": v} for u, v in fresh.tolist()]), {"0", "1", "2"}
    )
    assert np.mean([p == str(t) for p, t in zip(predicted, truth, strict=True)]) >= 0.85


COLOR_EFFECT = {"red": 0.0, "green": 3.0, "blue": -3.0}


def _mixed_rows(n: int, seed: int) -> tuple[list[tuple], int, int, int]:
    """num (5% missing), color (string, 5% missing), size (int), y (15 missing): rows and the null counts."""
    rng = np.random.default_rng(seed)
    rows = []
    missing_target = set(rng.choice(n, size=15, replace=False).tolist())
    missing_num = missing_color = 0
    for i in range(n):
        num = float(rng.normal())
        color = str(rng.choice(list(COLOR_EFFECT)))
        size = int(rng.integers(1, 6))
        y = 2 * num + COLOR_EFFECT[color] + size + float(rng.normal(0, 0.1))
        if rng.random() < 0.05:
            num, missing_num = None, missing_num + 1
        if rng.random() < 0.05:
            color, missing_color = None, missing_color + 1
        rows.append((num, color, size, None if i in missing_target else y))
    return rows, missing_num, missing_color, len(missing_target)


@pytest.mark.parametrize(
    ("model_type", "hyperparameters"),
    [("ridge", {}), ("neural_network", {"hidden_layers": [32], "epochs": 30, "learning_rate": 0.01})],
)
def test_string_column_and_missing_values(
    client: TrainerClient, model_type: str, hyperparameters: dict
) -> None:
    rows, missing_num, missing_color, missing_target = _mixed_rows(500, seed=11)
    dataset = _upload(client, to_csv(["num", "color", "size", "y"], rows))
    assert [(c.name, c.dtype, c.null_count) for c in dataset.columns] == [
        ("num", "double", missing_num),
        ("color", "string", missing_color),
        ("size", "int64", 0),
        ("y", "double", missing_target),
    ]
    assert missing_num > 0 and missing_color > 0

    events = _train(client, dataset, "y", model_type, hyperparameters=hyperparameters)
    assert events[-1].state is JobState.SUCCEEDED, events[-1]
    job = client.get_training_job(events[0].job.name)
    assert job.dropped_target_rows == missing_target == 15
    assert job.train_rows + job.validation_rows == 500 - missing_target
    assert job.metrics["r2"] >= 0.8, job.metrics
    model = client.get_model(job.model)
    assert [(f.name, f.dtype) for f in model.feature_columns] == [
        ("num", "double"),
        ("color", "string"),
        ("size", "int64"),
    ]

    known = [
        p.number
        for p in client.predict(
            model, [{"num": 0.5, "color": c, "size": 3} for c in ("blue", "red", "green")]
        )
    ]
    assert known == sorted(known)  # the string column drives the prediction: blue < red < green
    assert known[2] - known[0] > 3.0
    # An unseen category, a missing number, a missing string: each answered with a finite number.
    odd = client.predict(
        model,
        [
            {"num": 0.5, "color": "purple", "size": 3},
            {"num": None, "color": "red", "size": 2},
            {"num": 1.0, "color": None, "size": 1},
        ],
    )
    assert len(odd) == 3 and all(p.number is not None and math.isfinite(p.number) for p in odd)
    # The same rows sent column by column give the same numbers (text, missing text and numbers,
    # an unseen category, an extra column the model ignores, a bool-free int column as floats).
    rows_ = [{"num": 0.5, "color": c, "size": 3} for c in ("blue", "red", "green")] + [
        {"num": 0.5, "color": "purple", "size": 3}, {"num": None, "color": "red", "size": 2},
        {"num": 1.0, "color": None, "size": 1},
    ]
    columns = {name: [row[name] for row in rows_] for name in ("num", "color", "size")}
    by_columns = client.predict_columns(model, {**columns, "unused": ["x"] * len(rows_)}, batch_size=4)
    # Equal to float32 rounding: the network's products round by batch shape (4 + 2 rows here, 3 + 3 above).
    assert [p.number for p in by_columns] == pytest.approx(known + [p.number for p in odd], rel=1e-6)


def test_parquet_dataset_trains_and_predicts(client: TrainerClient) -> None:
    rows, _, missing_color, missing_target = _mixed_rows(200, seed=12)
    table = pa.table(
        {
            "num": pa.array([r[0] for r in rows], pa.float64()),
            "color": pa.array([r[1] for r in rows], pa.string()),
            "size": pa.array([r[2] for r in rows], pa.int64()),
            "flag": pa.array([r[2] > 2 for r in rows], pa.bool_()),
            "y": pa.array([r[3] for r in rows], pa.float64()),
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    data = buffer.getvalue()
    dataset = client.upload_dataset(io.BytesIO(data), format="parquet", chunk_size=4096)
    assert dataset.format == "parquet"
    assert (dataset.row_count, dataset.size_bytes, dataset.sha256) == (200, len(data), sha256_hex(data))
    assert [(c.name, c.dtype) for c in dataset.columns] == [
        ("num", "double"),
        ("color", "string"),
        ("size", "int64"),
        ("flag", "bool"),
        ("y", "double"),
    ]
    assert dataset.columns[1].null_count == missing_color and dataset.columns[4].null_count == missing_target

    events = _train(client, dataset, "y", "ridge", feature_columns=["color", "size", "flag"])
    assert events[-1].state is JobState.SUCCEEDED, events[-1]
    model = client.get_model(events[-1].model)
    assert [(f.name, f.dtype) for f in model.feature_columns] == [
        ("color", "string"),
        ("size", "int64"),
        ("flag", "bool"),
    ]
    predictions = client.predict(
        model, [{"color": "green", "size": 4, "flag": True}, {"color": "blue", "size": 1, "flag": False}]
    )
    assert predictions[0].number > predictions[1].number
