"""List pagination (page_size 1 with tokens, the state filter) and deletion of datasets and models."""

from __future__ import annotations

import threading
from collections.abc import Callable

import grpc

from tests.integration.trainer._support import (
    expect_error,
    get_job,
    linear_rows,
    long_nn_spec,
    make_spec,
    nonlinear_csv,
    pb,
    predict_numbers,
    struct,
    to_csv,
    upload,
    wait_for,
    wait_for_epochs,
)

SUCCEEDED = pb.TRAINING_JOB_STATE_SUCCEEDED
CANCELLED = pb.TRAINING_JOB_STATE_CANCELLED


def _tiny_csv(seed: int) -> bytes:
    x, y = linear_rows(40, seed=seed)
    return to_csv(["a", "b", "c", "y"], [(*r, t) for r, t in zip(x.tolist(), y.tolist(), strict=True)])


def _walk(fetch: Callable[[str], tuple[list[str], str]]) -> list[list[str]]:
    """Every page of a list call, following next_page_token until it is empty."""
    pages, token = [], ""
    while True:
        names, token = fetch(token)
        pages.append(names)
        if not token:
            return pages
        assert len(pages) < 50


def test_list_datasets_pages_newest_first(trainer_stub) -> None:
    uploaded = [upload(trainer_stub, _tiny_csv(seed), display_name=f"d{seed}").name for seed in range(3)]

    def fetch(token: str) -> tuple[list[str], str]:
        response = trainer_stub.ListDatasets(
            pb.ListDatasetsRequest(page_size=1, page_token=token), timeout=30
        )
        return [d.name for d in response.datasets], response.next_page_token

    # One dataset a page, newest first; the last page has no next_page_token.
    assert _walk(fetch) == [[name] for name in uploaded[::-1]]
    everything = trainer_stub.ListDatasets(pb.ListDatasetsRequest(), timeout=30)
    assert [d.name for d in everything.datasets] == uploaded[::-1]
    assert everything.next_page_token == ""


def test_list_training_jobs_and_models_page_and_filter_by_state(make_trainer, stub_for) -> None:
    stub = stub_for(make_trainer(max_concurrent_jobs=1).address)
    dataset = upload(stub, nonlinear_csv()).name
    blocker = stub.CreateTrainingJob(
        pb.CreateTrainingJobRequest(spec=long_nn_spec(dataset)), timeout=30
    ).training_job
    wait_for(stub, blocker.name, lambda j: j.state == pb.TRAINING_JOB_STATE_RUNNING)
    queued = [
        stub.CreateTrainingJob(
            pb.CreateTrainingJobRequest(spec=make_spec(dataset, "y", "ridge")), timeout=30
        ).training_job
        for _ in range(2)
    ]
    assert [j.state for j in queued] == [pb.TRAINING_JOB_STATE_QUEUED] * 2
    for job in queued:
        cancelled = stub.CancelTrainingJob(
            pb.CancelTrainingJobRequest(name=job.name), timeout=30
        ).training_job
        assert cancelled.state == CANCELLED  # a queued job is cancelled at once
    stub.CancelTrainingJob(pb.CancelTrainingJobRequest(name=blocker.name), timeout=30)
    wait_for(stub, blocker.name, lambda j: j.state == CANCELLED, timeout=30)
    succeeded = []
    for _ in range(3):
        job = stub.CreateTrainingJob(
            pb.CreateTrainingJobRequest(spec=make_spec(dataset, "y", "linear_regression")), timeout=30
        ).training_job
        succeeded.append(
            wait_for(stub, job.name, lambda j: j.state in (SUCCEEDED, pb.TRAINING_JOB_STATE_FAILED))
        )
    assert [j.state for j in succeeded] == [SUCCEEDED] * 3

    def jobs(state: int) -> list[str]:
        def fetch(token: str) -> tuple[list[str], str]:
            response = stub.ListTrainingJobs(
                pb.ListTrainingJobsRequest(page_size=1, page_token=token, state=state), timeout=30
            )
            assert len(response.training_jobs) <= 1
            assert all(state in (pb.TRAINING_JOB_STATE_UNSPECIFIED, j.state) for j in response.training_jobs)
            return [j.name for j in response.training_jobs], response.next_page_token

        pages = _walk(fetch)
        assert all(len(page) == 1 for page in pages) or pages == [[]]
        return [name for page in pages for name in page]

    created = [blocker.name, *(j.name for j in queued), *(j.name for j in succeeded)]
    assert jobs(pb.TRAINING_JOB_STATE_UNSPECIFIED) == created[::-1]
    assert jobs(SUCCEEDED) == [j.name for j in succeeded][::-1]
    assert jobs(CANCELLED) == [blocker.name, *(j.name for j in queued)][::-1]
    assert jobs(pb.TRAINING_JOB_STATE_RUNNING) == []

    def models(token: str) -> tuple[list[str], str]:
        response = stub.ListModels(pb.ListModelsRequest(page_size=1, page_token=token), timeout=30)
        return [m.name for m in response.models], response.next_page_token

    assert _walk(models) == [[j.model] for j in succeeded][::-1]


