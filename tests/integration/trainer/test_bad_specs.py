"""Bad training job specs: a precise status (code, ErrorInfo reason, BadRequest field), nothing lost."""

from __future__ import annotations

import grpc
import pytest
import torch

from tests.integration.trainer._baseline import UNKNOWN_ID
from tests.integration.trainer._support import (
    make_spec,
    pb,
    upload,
    wait_for,
)

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


def test_unknown_model_type(baseline, check) -> None:
    spec = make_spec(baseline.dataset.name, "y", "deep_forest")
    check(baseline.create(spec), INVALID, "UNKNOWN_MODEL_TYPE", "spec.model_type")
    check(baseline.train(spec), INVALID, "UNKNOWN_MODEL_TYPE", "spec.model_type")
    check(
        baseline.create(make_spec(baseline.dataset.name, "y", "")),
        INVALID,
        "UNKNOWN_MODEL_TYPE",
        "spec.model_type",
    )


def test_unknown_hyperparameter(baseline, check) -> None:
    check(
        baseline.create(baseline.nn(epochz=20)),
        INVALID,
        "UNKNOWN_HYPERPARAMETER",
        "spec.hyperparameters[epochz]",
    )
    spec = make_spec(baseline.dataset.name, "y", "ridge", {"n_estimators": 10})
    check(baseline.create(spec), INVALID, "UNKNOWN_HYPERPARAMETER", "spec.hyperparameters[n_estimators]")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("epochs", "ten"),
        ("epochs", 20.0),
        ("epochs", True),
        ("hidden_layers", 64),
        ("learning_rate", "fast"),
        ("early_stopping", 1),
        ("lr_schedule", 3),
    ],
)
def test_wrong_typed_hyperparameter(baseline, check, name: str, value: object) -> None:
    check(
        baseline.create(baseline.nn(**{name: value})),
        INVALID,
        "INVALID_HYPERPARAMETER_TYPE",
        f"spec.hyperparameters[{name}]",
    )


def test_hyperparameter_without_a_value(baseline, check) -> None:
    spec = baseline.nn()
    spec.hyperparameters["epochs"].CopyFrom(pb.HyperparameterValue())
    check(baseline.create(spec), INVALID, "INVALID_HYPERPARAMETER_TYPE", "spec.hyperparameters[epochs]")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("epochs", 5),
        ("epochs", 1001),
        ("learning_rate", 0.5),
        ("learning_rate", 0.00001),
        ("batch_size", 4),
        ("batch_size", 512),
        ("dropout_rate", 0.9),
        ("hidden_layers", []),
        ("hidden_layers", [64, 0]),
        ("lr_schedule", "linear"),
        ("learning_rate", float("nan")),
    ],
)
def test_out_of_range_hyperparameter(baseline, check, name: str, value: object) -> None:
    check(
        baseline.create(baseline.nn(**{name: value})),
        INVALID,
        "HYPERPARAMETER_OUT_OF_RANGE",
        f"spec.hyperparameters[{name}]",
    )


def test_unknown_columns(baseline, check) -> None:
    name = baseline.dataset.name
    check(baseline.create(make_spec(name, "nope", "ridge")), INVALID, "UNKNOWN_COLUMN", "spec.target_column")
    check(
        baseline.create(make_spec(name, "y", "ridge", features=["a", "nope"])),
        INVALID,
        "UNKNOWN_COLUMN",
        "spec.feature_columns[1]",
    )
    check(baseline.create(make_spec(name, "", "ridge")), INVALID, "MISSING_TARGET", "spec.target_column")


def test_echoed_values_of_any_size_keep_their_error_details(baseline, check) -> None:
    # The status rides in the trailers, which clients cap at 8-16 KiB: an error that echoed a 20 KB name
    # reached the client as a bare RESOURCE_EXHAUSTED "received metadata size exceeds hard limit".
    huge = "t" * 20_000
    details = check(baseline.create(make_spec(baseline.dataset.name, huge, "ridge")), INVALID, "UNKNOWN_COLUMN",
                    "spec.target_column")
    assert len(details.message.encode()) <= 512 and details.message.endswith("\u2026")
    details = check(baseline.create(baseline.nn(**{huge: 1})), INVALID, "UNKNOWN_HYPERPARAMETER")
    assert all(len(text.encode()) <= 512 for text in (details.message, *details.descriptions))


