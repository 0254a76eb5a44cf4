"""Stored records of the TrainerService: datasets, training jobs, their events, models."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from trainer_service.events import EpochProgress, JobState, Phase

__all__ = ["ColumnRecord", "DatasetRecord", "JobSpec", "JobRecord", "JobEvent", "FeatureRecord", "ModelRecord"]

HyperValue = int | float | str | bool | tuple[int, ...]


@dataclass(frozen=True)
class ColumnRecord:
    """A dataset column: name, inferred dtype ("int64" | "double" | "string" | "bool"), null count."""

    name: str
    dtype: str
    null_count: int


@dataclass(frozen=True)
class DatasetRecord:
    """An uploaded dataset; its bytes live at datasets/{id}/data.{csv|parquet} under the data dir."""

    id: str
    display_name: str
    format: str
    row_count: int
    columns: tuple[ColumnRecord, ...]
    size_bytes: int
    sha256: str
    request_id: str
    create_time: datetime


@dataclass(frozen=True)
class JobSpec:
    """What a training job trains: the domain twin of TrainingJobSpec, as given by the client."""

    dataset_id: str
    target_column: str
    feature_columns: tuple[str, ...]
    model_type: str
    hyperparameters: dict[str, HyperValue]
    validation_fraction: float
    seed: int
    device: str  # "auto" | "cpu" | "cuda" | "mps"


@dataclass(frozen=True)
class JobRecord:
    """A training job as stored."""

    id: str
    spec: JobSpec
    state: JobState
    request_id: str
    create_time: datetime
    start_time: datetime | None = None
    end_time: datetime | None = None
    phase: Phase | None = None
    latest_epoch: EpochProgress | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    model_id: str = ""
    error_reason: str = ""
    error_message: str = ""
    device: str = ""
    dropped_target_rows: int = 0
    train_rows: int = 0
    validation_rows: int = 0
    last_sequence: int = 0
    resolved_hyperparameters: dict[str, HyperValue] = field(default_factory=dict)


@dataclass(frozen=True)
class JobEvent:
    """One stored event of a job; `kind` says which payload fields are set."""

    sequence: int
    time: datetime
    state: JobState
    kind: str  # "phase_change" | "epoch_progress" | "state_change" | "result"
    phase: Phase | None = None
    epoch: EpochProgress | None = None
    message: str = ""
    error_reason: str = ""
    error_message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    model_id: str = ""


@dataclass(frozen=True)
class FeatureRecord:
    """A feature a model expects: name and dtype."""

    name: str
    dtype: str


@dataclass(frozen=True)
class ModelRecord:
    """A trained model; its artifacts live at models/{id}/ under the data dir."""

    id: str
    training_job_id: str
    model_type: str
    category: str  # "REGRESSION" | "CLASSIFICATION"
    target_column: str
    feature_columns: tuple[FeatureRecord, ...]
    classes: tuple[str, ...]
    hyperparameters: dict[str, HyperValue]
    metrics: dict[str, float]
    device: str
    dataset_id: str
    dataset_sha256: str
    library_versions: dict[str, str]
    size_bytes: int
    create_time: datetime
