"""All TrainerService metadata behind one small interface: SQLite now, SQL that PostgreSQL also runs.

Times are stored as integer microseconds since the epoch (UTC); structured fields as JSON text.
Lists are keyset-paginated on (create_time, id), newest first, with an opaque page token.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlsuite_common.errors import InvalidArgument
from trainer_service.events import EpochProgress, JobState, Phase
from trainer_service.records import (
    ColumnRecord,
    DatasetRecord,
    FeatureRecord,
    JobEvent,
    JobRecord,
    JobSpec,
    ModelRecord,
)

__all__ = ["Store", "Page", "ACTIVE_STATES"]

ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.CANCELLING)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    format TEXT NOT NULL,
    row_count BIGINT NOT NULL,
    columns_json TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    sha256 TEXT NOT NULL,
    request_id TEXT UNIQUE,
    create_time BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS training_jobs (
    id TEXT PRIMARY KEY,
    request_id TEXT UNIQUE,
    dataset_id TEXT NOT NULL,
    state TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    body_json TEXT NOT NULL,
    last_sequence BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS training_jobs_state ON training_jobs (state, create_time);
CREATE TABLE IF NOT EXISTS job_events (
    job_id TEXT NOT NULL,
    sequence BIGINT NOT NULL,
    body_json TEXT NOT NULL,
    PRIMARY KEY (job_id, sequence)
);
CREATE TABLE IF NOT EXISTS models (
    id TEXT PRIMARY KEY,
    training_job_id TEXT NOT NULL,
    create_time BIGINT NOT NULL,
    body_json TEXT NOT NULL
);
"""


def _micros(value: datetime) -> int:
    return int(value.timestamp() * 1_000_000)


def _from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, tz=UTC)


def _encode(value: Any) -> Any:
    """JSON-ready form of records: enums by value, datetimes as micros, tuples as lists."""
    if isinstance(value, datetime):
        return _micros(value)
    if isinstance(value, (JobState, Phase)):
        return value.value
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def _dumps(value: Any) -> str:
    return json.dumps(_encode(value), separators=(",", ":"), sort_keys=True)


