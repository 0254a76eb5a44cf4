"""All TrainerService metadata behind one small interface: SQLite now, SQL that PostgreSQL also runs.

Times are stored as integer microseconds since the epoch (UTC); structured fields as JSON text.
Lists are keyset-paginated on (create_time, id), newest first, with an opaque page token.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from mlsuite_common.errors import FailedPrecondition
from trainer_service import store_codec as codec
from trainer_service.events import JobState
from trainer_service.records import DatasetRecord, JobEvent, JobRecord, ModelRecord
from trainer_service.store_schema import ACTIVE_STATES, SCHEMA, DatasetInUse, DatasetMissing, Page

__all__ = ["Store", "Page", "ACTIVE_STATES", "DatasetInUse", "DatasetMissing"]

logger = logging.getLogger(__name__)


class Store:
    """Thread-safe metadata store over one SQLite file (WAL); every write is one transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        # True when this open made the tables: a new, emptied or replaced file (see server.serve).
        self.created = self._db.execute("SELECT 1 FROM sqlite_master WHERE name = 'models'").fetchone() is None
        self._db.executescript(SCHEMA)
        self._settle_damaged_active_jobs()

    def _settle_damaged_active_jobs(self) -> None:
        """Mark FAILED, in the state column only, each active job whose row cannot be read.

        The store opens once per server start, when no job of an earlier process can still be running. A
        readable active job is failed as interrupted by JobManager; one whose body is damaged cannot be, yet
        left active it would hold its dataset (DATASET_IN_USE) and count as running forever. Its body is
        kept as it is, and reading it stays STORED_RECORD_UNREADABLE.
        """
        marks = ", ".join("?" for _ in ACTIVE_STATES)
        rows = self._query(f"SELECT id, body_json, last_sequence FROM training_jobs WHERE state IN ({marks})",
                           [s.value for s in ACTIVE_STATES])
        for job_id, body, last_sequence in rows:
            try:
                codec.read_job(job_id, body, last_sequence)
            except FailedPrecondition as error:
                logger.warning("%s; marking it FAILED", error.message)
                with self._tx() as db:
                    db.execute("UPDATE training_jobs SET state = ? WHERE id = ?", (JobState.FAILED.value, job_id))

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _page(
        self, kind: str, sql: str, where: list[str], params: list[Any], page_size: int, token: str
    ) -> tuple[list[tuple[Any, ...]], str]:
        size = codec.page_size(page_size)
        after = codec.decode_token(token, kind)
        if after is not None:
            where.append("(create_time < ? OR (create_time = ? AND id < ?))")
            params += [after[0], after[0], after[1]]
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._query(f"{sql}{clause} ORDER BY create_time DESC, id DESC LIMIT ?", [*params, size + 1])
        more = len(rows) > size
        rows = rows[:size]
        next_token = codec.encode_token(kind, rows[-1][0], rows[-1][1]) if more else ""
        return rows, next_token

    # Datasets

    def insert_dataset(self, record: DatasetRecord) -> DatasetRecord:
        """Store a dataset; with a request_id already used, return the stored one instead."""
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO datasets (id, display_name, format, row_count, columns_json, size_bytes, sha256,"
                    " request_id, create_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (record.id, record.display_name, record.format, record.row_count,
                     codec.dumps([asdict(c) for c in record.columns]), record.size_bytes, record.sha256,
                     record.request_id or None, codec.micros(record.create_time)),
                )
        except sqlite3.IntegrityError:
            existing = self.find_dataset_by_request_id(record.request_id)
            if existing is None:
                raise
            return existing
        return record

    _DATASET_COLUMNS = "create_time, id, display_name, format, row_count, columns_json, size_bytes, sha256, request_id"

    def get_dataset(self, dataset_id: str) -> DatasetRecord | None:
        """The dataset, or None."""
        rows = self._query(f"SELECT {self._DATASET_COLUMNS} FROM datasets WHERE id = ?", (dataset_id,))
        return codec.read_dataset(rows[0]) if rows else None

    def find_dataset_by_request_id(self, request_id: str) -> DatasetRecord | None:
        """The dataset uploaded with this request_id, or None."""
        if not request_id:
            return None
        rows = self._query(f"SELECT {self._DATASET_COLUMNS} FROM datasets WHERE request_id = ?", (request_id,))
        return codec.read_dataset(rows[0]) if rows else None

    def list_datasets(self, page_size: int, page_token: str) -> Page:
        """A page of datasets, newest first."""
        rows, token = self._page(
            "datasets", f"SELECT {self._DATASET_COLUMNS} FROM datasets", [], [], page_size, page_token
        )
        # A damaged row is left out (and logged): a page has no slot for a per-item error, and failing it
        # would hide every other dataset, on this page and, since its token cannot be had, every later one.
        return Page(codec.readable(lambda *row: codec.read_dataset(row), rows), token)

    def dataset_ids(self) -> set[str]:
        """The id of every stored dataset."""
        return {dataset_id for (dataset_id,) in self._query("SELECT id FROM datasets")}

    def delete_dataset(self, dataset_id: str) -> bool:
        """Delete a dataset row; False if it did not exist, DatasetInUse if an active job trains on it.

        The check and the delete are one transaction, and insert_job(require_dataset=True) checks the
        dataset in one too, so a job created while its dataset is deleted either blocks the delete or
        is refused: never both succeed.
        """
        marks = ", ".join("?" for _ in ACTIVE_STATES)
        with self._tx() as db:
            using = db.execute(
                f"SELECT id FROM training_jobs WHERE dataset_id = ? AND state IN ({marks}) LIMIT 1",
                (dataset_id, *(s.value for s in ACTIVE_STATES)),
            ).fetchone()
            if using is not None:
                raise DatasetInUse(using[0])
            return db.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,)).rowcount > 0

    # Training jobs

    @staticmethod
    def _job_body(job: JobRecord) -> str:
        body = asdict(job)
        body.pop("last_sequence")
        return codec.dumps(body)

    def insert_job(self, job: JobRecord, *, require_dataset: bool = False) -> JobRecord:
        """Store a new job; with a request_id already used, return the stored job instead.

        With require_dataset, DatasetMissing unless the job's dataset exists, checked in the same transaction.
        """
        try:
            with self._tx() as db:
                if require_dataset and db.execute(
                    "SELECT 1 FROM datasets WHERE id = ?", (job.spec.dataset_id,)
                ).fetchone() is None:
                    raise DatasetMissing(job.spec.dataset_id)
                db.execute(
                    "INSERT INTO training_jobs (id, request_id, dataset_id, state, create_time, body_json,"
                    " last_sequence) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (job.id, job.request_id or None, job.spec.dataset_id, job.state.value,
                     codec.micros(job.create_time), self._job_body(job), job.last_sequence),
                )
        except sqlite3.IntegrityError:
            existing = self.find_job_by_request_id(job.request_id)
            if existing is None:
                raise
            return existing
        return job

    def _jobs(self, where: str, params: Sequence[Any], *, skip_damaged: bool = False) -> list[JobRecord]:
        rows = self._query(f"SELECT id, body_json, last_sequence FROM training_jobs WHERE {where}", params)
        return codec.readable(codec.read_job, rows) if skip_damaged else [codec.read_job(*row) for row in rows]

    def get_job(self, job_id: str) -> JobRecord | None:
        """The job, or None."""
        jobs = self._jobs("id = ?", (job_id,))
        return jobs[0] if jobs else None

    def find_job_by_request_id(self, request_id: str) -> JobRecord | None:
        """The job created with this request_id, or None."""
        if not request_id:
            return None
        jobs = self._jobs("request_id = ?", (request_id,))
        return jobs[0] if jobs else None

    def list_jobs(self, state: JobState | None, page_size: int, page_token: str) -> Page:
        """A page of jobs, newest first, optionally only in one state."""
        where, params = ([], []) if state is None else (["state = ?"], [state.value])
        kind = f"jobs:{state.value if state else ''}"
        rows, token = self._page(
            kind, "SELECT create_time, id, body_json, last_sequence FROM training_jobs", where, params,
            page_size, page_token,
        )
        return Page(codec.readable(codec.read_job, (row[1:] for row in rows)), token)  # see list_datasets

    def jobs_in_states(self, states: Sequence[JobState]) -> list[JobRecord]:
        """Every readable job in one of these states (a damaged row is logged and left out)."""
        marks = ", ".join("?" for _ in states)
        return self._jobs(f"state IN ({marks})", [s.value for s in states], skip_damaged=True)

    def count_jobs_by_state(self) -> dict[JobState, int]:
        """How many jobs are in each state (states without jobs are absent)."""
        rows = self._query("SELECT state, COUNT(*) FROM training_jobs GROUP BY state")
        return {JobState(state): count for state, count in rows}

    def active_jobs_using(self, dataset_id: str) -> list[JobRecord]:
        """Queued or running jobs that train on this dataset."""
        marks = ", ".join("?" for _ in ACTIVE_STATES)
        return self._jobs(f"dataset_id = ? AND state IN ({marks})", [dataset_id, *(s.value for s in ACTIVE_STATES)],
                          skip_damaged=True)

    def record_event(self, job: JobRecord, event: JobEvent | None, model: ModelRecord | None = None) -> JobRecord:
        """Atomically save the job's new state, append its event (sequence = last + 1) and a model."""
        with self._tx() as db:
            (last,) = db.execute("SELECT last_sequence FROM training_jobs WHERE id = ?", (job.id,)).fetchone()
            if event is not None:
                event = replace(event, sequence=last + 1)
                db.execute(
                    "INSERT INTO job_events (job_id, sequence, body_json) VALUES (?, ?, ?)",
                    (job.id, event.sequence, codec.dumps(asdict(event))),
                )
                last = event.sequence
            job = replace(job, last_sequence=last)
            db.execute(
                "UPDATE training_jobs SET state = ?, body_json = ?, last_sequence = ? WHERE id = ?",
                (job.state.value, self._job_body(job), last, job.id),
            )
            if model is not None:
                db.execute(
                    "INSERT INTO models (id, training_job_id, create_time, body_json) VALUES (?, ?, ?, ?)",
                    (model.id, model.training_job_id, codec.micros(model.create_time), codec.dumps(asdict(model))),
                )
        return job

    def list_events(self, job_id: str, after_sequence: int) -> list[JobEvent]:
        """Stored events of a job with sequence > after_sequence, in order."""
        rows = self._query(
            "SELECT sequence, body_json FROM job_events WHERE job_id = ? AND sequence > ? ORDER BY sequence",
            (job_id, after_sequence),
        )
        # A damaged event fails the call: a watcher must not silently miss one.
        return [codec.read_event(job_id, sequence, body) for sequence, body in rows]

    # Models

    def get_model(self, model_id: str) -> ModelRecord | None:
        """The model, or None."""
        rows = self._query("SELECT body_json FROM models WHERE id = ?", (model_id,))
        return codec.read_model(model_id, rows[0][0]) if rows else None

    def list_models(self, page_size: int, page_token: str) -> Page:
        """A page of models, newest first."""
        rows, token = self._page(
            "models", "SELECT create_time, id, body_json FROM models", [], [], page_size, page_token
        )
        return Page(codec.readable(codec.read_model, (row[1:] for row in rows)), token)  # see list_datasets

    def model_ids(self) -> set[str]:
        """The id of every stored model."""
        return {model_id for (model_id,) in self._query("SELECT id FROM models")}

    def delete_model(self, model_id: str) -> bool:
        """Delete a model row; False if it did not exist."""
        with self._tx() as db:
            return db.execute("DELETE FROM models WHERE id = ?", (model_id,)).rowcount > 0
