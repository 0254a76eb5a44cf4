"""scikit-learn regression families: their registry descriptions and their builders."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from sklearn.base import BaseEstimator
from sklearn.ensemble import GradientBoostingRegressor, HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import ElasticNet, Lasso, LinearRegression, Ridge
from sklearn.neighbors import KNeighborsRegressor
from sklearn.svm import SVR

from trainer_service.models import TrainingData
from trainer_service.models.sklearn_params import (
    BOOSTING_LEARNING_RATE,
    BOOSTING_MAX_DEPTH,
    BOOTSTRAP,
    FIT_INTERCEPT,
    FOREST_MAX_DEPTH,
    HIST_PARAMETERS,
    KNN_PARAMETERS,
    MIN_SAMPLES_LEAF,
    MIN_SAMPLES_SPLIT,
    N_ESTIMATORS,
    SUBSAMPLE,
    SVM_PARAMETERS,
    TOL,
    Builder,
    require_neighbors,
    seeded,
    sklearn_kwargs,
    sklearn_model_type,
    unseeded,
)
from trainer_service.registry import (
    CategoricalParam,
    DoubleParam,
    HyperValue,
    IntParam,
    ModelCategory,
    ModelType,
)

__all__ = ["MODEL_TYPES", "BUILDERS"]

_ALPHA_SPARSE = DoubleParam(
    "alpha", "Regularisation strength (use linear_regression for none).", 1.0, 1e-6, 1e6
)
_MAX_ITER_CD = IntParam("max_iter", "Maximum coordinate-descent iterations.", 1000, 1, 1000000)
_SELECTION = CategoricalParam(
    "selection",
    "Coordinate order: cyclic, or random (often faster with tol above 1e-4).",
    "cyclic",
    ("cyclic", "random"),
)


_regressor = functools.partial(sklearn_model_type, ModelCategory.REGRESSION)


MODEL_TYPES: tuple[ModelType, ...] = (
    _regressor(
        "linear_regression", "Linear regression", "Ordinary least squares.", "fast", "low", (FIT_INTERCEPT,)
    ),
    _regressor(
        "ridge",
        "Ridge regression",
        "Least squares with an L2 penalty.",
        "fast",
        "low",
        (
            DoubleParam("alpha", "L2 regularisation strength.", 1.0, 0.0, 1e6),
            FIT_INTERCEPT,
            CategoricalParam(
                "solver",
                "Solver; auto picks one from the data.",
                "auto",
                ("auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga"),
            ),
        ),
    ),
    _regressor(
        "lasso",
        "Lasso",
        "Least squares with an L1 penalty (sparse coefficients).",
        "fast",
        "low",
        (_ALPHA_SPARSE, FIT_INTERCEPT, _MAX_ITER_CD, TOL, _SELECTION),
    ),
    _regressor(
        "elastic_net",
        "Elastic net",
        "Least squares with a mix of L1 and L2 penalties.",
        "fast",
        "low",
        (
            _ALPHA_SPARSE,
            DoubleParam("l1_ratio", "Share of the L1 penalty: 0 pure L2, 1 pure L1.", 0.5, 0.0, 1.0),
            FIT_INTERCEPT,
            _MAX_ITER_CD,
            TOL,
            _SELECTION,
        ),
    ),
    _regressor(
        "random_forest_regressor",
        "Random forest",
        "Averaged decision trees on bootstrap samples.",
        "medium",
        "medium",
        (
            N_ESTIMATORS,
            CategoricalParam(
                "criterion",
                "Split quality measure.",
                "squared_error",
                ("squared_error", "absolute_error", "friedman_mse"),
            ),
            FOREST_MAX_DEPTH,
            MIN_SAMPLES_SPLIT,
            MIN_SAMPLES_LEAF,
            CategoricalParam(
                "max_features",
                "Features considered per split: all, sqrt or log2.",
                "all",
                ("all", "sqrt", "log2"),
            ),
            BOOTSTRAP,
        ),
    ),
    _regressor(
        "gradient_boosting_regressor",
        "Gradient boosting",
        "Sequentially fitted shallow trees, each correcting the previous ones.",
        "medium",
        "medium",
        (
            CategoricalParam(
                "loss",
                "Loss to optimise.",
                "squared_error",
                ("squared_error", "absolute_error", "huber", "quantile"),
            ),
            N_ESTIMATORS,
            BOOSTING_LEARNING_RATE,
            BOOSTING_MAX_DEPTH,
            SUBSAMPLE,
            MIN_SAMPLES_SPLIT,
            MIN_SAMPLES_LEAF,
        ),
    ),
    _regressor(
        "hist_gradient_boosting_regressor",
        "Histogram gradient boosting",
        "Gradient boosting on binned features; fast on large tables.",
        "fast",
        "medium",
        (
            CategoricalParam(
                "loss", "Loss to optimise.", "squared_error", ("squared_error", "absolute_error")
            ),
            *HIST_PARAMETERS,
        ),
    ),
    _regressor(
        "svr",
        "Support vector regression",
        "Epsilon-insensitive kernel regression; best below about 10000 rows.",
        "slow",
        "medium",
        (
            *SVM_PARAMETERS,
            DoubleParam("epsilon", "Width of the no-penalty tube around the target.", 0.1, 0.0, 1e6),
        ),
    ),
    _regressor(
        "knn_regressor",
        "k-nearest neighbours",
        "Average target of the closest training rows.",
        "fast",
        "low",
        KNN_PARAMETERS,
    ),
)


def _knn(params: Mapping[str, HyperValue], seed: int, data: TrainingData) -> BaseEstimator:
    require_neighbors(params, data)
    return KNeighborsRegressor(**sklearn_kwargs(params))


BUILDERS: dict[str, Builder] = {
    "linear_regression": unseeded(LinearRegression),
    "ridge": seeded(Ridge),
    "lasso": seeded(Lasso),
    "elastic_net": seeded(ElasticNet),
    "random_forest_regressor": seeded(RandomForestRegressor),
    "gradient_boosting_regressor": seeded(GradientBoostingRegressor),
    "hist_gradient_boosting_regressor": seeded(HistGradientBoostingRegressor),
    "svr": unseeded(SVR),
    "knn_regressor": _knn,
}
