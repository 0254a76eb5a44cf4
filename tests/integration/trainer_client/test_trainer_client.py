"""The Python client against a real TrainerService: typed results, streams, pagination, errors."""

from __future__ import annotations

import hashlib
import io
import math
from collections.abc import Callable
from pathlib import Path

import grpc
import pytest

from mlsuite_client import (
    FailedPreconditionError,
    InvalidArgumentError,
    JobState,
    MLSuiteError,
    NotFoundError,
    TrainerClient,
    UnavailableError,
)
from mlsuite_client.trainer_types import Dataset, IntListParameter, IntParameter, TrainingJob

RunToEnd = Callable[[TrainerClient, TrainingJob | str], TrainingJob]


def test_upload_computes_the_sha_and_infers_the_format(client: TrainerClient, regression_csv: Path) -> None:
    dataset = client.upload_dataset(regression_csv, display_name="sha", chunk_size=1000)
    assert dataset.name.startswith("datasets/") and dataset.format == "csv"
    assert dataset.sha256 == hashlib.sha256(regression_csv.read_bytes()).hexdigest()
    assert dataset.row_count == 160 and dataset.size_bytes == regression_csv.stat().st_size
    columns = {c.name: c for c in dataset.columns}
    assert columns["color"].dtype == "string" and columns["x2"].null_count == 2
    assert client.get_dataset(dataset.name) == dataset
    client.delete_dataset(dataset.name)
    with pytest.raises(NotFoundError):
        client.get_dataset(dataset.name)


def test_upload_from_a_file_object_and_a_sha_mismatch(client: TrainerClient, regression_csv: Path) -> None:
    data = regression_csv.read_bytes()
    buffer = io.BytesIO(data)
    dataset = client.upload_dataset(buffer, format="csv")
    assert dataset.sha256 == hashlib.sha256(data).hexdigest()
    with pytest.raises(InvalidArgumentError) as exc:
        client.upload_dataset(io.BytesIO(data), format="csv", sha256="0" * 64)
    assert exc.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert any("sha256" in v.field for v in exc.value.field_violations)
    with pytest.raises(ValueError, match="format"):
        client.upload_dataset(io.BytesIO(data))
    with pytest.raises(ValueError, match="chunk_size"):
        client.upload_dataset(io.BytesIO(data), format="csv", chunk_size=2 * 1024 * 1024)


def test_pagination_visits_every_dataset_once(
    client: TrainerClient, make_regression_csv: Callable[..., Path], tmp_path: Path
) -> None:
    uploaded = [
        client.upload_dataset(make_regression_csv(tmp_path / f"p{i}.csv", rows=20, seed=i)).name
        for i in range(5)
    ]
    first = client.list_datasets(page_size=2)
    assert len(first.items) == 2 and first.next_page_token
    names = [d.name for d in client.iter_datasets(page_size=2)]
    assert len(names) == len(set(names))
    assert set(uploaded) <= set(names)
    # Newest first: the last upload comes before the first.
    assert names.index(uploaded[-1]) < names.index(uploaded[0])
    for name in uploaded:
        client.delete_dataset(name)


def test_model_types_carry_typed_parameters(client: TrainerClient) -> None:
    types = {mt.id: mt for mt in client.list_model_types()}
    nn = types["neural_network"]
    assert nn.category == "regression" and nn.available
    params = {p.name: p for p in nn.parameters}
    assert params["epochs"] == IntParameter("epochs", params["epochs"].description, 100, 10, 1000)
    layers = params["hidden_layers"]
    assert isinstance(layers, IntListParameter) and layers.default == (128, 64, 32)
    classifiers = client.list_model_types("classification")
    assert classifiers and all(mt.category == "classification" for mt in classifiers)
    assert "logistic_regression" in {mt.id for mt in classifiers}


