"""Datasets as resources: upload (streamed to disk, inspected, stored atomically), get, list, delete.

A CSV is inspected while it arrives: a thread parses the bytes already on disk as the next chunks
come in, so an upload takes about as long as the slower of receiving and parsing, not their sum.
Its result (or error) is only looked at after the last chunk has been checked, so the size cap,
the chunk rules and the sha256 keep answering first, as they did when inspection came after.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from mlsuite_common.errors import Cancelled, FailedPrecondition, InvalidArgument, NotFound
from trainer_service.datasets import (
    DatasetFormat,
    DatasetStats,
    DatasetWriter,
    inspect_csv,
    inspect_dataset,
    validate_sha256,
)
from trainer_service.names import DATASETS, new_id, parse_name
from trainer_service.orphans import set_aside_orphans
from trainer_service.paths import DataPaths
from trainer_service.records import ColumnRecord, DatasetRecord
from trainer_service.store import DatasetInUse, Page, Store

__all__ = ["DatasetCatalog", "UploadMetadata"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadMetadata:
    """The first message of an upload."""

    display_name: str
    format: DatasetFormat | None
    sha256: str
    request_id: str


class _CsvInspection:
    """inspect_csv over an upload in progress, on a thread of its own."""

    def __init__(self, writer: DatasetWriter) -> None:
        self._writer = writer
        self._stats: DatasetStats | None = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="csv-inspection", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._stats = inspect_csv(self._writer.follow())
        except BaseException as exc:  # noqa: BLE001 - handed to the upload's thread by result()
            self._error = exc

    def result(self) -> DatasetStats:
        """The stats once the finished upload is parsed to its end; raises what the inspection raised."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        assert self._stats is not None
        return self._stats

    def stop(self) -> None:
        """Abandon the upload (a no-op once it is finished) and wait for the thread to notice."""
        self._writer.abort()
        self._thread.join()


class DatasetCatalog:
    """Stores uploaded datasets under the data dir and their metadata in the store."""

    def __init__(self, store: Store, paths: DataPaths, max_upload_bytes: int) -> None:
        self._store = store
        self._paths = paths
        self._max_upload_bytes = max_upload_bytes

    def upload(
        self, metadata: UploadMetadata, chunks: Iterable[bytes], abandoned: Callable[[], bool] = lambda: False
    ) -> DatasetRecord:
        """Receive the chunks, verify and inspect the file, then publish it; nothing partial is ever kept.

        `abandoned` is asked once more just before the dataset is published: a client that cancelled
        mid-upload can look like one that finished (the stream just ends), and its truncated file
        must not become a dataset.
        """
        if len(metadata.display_name) > 256:
            raise InvalidArgument("display_name is longer than 256 characters", field="metadata.display_name",
                                  reason="INVALID_DISPLAY_NAME")
        if any(unicodedata.category(c) == "Cc" for c in metadata.display_name):
            # NUL, escape sequences, newlines: they would end up on every terminal that lists datasets.
            raise InvalidArgument("display_name must not contain control characters",
                                  field="metadata.display_name", reason="INVALID_DISPLAY_NAME")
        if metadata.format is None:
            raise InvalidArgument("format is required (CSV or PARQUET)", field="metadata.format",
                                  reason="MISSING_FORMAT")
        if len(metadata.request_id) > 128:
            raise InvalidArgument("request_id is longer than 128 characters", field="metadata.request_id",
                                  reason="INVALID_REQUEST_ID")
        expected_sha = validate_sha256(metadata.sha256)
        existing = self._store.find_dataset_by_request_id(metadata.request_id)
        if existing is not None:
            # A retry returns the first dataset without reading the bytes again; what the retry says about
            # them (format, checksum) must match, or the id was reused for another upload.
            if existing.format != metadata.format.value or expected_sha not in ("", existing.sha256):
                raise InvalidArgument(
                    "request_id was already used for another upload (its format or sha256 differ)",
                    field="metadata.request_id", reason="REQUEST_ID_REUSED",
                )
            return existing
        dataset_id = new_id()
        staging = self._paths.tmp / f"dataset-{dataset_id}"
        staging.mkdir(parents=True)
        try:
            with DatasetWriter(staging, self._max_upload_bytes) as writer:
                inspection = _CsvInspection(writer) if metadata.format is DatasetFormat.CSV else None
                try:
                    for chunk in chunks:
                        writer.write(chunk)
                    data_file = staging / f"data.{metadata.format.value.lower()}"
                    writer.finish(data_file, expected_sha or None)
                    stats = inspection.result() if inspection else inspect_dataset(data_file, metadata.format)
                finally:
                    if inspection is not None:
                        inspection.stop()
            record = DatasetRecord(
                id=dataset_id, display_name=metadata.display_name or "untitled", format=metadata.format.value,
                row_count=stats.row_count,
                columns=tuple(ColumnRecord(c.name, c.dtype, c.null_count) for c in stats.columns),
                size_bytes=writer.size_bytes, sha256=writer.sha256, request_id=metadata.request_id,
                create_time=datetime.now(UTC),
            )
            if abandoned():
                raise Cancelled("the client cancelled the upload", reason="UPLOAD_ABANDONED")
            final = self._paths.datasets / dataset_id
            os.replace(staging, final)
            stored = self._store.insert_dataset(record)
            if stored.id != dataset_id:  # a concurrent upload with the same request_id won
                shutil.rmtree(final, ignore_errors=True)
            else:
                logger.info("dataset %s stored: %d rows, %d bytes", dataset_id, record.row_count, record.size_bytes)
            return stored
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    @property
    def folder(self) -> Path:
        """Where the datasets' directories live."""
        return self._paths.datasets

    def set_aside_orphans(self) -> list[str]:
        """At startup: move dataset directories without a stored dataset to orphaned/ (see orphans)."""
        return set_aside_orphans(self._paths.datasets, self._store.dataset_ids(), "dataset", self._paths.orphaned)

    def get(self, name: str) -> DatasetRecord:
        """The dataset named datasets/{id}; NOT_FOUND if unknown."""
        record = self._store.get_dataset(parse_name(name, DATASETS, "name"))
        if record is None:
            raise NotFound(f"dataset {name!r} does not exist", reason="DATASET_NOT_FOUND")
        return record

    def list(self, page_size: int, page_token: str) -> Page:
        """A page of datasets, newest first."""
        return self._store.list_datasets(page_size, page_token)

    def delete(self, name: str) -> None:
        """Delete the dataset and its bytes; FAILED_PRECONDITION while a queued or running job uses it."""
        record = self.get(name)
        try:
            deleted = self._store.delete_dataset(record.id)
        except DatasetInUse as using:
            raise FailedPrecondition(
                f"dataset {name!r} is used by active training job trainingJobs/{using.job_id}",
                reason="DATASET_IN_USE",
            ) from None
        if not deleted:
            raise NotFound(f"dataset {name!r} does not exist", reason="DATASET_NOT_FOUND")
        shutil.rmtree(self._paths.datasets / record.id, ignore_errors=True)
