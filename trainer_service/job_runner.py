"""Runs one training job from a worker thread: train in a job process, save, publish the result."""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from trainer_service import registry
from trainer_service.devices import GpuSettings
from trainer_service.events import EpochProgress, JobCancelled, JobState, Phase
from trainer_service.job_process import TrainingProcesses
from trainer_service.job_specs import ResolvedSpec
from trainer_service.job_worker import WorkerTask
from trainer_service.names import new_id
from trainer_service.paths import DataPaths
from trainer_service.pipeline import TrainingRequest
from trainer_service.records import FeatureRecord, JobEvent, ModelRecord

if TYPE_CHECKING:
    from trainer_service.jobs import JobManager, LiveJob

__all__ = ["JobRunner", "dataset_file"]


def dataset_file(paths: DataPaths, dataset_id: str, fmt: str) -> os.PathLike[str]:
    """Where a dataset's bytes live."""
    return paths.datasets / dataset_id / f"data.{fmt.lower()}"


class _Reporter:
    """Turns a training run's callbacks into published job events."""

    def __init__(self, manager: JobManager, live: LiveJob) -> None:
        self._manager = manager
        self._live = live

    def on_phase(self, phase: Phase) -> None:
        """Publish a phase change."""
        self.check_cancelled()
        self._manager.record_phase(self._live, phase)

    def on_epoch(self, progress: EpochProgress) -> None:
        """Publish an epoch's progress."""
        live = self._live
        with live.changed:
            job = replace(live.record, latest_epoch=progress)
            event = JobEvent(sequence=0, time=datetime.now(UTC), state=job.state, kind="epoch_progress",
                             epoch=progress)
            self._manager.publish(live, job, event)

    def check_cancelled(self) -> None:
        """Raise JobCancelled once a cancel (or shutdown) was requested."""
        if self._live.cancel_requested.is_set():
            raise JobCancelled()


class JobRunner:
    """Everything a job needs besides its bookkeeping: data files, the training processes, the model store."""

    def __init__(
        self, paths: DataPaths, gpu: GpuSettings, *, torch_threads: int = 1, log_level: str = "INFO",
        log_format: str = "text",
    ) -> None:
        self.paths = paths
        self.gpu = gpu
        self.processes = TrainingProcesses()
        self._torch_threads = torch_threads
        self._log = (log_level, log_format)

    def run(self, live: LiveJob, resolved: ResolvedSpec, manager: JobManager) -> None:
        """Train the job's model and publish SUCCEEDED with it; raises on failure or cancel."""
        reporter = _Reporter(manager, live)
        spec = live.record.spec
        dataset = resolved.dataset
        request = TrainingRequest(
            target_column=spec.target_column, feature_columns=resolved.feature_columns,
            model_type=spec.model_type, hyperparameters=resolved.hyperparameters,
            validation_fraction=resolved.validation_fraction, seed=spec.seed, device=resolved.device,
        )
        staging = self.paths.tmp / f"model-{new_id()}"
        staging.mkdir(parents=True)
        task = WorkerTask(
            job_id=live.record.id, dataset_path=str(dataset_file(self.paths, dataset.id, dataset.format)),
            dataset_format=dataset.format, columns=(*resolved.feature_columns, spec.target_column),
            request=request, artifact_dir=str(staging), torch_threads=self._torch_threads,
            log_level=self._log[0], log_format=self._log[1],
        )
        try:
            outcome = self.processes.run(task, reporter, live.cancel_requested)
            reporter.check_cancelled()
            model_id = new_id()
            final = self.paths.models / model_id
            os.replace(staging, final)
            now = datetime.now(UTC)
            dtypes = {c.name: c.dtype for c in dataset.columns}
            model = ModelRecord(
                id=model_id, training_job_id=live.record.id, model_type=spec.model_type,
                category=registry.get_model_category(spec.model_type).value, target_column=spec.target_column,
                # The dataset's dtypes, not pandas' (an int column with nulls loads as float).
                feature_columns=tuple(
                    FeatureRecord(f.name, dtypes.get(f.name, f.dtype)) for f in outcome.feature_schema
                ),
                classes=outcome.classes, hyperparameters=resolved.hyperparameters, metrics=outcome.metrics,
                device=outcome.device, dataset_id=dataset.id, dataset_sha256=dataset.sha256,
                library_versions=outcome.library_versions,
                size_bytes=sum(p.stat().st_size for p in final.rglob("*") if p.is_file()), create_time=now,
            )
            with live.changed:
                if live.cancel_requested.is_set():
                    shutil.rmtree(final, ignore_errors=True)
                    raise JobCancelled()
                job = replace(
                    live.record, state=JobState.SUCCEEDED, end_time=now, phase=None, metrics=outcome.metrics,
                    model_id=model_id, device=outcome.device, dropped_target_rows=outcome.dropped_target_rows,
                    train_rows=outcome.train_rows, validation_rows=outcome.validation_rows,
                )
                event = JobEvent(sequence=0, time=now, state=JobState.SUCCEEDED, kind="result",
                                 metrics=outcome.metrics, model_id=model_id)
                try:
                    manager.publish(live, job, event, model=model)
                except BaseException:
                    shutil.rmtree(final, ignore_errors=True)
                    raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
