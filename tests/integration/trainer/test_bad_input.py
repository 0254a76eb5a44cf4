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


# NaN and infinity inside a nested value: converting it to JSON failed and the call ended INTERNAL.
@pytest.mark.parametrize("value", ["two", True, {"nested": 1}, [1, 2], {"nested": float("nan")}, [float("inf")]])
def test_predict_wrong_typed_value(baseline, check, value: object) -> None:
    instances = [struct({**ROW, "a": value})]
    request = pb.PredictRequest(model=baseline.model, instances=instances)
    check(
        lambda: baseline.stub.Predict(request, timeout=RPC_TIMEOUT),
        INVALID,
        "INVALID_FEATURE_TYPE",
        "instances[0].a",
    )


@pytest.mark.parametrize("value", [1e45, -1e300, float("inf")])
def test_predict_value_beyond_what_a_model_computes_in(baseline, check, value: float) -> None:
    # Tree ensembles and networks compute in float32: 1e45 was INTERNAL there (scikit-learn's "Input X
    # contains infinity"), NON_FINITE_PREDICTION or a number elsewhere. Every model now refuses it alike.
    request = pb.PredictRequest(model=baseline.model, instances=[struct({**ROW, "a": value})])
    details = check(lambda: baseline.stub.Predict(request, timeout=RPC_TIMEOUT), INVALID, "INVALID_FEATURE_VALUE",
                    "instances[0].a")
    assert "3.4e38" in details.message


def test_predict_without_instances(baseline, check) -> None:
    request = pb.PredictRequest(model=baseline.model)
    check(lambda: baseline.stub.Predict(request, timeout=RPC_TIMEOUT), INVALID, "NO_INSTANCES", "instances")


def _doubles(*values: float) -> pb.FeatureValues:
    return pb.FeatureValues(doubles=pb.DoubleValues(values=values))


def _columns(**columns: pb.FeatureValues) -> dict[str, pb.FeatureValues]:
    return {"a": _doubles(1.0, 4.0), "b": _doubles(2.0, 5.0), "c": _doubles(3.0, 6.0), **columns}


def test_predict_by_columns_equals_by_instances(baseline) -> None:
    nan = float("nan")
    rows = [ROW, {"a": 4.0, "b": None, "c": 6.0}]
    by_rows = baseline.stub.Predict(pb.PredictRequest(model=baseline.model, instances=[struct(r) for r in rows]),
                                    timeout=RPC_TIMEOUT).predictions
    request = pb.PredictRequest(model=baseline.model, columns=_columns(b=_doubles(2.0, nan)))
    by_columns = baseline.stub.Predict(request, timeout=RPC_TIMEOUT).predictions
    assert [p.number for p in by_columns] == [p.number for p in by_rows]
    assert by_columns[0].number == pytest.approx(baseline.prediction[0], rel=1e-12)  # 1 row vs 2: BLAS rounding


@pytest.mark.parametrize(
    ("columns", "reason", "field"),
    [
        ({"a": _doubles(1.0, 4.0), "c": _doubles(3.0, 6.0)}, "MISSING_FEATURE", "columns[b]"),
        (_columns(a=pb.FeatureValues(strings=pb.StringValues(values=["1", "4"]))), "INVALID_FEATURE_TYPE",
         "columns[a]"),
        (_columns(a=_doubles(1.0, float("inf"))), "INVALID_FEATURE_VALUE", "columns[a]"),
        (_columns(a=_doubles(1.0, -1e45)), "INVALID_FEATURE_VALUE", "columns[a]"),  # beyond float32
        (_columns(c=_doubles(3.0)), "COLUMN_LENGTH_MISMATCH", "columns[c]"),
        (_columns(note=pb.FeatureValues(strings=pb.StringValues(values=["x", "y"], missing_rows=[2]))),
         "INVALID_MISSING_ROWS", "columns[note].strings.missing_rows"),
        ({"a": _doubles(), "b": _doubles(), "c": _doubles()}, "NO_INSTANCES", "columns"),
    ],
)
def test_predict_bad_columns(baseline, check, columns, reason: str, field: str) -> None:
    request = pb.PredictRequest(model=baseline.model, columns=columns)
    check(lambda: baseline.stub.Predict(request, timeout=RPC_TIMEOUT), INVALID, reason, field)


def test_predict_with_instances_and_columns(baseline, check) -> None:
    request = pb.PredictRequest(model=baseline.model, instances=[struct(ROW)], columns=_columns())
    check(lambda: baseline.stub.Predict(request, timeout=RPC_TIMEOUT), INVALID, "INSTANCES_AND_COLUMNS", "columns")


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
    "name",
    ["", "datasets/", "models/abc", "datasets/ABC", "datasets/a b", "datasets/x/y", f"datasets/{UNKNOWN_ID}\n"],
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
