"""The self-describing model registry: model types, their typed hyperparameter specs and validation.

Neural-network types are described here (torch may be absent, so their description must not
import it); the scikit-learn families describe themselves next to their builders in
`trainer_service.models`.
"""

from __future__ import annotations

import enum
import functools
import importlib
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeGuard

from mlsuite_common.errors import InvalidArgument

__all__ = [
    "HyperValue",
    "ModelCategory",
    "IntParam",
    "DoubleParam",
    "CategoricalParam",
    "BoolParam",
    "IntListParam",
    "ParamSpec",
    "ModelType",
    "list_model_types",
    "get_model_type",
    "get_model_category",
    "resolve_hyperparameters",
]

logger = logging.getLogger(__name__)

HyperValue = int | float | str | bool | tuple[int, ...]


class ModelCategory(enum.Enum):
    """What a model predicts: a number or a class label."""

    REGRESSION = "REGRESSION"
    CLASSIFICATION = "CLASSIFICATION"


@dataclass(frozen=True)
class IntParam:
    """An integer hyperparameter; None bounds mean unbounded on that side."""

    name: str
    description: str
    default: int
    min_value: int | None
    max_value: int | None


@dataclass(frozen=True)
class DoubleParam:
    """A floating-point hyperparameter; None bounds mean unbounded on that side."""

    name: str
    description: str
    default: float
    min_value: float | None
    max_value: float | None


@dataclass(frozen=True)
class CategoricalParam:
    """A hyperparameter taking one of a fixed set of strings."""

    name: str
    description: str
    default: str
    choices: tuple[str, ...]


@dataclass(frozen=True)
class BoolParam:
    """A boolean hyperparameter."""

    name: str
    description: str
    default: bool


@dataclass(frozen=True)
class IntListParam:
    """A list of integers, e.g. hidden layer sizes; bounds apply to the length and to every element."""

    name: str
    description: str
    default: tuple[int, ...]
    min_length: int
    max_length: int
    min_value: int
    max_value: int


ParamSpec = IntParam | DoubleParam | CategoricalParam | BoolParam | IntListParam


@dataclass(frozen=True)
class ModelType:
    """A trainable model type as shown to clients; speed is fast|medium|slow, complexity low|medium|high."""

    id: str
    display_name: str
    category: ModelCategory
    description: str
    speed: str
    complexity: str
    available: bool
    gpu_accelerated: bool
    parameters: tuple[ParamSpec, ...]


NEURAL_NETWORK_PARAMETERS: tuple[ParamSpec, ...] = (
    IntListParam(
        "hidden_layers", "Units of each hidden layer, input side first.", (128, 64, 32), 1, 10, 1, 4096
    ),
    IntParam("epochs", "Passes over the training data.", 100, 10, 1000),
    DoubleParam("learning_rate", "Adam step size.", 0.001, 0.0001, 0.1),
    IntParam("batch_size", "Rows per gradient step.", 32, 8, 256),
    DoubleParam("dropout_rate", "Dropout probability after every hidden layer.", 0.2, 0.0, 0.5),
    DoubleParam("weight_decay", "L2 penalty applied through Adam.", 1e-5, 0.0, 0.1),
    DoubleParam(
        "gradient_clip_norm", "Maximum gradient norm per step; 0 turns clipping off.", 1.0, 0.0, 100.0
    ),
    BoolParam(
        "early_stopping", "Stop when the validation loss stops improving and keep the best weights.", False
    ),
    IntParam("patience", "Epochs without validation-loss improvement before early stopping.", 10, 1, 100),
    CategoricalParam(
        "lr_schedule",
        "Learning-rate schedule: none, reduce_on_plateau (on validation loss) or cosine (over all epochs).",
        "none",
        ("none", "reduce_on_plateau", "cosine"),
    ),
)


@functools.cache
def _torch_available() -> bool:
    """True when torch imports; the neural-network types are unavailable otherwise."""
    try:
        importlib.import_module("torch")
    except ImportError:
        logger.warning("torch is not installed: neural-network model types are unavailable")
        return False
    return True


def _neural_network_types() -> tuple[ModelType, ...]:
    available = _torch_available()
    return (
        ModelType(
            id="neural_network",
            display_name="Neural network (regression)",
            category=ModelCategory.REGRESSION,
            description="Fully connected network (Linear, BatchNorm, ReLU, Dropout per layer); Adam on MSE.",
            speed="slow",
            complexity="high",
            available=available,
            gpu_accelerated=True,
            parameters=NEURAL_NETWORK_PARAMETERS,
        ),
        ModelType(
            id="neural_network_classifier",
            display_name="Neural network (classification)",
            category=ModelCategory.CLASSIFICATION,
            description="Fully connected network with a softmax head trained with Adam on cross-entropy.",
            speed="slow",
            complexity="high",
            available=available,
            gpu_accelerated=True,
            parameters=NEURAL_NETWORK_PARAMETERS,
        ),
    )


