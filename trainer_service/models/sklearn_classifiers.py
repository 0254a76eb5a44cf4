"""scikit-learn classification families: their registry descriptions and their builders.

Every classifier here has predict_proba. SVC gets its probabilities from Platt scaling through
CalibratedClassifierCV(ensemble=False), the replacement scikit-learn 1.9 names for the deprecated
SVC(probability=True).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC

from mlsuite_common.errors import InvalidArgument
from trainer_service.models import TrainingData
from trainer_service.models.sklearn_params import (
    BOOSTING_LEARNING_RATE,
    BOOSTING_MAX_DEPTH,
    BOOTSTRAP,
    CLASS_WEIGHT,
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

# Platt scaling folds for SVC, as libsvm's probability=True used.
_SVC_CALIBRATION_FOLDS = 5


_classifier = functools.partial(sklearn_model_type, ModelCategory.CLASSIFICATION)


MODEL_TYPES: tuple[ModelType, ...] = (
    _classifier(
        "logistic_regression",
        "Logistic regression",
        "Linear model of class log-odds with an L2 penalty.",
        "fast",
        "low",
        (
            DoubleParam("C", "Inverse regularisation strength.", 1.0, 1e-6, 1e6),
            IntParam("max_iter", "Maximum solver iterations.", 100, 1, 100000),
            TOL,
            FIT_INTERCEPT,
            CLASS_WEIGHT,
        ),
    ),
    _classifier(
        "random_forest_classifier",
        "Random forest",
        "Voting decision trees on bootstrap samples.",
        "medium",
        "medium",
        (
            N_ESTIMATORS,
            CategoricalParam("criterion", "Split quality measure.", "gini", ("gini", "entropy", "log_loss")),
            FOREST_MAX_DEPTH,
            MIN_SAMPLES_SPLIT,
            MIN_SAMPLES_LEAF,
            CategoricalParam(
                "max_features",
                "Features considered per split: all, sqrt or log2.",
                "sqrt",
                ("all", "sqrt", "log2"),
            ),
            BOOTSTRAP,
            CategoricalParam(
                "class_weight",
                "none, balanced, or balanced_subsample (balanced per bootstrap sample).",
                "none",
                ("none", "balanced", "balanced_subsample"),
            ),
        ),
    ),
    _classifier(
        "gradient_boosting_classifier",
        "Gradient boosting",
        "Sequentially fitted shallow trees on the log-loss.",
        "medium",
        "medium",
        (
            N_ESTIMATORS,
            BOOSTING_LEARNING_RATE,
            BOOSTING_MAX_DEPTH,
            SUBSAMPLE,
            MIN_SAMPLES_SPLIT,
            MIN_SAMPLES_LEAF,
        ),
    ),
    _classifier(
        "hist_gradient_boosting_classifier",
        "Histogram gradient boosting",
        "Gradient boosting on binned features; fast on large tables.",
        "fast",
        "medium",
        (*HIST_PARAMETERS, CLASS_WEIGHT),
    ),
    _classifier(
        "svc",
        "Support vector classifier",
        "Kernel maximum-margin classifier with Platt-scaled probabilities; best below about 10000 rows.",
        "slow",
        "medium",
        (*SVM_PARAMETERS, CLASS_WEIGHT),
    ),
    _classifier(
        "knn_classifier",
        "k-nearest neighbours",
        "Majority class of the closest training rows.",
        "fast",
        "low",
        KNN_PARAMETERS,
    ),
)


def _svc(params: Mapping[str, HyperValue], seed: int, data: TrainingData) -> BaseEstimator:
    smallest = min(data.class_rows, default=0)
    if smallest < 2:
        raise InvalidArgument(
            "svc calibrates its probabilities by cross-validation and needs at least 2 training rows "
            f"of every class; the smallest class has {smallest}",
            field="spec.target_column",
            reason="TOO_FEW_ROWS_PER_CLASS",
        )
    svc = SVC(**sklearn_kwargs(params), random_state=seed)
    folds = min(_SVC_CALIBRATION_FOLDS, smallest)
    return CalibratedClassifierCV(svc, method="sigmoid", cv=folds, ensemble=False)


def _knn(params: Mapping[str, HyperValue], seed: int, data: TrainingData) -> BaseEstimator:
    require_neighbors(params, data)
    return KNeighborsClassifier(**sklearn_kwargs(params))


BUILDERS: dict[str, Builder] = {
    "logistic_regression": seeded(LogisticRegression),
    "random_forest_classifier": seeded(RandomForestClassifier),
    "gradient_boosting_classifier": seeded(GradientBoostingClassifier),
    "hist_gradient_boosting_classifier": seeded(HistGradientBoostingClassifier),
    "svc": _svc,
    "knn_classifier": _knn,
}
