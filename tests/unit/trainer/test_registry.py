"""The model registry: ids, categories, parameter specs and hyperparameter validation."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import pytest

from mlsuite_common.errors import FailedPrecondition, InvalidArgument
from trainer_service import registry
from trainer_service.models import TrainingData, build_estimator
from trainer_service.registry import (
    BoolParam,
    CategoricalParam,
    DoubleParam,
    IntListParam,
    IntParam,
    ModelCategory,
    get_model_category,
    get_model_type,
    list_model_types,
    resolve_hyperparameters,
)

REGRESSION = {
    "neural_network",
    "linear_regression",
    "ridge",
    "lasso",
    "elastic_net",
    "random_forest_regressor",
    "gradient_boosting_regressor",
    "hist_gradient_boosting_regressor",
    "svr",
    "knn_regressor",
}
CLASSIFICATION = {
    "neural_network_classifier",
    "logistic_regression",
    "random_forest_classifier",
    "gradient_boosting_classifier",
    "hist_gradient_boosting_classifier",
    "svc",
    "knn_classifier",
}


def test_every_model_type_is_listed_once_in_a_stable_order() -> None:
    ids = [model.id for model in list_model_types()]
    assert sorted(ids) == sorted(REGRESSION | CLASSIFICATION)
    assert len(ids) == len(set(ids))
    assert ids == [model.id for model in list_model_types()]
    assert ids[:2] == ["neural_network", "neural_network_classifier"]


def test_categories_and_get_model_category_agree() -> None:
    for model in list_model_types():
        expected = ModelCategory.REGRESSION if model.id in REGRESSION else ModelCategory.CLASSIFICATION
        assert model.category is expected
        assert get_model_category(model.id) is expected
        assert get_model_type(model.id) is model


def test_descriptions_are_complete_and_torch_models_are_available_here() -> None:
    for model in list_model_types():
        assert model.display_name and model.description
        assert model.speed in {"fast", "medium", "slow"}
        assert model.complexity in {"low", "medium", "high"}
        assert model.available
        assert model.gpu_accelerated is model.id.startswith("neural_network")
        assert len({spec.name for spec in model.parameters}) == len(model.parameters) > 0


def test_neural_network_parameters_are_exactly_the_documented_ones() -> None:
    specs = {spec.name: spec for spec in get_model_type("neural_network").parameters}
    assert specs == {spec.name: spec for spec in get_model_type("neural_network_classifier").parameters}
    assert specs["hidden_layers"] == IntListParam(
        "hidden_layers", specs["hidden_layers"].description, (128, 64, 32), 1, 10, 1, 4096
    )
    assert (specs["epochs"].default, specs["epochs"].min_value, specs["epochs"].max_value) == (100, 10, 1000)
    assert isinstance(specs["learning_rate"], DoubleParam)
    assert (
        specs["learning_rate"].default,
        specs["learning_rate"].min_value,
        specs["learning_rate"].max_value,
    ) == (
        0.001,
        0.0001,
        0.1,
    )
    assert (specs["batch_size"].default, specs["batch_size"].min_value, specs["batch_size"].max_value) == (
        32,
        8,
        256,
    )
    assert (specs["dropout_rate"].default, specs["dropout_rate"].max_value) == (0.2, 0.5)
    assert (specs["weight_decay"].default, specs["weight_decay"].max_value) == (1e-5, 0.1)
    assert (specs["gradient_clip_norm"].default, specs["gradient_clip_norm"].min_value) == (1.0, 0.0)
    assert specs["early_stopping"] == BoolParam("early_stopping", specs["early_stopping"].description, False)
    assert (specs["patience"].default, specs["patience"].min_value, specs["patience"].max_value) == (
        10,
        1,
        100,
    )
    assert specs["lr_schedule"] == CategoricalParam(
        "lr_schedule", specs["lr_schedule"].description, "none", ("none", "reduce_on_plateau", "cosine")
    )
    assert list(specs) == [
        "hidden_layers",
        "epochs",
        "learning_rate",
        "batch_size",
        "dropout_rate",
        "weight_decay",
        "gradient_clip_norm",
        "early_stopping",
        "patience",
        "lr_schedule",
    ]


def test_scikit_learn_defaults_mirror_the_estimators() -> None:
    forest = {spec.name: spec for spec in get_model_type("random_forest_regressor").parameters}
    assert forest["n_estimators"].default == 100
    assert isinstance(forest["max_depth"], IntParam) and forest["max_depth"].default == 0
    assert "unlimited" in forest["max_depth"].description
    assert {spec.name: spec.default for spec in get_model_type("svc").parameters}["C"] == 1.0
    assert {spec.name: spec.default for spec in get_model_type("knn_classifier").parameters}[
        "n_neighbors"
    ] == 5
    assert {spec.name: spec.default for spec in get_model_type("random_forest_classifier").parameters}[
        "max_features"
    ] == "sqrt"


@pytest.mark.parametrize("model_id", sorted(REGRESSION | CLASSIFICATION))
def test_resolve_fills_every_default_and_accepts_its_own_defaults(model_id: str) -> None:
    defaults = resolve_hyperparameters(model_id, {})
    assert defaults == {spec.name: spec.default for spec in get_model_type(model_id).parameters}
    assert resolve_hyperparameters(model_id, defaults) == defaults


def test_resolve_keeps_given_values_and_converts_int_to_float() -> None:
    resolved = resolve_hyperparameters(
        "neural_network", {"epochs": 20, "weight_decay": 0, "hidden_layers": [16, 8], "early_stopping": True}
    )
    assert resolved["epochs"] == 20
    assert resolved["weight_decay"] == 0.0 and type(resolved["weight_decay"]) is float
    assert resolved["hidden_layers"] == (16, 8)
    assert resolved["early_stopping"] is True
    assert resolved["batch_size"] == 32
    assert resolved["lr_schedule"] == "none"


def test_unknown_model_type_is_rejected() -> None:
    with pytest.raises(InvalidArgument) as caught:
        get_model_type("xgboost")
    assert caught.value.reason == "UNKNOWN_MODEL_TYPE"
    assert caught.value.violations[0].field == "spec.model_type"
    assert "xgboost" in caught.value.message
    with pytest.raises(InvalidArgument):
        resolve_hyperparameters("xgboost", {})


@pytest.mark.parametrize(
    ("model_id", "given", "reason", "fragments"),
    [
        ("neural_network", {"epoch": 5}, "UNKNOWN_HYPERPARAMETER", ["epoch"]),
        ("neural_network", {"epochs": True}, "INVALID_HYPERPARAMETER_TYPE", ["epochs", "True"]),
        ("neural_network", {"epochs": 12.0}, "INVALID_HYPERPARAMETER_TYPE", ["epochs", "12.0"]),
        ("neural_network", {"epochs": "12"}, "INVALID_HYPERPARAMETER_TYPE", ["epochs"]),
        ("neural_network", {"learning_rate": True}, "INVALID_HYPERPARAMETER_TYPE", ["learning_rate"]),
        ("neural_network", {"learning_rate": "fast"}, "INVALID_HYPERPARAMETER_TYPE", ["learning_rate"]),
        ("neural_network", {"early_stopping": 1}, "INVALID_HYPERPARAMETER_TYPE", ["early_stopping"]),
        ("neural_network", {"lr_schedule": 3}, "INVALID_HYPERPARAMETER_TYPE", ["lr_schedule"]),
        ("neural_network", {"hidden_layers": 64}, "INVALID_HYPERPARAMETER_TYPE", ["hidden_layers"]),
        ("neural_network", {"hidden_layers": (64, True)}, "INVALID_HYPERPARAMETER_TYPE", ["hidden_layers"]),
        ("neural_network", {"epochs": 5}, "HYPERPARAMETER_OUT_OF_RANGE", ["epochs", "5", "[10, 1000]"]),
        ("neural_network", {"epochs": 1001}, "HYPERPARAMETER_OUT_OF_RANGE", ["1001", "[10, 1000]"]),
        ("neural_network", {"learning_rate": 0.5}, "HYPERPARAMETER_OUT_OF_RANGE", ["0.5", "0.0001", "0.1"]),
        ("neural_network", {"learning_rate": float("nan")}, "HYPERPARAMETER_OUT_OF_RANGE", ["learning_rate"]),
        (
            "neural_network",
            {"lr_schedule": "step"},
            "HYPERPARAMETER_OUT_OF_RANGE",
            ["step", "reduce_on_plateau"],
        ),
        ("neural_network", {"hidden_layers": ()}, "HYPERPARAMETER_OUT_OF_RANGE", ["1 to 10"]),
        ("neural_network", {"hidden_layers": (8,) * 11}, "HYPERPARAMETER_OUT_OF_RANGE", ["1 to 10"]),
        ("neural_network", {"hidden_layers": (64, 0)}, "HYPERPARAMETER_OUT_OF_RANGE", ["[1, 4096]"]),
        ("neural_network", {"hidden_layers": (5000,)}, "HYPERPARAMETER_OUT_OF_RANGE", ["5000", "[1, 4096]"]),
        ("random_forest_classifier", {"max_depth": -1}, "HYPERPARAMETER_OUT_OF_RANGE", ["max_depth", "-1"]),
        ("svc", {"kernel": "cubic"}, "HYPERPARAMETER_OUT_OF_RANGE", ["cubic", "rbf"]),
    ],
)
def test_invalid_hyperparameters_are_rejected_with_reason_and_field(
    model_id: str, given: dict[str, object], reason: str, fragments: list[str]
) -> None:
    with pytest.raises(InvalidArgument) as caught:
        resolve_hyperparameters(model_id, given)  # type: ignore[arg-type]
    assert caught.value.reason == reason
    assert caught.value.violations[0].field == f"spec.hyperparameters[{next(iter(given))}]"
    for fragment in fragments:
        assert fragment in caught.value.message


@pytest.fixture
def torch_missing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Make `import torch` fail inside the registry, with its caches cleared before and after."""
    real_import = importlib.import_module

    def fake_import(name: str, package: str | None = None) -> object:
        if name == "torch":
            raise ImportError("No module named 'torch'")
        return real_import(name, package)

    monkeypatch.setattr(registry.importlib, "import_module", fake_import)
    registry._torch_available.cache_clear()
    registry._catalogue.cache_clear()
    yield
    monkeypatch.undo()
    registry._torch_available.cache_clear()
    registry._catalogue.cache_clear()


def test_neural_networks_are_unavailable_without_torch(torch_missing: None) -> None:
    by_id = {model.id: model for model in list_model_types()}
    assert not by_id["neural_network"].available
    assert not by_id["neural_network_classifier"].available
    assert by_id["ridge"].available
    with pytest.raises(FailedPrecondition) as caught:
        build_estimator(
            "neural_network",
            resolve_hyperparameters("neural_network", {}),
            seed=0,
            device="cpu",
            data=TrainingData(rows=10),
        )
    assert caught.value.reason == "MODEL_TYPE_UNAVAILABLE"
