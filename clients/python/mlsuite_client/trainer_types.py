"""Frozen values the TrainerClient returns: datasets, model types, jobs, events, models, predictions."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

__all__ = [
    "HyperparameterValue",
    "JobState",
    "Page",
    "DatasetColumn",
    "Dataset",
    "IntParameter",
    "DoubleParameter",
    "CategoricalParameter",
    "BoolParameter",
    "IntListParameter",
    "ParameterSpec",
    "ModelType",
    "EpochProgress",
    "TrainingError",
    "TrainingJobSpec",
    "TrainingJob",
    "TrainingEvent",
    "FeatureColumn",
    "Model",
    "Prediction",
]

T = TypeVar("T")

HyperparameterValue = int | float | str | bool | tuple[int, ...]
"""A hyperparameter as Python sees it; an int list comes back as a tuple."""


class JobState(enum.StrEnum):
    """Lifecycle of a training job (-ING transient, past participle terminal)."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    CANCELLING = "CANCELLING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_terminal(self) -> bool:
        """True for SUCCEEDED, FAILED and CANCELLED."""
        return self in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED)


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a List call; pass next_page_token back for the next one ("" on the last page)."""

    items: tuple[T, ...]
    next_page_token: str


@dataclass(frozen=True)
class DatasetColumn:
    """A dataset column with its inferred dtype ("int64", "double", "string" or "bool")."""

    name: str
    dtype: str
    null_count: int


@dataclass(frozen=True)
class Dataset:
    """An uploaded tabular dataset."""

    name: str
    display_name: str
    format: str
    row_count: int
    columns: tuple[DatasetColumn, ...]
    size_bytes: int
    sha256: str
    create_time: datetime | None


@dataclass(frozen=True)
class IntParameter:
    """An integer hyperparameter; bounds are inclusive, None means unbounded."""

    name: str
    description: str
    default: int
    min_value: int | None = None
    max_value: int | None = None


@dataclass(frozen=True)
class DoubleParameter:
    """A real hyperparameter; bounds are inclusive, None means unbounded."""

    name: str
    description: str
    default: float
    min_value: float | None = None
    max_value: float | None = None


@dataclass(frozen=True)
class CategoricalParameter:
    """A hyperparameter that takes one of a set of strings."""

    name: str
    description: str
    default: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class BoolParameter:
    """A true/false hyperparameter."""

    name: str
    description: str
    default: bool


@dataclass(frozen=True)
class IntListParameter:
    """A list-of-integers hyperparameter (e.g. hidden layer sizes) with length and element bounds."""

    name: str
    description: str
    default: tuple[int, ...]
    min_length: int = 0
    max_length: int = 0
    min_value: int = 0
    max_value: int = 0


ParameterSpec = IntParameter | DoubleParameter | CategoricalParameter | BoolParameter | IntListParameter
"""Any typed hyperparameter spec."""


@dataclass(frozen=True)
class ModelType:
    """A trainable model family; category is "regression" or "classification"."""

    id: str
    display_name: str
    category: str
    description: str
    speed: str
    complexity: str
    available: bool
    gpu_accelerated: bool
    parameters: tuple[ParameterSpec, ...]


@dataclass(frozen=True)
class EpochProgress:
    """Progress after one epoch; elapsed and eta are seconds."""

    epoch: int
    total_epochs: int
    train_loss: float
    validation_loss: float | None
    learning_rate: float
    samples_per_second: float
    elapsed: float
    eta: float


@dataclass(frozen=True)
class TrainingError:
    """Why a job failed: a stable UPPER_SNAKE reason and a message."""

    reason: str
    message: str


@dataclass(frozen=True)
class TrainingJobSpec:
    """What a job trains; device is "auto", "cpu", "cuda" or "mps"."""

    dataset: str
    target_column: str
    model_type: str
    feature_columns: tuple[str, ...] = ()
    hyperparameters: Mapping[str, HyperparameterValue] = field(default_factory=dict)
    validation_fraction: float = 0.0
    seed: int = 0
    device: str = "auto"


@dataclass(frozen=True)
class TrainingJob:
    """A training run and what it produced so far."""

    name: str
    spec: TrainingJobSpec
    state: JobState
    request_id: str
    create_time: datetime | None
    start_time: datetime | None
    end_time: datetime | None
    phase: str | None
    latest_epoch: EpochProgress | None
    metrics: Mapping[str, float]
    model: str
    error: TrainingError | None
    device: str
    dropped_target_rows: int
    train_rows: int
    validation_rows: int
    last_sequence: int
    resolved_hyperparameters: Mapping[str, HyperparameterValue]


@dataclass(frozen=True)
class TrainingEvent:
    """One event of a job's stream; kind names which payload fields are set."""

    sequence: int
    time: datetime | None
    state: JobState
    kind: str
    job: TrainingJob | None = None
    epoch: EpochProgress | None = None
    phase: str | None = None
    error_reason: str = ""
    error_message: str = ""
    message: str = ""
    metrics: Mapping[str, float] = field(default_factory=dict)
    model: str = ""

    @property
    def is_terminal(self) -> bool:
        """True when the job is SUCCEEDED, FAILED or CANCELLED after this event."""
        return self.state.is_terminal

    @property
    def is_stored(self) -> bool:
        """True for events the server stores (not the opening snapshot nor heartbeats)."""
        return self.kind not in ("snapshot", "heartbeat")


@dataclass(frozen=True)
class FeatureColumn:
    """A feature Predict expects, with its dtype ("int64", "double", "string" or "bool")."""

    name: str
    dtype: str


@dataclass(frozen=True)
class Model:
    """A trained model with its schema, metrics and provenance."""

    name: str
    training_job: str
    model_type: str
    category: str
    target_column: str
    feature_columns: tuple[FeatureColumn, ...]
    classes: tuple[str, ...]
    hyperparameters: Mapping[str, HyperparameterValue]
    metrics: Mapping[str, float]
    device: str
    dataset: str
    dataset_sha256: str
    library_versions: Mapping[str, str]
    size_bytes: int
    create_time: datetime | None


@dataclass(frozen=True)
class Prediction:
    """One prediction: number for regression, label plus probabilities for classification."""

    number: float | None = None
    label: str | None = None
    probabilities: Mapping[str, float] = field(default_factory=dict)

    @property
    def value(self) -> float | str | None:
        """The predicted number or label."""
        return self.label if self.label is not None else self.number
