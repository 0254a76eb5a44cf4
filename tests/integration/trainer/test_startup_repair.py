"""A real server process restarted over a data dir a killed one left behind: orphaned files, damaged rows."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import grpc
import pytest

from tests.integration.trainer._support import (
    RPC_TIMEOUT,
    expect_error,
    linear_rows,
    make_spec,
    pb,
    pb_grpc,
    predict_numbers,
    to_csv,
    upload,
    wait_for,
)
from tests.support.processes import start_server_process

ROW = [{"a": 1.0, "b": 2.0, "c": 3.0}]


def _trained(stub: pb_grpc.TrainerServiceStub, seed: int) -> tuple[pb.Dataset, pb.TrainingJob]:
    x, y = linear_rows(40, seed=seed)
    dataset = upload(stub, to_csv(["a", "b", "c", "y"], [(*r, t) for r, t in zip(x.tolist(), y.tolist(), strict=True)]))
    job = stub.CreateTrainingJob(
        pb.CreateTrainingJobRequest(spec=make_spec(dataset.name, "y", "ridge")), timeout=RPC_TIMEOUT
    ).training_job
    return dataset, wait_for(stub, job.name, lambda j: j.state == pb.TRAINING_JOB_STATE_SUCCEEDED)


def test_restart_sets_aside_model_and_dataset_directories_no_row_names(servers) -> None:
    # A SIGKILL between a model's rename into models/ and the commit of its row (t14), or between a
    # dataset's rename and its insert, or a delete's row removal and its rmtree, left a directory that no
    # call could reach or delete, forever: startup only cleared tmp/.
    data_dir: Path = servers.data_dir
    first = servers()
    with grpc.insecure_channel(first.address) as channel:
        stub = pb_grpc.TrainerServiceStub(channel)
        trained = [_trained(stub, seed) for seed in (1, 2)]
        before = [predict_numbers(stub, job.model, ROW) for _, job in trained]
    first.kill()
    model_dirs = {job.model.split("/")[1] for _, job in trained}
    dataset_dirs = {dataset.name.split("/")[1] for dataset, _ in trained}
    orphan_model, orphan_dataset = uuid.uuid4().hex, uuid.uuid4().hex
    shutil.copytree(data_dir / "models" / sorted(model_dirs)[0], data_dir / "models" / orphan_model)
    shutil.copytree(data_dir / "datasets" / sorted(dataset_dirs)[0], data_dir / "datasets" / orphan_dataset)
    (data_dir / "models" / "not-an-id").mkdir()  # not ours: left alone

    second = servers()
    assert set((data_dir / "models").iterdir()) == {data_dir / "models" / n for n in (*model_dirs, "not-an-id")}
    assert {p.name for p in (data_dir / "datasets").iterdir()} == dataset_dirs
    # Set aside, not deleted (a database restored from an older backup looks the same), files intact.
    aside = data_dir / "orphaned"
    assert [p.name for p in (aside / "models").iterdir()] == [orphan_model]
    assert [p.name for p in (aside / "datasets").iterdir()] == [orphan_dataset]
    original = data_dir / "models" / sorted(model_dirs)[0]
    assert {f.name: f.read_bytes() for f in (aside / "models" / orphan_model).iterdir()} == {
        f.name: f.read_bytes() for f in original.iterdir()
    }
    with grpc.insecure_channel(second.address) as channel:
        stub = pb_grpc.TrainerServiceStub(channel)
        assert [predict_numbers(stub, job.model, ROW) for _, job in trained] == before
        for dataset, _ in trained:
            stub.GetDataset(pb.GetDatasetRequest(name=dataset.name), timeout=RPC_TIMEOUT)
        assert len(stub.ListModels(pb.ListModelsRequest(), timeout=RPC_TIMEOUT).models) == 2
    assert second.terminate() == 0


def test_a_new_database_beside_existing_files_removes_nothing(servers) -> None:
    # An emptied or replaced trainer.db names no row at all: every directory would look orphaned.
    data_dir: Path = servers.data_dir
    first = servers()
    with grpc.insecure_channel(first.address) as channel:
        dataset, job = _trained(pb_grpc.TrainerServiceStub(channel), 1)
    assert first.terminate() == 0
    backup = data_dir.parent / "trainer.db.backup"
    (data_dir / "trainer.db").rename(backup)
    (data_dir / "trainer.db").write_bytes(b"")
    assert servers().terminate() == 0
    assert [p.name for p in (data_dir / "models").iterdir()] == [job.model.split("/")[1]]
    assert [p.name for p in (data_dir / "datasets").iterdir()] == [dataset.name.split("/")[1]]
    backup.replace(data_dir / "trainer.db")  # restored, the files are reachable again
    restored = servers()
    with grpc.insecure_channel(restored.address) as channel:
        predict_numbers(pb_grpc.TrainerServiceStub(channel), job.model, ROW)
    assert restored.terminate() == 0


def test_damaged_job_and_event_rows_fail_only_their_own_calls(servers, tmp_path: Path) -> None:
    # t13: a RUNNING job with an unreadable body made the server exit 1 with a traceback; the same on a
    # finished job made ListTrainingJobs and GetTrainingJob INTERNAL; one bad event made Watch INTERNAL.
    data_dir: Path = servers.data_dir
    first = servers()
    with grpc.insecure_channel(first.address) as channel:
        stub = pb_grpc.TrainerServiceStub(channel)
        jobs = [_trained(stub, seed)[1] for seed in (1, 2, 3, 4)]
    assert first.terminate() == 0
    finished, active, watched, intact = (job.name.split("/")[1] for job in jobs)
    with sqlite3.connect(data_dir / "trainer.db") as db:
        db.execute("UPDATE training_jobs SET body_json = '{oops' WHERE id = ?", (finished,))
        db.execute("UPDATE training_jobs SET state = 'RUNNING', body_json = '{oops' WHERE id = ?", (active,))
        db.execute("UPDATE job_events SET body_json = '[]' WHERE job_id = ? AND sequence = 2", (watched,))

    log = tmp_path / "server.log"
    with log.open("w") as stderr:
        second = start_server_process("trainer_service", ["--data-dir", str(data_dir)], stderr=stderr)
    try:
        with grpc.insecure_channel(second.address) as channel:
            stub = pb_grpc.TrainerServiceStub(channel)
            for job_id in (finished, active):
                expect_error(
                    lambda job_id=job_id: stub.GetTrainingJob(
                        pb.GetTrainingJobRequest(name=f"trainingJobs/{job_id}"), timeout=RPC_TIMEOUT),
                    grpc.StatusCode.FAILED_PRECONDITION, "STORED_RECORD_UNREADABLE", data_dir=data_dir,
                )
            listed = stub.ListTrainingJobs(pb.ListTrainingJobsRequest(), timeout=RPC_TIMEOUT).training_jobs
            assert {job.name for job in listed} == {f"trainingJobs/{watched}", f"trainingJobs/{intact}"}
            expect_error(
                lambda: list(stub.WatchTrainingJob(
                    pb.WatchTrainingJobRequest(name=f"trainingJobs/{watched}"), timeout=RPC_TIMEOUT)),
                grpc.StatusCode.FAILED_PRECONDITION, "STORED_RECORD_UNREADABLE", data_dir=data_dir,
            )
            expect_error(
                lambda: list(stub.WatchTrainingJob(
                    pb.WatchTrainingJobRequest(name=f"trainingJobs/{finished}"), timeout=RPC_TIMEOUT)),
                grpc.StatusCode.FAILED_PRECONDITION, "STORED_RECORD_UNREADABLE",
            )
            for job in jobs:  # every model still predicts, the damaged jobs' included
                predict_numbers(stub, job.model, ROW)
        assert second.terminate() == 0
    finally:
        second.kill()
    text = log.read_text()
    assert "Traceback" not in text, text[-3000:]
    assert sum(f"trainingJobs/{active}" in line and "marking it FAILED" in line for line in text.splitlines()) == 1
    with sqlite3.connect(data_dir / "trainer.db") as db:  # the damaged body is kept as it was
        assert db.execute("SELECT state, body_json FROM training_jobs WHERE id = ?", (active,)).fetchone() == (
            "FAILED", "{oops")


def _header(data: bytes) -> bytes:
    return b"garbage garbage!" + data[16:]


def _truncate(data: bytes) -> bytes:
    return data[: len(data) // 3]


def _zero_middle(data: bytes) -> bytes:
    damaged = bytearray(data)
    for offset in range(4096, len(data), 4096 * 2):
        damaged[offset:offset + 200] = b"\xff" * 200
    return bytes(damaged)


@pytest.fixture(scope="module")
def populated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir a stopped server left: three datasets, three succeeded ridge jobs and their models."""
    data_dir = tmp_path_factory.mktemp("populated") / "data"
    process = start_server_process("trainer_service", ["--data-dir", str(data_dir)], env={"OMP_NUM_THREADS": "1"})
    try:
        with grpc.insecure_channel(process.address) as channel:
            stub = pb_grpc.TrainerServiceStub(channel)
            for seed in (1, 2, 3):
                _trained(stub, seed)
        assert process.terminate() == 0
    finally:
        process.kill()
    return data_dir


