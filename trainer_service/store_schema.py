"""The store's SQL schema and the small types its interface shares: Page and the refusals it raises."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from trainer_service.events import JobState

__all__ = ["SCHEMA", "Page", "ACTIVE_STATES", "DatasetInUse", "DatasetMissing", "StoreUnreadable"]

ACTIVE_STATES = (JobState.QUEUED, JobState.RUNNING, JobState.CANCELLING)


class DatasetInUse(Exception):
    """The dataset was not deleted: a queued or running job trains on it."""

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id)
        self.job_id = job_id


class DatasetMissing(Exception):
    """The job was not stored: its dataset does not exist (any more)."""

SCHEMA = """
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


@dataclass(frozen=True)
class Page:
    """One page of a list call."""

    items: list[Any]
    next_page_token: str


class StoreUnreadable(Exception):
    """The database file could not be opened or read at startup: damaged, not ours, or not accessible."""

    def __init__(self, file_name: str, detail: str, *, damaged: bool = True) -> None:
        problem = "is damaged, or not an MLSuite trainer database" if damaged else "cannot be opened or written"
        super().__init__(f"{file_name} in --data-dir {problem} ({detail})")
        self.file_name = file_name
        self.damaged = damaged
