"""Fixtures of the trainer's machine-learning core tests: a recording reporter and tiny frames."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from trainer_service.events import EpochProgress, JobCancelled, Phase


class RecordingReporter:
    """A ProgressReporter that records phases and epochs and can cancel after N check_cancelled calls."""

    def __init__(self, cancel_after: int | None = None) -> None:
        self.phases: list[Phase] = []
        self.epochs: list[EpochProgress] = []
        self.checks = 0
        self.cancel_after = cancel_after

    def on_phase(self, phase: Phase) -> None:
        """Record the phase."""
        self.phases.append(phase)

    def on_epoch(self, progress: EpochProgress) -> None:
        """Record the epoch."""
        self.epochs.append(progress)

    def check_cancelled(self) -> None:
        """Count the call; raise JobCancelled once cancel_after calls have been made."""
        self.checks += 1
        if self.cancel_after is not None and self.checks > self.cancel_after:
            raise JobCancelled()


@pytest.fixture
def reporter() -> RecordingReporter:
    """A reporter that never cancels."""
    return RecordingReporter()


@pytest.fixture
def make_reporter() -> Callable[..., RecordingReporter]:
    """Factory for reporters that cancel after N checks."""
    return RecordingReporter


@pytest.fixture
def tabular_frame() -> pd.DataFrame:
    """90 rows: numeric, integer, string (with missing), bool features, an extra column and two targets.

    `y` (regression) is linear in the features; `label` (classification, int64) is a clean threshold.
    Three rows have no `y`.
    """
    rng = np.random.default_rng(7)
    rows = 90
    x = rng.normal(size=rows)
    k = rng.integers(0, 4, rows)
    colour = rng.choice(["red", "green", "blue"], rows)
    flag = rng.random(rows) > 0.5
    y = 3.0 * x + 1.5 * k + np.where(colour == "red", 2.0, 0.0) + 1.0 * flag + rng.normal(0, 0.1, rows)
    frame = pd.DataFrame(
        {
            "x": x,
            "k": k.astype("int64"),
            "colour": pd.Series(colour, dtype=object),
            "flag": flag,
            "unused": rng.normal(size=rows),
            "y": y,
            "label": (3.0 * x + np.where(colour == "red", 1.0, 0.0) > 0.5).astype("int64"),
        }
    )
    frame.loc[[4, 11], "x"] = np.nan
    frame.loc[[2, 30, 31], "colour"] = None
    frame.loc[[5, 17, 60], "y"] = np.nan
    return frame
