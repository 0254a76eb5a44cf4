"""The model registry over gRPC, and every scikit-learn model type training and predicting on tiny data."""

from __future__ import annotations

import math

import pytest

from tests.integration.trainer._support import (
    BINARY_METRICS,
    REGRESSION_METRICS,
    SKLEARN_CLASSIFIERS,
    SKLEARN_REGRESSORS,
    linear_rows,
    make_spec,
    payload,
    pb,
    predict,
    stored,
    to_csv,
    train,
    upload,
)

PHASES = [
    pb.TRAINING_PHASE_LOADING_DATA,
    pb.TRAINING_PHASE_PREPROCESSING,
    pb.TRAINING_PHASE_FITTING,
    pb.TRAINING_PHASE_EVALUATING,
    pb.TRAINING_PHASE_SAVING,
]
REGRESSION = pb.MODEL_CATEGORY_SUPERVISED_REGRESSION
CLASSIFICATION = pb.MODEL_CATEGORY_SUPERVISED_CLASSIFICATION


def _types(stub, category: int = pb.MODEL_CATEGORY_UNSPECIFIED) -> list[pb.ModelType]:
    return list(stub.ListModelTypes(pb.ListModelTypesRequest(category=category), timeout=30).model_types)


def test_model_types_are_the_issue_s_catalogue(shared_trainer) -> None:
    types = _types(shared_trainer.stub)
    ids = [t.id for t in types]
    assert ids[:2] == ["neural_network", "neural_network_classifier"]
    assert sorted(ids) == sorted(
        ["neural_network", "neural_network_classifier", *SKLEARN_REGRESSORS, *SKLEARN_CLASSIFIERS]
    )
    by_id = {t.id: t for t in types}
    for type_id in ("neural_network", *SKLEARN_REGRESSORS):
        assert by_id[type_id].category == REGRESSION, type_id
    for type_id in ("neural_network_classifier", *SKLEARN_CLASSIFIERS):
        assert by_id[type_id].category == CLASSIFICATION, type_id
    for model_type in types:
        assert model_type.display_name and model_type.description, model_type.id
        assert model_type.speed != pb.MODEL_SPEED_UNSPECIFIED, model_type.id
        assert model_type.complexity != pb.MODEL_COMPLEXITY_UNSPECIFIED, model_type.id
        assert model_type.available, model_type.id
        assert model_type.gpu_accelerated == model_type.id.startswith("neural_network")
        assert model_type.parameters, model_type.id
        for spec in model_type.parameters:
            assert spec.name and spec.description, (model_type.id, spec)
            _assert_default_allowed(spec)
    # Stable order, and the category filter.
    assert [t.id for t in _types(shared_trainer.stub)] == ids
    assert [t.id for t in _types(shared_trainer.stub, REGRESSION)] == [
        t.id for t in types if t.category == REGRESSION
    ]
    assert [t.id for t in _types(shared_trainer.stub, CLASSIFICATION)] == [
        t.id for t in types if t.category == CLASSIFICATION
    ]


def _assert_default_allowed(spec: pb.ParameterSpec) -> None:
    kind = spec.WhichOneof("spec")
    assert kind is not None, spec
    typed = getattr(spec, kind)
    if kind in ("int_spec", "double_spec"):
        if typed.HasField("min_value"):
            assert typed.min_value <= typed.default_value, spec
        if typed.HasField("max_value"):
            assert typed.default_value <= typed.max_value, spec
    elif kind == "categorical_spec":
        assert typed.default_value in typed.choices, spec
    elif kind == "int_list_spec":
        assert typed.min_length <= len(typed.default_value) <= typed.max_length, spec
        assert all(typed.min_value <= v <= typed.max_value for v in typed.default_value), spec


def test_neural_network_parameters_match_the_issue(shared_trainer) -> None:
    nn = {t.id: t for t in _types(shared_trainer.stub)}["neural_network"]
    specs = {p.name: p for p in nn.parameters}
    assert specs["hidden_layers"].WhichOneof("spec") == "int_list_spec"
    assert list(specs["hidden_layers"].int_list_spec.default_value) == [128, 64, 32]
    expected_int = {"epochs": (100, 10, 1000), "batch_size": (32, 8, 256)}
    for name, (default, low, high) in expected_int.items():
        spec = specs[name]
        assert spec.WhichOneof("spec") == "int_spec", name
        assert (spec.int_spec.default_value, spec.int_spec.min_value, spec.int_spec.max_value) == (
            default,
            low,
            high,
        )
    expected_double = {"learning_rate": (0.001, 0.0001, 0.1), "dropout_rate": (0.2, 0.0, 0.5)}
    for name, (default, low, high) in expected_double.items():
        spec = specs[name]
        assert spec.WhichOneof("spec") == "double_spec", name
        assert (
            spec.double_spec.default_value,
            spec.double_spec.min_value,
            spec.double_spec.max_value,
        ) == pytest.approx((default, low, high))
    assert specs["weight_decay"].WhichOneof("spec") == "double_spec"
    assert specs["weight_decay"].double_spec.default_value == pytest.approx(1e-5)
    # Gradient clipping (max norm 1.0), early stopping (off), a learning-rate schedule (none).
    assert specs["gradient_clip_norm"].double_spec.default_value == pytest.approx(1.0)
    assert specs["early_stopping"].WhichOneof("spec") == "bool_spec"
    assert specs["early_stopping"].bool_spec.default_value is False
    assert specs["patience"].WhichOneof("spec") == "int_spec"
    schedule = specs["lr_schedule"]
    assert schedule.WhichOneof("spec") == "categorical_spec"
    assert schedule.categorical_spec.default_value == "none"
    assert set(schedule.categorical_spec.choices) == {"none", "reduce_on_plateau", "cosine"}
    classifier = {t.id: t for t in _types(shared_trainer.stub)}["neural_network_classifier"]
    assert list(classifier.parameters) == list(nn.parameters)