def test_delete_dataset_and_model_then_not_found(trainer, trainer_stub) -> None:
    data_dir = trainer.config.data_dir
    x, y = linear_rows(40, seed=3)
    dataset = upload(
        trainer_stub, to_csv(["a", "b", "c", "y"], [(*r, t) for r, t in zip(x.tolist(), y.tolist(), strict=True)])
    )
    job = trainer_stub.CreateTrainingJob(
        pb.CreateTrainingJobRequest(spec=make_spec(dataset.name, "y", "linear_regression")), timeout=30
    ).training_job
    job = wait_for(trainer_stub, job.name, lambda j: j.state == SUCCEEDED)
    row = [{"a": 1.0, "b": 2.0, "c": 3.0}]
    before = predict_numbers(trainer_stub, job.model, row)
    dataset_id = dataset.name.split("/")[1]
    model_id = job.model.split("/")[1]
    assert (data_dir / "datasets" / dataset_id).is_dir()
    assert (data_dir / "models" / model_id).is_dir()

    trainer_stub.DeleteDataset(pb.DeleteDatasetRequest(name=dataset.name), timeout=30)
    expect_error(
        lambda: trainer_stub.GetDataset(pb.GetDatasetRequest(name=dataset.name), timeout=30),
        grpc.StatusCode.NOT_FOUND,
        "DATASET_NOT_FOUND",
        data_dir=data_dir,
    )
    expect_error(
        lambda: trainer_stub.DeleteDataset(pb.DeleteDatasetRequest(name=dataset.name), timeout=30),
        grpc.StatusCode.NOT_FOUND,
        "DATASET_NOT_FOUND",
        data_dir=data_dir,
    )
    assert trainer_stub.ListDatasets(pb.ListDatasetsRequest(), timeout=30).datasets == []
    assert not (data_dir / "datasets" / dataset_id).exists()
    # The model does not need its dataset any more.
    assert predict_numbers(trainer_stub, job.model, row) == before

    trainer_stub.DeleteModel(pb.DeleteModelRequest(name=job.model), timeout=30)
    expect_error(
        lambda: trainer_stub.GetModel(pb.GetModelRequest(name=job.model), timeout=30),
        grpc.StatusCode.NOT_FOUND,
        "MODEL_NOT_FOUND",
        data_dir=data_dir,
    )
    expect_error(
        lambda: trainer_stub.Predict(pb.PredictRequest(model=job.model, instances=[]), timeout=30),
        grpc.StatusCode.INVALID_ARGUMENT,
        "NO_INSTANCES",
        "instances",
        data_dir=data_dir,
    )
    expect_error(
        lambda: trainer_stub.Predict(
            pb.PredictRequest(model=job.model, instances=[struct(row[0])]), timeout=30
        ),
        grpc.StatusCode.NOT_FOUND,
        "MODEL_NOT_FOUND",
        data_dir=data_dir,
    )
    expect_error(
        lambda: trainer_stub.DeleteModel(pb.DeleteModelRequest(name=job.model), timeout=30),
        grpc.StatusCode.NOT_FOUND,
        "MODEL_NOT_FOUND",
        data_dir=data_dir,
    )
    assert trainer_stub.ListModels(pb.ListModelsRequest(), timeout=30).models == []
    assert not (data_dir / "models" / model_id).exists()
    # The job that made them is history, unchanged.
    assert get_job(trainer_stub, job.name) == job


