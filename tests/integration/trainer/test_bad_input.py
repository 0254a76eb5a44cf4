"""Bad Predict, name, list and watch requests: a precise status (code, reason, field), nothing lost."""

from __future__ import annotations

import grpc
import pytest

from tests.integration.trainer._baseline import ROW, UNKNOWN_ID
from tests.integration.trainer._support import (
    RPC_TIMEOUT,
    pb,
    struct,
)

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


# Predict


def test_predict_instance_missing_a_feature(baseline, check) -> None:
    instances = [struct(ROW), struct({"a": 1.0, "c": 3.0})]
    request = pb.PredictRequest(model=baseline.model, instances=instances)
    check(
        lambda: baseline.stub.Predict(request, timeout=RPC_TIMEOUT),
        INVALID,
        "MISSING_FEATURE",
        "instances[1].b",
    )


@pytest.mark.parametrize("value", ["two", True, {"nested": 1}, [1, 2]])
def test_predict_wrong_typed_value(baseline, check, value: object) -> None:
    instances = [struct({**ROW, "a": value})]
    request = pb.PredictRequest(model=baseline.model, instances=instances)
    check(
        lambda: baseline.stub.Predict(request, timeout=RPC_TIMEOUT),
        INVALID,
        "INVALID_FEATURE_TYPE",
        "instances[0].a",
    )


def test_predict_without_instances(baseline, check) -> None:
    request = pb.PredictRequest(model=baseline.model)
    check(lambda: baseline.stub.Predict(request, timeout=RPC_TIMEOUT), INVALID, "NO_INSTANCES", "instances")


# Names


def test_unknown_names_are_not_found(baseline, check) -> None:
    stub = baseline.stub
    calls = [
        (
            lambda: stub.GetDataset(pb.GetDatasetRequest(name=f"datasets/{UNKNOWN_ID}"), timeout=30),
            "DATASET_NOT_FOUND",
        ),
        (
            lambda: stub.DeleteDataset(pb.DeleteDatasetRequest(name=f"datasets/{UNKNOWN_ID}"), timeout=30),
            "DATASET_NOT_FOUND",
        ),
        (
            lambda: stub.GetTrainingJob(
                pb.GetTrainingJobRequest(name=f"trainingJobs/{UNKNOWN_ID}"), timeout=30
            ),
            "TRAINING_JOB_NOT_FOUND",
        ),
        (
            lambda: stub.CancelTrainingJob(
                pb.CancelTrainingJobRequest(name=f"trainingJobs/{UNKNOWN_ID}"), timeout=30
            ),
            "TRAINING_JOB_NOT_FOUND",
        ),
        (
            lambda: stub.WatchTrainingJob(
                pb.WatchTrainingJobRequest(name=f"trainingJobs/{UNKNOWN_ID}"), timeout=30
            ),
            "TRAINING_JOB_NOT_FOUND",
        ),
        (
            lambda: stub.GetModel(pb.GetModelRequest(name=f"models/{UNKNOWN_ID}"), timeout=30),
            "MODEL_NOT_FOUND",
        ),
        (
            lambda: stub.DeleteModel(pb.DeleteModelRequest(name=f"models/{UNKNOWN_ID}"), timeout=30),
            "MODEL_NOT_FOUND",
        ),
        (
            lambda: stub.Predict(
                pb.PredictRequest(model=f"models/{UNKNOWN_ID}", instances=[struct(ROW)]), timeout=30
            ),
            "MODEL_NOT_FOUND",
        ),
        (
            lambda: stub.Predict(
                pb.PredictRequest(model=f"trainingJobs/{UNKNOWN_ID}", instances=[struct(ROW)]), timeout=30
            ),
            "TRAINING_JOB_NOT_FOUND",
        ),
    ]
    for call, reason in calls:
        check(call, NOT_FOUND, reason)


