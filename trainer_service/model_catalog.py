"""Trained models as resources: get, list, delete, and predict through a small cache of loaded models.

The cache holds a model's record beside its loaded estimator, so a Predict on "models/{id}" that hits it
reads nothing from the store.
"""

from __future__ import annotations

import shutil
import threading
from collections import OrderedDict
from pathlib import Path

from mlsuite_common.errors import FailedPrecondition, InvalidArgument, NotFound
from trainer_service.events import JobState
from trainer_service.instances import ColumnRows, PredictRows
from trainer_service.names import MODELS, TRAINING_JOBS, parse_name
from trainer_service.orphans import set_aside_orphans
from trainer_service.paths import DataPaths
from trainer_service.predictor import LoadedModel, Prediction, load_model
from trainer_service.records import ModelRecord
from trainer_service.store import Page, Store

__all__ = ["ModelCatalog", "MAX_INSTANCES"]

MAX_INSTANCES = 10_000
_MODELS_PREFIX = f"{MODELS}/"


class ModelCatalog:
    """Looks models up in the store and keeps the most recently used ones loaded."""

    def __init__(self, store: Store, paths: DataPaths, cache_size: int = 8) -> None:
        self._store = store
        self._paths = paths
        self._cache_size = cache_size
        self._cache: OrderedDict[str, tuple[ModelRecord, LoadedModel]] = OrderedDict()
        self._deletions = 0
        self._lock = threading.Lock()

    def get(self, name: str, field: str = "name") -> ModelRecord:
        """The model named models/{id}; NOT_FOUND if unknown."""
        record = self._store.get_model(parse_name(name, MODELS, field))
        if record is None:
            raise NotFound(f"model {name!r} does not exist", reason="MODEL_NOT_FOUND")
        return record

    def list(self, page_size: int, page_token: str) -> Page:
        """A page of models, newest first."""
        return self._store.list_models(page_size, page_token)

    def delete(self, name: str) -> None:
        """Delete the model and its artifacts."""
        record = self.get(name)
        with self._lock:
            self._deletions += 1  # a Predict loading a model right now must not cache it (see _loaded)
            self._cache.pop(record.id, None)
        if not self._store.delete_model(record.id):
            raise NotFound(f"model {name!r} does not exist", reason="MODEL_NOT_FOUND")
        shutil.rmtree(self._paths.models / record.id, ignore_errors=True)

    @property
    def folder(self) -> Path:
        """Where the models' directories live."""
        return self._paths.models

    def set_aside_orphans(self) -> list[str]:
        """At startup: move model directories without a stored model to orphaned/ (see orphans)."""
        return set_aside_orphans(self._paths.models, self._store.model_ids(), "model", self._paths.orphaned)

    def resolve(self, name: str) -> ModelRecord:
        """The model of "models/{id}", or of "trainingJobs/{id}" once that job has succeeded."""
        if not name.startswith(f"{TRAINING_JOBS}/"):
            return self.get(name, field="model")
        job = self._store.get_job(parse_name(name, TRAINING_JOBS, "model"))
        if job is None:
            raise NotFound(f"training job {name!r} does not exist", reason="TRAINING_JOB_NOT_FOUND")
        if job.state is not JobState.SUCCEEDED:
            raise FailedPrecondition(
                f"training job {name!r} is {job.state.value}; its model exists once it has SUCCEEDED",
                reason="JOB_NOT_SUCCEEDED",
            )
        return self.get(f"{MODELS}/{job.model_id}", field="model")

    def _cached(self, model_id: str) -> tuple[ModelRecord, LoadedModel] | None:
        with self._lock:
            cached = self._cache.get(model_id)
            if cached is not None:
                self._cache.move_to_end(model_id)
            return cached

    def _loaded(self, name: str) -> tuple[ModelRecord, LoadedModel]:
        """The record and loaded model of a Predict target; a cached "models/{id}" skips the store."""
        if name.startswith(_MODELS_PREFIX):
            # Only well-formed ids are ever cached, so a malformed one misses here and resolve() names it.
            cached = self._cached(name[len(_MODELS_PREFIX):])
            if cached is not None:
                return cached
        with self._lock:
            deletions = self._deletions
        record = self.resolve(name)
        cached = self._cached(record.id)
        if cached is not None:
            return cached
        # Records never change once written and delete() evicts, so a cached entry stays right; a load
        # that overlapped a delete is used for this call only, since the model may be the deleted one.
        entry = (record, self._load(record))
        with self._lock:
            if self._deletions == deletions:
                self._cache[record.id] = entry
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return entry

    def _load(self, record: ModelRecord) -> LoadedModel:
        """The model's files loaded; NOT_FOUND when a DeleteModel removed them while they were read."""
        try:
            return load_model(self._paths.models / record.id)
        except FailedPrecondition:
            # delete() removes the row before the directory, so a load that lost its files to a
            # concurrent delete finds the row gone; a model whose row remains has damaged files.
            if self._store.get_model(record.id) is None:
                raise NotFound(f"model '{MODELS}/{record.id}' does not exist", reason="MODEL_NOT_FOUND") from None
            raise

    def predict(self, name: str, rows: PredictRows) -> tuple[ModelRecord, list[Prediction]]:
        """One prediction per row (instances, or columns), in order."""
        field = "columns" if isinstance(rows, ColumnRows) else "instances"
        if not len(rows):
            raise InvalidArgument(f"{field} must hold at least one row", field=field, reason="NO_INSTANCES")
        if len(rows) > MAX_INSTANCES:
            raise InvalidArgument(f"at most {MAX_INSTANCES} rows per call, got {len(rows)}",
                                  field=field, reason="TOO_MANY_INSTANCES")
        record, model = self._loaded(name)
        return record, model.predict(rows)
