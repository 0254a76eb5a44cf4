"""The SQLite store: round trips, request_id uniqueness, event sequencing, keyset pagination."""

from __future__ import annotations

import base64
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

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
from trainer_service.store import DatasetInUse, DatasetMissing, Store

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _dataset(i: int, request_id: str = "") -> DatasetRecord:
    return DatasetRecord(
        id=f"d{i}", display_name=f"set {i}", format="CSV", row_count=10 + i,
        columns=(ColumnRecord("a", "int64", 0), ColumnRecord("b", "string", 2)), size_bytes=100, sha256="ab" * 32,
        request_id=request_id, create_time=T0 + timedelta(seconds=i),
    )


def _job(i: int, request_id: str = "", state: JobState = JobState.QUEUED) -> JobRecord:
    spec = JobSpec(dataset_id="d1", target_column="a", feature_columns=("b",), model_type="neural_network",
                   hyperparameters={"hidden_layers": (8, 4), "epochs": 10, "learning_rate": 0.01,
                                    "early_stopping": True},
                   validation_fraction=0.2, seed=7, device="auto")
    return JobRecord(id=f"j{i}", spec=spec, state=state, request_id=request_id, create_time=T0 + timedelta(seconds=i),
                     resolved_hyperparameters=dict(spec.hyperparameters))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store(tmp_path / "meta.db")
    yield opened
    opened.close()


def test_dataset_round_trip_and_request_id_returns_the_first(store: Store) -> None:
    first = store.insert_dataset(_dataset(1, request_id="r1"))
    assert store.get_dataset("d1") == first
    again = store.insert_dataset(_dataset(2, request_id="r1"))
    assert again == first
    assert store.get_dataset("d2") is None
    assert store.delete_dataset("d1") is True
    assert store.delete_dataset("d1") is False


def test_a_dataset_an_active_job_uses_is_not_deleted_and_a_job_needs_its_dataset(store: Store) -> None:
    with pytest.raises(DatasetMissing):
        store.insert_job(_job(1), require_dataset=True)  # d1 does not exist yet
    assert store.get_job("j1") is None
    store.insert_dataset(_dataset(1))
    queued = store.insert_job(_job(1), require_dataset=True)
    with pytest.raises(DatasetInUse) as using:
        store.delete_dataset("d1")
    assert using.value.job_id == "j1" and store.get_dataset("d1") is not None
    store.record_event(replace(queued, state=JobState.CANCELLED), None)
    assert store.delete_dataset("d1") is True  # a finished job no longer holds it
    with pytest.raises(DatasetMissing):
        store.insert_job(_job(2), require_dataset=True)


def test_job_events_are_numbered_from_one_and_stored_with_the_job(store: Store) -> None:
    job = store.insert_job(_job(1))
    assert job.spec.hyperparameters["hidden_layers"] == (8, 4)
    epoch = EpochProgress(1, 10, 0.5, None, 0.01, 100.0, 1.0, 9.0)
    for kind, extra in [("phase_change", {"phase": Phase.FITTING}), ("epoch_progress", {"epoch": epoch})]:
        event = JobEvent(sequence=0, time=T0, state=JobState.RUNNING, kind=kind, **extra)
        job = store.record_event(replace(job, state=JobState.RUNNING, phase=Phase.FITTING), event)
    assert job.last_sequence == 2
    events = store.list_events("j1", 0)
    assert [e.sequence for e in events] == [1, 2]
    assert events[1].epoch == epoch and events[0].phase is Phase.FITTING
    assert store.list_events("j1", 1) == events[1:]
    reloaded = store.get_job("j1")
    assert reloaded == job
    assert store.jobs_in_states([JobState.RUNNING]) == [job]
    assert store.active_jobs_using("d1") == [job]


def test_a_repeated_job_request_id_returns_the_stored_job(store: Store) -> None:
    first = store.insert_job(_job(1, request_id="same"))
    assert store.insert_job(_job(2, request_id="same")) == first
    assert store.find_job_by_request_id("same") == first