def test_an_sqlite_file_of_another_schema_is_named_as_such(tmp_path: Path) -> None:
    # "no such column" is an OperationalError, like a read-only file: it was worded "cannot be opened or
    # written", which sends the operator after permissions instead of the file's contents.
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    with contextlib.closing(sqlite3.connect(data_dir / "trainer.db")) as other:
        other.execute("CREATE TABLE training_jobs (x INTEGER)")
        other.commit()
    started = subprocess.run(
        [sys.executable, "-m", "trainer_service", "--port", "0", "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=60,
    )
    assert started.returncode == 3, started.stderr
    last = started.stderr.strip().splitlines()[-1]
    assert "is damaged, or not an MLSuite trainer database (no such column" in last, started.stderr
    assert "Traceback" not in started.stderr


@pytest.mark.parametrize("damage", [_header, _truncate, _zero_middle])
def test_a_damaged_database_stops_startup_with_one_line_and_exit_3(populated: Path, tmp_path: Path, damage) -> None:
    # t13 header / truncate / zero-middle: sqlite3.DatabaseError escaped as a bare traceback, exit 1.
    data_dir = tmp_path / "data"
    shutil.copytree(populated, data_dir)
    database = data_dir / "trainer.db"
    damaged = damage(database.read_bytes())
    database.write_bytes(damaged)
    started = subprocess.run(
        [sys.executable, "-m", "trainer_service", "--port", "0", "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=60,
    )
    assert started.returncode == 3, started.stderr
    last = started.stderr.strip().splitlines()[-1]
    assert last.startswith("mlsuite-trainer: error: trainer.db in --data-dir is damaged"), started.stderr
    assert "Traceback" not in started.stderr and str(data_dir) not in last
    assert "listening on" not in started.stdout
    assert database.read_bytes() == damaged  # left as it was, for whoever restores it