def test_delete_dataset_in_use_by_a_running_job_is_refused(trainer, trainer_stub) -> None:
    dataset = upload(trainer_stub, nonlinear_csv())
    job = trainer_stub.CreateTrainingJob(
        pb.CreateTrainingJobRequest(spec=long_nn_spec(dataset.name)), timeout=30
    ).training_job
    wait_for_epochs(trainer_stub, job.name, 1)
    expect_error(
        lambda: trainer_stub.DeleteDataset(pb.DeleteDatasetRequest(name=dataset.name), timeout=30),
        grpc.StatusCode.FAILED_PRECONDITION,
        "DATASET_IN_USE",
        data_dir=trainer.config.data_dir,
    )
    assert trainer_stub.GetDataset(pb.GetDatasetRequest(name=dataset.name), timeout=30).dataset == dataset
    trainer_stub.CancelTrainingJob(pb.CancelTrainingJobRequest(name=job.name), timeout=30)
    wait_for(trainer_stub, job.name, lambda j: j.state == CANCELLED, timeout=30)
    trainer_stub.DeleteDataset(pb.DeleteDatasetRequest(name=dataset.name), timeout=30)


def test_creating_a_job_while_its_dataset_is_deleted_never_lets_both_succeed(trainer, trainer_stub) -> None:
    # Before the check and the change were one transaction, about 1 round in 10 let both calls succeed,
    # and the job then failed INTERNAL on the missing file.
    outcomes: list[tuple[str, str]] = []
    for round_ in range(50):
        dataset = upload(trainer_stub, _tiny_csv(round_))
        start = threading.Barrier(2)
        results: dict[str, object] = {}

        def create(results=results, start=start, dataset=dataset) -> None:
            start.wait()
            try:
                results["create"] = trainer_stub.CreateTrainingJob(
                    pb.CreateTrainingJobRequest(spec=make_spec(dataset.name, "y", "ridge")), timeout=30
                ).training_job
            except grpc.RpcError as error:
                results["create"] = error

        def delete(results=results, start=start, dataset=dataset) -> None:
            start.wait()
            try:
                results["delete"] = trainer_stub.DeleteDataset(pb.DeleteDatasetRequest(name=dataset.name), timeout=30)
            except grpc.RpcError as error:
                results["delete"] = error

        threads = [threading.Thread(target=create), threading.Thread(target=delete)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        created, deleted = results["create"], results["delete"]
        if isinstance(created, grpc.RpcError):  # the delete won: the job was refused, with the right status
            assert (created.code(), isinstance(deleted, grpc.RpcError)) == (grpc.StatusCode.NOT_FOUND, False)
            outcomes.append(("deleted", "refused"))
            continue
        # The job won: the delete was refused, and the job trains on its dataset to the end.
        assert isinstance(deleted, grpc.RpcError), f"round {round_}: both succeeded"
        assert deleted.code() == grpc.StatusCode.FAILED_PRECONDITION, deleted
        job = wait_for(trainer_stub, created.name, lambda j: j.state in (SUCCEEDED, pb.TRAINING_JOB_STATE_FAILED))
        assert job.state == SUCCEEDED, job.error
        outcomes.append(("refused", "trained"))
    assert len(outcomes) == 50  # each round went one way or the other, never both
