"""Hyperparameter specs shared by the scikit-learn families, and the builders that apply resolved values.

Defaults mirror the estimators' own; "unlimited" (None in scikit-learn) is spelled 0.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeAlias, cast

from sklearn.base import BaseEstimator

from mlsuite_common.errors import InvalidArgument
from trainer_service.models import TrainingData
from trainer_service.registry import (
    BoolParam,
    CategoricalParam,
    DoubleParam,
    HyperValue,
    IntParam,
    ModelCategory,
    ModelType,
    ParamSpec,
)

__all__ = [
    "Builder",
    "sklearn_model_type",
    "sklearn_kwargs",
    "seeded",
    "unseeded",
    "require_neighbors",
    "FIT_INTERCEPT",
    "TOL",
    "N_ESTIMATORS",
    "FOREST_MAX_DEPTH",
    "MIN_SAMPLES_SPLIT",
    "MIN_SAMPLES_LEAF",
    "BOOTSTRAP",
    "BOOSTING_LEARNING_RATE",
    "BOOSTING_MAX_DEPTH",
    "SUBSAMPLE",
    "HIST_PARAMETERS",
    "SVM_PARAMETERS",
    "KNN_PARAMETERS",
    "CLASS_WEIGHT",
]

Builder: TypeAlias = Callable[[Mapping[str, HyperValue], int, TrainingData], BaseEstimator]

# Spellings of choices that scikit-learn writes as None, a number or a bool.
_TRANSLATED: dict[str, dict[HyperValue, object]] = {
    "max_depth": {0: None},
    "class_weight": {"none": None},
    "max_features": {"all": 1.0},
    "early_stopping": {"on": True, "off": False},
}


def sklearn_model_type(
    category: ModelCategory,
    id_: str,
    name: str,
    description: str,
    speed: str,
    complexity: str,
    parameters: tuple[ParamSpec, ...],
) -> ModelType:
    """The registry entry of a scikit-learn estimator (always available, CPU only)."""
    return ModelType(
        id=id_,
        display_name=name,
        category=category,
        description=description,
        speed=speed,
        complexity=complexity,
        available=True,
        gpu_accelerated=False,
        parameters=parameters,
    )


def sklearn_kwargs(params: Mapping[str, HyperValue]) -> dict[str, Any]:
    """Resolved hyperparameters as estimator keyword arguments (spec names are scikit-learn's own)."""
    return {name: _TRANSLATED.get(name, {}).get(value, value) for name, value in params.items()}


def seeded(estimator: Callable[..., BaseEstimator]) -> Builder:
    """A builder passing the hyperparameters and random_state=seed to `estimator`."""
    return lambda params, seed, data: estimator(**sklearn_kwargs(params), random_state=seed)


def unseeded(estimator: Callable[..., BaseEstimator]) -> Builder:
    """A builder passing the hyperparameters to a deterministic `estimator`."""
    return lambda params, seed, data: estimator(**sklearn_kwargs(params))


def require_neighbors(params: Mapping[str, HyperValue], data: TrainingData) -> None:
    """Refuse n_neighbors above the training rows (a neighbours model cannot consult more)."""
    neighbors = cast(int, params["n_neighbors"])
    if neighbors > data.rows:
        raise InvalidArgument(
            f"hyperparameter 'n_neighbors' = {neighbors} is out of range; "
            f"allowed: at most the {data.rows} training rows",
            field="spec.hyperparameters[n_neighbors]",
            reason="HYPERPARAMETER_OUT_OF_RANGE",
        )


FIT_INTERCEPT = BoolParam("fit_intercept", "Fit an intercept term.", True)
TOL = DoubleParam("tol", "Tolerance of the solver's stopping criterion.", 1e-4, 1e-10, 1.0)

N_ESTIMATORS = IntParam("n_estimators", "Number of trees.", 100, 1, 5000)
FOREST_MAX_DEPTH = IntParam("max_depth", "Maximum tree depth; 0 means unlimited.", 0, 0, 1000)
MIN_SAMPLES_SPLIT = IntParam("min_samples_split", "Minimum rows needed to split a node.", 2, 2, 100000)
MIN_SAMPLES_LEAF = IntParam("min_samples_leaf", "Minimum rows in a leaf.", 1, 1, 100000)
BOOTSTRAP = BoolParam("bootstrap", "Fit every tree on a bootstrap sample of the rows.", True)

BOOSTING_LEARNING_RATE = DoubleParam(
    "learning_rate", "Shrinkage applied to every tree's contribution.", 0.1, 0.0001, 1.0
)
BOOSTING_MAX_DEPTH = IntParam("max_depth", "Maximum depth of each tree; 0 means unlimited.", 3, 0, 100)
SUBSAMPLE = DoubleParam(
    "subsample", "Fraction of rows drawn for each tree (below 1: stochastic boosting).", 1.0, 0.01, 1.0
)

HIST_PARAMETERS = (
    IntParam("max_iter", "Boosting iterations (trees, per class for multi-class).", 100, 1, 10000),
    BOOSTING_LEARNING_RATE,
    IntParam("max_leaf_nodes", "Maximum leaves per tree.", 31, 2, 100000),
    IntParam("max_depth", "Maximum depth of each tree; 0 means unlimited.", 0, 0, 1000),
    IntParam("min_samples_leaf", "Minimum rows in a leaf.", 20, 1, 100000),
    DoubleParam("l2_regularization", "L2 penalty on leaf values.", 0.0, 0.0, 1e6),
    CategoricalParam(
        "early_stopping",
        "Stop on a held-out split of the training rows: auto (on above 10000 rows), on or off.",
        "auto",
        ("auto", "on", "off"),
    ),
)

SVM_PARAMETERS = (
    DoubleParam("C", "Inverse regularisation strength.", 1.0, 1e-6, 1e6),
    CategoricalParam("kernel", "Kernel function.", "rbf", ("linear", "poly", "rbf", "sigmoid")),
    CategoricalParam(
        "gamma", "Kernel coefficient for rbf, poly and sigmoid: scale or auto.", "scale", ("scale", "auto")
    ),
    IntParam("degree", "Degree of the poly kernel.", 3, 1, 10),
)

KNN_PARAMETERS = (
    IntParam("n_neighbors", "Neighbours consulted per prediction (at most the training rows).", 5, 1, 1000),
    CategoricalParam(
        "weights", "uniform, or distance (closer neighbours count more).", "uniform", ("uniform", "distance")
    ),
    IntParam("p", "Minkowski power: 1 Manhattan, 2 Euclidean.", 2, 1, 10),
    CategoricalParam(
        "algorithm", "Neighbour search structure.", "auto", ("auto", "ball_tree", "kd_tree", "brute")
    ),
    IntParam("leaf_size", "Leaf size of the ball tree or k-d tree.", 30, 1, 1000),
)

CLASS_WEIGHT = CategoricalParam(
    "class_weight",
    "none, or balanced (weights inversely proportional to class frequencies).",
    "none",
    ("none", "balanced"),
)
