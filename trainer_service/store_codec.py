"""How the store writes records: times as integer microseconds (UTC), structures as JSON, page tokens."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

from mlsuite_common.errors import FailedPrecondition, InvalidArgument
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

T = TypeVar("T")

__all__ = [
    "micros", "from_micros", "dumps", "job_from", "event_from", "model_from", "page_size", "decode_token",
    "encode_token", "read_dataset", "read_job", "read_event", "read_model", "readable",
]

logger = logging.getLogger(__name__)

UNREADABLE = "STORED_RECORD_UNREADABLE"
# What decoding a damaged row raises: bad JSON, a missing key, a wrong type, an unknown enum value.
_DAMAGED = (ValueError, KeyError, TypeError, AttributeError, OverflowError)


def micros(value: datetime) -> int:
    return int(value.timestamp() * 1_000_000)


def from_micros(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1_000_000, tz=UTC)


def _encode(value: Any) -> Any:
    """JSON-ready form of records: enums by value, datetimes as micros, tuples as lists."""
    if isinstance(value, datetime):
        return micros(value)
    if isinstance(value, (JobState, Phase)):
        return value.value
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode(v) for v in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(_encode(value), separators=(",", ":"), sort_keys=True)


def _hyper(values: dict[str, Any]) -> dict[str, Any]:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}


def _epoch(value: dict[str, Any] | None) -> EpochProgress | None:
    return EpochProgress(**value) if value else None


def _time(value: int | None) -> datetime | None:
    return None if value is None else from_micros(value)


def job_from(body: dict[str, Any], last_sequence: int) -> JobRecord:
    spec = body["spec"]
    return JobRecord(
        **{
            **body,
            "spec": JobSpec(**{**spec, "feature_columns": tuple(spec["feature_columns"]),
                               "hyperparameters": _hyper(spec["hyperparameters"])}),
            "state": JobState(body["state"]),
            "create_time": from_micros(body["create_time"]),
            "start_time": _time(body["start_time"]),
            "end_time": _time(body["end_time"]),
            "phase": Phase(body["phase"]) if body["phase"] else None,
            "latest_epoch": _epoch(body["latest_epoch"]),
            "resolved_hyperparameters": _hyper(body["resolved_hyperparameters"]),
            "last_sequence": last_sequence,
        }
    )


def event_from(body: dict[str, Any]) -> JobEvent:
    return JobEvent(
        **{
            **body,
            "time": from_micros(body["time"]),
            "state": JobState(body["state"]),
            "phase": Phase(body["phase"]) if body["phase"] else None,
            "epoch": _epoch(body["epoch"]),
        }
    )


def model_from(body: dict[str, Any]) -> ModelRecord:
    return ModelRecord(
        **{
            **body,
            "feature_columns": tuple(FeatureRecord(**f) for f in body["feature_columns"]),
            "classes": tuple(body["classes"]),
            "hyperparameters": _hyper(body["hyperparameters"]),
            "create_time": from_micros(body["create_time"]),
        }
    )


def page_size(page_size: int) -> int:
    if page_size < 0:
        raise InvalidArgument("page_size must not be negative", field="page_size", reason="INVALID_PAGE_SIZE")
    return 50 if page_size == 0 else min(page_size, 1000)


_INT64 = (-(2**63), 2**63 - 1)


def decode_token(token: str, kind: str) -> tuple[int, str] | None:
    """The (create_time, id) a page token resumes after; INVALID_PAGE_TOKEN unless this list call made it.

    The token is client-controlled: anything but exactly {"k": kind, "t": int64, "i": str} is refused
    here, before it reaches SQLite (which raises OverflowError binding an int beyond int64).
    """
    if not token:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, TypeError, UnicodeDecodeError):
        data = None
    valid = (
        isinstance(data, dict)
        and set(data) == {"k", "t", "i"}
        and data["k"] == kind
        and type(data["t"]) is int  # not bool, not a float (1e999 parses as inf)
        and _INT64[0] <= data["t"] <= _INT64[1]
        and isinstance(data["i"], str)
    )
    if not valid:
        raise InvalidArgument(
            "page_token is not a token returned by this list call", field="page_token", reason="INVALID_PAGE_TOKEN"
        )
    return data["t"], data["i"]


def encode_token(kind: str, create_micros: int, item_id: str) -> str:
    raw = json.dumps({"k": kind, "t": create_micros, "i": item_id}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _unreadable(what: str) -> FailedPrecondition:
    return FailedPrecondition(f"the stored {what} cannot be read: its database row is damaged", reason=UNREADABLE)


def read_dataset(row: tuple[Any, ...]) -> DatasetRecord:
    """A datasets row (create_time, id, display_name, ...) as a record; STORED_RECORD_UNREADABLE if damaged."""
    create, id_, display, fmt, rows, columns, size, sha, request_id = row
    try:
        return DatasetRecord(
            id=id_, display_name=display, format=fmt, row_count=rows,
            columns=tuple(ColumnRecord(**c) for c in json.loads(columns)), size_bytes=size, sha256=sha,
            request_id=request_id or "", create_time=from_micros(create),
        )
    except _DAMAGED as error:
        raise _unreadable(f"dataset 'datasets/{id_}'") from error


def read_job(job_id: str, body: str, last_sequence: int) -> JobRecord:
    """A training_jobs row as a record; STORED_RECORD_UNREADABLE if its body is damaged."""
    try:
        return job_from(json.loads(body), last_sequence)
    except _DAMAGED as error:
        raise _unreadable(f"training job 'trainingJobs/{job_id}'") from error


def read_event(job_id: str, sequence: int, body: str) -> JobEvent:
    """A job_events row as an event; STORED_RECORD_UNREADABLE if its body is damaged."""
    try:
        return event_from(json.loads(body))
    except _DAMAGED as error:
        raise _unreadable(f"event {sequence} of training job 'trainingJobs/{job_id}'") from error


def read_model(model_id: str, body: str) -> ModelRecord:
    """A models row as a record; STORED_RECORD_UNREADABLE if its body is damaged."""
    try:
        return model_from(json.loads(body))
    except _DAMAGED as error:
        raise _unreadable(f"model 'models/{model_id}'") from error


def readable(read: Callable[..., T], rows: Iterable[tuple[Any, ...]]) -> list[T]:
    """The rows `read` can decode; each damaged one is logged (one line) and left out, not failing the rest."""
    found = []
    for row in rows:
        try:
            found.append(read(*row))
        except FailedPrecondition as error:
            logger.warning("skipping a damaged row: %s", error.message)
    return found