@functools.cache
def _catalogue() -> dict[str, ModelType]:
    """Every model type by id, in listing order (families imported lazily: they import this module)."""
    from trainer_service.models import sklearn_classifiers, sklearn_regressors

    ordered = (*_neural_network_types(), *sklearn_regressors.MODEL_TYPES, *sklearn_classifiers.MODEL_TYPES)
    return {model.id: model for model in ordered}


def list_model_types(category: ModelCategory | None = None) -> list[ModelType]:
    """Model types (of one category, or all) in a stable order: neural networks, regressors, classifiers."""
    return [t for t in _catalogue().values() if category is None or t.category is category]


def get_model_type(model_type: str) -> ModelType:
    """The model type with this id; an unknown id is an InvalidArgument (UNKNOWN_MODEL_TYPE)."""
    found = _catalogue().get(model_type)
    if found is None:
        known = ", ".join(_catalogue())
        raise InvalidArgument(
            f"unknown model type {model_type!r}; known types: {known}",
            field="spec.model_type",
            reason="UNKNOWN_MODEL_TYPE",
        )
    return found


def get_model_category(model_type: str) -> ModelCategory:
    """Regression or classification for this model type id."""
    return get_model_type(model_type).category


def resolve_hyperparameters(model_type: str, given: Mapping[str, HyperValue]) -> dict[str, HyperValue]:
    """Validate `given` against the type's specs and fill in defaults for everything not given."""
    specs = {spec.name: spec for spec in get_model_type(model_type).parameters}
    for name in given:
        if name not in specs:
            raise InvalidArgument(
                f"unknown hyperparameter {name!r} for {model_type}; known: {', '.join(specs)}",
                field=_field(name),
                reason="UNKNOWN_HYPERPARAMETER",
            )
    return {
        name: (_validate(spec, given[name]) if name in given else spec.default)
        for name, spec in specs.items()
    }


def _field(name: str) -> str:
    return f"spec.hyperparameters[{name}]"


def _wrong_type(spec: ParamSpec, value: object, expected: str) -> InvalidArgument:
    return InvalidArgument(
        f"hyperparameter {spec.name!r} must be {expected}, got {value!r} ({type(value).__name__})",
        field=_field(spec.name),
        reason="INVALID_HYPERPARAMETER_TYPE",
    )


def _out_of_range(spec: ParamSpec, value: object, allowed: str) -> InvalidArgument:
    return InvalidArgument(
        f"hyperparameter {spec.name!r} = {value!r} is out of range; allowed: {allowed}",
        field=_field(spec.name),
        reason="HYPERPARAMETER_OUT_OF_RANGE",
    )


def _bounds(low: float | None, high: float | None) -> str:
    return f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"


def _in_bounds(value: float, low: float | None, high: float | None) -> bool:
    return (low is None or value >= low) and (high is None or value <= high)


def _is_int(value: object) -> TypeGuard[int]:
    # bool is a subclass of int, but True is not a valid layer count.
    return isinstance(value, int) and not isinstance(value, bool)


def _validate(spec: ParamSpec, value: object) -> HyperValue:
    """One given value checked against its spec; returns the normalised value."""
    if isinstance(spec, BoolParam):
        if not isinstance(value, bool):
            raise _wrong_type(spec, value, "a bool")
        return value
    if isinstance(spec, IntParam):
        if not _is_int(value):
            raise _wrong_type(spec, value, "an integer")
        if not _in_bounds(value, spec.min_value, spec.max_value):
            raise _out_of_range(spec, value, _bounds(spec.min_value, spec.max_value))
        return int(value)
    if isinstance(spec, DoubleParam):
        if not (_is_int(value) or isinstance(value, float)):
            raise _wrong_type(spec, value, "a number")
        number = float(value)
        if not math.isfinite(number) or not _in_bounds(number, spec.min_value, spec.max_value):
            raise _out_of_range(spec, value, _bounds(spec.min_value, spec.max_value))
        return number
    if isinstance(spec, CategoricalParam):
        if not isinstance(value, str):
            raise _wrong_type(spec, value, "a string")
        if value not in spec.choices:
            raise _out_of_range(spec, value, f"one of {', '.join(spec.choices)}")
        return value
    if not isinstance(value, (tuple, list)) or not all(_is_int(item) for item in value):
        raise _wrong_type(spec, value, "a list of integers")
    if not spec.min_length <= len(value) <= spec.max_length:
        raise _out_of_range(spec, value, f"{spec.min_length} to {spec.max_length} elements")
    if not all(spec.min_value <= item <= spec.max_value for item in value):
        raise _out_of_range(spec, value, f"every element in [{spec.min_value}, {spec.max_value}]")
    return tuple(int(item) for item in value)