def test_train_stream_and_hyperparameter_mapping(client: TrainerClient, regression_dataset: Dataset) -> None:
    hyperparameters = {
        "epochs": 10,
        "hidden_layers": [16, 8],
        "learning_rate": 0.01,
        "early_stopping": False,
        "lr_schedule": "cosine",
        "dropout_rate": 0,
    }
    stream = client.train(
        regression_dataset,
        "y",
        model_type="neural_network",
        hyperparameters=hyperparameters,
        seed=3,
        device="cpu",
        timeout=120,
    )
    events = list(stream)
    assert events[0].kind == "snapshot" and events[0].job is not None
    stored = [e for e in events if e.is_stored]
    sequences = [e.sequence for e in stored]
    assert sequences == sorted(set(sequences)) and sequences[0] == 1
    epochs = [e.epoch.epoch for e in events if e.epoch is not None]
    assert epochs == list(range(1, 11))
    assert all(e.epoch.elapsed >= 0 and e.epoch.total_epochs == 10 for e in events if e.epoch)
    last = events[-1]
    assert last.kind == "result" and last.is_terminal and last.state is JobState.SUCCEEDED
    assert set(last.metrics) >= {"r2", "mae", "rmse", "mse"} and last.model.startswith("models/")
    assert stream.job_name == events[0].job.name and stream.last_sequence == last.sequence

    job = client.get_training_job(stream.job_name)
    assert job.spec.hyperparameters == {**hyperparameters, "hidden_layers": (16, 8)}
    assert job.resolved_hyperparameters["batch_size"] == 32 and job.spec.device == "cpu"
    model = client.get_model(last.model)
    assert model.hyperparameters["hidden_layers"] == (16, 8) and model.training_job == job.name
    assert model.hyperparameters["early_stopping"] is False


@pytest.mark.parametrize(
    ("hyperparameters", "field"),
    [
        ({"epochs": True}, "epochs"),
        ({"epochs": 10.5}, "epochs"),
        ({"nope": 1}, "nope"),
        ({"hidden_layers": 64}, "hidden_layers"),
        ({"epochs": 5}, "epochs"),
    ],
)
def test_bad_hyperparameters_name_the_field(
    client: TrainerClient, regression_dataset: Dataset, hyperparameters: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidArgumentError) as exc:
        client.create_training_job(
            regression_dataset, "y", model_type="neural_network", hyperparameters=hyperparameters
        )  # type: ignore[arg-type]
    assert any(field in v.field for v in exc.value.field_violations), exc.value.field_violations


def test_errors_map_to_the_exception_family(
    client: TrainerClient, regression_dataset: Dataset, nn_job: TrainingJob
) -> None:
    with pytest.raises(NotFoundError) as not_found:
        client.get_training_job("trainingJobs/doesnotexist")
    assert isinstance(not_found.value, MLSuiteError) and not_found.value.reason
    assert len(not_found.value.request_id) == 32  # the server's generated x-request-id, from the trailers
    with pytest.raises(InvalidArgumentError) as bad_type:
        client.create_training_job(regression_dataset, "y", model_type="no_such_model")
    assert any("model_type" in v.field for v in bad_type.value.field_violations)
    with pytest.raises(InvalidArgumentError):
        client.create_training_job(regression_dataset, "no_such_column", model_type="ridge")
    with pytest.raises(FailedPreconditionError):
        client.cancel_training_job(nn_job.name)
    with pytest.raises(NotFoundError):
        list(client.watch_training_job("trainingJobs/doesnotexist", timeout=10))
    with pytest.raises(ValueError):
        client.create_training_job(regression_dataset, "y", model_type="ridge", device="tpu")


def test_an_unreachable_server_is_unavailable() -> None:
    with TrainerClient("127.0.0.1:1", timeout=5) as unreachable, pytest.raises(UnavailableError):
        unreachable.list_model_types()


def test_request_id_returns_the_same_job(
    client: TrainerClient, regression_dataset: Dataset, run_to_end: RunToEnd
) -> None:
    first = client.create_training_job(
        regression_dataset, "y", model_type="ridge", request_id="client-idem-1"
    )
    again = client.create_training_job(
        regression_dataset, "y", model_type="ridge", request_id="client-idem-1"
    )
    assert again.name == first.name
    assert run_to_end(client, first).state is JobState.SUCCEEDED


