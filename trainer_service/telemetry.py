"""TrainerService metrics: jobs by state (read from the store at scrape time) and epoch durations."""

from __future__ import annotations

import threading
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from trainer_service.core import TrainerCore
from trainer_service.events import JobState
from trainer_service.records import JobEvent, JobRecord

__all__ = ["register_trainer_metrics"]

_EPOCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class _JobsByState(Collector):
    """mlsuite_training_jobs{state}: current number of jobs in each state."""

    def __init__(self, core: TrainerCore) -> None:
        self._core = core

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """One gauge sample per state, zeros included."""
        counts = self._core.store.count_jobs_by_state()
        family = GaugeMetricFamily("mlsuite_training_jobs", "Training jobs by state", labels=["state"])
        for state in JobState:
            family.add_metric([state.value], counts.get(state, 0))
        yield family


class _EpochTimer:
    """Observes each epoch's wall time from consecutive EpochProgress.elapsed values of a job."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._histogram = Histogram(
            "mlsuite_training_epoch_duration_seconds", "Wall time of one training epoch", ["model_type", "device"],
            buckets=_EPOCH_BUCKETS, registry=registry,
        )
        self._elapsed: dict[str, float] = {}
        self._lock = threading.Lock()

    def __call__(self, job: JobRecord, event: JobEvent) -> None:
        """Job observer."""
        if event.epoch is not None:
            with self._lock:
                previous = self._elapsed.get(job.id, 0.0)
                self._elapsed[job.id] = event.epoch.elapsed_seconds
            self._histogram.labels(job.spec.model_type, job.device or "cpu").observe(
                max(event.epoch.elapsed_seconds - previous, 0.0))
        elif job.state.is_terminal:
            with self._lock:
                self._elapsed.pop(job.id, None)


def register_trainer_metrics(registry: CollectorRegistry, core: TrainerCore) -> None:
    """Add the trainer's domain metrics to `registry`."""
    registry.register(_JobsByState(core))
    core.jobs.add_observer(_EpochTimer(registry))