def test_model_round_trip(store: Store) -> None:
    job = store.insert_job(_job(1))
    model = ModelRecord(
        id="m1", training_job_id="j1", model_type="ridge", category="REGRESSION", target_column="a",
        feature_columns=(FeatureRecord("b", "string"),), classes=(), hyperparameters={"alpha": 1.0},
        metrics={"r2": 0.5}, device="cpu", dataset_id="d1", dataset_sha256="ab" * 32,
        library_versions={"numpy": "2"}, size_bytes=10, create_time=T0,
    )
    done = JobEvent(sequence=0, time=T0, state=JobState.SUCCEEDED, kind="result", metrics={"r2": 0.5}, model_id="m1")
    store.record_event(replace(job, state=JobState.SUCCEEDED, model_id="m1"), done, model=model)
    assert store.get_model("m1") == model
    assert store.list_models(0, "").items == [model]
    assert store.delete_model("m1") and store.get_model("m1") is None


def test_pages_walk_newest_first_without_gaps_and_filter_by_state(store: Store) -> None:
    for i in range(5):
        store.insert_dataset(_dataset(i))
        store.insert_job(_job(i, state=JobState.SUCCEEDED if i % 2 else JobState.QUEUED))
    seen, token = [], ""
    while True:
        page = store.list_datasets(2, token)
        seen += [d.id for d in page.items]
        token = page.next_page_token
        if not token:
            break
    assert seen == ["d4", "d3", "d2", "d1", "d0"]
    succeeded = store.list_jobs(JobState.SUCCEEDED, 1, "")
    assert [j.id for j in succeeded.items] == ["j3"]
    assert [j.id for j in store.list_jobs(JobState.SUCCEEDED, 1, succeeded.next_page_token).items] == ["j1"]