@pytest.mark.parametrize(
    "name", ["", "datasets/", "models/abc", "datasets/ABC", "datasets/a b", "datasets/x/y"]
)
def test_malformed_names_are_invalid(baseline, check, name: str) -> None:
    stub = baseline.stub
    reason = "MISSING_NAME" if not name else "INVALID_NAME"
    check(lambda: stub.GetDataset(pb.GetDatasetRequest(name=name), timeout=30), INVALID, reason, "name")
    check(lambda: stub.DeleteDataset(pb.DeleteDatasetRequest(name=name), timeout=30), INVALID, reason, "name")
    job_name = name.replace("datasets", "trainingJobs")
    check(
        lambda: stub.GetTrainingJob(pb.GetTrainingJobRequest(name=job_name), timeout=30),
        INVALID,
        reason,
        "name",
    )
    check(
        lambda: stub.CancelTrainingJob(pb.CancelTrainingJobRequest(name=job_name), timeout=30),
        INVALID,
        reason,
        "name",
    )
    check(
        lambda: stub.WatchTrainingJob(pb.WatchTrainingJobRequest(name=job_name), timeout=30),
        INVALID,
        reason,
        "name",
    )
    model_name = name.replace("datasets", "models").replace("models/abc", "datasets/abc")
    check(lambda: stub.GetModel(pb.GetModelRequest(name=model_name), timeout=30), INVALID, reason, "name")
    check(
        lambda: stub.DeleteModel(pb.DeleteModelRequest(name=model_name), timeout=30), INVALID, reason, "name"
    )
    check(
        lambda: stub.Predict(pb.PredictRequest(model=model_name, instances=[struct(ROW)]), timeout=30),
        INVALID,
        reason,
        "model",
    )


# Lists and watches


def test_bad_page_size_and_token(baseline, check) -> None:
    stub = baseline.stub
    check(
        lambda: stub.ListDatasets(pb.ListDatasetsRequest(page_size=-1), timeout=30),
        INVALID,
        "INVALID_PAGE_SIZE",
        "page_size",
    )
    check(
        lambda: stub.ListDatasets(pb.ListDatasetsRequest(page_token="garbage"), timeout=30),
        INVALID,
        "INVALID_PAGE_TOKEN",
        "page_token",
    )
    check(
        lambda: stub.ListModels(pb.ListModelsRequest(page_token="garbage"), timeout=30),
        INVALID,
        "INVALID_PAGE_TOKEN",
        "page_token",
    )
    check(
        lambda: stub.ListTrainingJobs(pb.ListTrainingJobsRequest(page_token="garbage"), timeout=30),
        INVALID,
        "INVALID_PAGE_TOKEN",
        "page_token",
    )
    # A token of one list is not a token of another.
    token = stub.ListDatasets(pb.ListDatasetsRequest(page_size=1), timeout=30).next_page_token
    assert token
    check(
        lambda: stub.ListModels(pb.ListModelsRequest(page_token=token), timeout=30),
        INVALID,
        "INVALID_PAGE_TOKEN",
        "page_token",
    )


def test_bad_list_filters(baseline, check) -> None:
    stub = baseline.stub
    check(
        lambda: stub.ListTrainingJobs(pb.ListTrainingJobsRequest(state=99), timeout=30),
        INVALID,
        "INVALID_STATE",
        "state",
    )
    check(
        lambda: stub.ListModelTypes(pb.ListModelTypesRequest(category=99), timeout=30),
        INVALID,
        "INVALID_CATEGORY",
        "category",
    )


def test_negative_after_sequence(baseline, check) -> None:
    jobs = baseline.stub.ListTrainingJobs(pb.ListTrainingJobsRequest(), timeout=30).training_jobs
    request = pb.WatchTrainingJobRequest(name=jobs[0].name, after_sequence=-1)
    check(
        lambda: baseline.stub.WatchTrainingJob(request, timeout=30),
        INVALID,
        "INVALID_SEQUENCE",
        "after_sequence",
    )


def test_too_many_instances(baseline, check) -> None:
    request = pb.PredictRequest(model=baseline.model, instances=[struct(ROW)] * 10_001)
    check(
        lambda: baseline.stub.Predict(request, timeout=RPC_TIMEOUT),
        INVALID,
        "TOO_MANY_INSTANCES",
        "instances",
    )