def _hyper(values: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def _epoch(value: dict[str, Any] | None) -> EpochProgress | None:
    return EpochProgress(**value) if value else None


def _time(value: int | None) -> datetime | None:
    return None if value is None else _from_micros(value)


def _job_from(body: dict[str, Any], last_sequence: int) -> JobRecord:
    spec = body["spec"]
    return JobRecord(
        **{
            **body,
            "spec": JobSpec(**{**spec, "feature_columns": tuple(spec["feature_columns"]),
                               "hyperparameters": _hyper(spec["hyperparameters"])}),
            "state": JobState(body["state"]),
            "create_time": _from_micros(body["create_time"]),
            "start_time": _time(body["start_time"]),
            "end_time": _time(body["end_time"]),
            "phase": Phase(body["phase"]) if body["phase"] else None,
            "latest_epoch": _epoch(body["latest_epoch"]),
            "resolved_hyperparameters": _hyper(body["resolved_hyperparameters"]),
            "last_sequence": last_sequence,
        }
    )


def _event_from(body: dict[str, Any]) -> JobEvent:
    return JobEvent(
        **{
            **body,
            "time": _from_micros(body["time"]),
            "state": JobState(body["state"]),
            "phase": Phase(body["phase"]) if body["phase"] else None,
            "epoch": _epoch(body["epoch"]),
        }
    )


def _model_from(body: dict[str, Any]) -> ModelRecord:
    return ModelRecord(
        **{
            **body,
            "feature_columns": tuple(FeatureRecord(**f) for f in body["feature_columns"]),
            "classes": tuple(body["classes"]),
            "hyperparameters": _hyper(body["hyperparameters"]),
            "create_time": _from_micros(body["create_time"]),
        }
    )


@dataclass(frozen=True)
class Page:
    """One page of a list call."""

    items: list[Any]
    next_page_token: str


def _page_size(page_size: int) -> int:
    if page_size < 0:
        raise InvalidArgument("page_size must not be negative", field="page_size", reason="INVALID_PAGE_SIZE")
    return 50 if page_size == 0 else min(page_size, 1000)


def _decode_token(token: str, kind: str) -> tuple[int, str] | None:
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
        if data["k"] != kind:
            raise ValueError(kind)
        return int(data["t"]), str(data["i"])
    except (ValueError, KeyError, TypeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InvalidArgument(
            "page_token is not a token returned by this list call", field="page_token", reason="INVALID_PAGE_TOKEN"
        ) from exc


def _encode_token(kind: str, create_micros: int, item_id: str) -> str:
    raw = json.dumps({"k": kind, "t": create_micros, "i": item_id}).encode()
    return base64.urlsafe_b64encode(raw).decode()


class Store:
    """Thread-safe metadata store over one SQLite file (WAL); every write is one transaction."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

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
        size = _page_size(page_size)
        after = _decode_token(token, kind)
        if after is not None:
            where.append("(create_time < ? OR (create_time = ? AND id < ?))")
            params += [after[0], after[0], after[1]]
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._query(f"{sql}{clause} ORDER BY create_time DESC, id DESC LIMIT ?", [*params, size + 1])
        more = len(rows) > size
        rows = rows[:size]
        next_token = _encode_token(kind, rows[-1][0], rows[-1][1]) if more else ""
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
                     _dumps([asdict(c) for c in record.columns]), record.size_bytes, record.sha256,
                     record.request_id or None, _micros(record.create_time)),
                )
        except sqlite3.IntegrityError:
            existing = self.find_dataset_by_request_id(record.request_id)
            if existing is None:
                raise
            return existing
        return record

    _DATASET_COLUMNS = "create_time, id, display_name, format, row_count, columns_json, size_bytes, sha256, request_id"

    @staticmethod
    def _dataset_from(row: tuple[Any, ...]) -> DatasetRecord:
        create, id_, display, fmt, rows, columns, size, sha, request_id = row
        return DatasetRecord(
            id=id_, display_name=display, format=fmt, row_count=rows,
            columns=tuple(ColumnRecord(**c) for c in json.loads(columns)), size_bytes=size, sha256=sha,
            request_id=request_id or "", create_time=_from_micros(create),
        )

    def get_dataset(self, dataset_id: str) -> DatasetRecord | None:
        """The dataset, or None."""
        rows = self._query(f"SELECT {self._DATASET_COLUMNS} FROM datasets WHERE id = ?", (dataset_id,))
        return self._dataset_from(rows[0]) if rows else None

    def find_dataset_by_request_id(self, request_id: str) -> DatasetRecord | None:
        """The dataset uploaded with this request_id, or None."""
        if not request_id:
            return None
        rows = self._query(f"SELECT {self._DATASET_COLUMNS} FROM datasets WHERE request_id = ?", (request_id,))
        return self._dataset_from(rows[0]) if rows else None

    def list_datasets(self, page_size: int, page_token: str) -> Page:
        """A page of datasets, newest first."""
        rows, token = self._page(
            "datasets", f"SELECT {self._DATASET_COLUMNS} FROM datasets", [], [], page_size, page_token
        )
        return Page([self._dataset_from(r) for r in rows], token)

    def delete_dataset(self, dataset_id: str) -> bool:
        """Delete a dataset row; False if it did not exist."""
        with self._tx() as db:
            return db.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,)).rowcount > 0

    # Training jobs

    @staticmethod
    def _job_body(job: JobRecord) -> str:
        body = asdict(job)
        body.pop("last_sequence")
        return _dumps(body)

    def insert_job(self, job: JobRecord) -> JobRecord:
        """Store a new job; with a request_id already used, return the stored job instead."""
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO training_jobs (id, request_id, dataset_id, state, create_time, body_json,"
                    " last_sequence) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (job.id, job.request_id or None, job.spec.dataset_id, job.state.value,
                     _micros(job.create_time), self._job_body(job), job.last_sequence),
                )
        except sqlite3.IntegrityError:
            existing = self.find_job_by_request_id(job.request_id)
            if existing is None:
                raise
            return existing
        return job

    def _jobs(self, where: str, params: Sequence[Any]) -> list[JobRecord]:
        rows = self._query(f"SELECT body_json, last_sequence FROM training_jobs WHERE {where}", params)
        return [_job_from(json.loads(body), seq) for body, seq in rows]

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
        return Page([_job_from(json.loads(body), seq) for _, _, body, seq in rows], token)

    def jobs_in_states(self, states: Sequence[JobState]) -> list[JobRecord]:
        """Every job in one of these states."""
        marks = ", ".join("?" for _ in states)
        return self._jobs(f"state IN ({marks})", [s.value for s in states])

    def active_jobs_using(self, dataset_id: str) -> list[JobRecord]:
        """Queued or running jobs that train on this dataset."""
        marks = ", ".join("?" for _ in ACTIVE_STATES)
        return self._jobs(f"dataset_id = ? AND state IN ({marks})", [dataset_id, *(s.value for s in ACTIVE_STATES)])

    def record_event(self, job: JobRecord, event: JobEvent | None, model: ModelRecord | None = None) -> JobRecord:
        """Atomically save the job's new state, append its event (sequence = last + 1) and a model."""
        with self._tx() as db:
            (last,) = db.execute("SELECT last_sequence FROM training_jobs WHERE id = ?", (job.id,)).fetchone()
            if event is not None:
                event = replace(event, sequence=last + 1)
                db.execute(
                    "INSERT INTO job_events (job_id, sequence, body_json) VALUES (?, ?, ?)",
                    (job.id, event.sequence, _dumps(asdict(event))),
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
                    (model.id, model.training_job_id, _micros(model.create_time), _dumps(asdict(model))),
                )
        return job

    def list_events(self, job_id: str, after_sequence: int) -> list[JobEvent]:
        """Stored events of a job with sequence > after_sequence, in order."""
        rows = self._query(
            "SELECT body_json FROM job_events WHERE job_id = ? AND sequence > ? ORDER BY sequence",
            (job_id, after_sequence),
        )
        return [_event_from(json.loads(body)) for (body,) in rows]

    # Models

    def get_model(self, model_id: str) -> ModelRecord | None:
        """The model, or None."""
        rows = self._query("SELECT body_json FROM models WHERE id = ?", (model_id,))
        return _model_from(json.loads(rows[0][0])) if rows else None

    def list_models(self, page_size: int, page_token: str) -> Page:
        """A page of models, newest first."""
        rows, token = self._page(
            "models", "SELECT create_time, id, body_json FROM models", [], [], page_size, page_token
        )
        return Page([_model_from(json.loads(body)) for _, _, body in rows], token)

    def delete_model(self, model_id: str) -> bool:
        """Delete a model row; False if it did not exist."""
        with self._tx() as db:
            return db.execute("DELETE FROM models WHERE id = ?", (model_id,)).rowcount > 0