def test_target_among_features(baseline, check) -> None:
    spec = make_spec(baseline.dataset.name, "y", "ridge", features=["a", "y"])
    check(baseline.create(spec), INVALID, "TARGET_IN_FEATURES", "spec.feature_columns[1]")


def test_non_numeric_target_for_regression(baseline, check) -> None:
    for model_type in ("linear_regression", "neural_network"):
        spec = make_spec(baseline.mixed.name, "color", model_type)
        check(baseline.create(spec), INVALID, "NON_NUMERIC_TARGET", "spec.target_column")


@pytest.mark.parametrize("fraction", [0.7, -0.1, 0.50001, 1.0, float("nan")])
def test_validation_fraction_outside_range(baseline, check, fraction: float) -> None:
    spec = make_spec(baseline.dataset.name, "y", "ridge", validation_fraction=fraction)
    check(baseline.create(spec), INVALID, "INVALID_VALIDATION_FRACTION", "spec.validation_fraction")


def test_validation_fraction_at_the_bound_is_accepted(baseline, check) -> None:
    spec = make_spec(baseline.dataset.name, "y", "ridge", validation_fraction=0.5)
    job = baseline.create(spec)().training_job
    job = wait_for(baseline.stub, job.name, lambda j: j.state == pb.TRAINING_JOB_STATE_SUCCEEDED)
    assert (job.train_rows, job.validation_rows) == (30, 30)


def test_unknown_dataset_is_not_found(baseline, check) -> None:
    spec = make_spec(f"datasets/{UNKNOWN_ID}", "y", "ridge")
    check(baseline.create(spec), NOT_FOUND, "DATASET_NOT_FOUND")
    check(baseline.train(spec), NOT_FOUND, "DATASET_NOT_FOUND")


def test_malformed_dataset_in_spec(baseline, check) -> None:
    for name in ("", "models/abc", "datasets/", "datasets/ABC", "datasets/a/b", "abc"):
        reason = "MISSING_NAME" if not name else "INVALID_NAME"
        check(baseline.create(make_spec(name, "y", "ridge")), INVALID, reason, "spec.dataset")


def test_request_id_too_long(baseline, check) -> None:
    spec = make_spec(baseline.dataset.name, "y", "ridge")
    check(baseline.create(spec, request_id="r" * 129), INVALID, "INVALID_REQUEST_ID", "request_id")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_requested_where_there_is_none(baseline, check) -> None:
    spec = make_spec(baseline.dataset.name, "y", "neural_network", {"epochs": 10}, device=pb.DEVICE_CUDA)
    check(baseline.create(spec), grpc.StatusCode.FAILED_PRECONDITION, "DEVICE_UNAVAILABLE")
    check(baseline.train(spec), grpc.StatusCode.FAILED_PRECONDITION, "DEVICE_UNAVAILABLE")


def test_unknown_device_enum_value(baseline, check) -> None:
    spec = make_spec(baseline.dataset.name, "y", "ridge", device=42)
    check(baseline.create(spec), INVALID, "INVALID_DEVICE", "spec.device")


def test_duplicate_feature_and_no_features(baseline, check) -> None:
    spec = make_spec(baseline.dataset.name, "y", "ridge", features=["a", "b", "a"])
    check(baseline.create(spec), INVALID, "DUPLICATE_FEATURE", "spec.feature_columns[2]")
    target_only = upload(baseline.stub, b"y\n1\n2\n3\n")
    check(
        baseline.create(make_spec(target_only.name, "y", "ridge")),
        INVALID,
        "NO_FEATURES",
        "spec.feature_columns",
    )
