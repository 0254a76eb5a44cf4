"""Domain values of a training job's life: states, phases, epoch progress and the reporter protocol."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

__all__ = ["JobState", "Phase", "EpochProgress", "ProgressReporter", "JobCancelled", "TERMINAL_STATES"]


class JobState(enum.Enum):
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
        return self in TERMINAL_STATES


TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED})


class Phase(enum.Enum):
    """Coarse step of a training run, reported so one-shot fits also show progress."""

    LOADING_DATA = "LOADING_DATA"
    PREPROCESSING = "PREPROCESSING"
    FITTING = "FITTING"
    EVALUATING = "EVALUATING"
    SAVING = "SAVING"


@dataclass(frozen=True)
class EpochProgress:
    """One finished epoch of an iterative model (epochs count from 1 to total_epochs)."""

    epoch: int
    total_epochs: int
    train_loss: float
    validation_loss: float | None
    learning_rate: float
    samples_per_second: float
    elapsed_seconds: float
    eta_seconds: float


class JobCancelled(Exception):
    """Raised inside training when the job's cancel flag is set; the job ends CANCELLED."""


class ProgressReporter(Protocol):
    """What a training run reports into; implemented by the job manager."""

    def on_phase(self, phase: Phase) -> None:
        """A new phase starts."""

    def on_epoch(self, progress: EpochProgress) -> None:
        """An epoch finished (iterative models only)."""

    def check_cancelled(self) -> None:
        """Raise JobCancelled if the job was asked to stop; called at least once per batch / phase."""
