"""The TrainerService domain core: the store and the three catalogs wired over one data directory."""

from __future__ import annotations

from dataclasses import dataclass

from trainer_service.config import Config
from trainer_service.dataset_catalog import DatasetCatalog
from trainer_service.devices import configure_cpu_threads
from trainer_service.job_runner import JobRunner
from trainer_service.jobs import JobManager
from trainer_service.model_catalog import ModelCatalog
from trainer_service.paths import DataPaths
from trainer_service.store import Store

__all__ = ["TrainerCore"]


@dataclass
class TrainerCore:
    """Datasets, jobs and models over one store."""

    store: Store
    datasets: DatasetCatalog
    jobs: JobManager
    models: ModelCatalog

    @classmethod
    def open(cls, config: Config) -> TrainerCore:
        """Open (or create) the data directory; jobs left active by a dead process become FAILED."""
        configure_cpu_threads(config.torch_threads)
        paths = DataPaths(config.data_dir)
        paths.create()
        store = Store(paths.database)
        jobs = JobManager(
            store,
            JobRunner(paths, config.gpu, torch_threads=config.torch_threads, log_level=config.log_level,
                      log_format=config.observability.log_format),
            max_concurrent_jobs=config.max_concurrent_jobs,
            max_queued_jobs=config.max_queued_jobs, heartbeat_seconds=config.heartbeat_seconds,
        )
        return cls(store, DatasetCatalog(store, paths, config.max_upload_bytes), jobs, ModelCatalog(store, paths))

    def close(self, timeout: float) -> None:
        """Interrupt running jobs, wait up to `timeout` for them, close the store."""
        self.jobs.shutdown(timeout)
        self.store.close()