def _default_value(spec: pb.ParameterSpec) -> pb.HyperparameterValue:
    kind = spec.WhichOneof("spec")
    typed = getattr(spec, kind)
    if kind == "int_spec":
        return pb.HyperparameterValue(int_value=typed.default_value)
    if kind == "double_spec":
        return pb.HyperparameterValue(double_value=typed.default_value)
    if kind == "categorical_spec":
        return pb.HyperparameterValue(string_value=typed.default_value)
    if kind == "bool_spec":
        return pb.HyperparameterValue(bool_value=typed.default_value)
    return pb.HyperparameterValue(int_list_value=pb.IntList(values=typed.default_value))


@pytest.fixture(scope="module")
def tiny_datasets(shared_trainer) -> dict[str, pb.Dataset]:
    """60 rows for regression (three numeric features) and 60 for binary classification ("yes"/"no")."""
    x, y = linear_rows(60, seed=21)
    regression = upload(
        shared_trainer.stub,
        to_csv(["a", "b", "c", "y"], [(*r, t) for r, t in zip(x.tolist(), y.tolist(), strict=True)]),
    )
    labels = ["yes" if r[0] + r[1] > 0 else "no" for r in x.tolist()]
    classification = upload(
        shared_trainer.stub,
        to_csv(["a", "b", "c", "label"], [(*r, t) for r, t in zip(x.tolist(), labels, strict=True)]),
    )
    return {"regression": regression, "classification": classification}


@pytest.mark.parametrize("model_type", [*SKLEARN_REGRESSORS, *SKLEARN_CLASSIFIERS])
def test_every_scikit_learn_model_type_trains_and_predicts(
    shared_trainer, tiny_datasets, model_type: str
) -> None:
    stub = shared_trainer.stub
    regression = model_type in SKLEARN_REGRESSORS
    dataset = tiny_datasets["regression" if regression else "classification"]
    events = train(stub, make_spec(dataset.name, "y" if regression else "label", model_type), timeout=120)
    last = events[-1]
    assert last.state == pb.TRAINING_JOB_STATE_SUCCEEDED, last
    assert [e.phase_change.phase for e in stored(events) if payload(e) == "phase_change"] == PHASES
    metrics = dict(last.result.metrics)
    assert set(metrics) == (REGRESSION_METRICS if regression else BINARY_METRICS)
    assert all(math.isfinite(v) for v in metrics.values()), metrics
    if regression:
        assert metrics["r2"] <= 1.0 and metrics["mse"] >= 0
        assert metrics["rmse"] == pytest.approx(math.sqrt(metrics["mse"]), rel=1e-6)
    else:
        assert all(0.0 <= v <= 1.0 for v in metrics.values()), metrics

    model = stub.GetModel(pb.GetModelRequest(name=last.result.model), timeout=30).model
    assert model.model_type == model_type
    assert model.device == "cpu"
    specs = {t.id: t for t in _types(stub)}[model_type].parameters
    assert dict(model.hyperparameters) == {spec.name: _default_value(spec) for spec in specs}

    rows = [
        {"a": 0.1, "b": -0.4, "c": 1.2},
        {"a": -2.0, "b": -1.5, "c": 0.0},
        {"a": 1.5, "b": 1.5, "c": -0.3},
    ]
    predictions = predict(stub, model.name, rows)
    for prediction in predictions:
        if regression:
            assert prediction.WhichOneof("value") == "number"
            assert math.isfinite(prediction.number)
            assert not prediction.probabilities
        else:
            assert prediction.WhichOneof("value") == "label"
            probabilities = dict(prediction.probabilities)
            assert set(probabilities) == {"yes", "no"}
            assert sum(probabilities.values()) == pytest.approx(1.0, abs=1e-6)
            assert probabilities[prediction.label] == max(probabilities.values())  # the most probable class
    # Rows far from the decision boundary / at opposite ends of the target: every model gets them right.
    if regression:
        assert predictions[1].number < predictions[2].number
    else:
        assert [p.label for p in predictions[1:]] == ["no", "yes"]