def test_reattach_replays_only_later_events(client: TrainerClient, nn_job: TrainingJob) -> None:
    everything = [e for e in client.watch_training_job(nn_job, timeout=30) if e.is_stored]
    middle = everything[len(everything) // 2].sequence
    rest = list(client.watch_training_job(nn_job.name, after_sequence=middle, timeout=30))
    assert rest[0].kind == "snapshot" and rest[0].job is not None and rest[0].job.state is JobState.SUCCEEDED
    assert [e.sequence for e in rest[1:]] == [e.sequence for e in everything if e.sequence > middle]


def test_jobs_list_filters_by_state(client: TrainerClient, nn_job: TrainingJob) -> None:
    succeeded = list(client.iter_training_jobs(JobState.SUCCEEDED, page_size=1))
    assert nn_job.name in {j.name for j in succeeded}
    assert all(j.state is JobState.SUCCEEDED for j in succeeded)
    assert nn_job.name not in {j.name for j in client.iter_training_jobs("failed")}


def test_cancel_ends_the_job_cancelled_and_detaching_does_not(
    client: TrainerClient, regression_dataset: Dataset
) -> None:
    job = client.create_training_job(
        regression_dataset,
        "y",
        model_type="neural_network",
        hyperparameters={"epochs": 1000, "batch_size": 8},
    )
    with client.watch_training_job(job, timeout=120) as stream:
        for event in stream:
            if event.kind == "epoch_progress":
                break
    # Leaving the stream must not stop the job.
    assert client.get_training_job(job).state in (JobState.RUNNING, JobState.QUEUED)
    cancelling = client.cancel_training_job(job)
    assert cancelling.state in (JobState.CANCELLING, JobState.CANCELLED)
    events = list(client.watch_training_job(job, timeout=60))
    assert events[-1].state is JobState.CANCELLED and events[-1].is_terminal
    assert client.get_training_job(job).state is JobState.CANCELLED


def test_predict_numbers_labels_and_missing_values(
    client: TrainerClient, nn_job: TrainingJob, classifier_job: TrainingJob
) -> None:
    rows = [
        {"x1": 0.5, "x2": 1.0, "color": "red"},
        {"x1": -1.0, "x2": None, "color": "blue"},
        {"x1": 1.0, "x2": math.nan, "color": None},
    ]
    predictions = client.predict(nn_job.model, rows, batch_size=2)
    assert len(predictions) == 3
    assert all(
        isinstance(p.number, float) and math.isfinite(p.number) and p.label is None for p in predictions
    )

    model = client.get_model(classifier_job.model)
    assert set(model.classes) == {"no", "yes"} and model.category == "classification"
    labels = client.predict(model, [{"a": 2.0, "b": 2.0}, {"a": -2.0, "b": -2.0}])
    assert [p.label for p in labels] == ["yes", "no"]
    assert all(abs(sum(p.probabilities.values()) - 1) < 1e-6 for p in labels)
    with pytest.raises(InvalidArgumentError):
        client.predict(model, [{"a": "text", "b": 1.0}])
    with pytest.raises(ValueError):
        client.predict(model, [{"a": 1.0, "b": 1.0}], batch_size=0)


def test_models_list_and_delete(
    client: TrainerClient, regression_dataset: Dataset, run_to_end: RunToEnd
) -> None:
    job = run_to_end(
        client, client.create_training_job(regression_dataset, "y", model_type="linear_regression")
    )
    assert job.model in {m.name for m in client.iter_models()}
    page = client.list_models(page_size=1)
    assert len(page.items) == 1
    client.delete_model(job.model)
    with pytest.raises(NotFoundError):
        client.get_model(job.model)


def test_cuda_where_there_is_none_is_failed_precondition(
    client: TrainerClient, regression_dataset: Dataset
) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(FailedPreconditionError):
        client.create_training_job(
            regression_dataset, "y", model_type="neural_network", device="cuda", hyperparameters={"epochs": 10}
        )