@pytest.mark.parametrize("token", ["garbage", "eyJrIjoibW9kZWxzIiwidCI6MSwiaSI6IngifQ=="])
def test_foreign_or_garbage_page_tokens_are_invalid_arguments(store: Store, token: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        store.list_datasets(10, token)
    assert caught.value.violations[0].field == "page_token"


def _token(kind: str, time: str, item: str = '"a"', extra: str = "") -> str:
    return base64.urlsafe_b64encode(f'{{"k":"{kind}","t":{time},"i":{item}{extra}}}'.encode()).decode()


@pytest.mark.parametrize(
    ("time", "item", "extra"),
    [
        ("9223372036854775808", '"a"', ""),  # one past int64: OverflowError binding it in SQLite
        ("-9223372036854775809", '"a"', ""),
        ("1e999", '"a"', ""),  # parses as inf: OverflowError in int()
        ("1.5", '"a"', ""),
        ("true", '"a"', ""),
        ('"1"', '"a"', ""),
        ("null", '"a"', ""),
        ("1", "7", ""),
        ("1", '"a"', ',"x":1'),
    ],
)
def test_forged_page_tokens_are_invalid_arguments_on_every_list(
    store: Store, time: str, item: str, extra: str
) -> None:
    calls = {
        "datasets": lambda token: store.list_datasets(10, token),
        "models": lambda token: store.list_models(10, token),
        "jobs:": lambda token: store.list_jobs(None, 10, token),
        "jobs:SUCCEEDED": lambda token: store.list_jobs(JobState.SUCCEEDED, 10, token),
    }
    for kind, list_call in calls.items():
        with pytest.raises(InvalidArgument) as caught:
            list_call(_token(kind, time, item, extra))
        assert caught.value.reason == "INVALID_PAGE_TOKEN"
        assert caught.value.violations[0].field == "page_token"


def test_page_tokens_at_the_int64_limits_are_accepted(store: Store) -> None:
    for time in ("9223372036854775807", "-9223372036854775808"):
        assert store.list_models(10, _token("models", time)).items == []


def test_negative_page_size_is_rejected(store: Store) -> None:
    with pytest.raises(InvalidArgument) as caught:
        store.list_models(-1, "")
    assert caught.value.reason == "INVALID_PAGE_SIZE"


def _damage(path: Path, sql: str, *params: object) -> None:
    """Change the database file behind the store's back, as disk damage or a hand edit would."""
    with sqlite3.connect(path) as db:
        db.execute(sql, params)


def _unreadable(call: Callable[[], object]) -> FailedPrecondition:
    with pytest.raises(FailedPrecondition) as caught:
        call()
    assert caught.value.reason == "STORED_RECORD_UNREADABLE"
    assert "Traceback" not in caught.value.message
    return caught.value


@pytest.mark.parametrize("body", ["{oops", "[]", "null", '{"state":"WEIRD"}'])
def test_a_damaged_job_row_fails_only_its_own_reads(tmp_path: Path, body: str) -> None:
    # One unreadable body_json made GetTrainingJob and every ListTrainingJobs page INTERNAL (JSONDecodeError).
    path = tmp_path / "meta.db"
    store = Store(path)
    for i in (1, 2, 3):
        store.insert_job(_job(i, request_id=f"r{i}", state=JobState.SUCCEEDED))
    _damage(path, "UPDATE training_jobs SET body_json = ? WHERE id = 'j2'", body)
    assert "trainingJobs/j2" in _unreadable(lambda: store.get_job("j2")).message
    _unreadable(lambda: store.find_job_by_request_id("r2"))
    assert store.get_job("j1") is not None
    assert [j.id for j in store.list_jobs(None, 0, "").items] == ["j3", "j1"]
    first = store.list_jobs(None, 2, "")  # the page ends on the damaged row: its token still leads on
    assert [j.id for j in first.items] == ["j3"]
    assert [j.id for j in store.list_jobs(None, 2, first.next_page_token).items] == ["j1"]
    assert [j.id for j in store.jobs_in_states([JobState.SUCCEEDED])] == ["j1", "j3"]
    store.close()


def test_a_damaged_active_job_row_is_marked_failed_when_the_store_opens(tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    store = Store(path)
    store.insert_job(_job(1, state=JobState.RUNNING))
    store.insert_job(_job(2, state=JobState.RUNNING))
    store.close()
    _damage(path, "UPDATE training_jobs SET body_json = '{oops' WHERE id = 'j2'")
    reopened = Store(path)  # opening raised JSONDecodeError from JobManager's startup scan before
    assert [j.id for j in reopened.jobs_in_states([JobState.RUNNING])] == ["j1"]
    assert reopened.count_jobs_by_state() == {JobState.RUNNING: 1, JobState.FAILED: 1}
    _unreadable(lambda: reopened.get_job("j2"))
    reopened.close()
    with sqlite3.connect(path) as db:  # nothing stored is lost: the damaged body is kept as it was
        assert db.execute("SELECT body_json FROM training_jobs WHERE id = 'j2'").fetchone() == ("{oops",)


def test_a_damaged_event_fails_reading_that_jobs_events(tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    store = Store(path)
    job = store.insert_job(_job(1))
    for _ in range(3):
        job = store.record_event(job, JobEvent(sequence=0, time=T0, state=JobState.QUEUED, kind="state_change"))
    _damage(path, "UPDATE job_events SET body_json = '[]' WHERE job_id = 'j1' AND sequence = 2")
    assert "event 2" in _unreadable(lambda: store.list_events("j1", 0)).message
    assert [e.sequence for e in store.list_events("j1", 2)] == [3]
    store.close()


def test_damaged_dataset_and_model_rows_fail_their_get_and_are_left_out_of_lists(tmp_path: Path) -> None:
    path = tmp_path / "meta.db"
    store = Store(path)
    store.insert_dataset(_dataset(1))
    store.insert_dataset(_dataset(2))
    job = store.insert_job(_job(1))
    for i in (1, 2):
        model = ModelRecord(
            id=f"m{i}", training_job_id="j1", model_type="ridge", category="REGRESSION", target_column="a",
            feature_columns=(FeatureRecord("b", "string"),), classes=(), hyperparameters={}, metrics={},
            device="cpu", dataset_id="d1", dataset_sha256="ab" * 32, library_versions={}, size_bytes=10,
            create_time=T0 + timedelta(seconds=i),
        )
        store.record_event(job, None, model=model)
    _damage(path, "UPDATE datasets SET columns_json = '{oops' WHERE id = 'd2'")
    _damage(path, "UPDATE models SET body_json = '{}' WHERE id = 'm2'")
    _unreadable(lambda: store.get_dataset("d2"))
    _unreadable(lambda: store.get_model("m2"))
    assert [d.id for d in store.list_datasets(0, "").items] == ["d1"]
    assert [m.id for m in store.list_models(0, "").items] == ["m1"]
    store.close()
