"""A real server process: SIGKILL mid-training and restart on the same data dir; SIGTERM exits 0."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.integration.trainer._support import (
    RPC_TIMEOUT,
    SERVICE_NAME,
    assert_same_events,
    get_job,
    long_nn_spec,
    make_spec,
    nonlinear_csv,
    payload,
    pb,
    pb_grpc,
    predict_numbers,
    stored,
    upload,
    wait_for,
    wait_for_epochs,
    watch,
)

ROWS = [{"x0": 0.3, "x1": -1.0, "x2": 0.5, "x3": 1.5}, {"x0": -1.2, "x1": 0.4, "x2": -0.7, "x3": 0.0}]
SERVING = health_pb2.HealthCheckResponse.SERVING


def _status(pid: int, field: str) -> str | None:
    """One field of /proc/PID/status (e.g. "PPid", "State"); None once the process is gone."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return None
    return next(line.split()[1] for line in lines if line.startswith(f"{field}:"))


def _descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, grandchildren, ...), from /proc."""
    found: list[int] = []
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        children = [int(p) for p in os.listdir("/proc") if p.isdigit() and _status(int(p), "PPid") == str(parent)]
        found += children
        frontier += children
    return found


def _running(pid: int) -> bool:
    """Alive and not a zombie."""
    return _status(pid, "State") not in (None, "Z")


def _health(channel: grpc.Channel, service: str) -> int:
    return (
        health_pb2_grpc.HealthStub(channel)
        .Check(health_pb2.HealthCheckRequest(service=service), timeout=RPC_TIMEOUT)
        .status
    )


def test_sigkill_mid_training_then_restart_keeps_everything(servers) -> None:
    data_dir: Path = servers.data_dir
    first = servers()
    with grpc.insecure_channel(first.address) as channel:
        stub = pb_grpc.TrainerServiceStub(channel)
        assert _health(channel, "") == _health(channel, SERVICE_NAME) == SERVING
        dataset = upload(stub, nonlinear_csv(), chunk_size=50_000)
        done = stub.CreateTrainingJob(
            pb.CreateTrainingJobRequest(spec=make_spec(dataset.name, "y", "ridge")), timeout=RPC_TIMEOUT
        ).training_job
        done = wait_for(stub, done.name, lambda j: j.state == pb.TRAINING_JOB_STATE_SUCCEEDED)
        model = stub.GetModel(pb.GetModelRequest(name=done.model), timeout=RPC_TIMEOUT).model
        predictions = predict_numbers(stub, model.name, ROWS)
        long = stub.CreateTrainingJob(
            pb.CreateTrainingJobRequest(spec=long_nn_spec(dataset.name)), timeout=RPC_TIMEOUT
        ).training_job
        wait_for_epochs(stub, long.name, 3)
        call = stub.WatchTrainingJob(pb.WatchTrainingJobRequest(name=long.name), timeout=RPC_TIMEOUT)
        seen = []
        for response in call:
            seen.append(response.event)
            if sum(payload(e) == "epoch_progress" for e in seen) >= 3:
                break
        call.cancel()
    training = _descendants(first.process.pid)  # the forkserver and the job's training process
    assert len(training) >= 2, training
    first.kill()
    assert first.process.returncode == -9
    # Orphaned, the training process stops by itself instead of training on for nobody.
    _wait_until_gone(training, 20, "outlived the killed server")

    second = servers()
    with grpc.insecure_channel(second.address) as channel:
        stub = pb_grpc.TrainerServiceStub(channel)
        assert _health(channel, SERVICE_NAME) == SERVING
        assert (
            stub.GetDataset(pb.GetDatasetRequest(name=dataset.name), timeout=RPC_TIMEOUT).dataset == dataset
        )
        assert [
            d.name for d in stub.ListDatasets(pb.ListDatasetsRequest(), timeout=RPC_TIMEOUT).datasets
        ] == [dataset.name]
        assert stub.GetModel(pb.GetModelRequest(name=model.name), timeout=RPC_TIMEOUT).model == model
        assert predict_numbers(stub, model.name, ROWS) == pytest.approx(predictions, rel=1e-9, abs=1e-12)
        assert get_job(stub, done.name) == done

        interrupted = get_job(stub, long.name)
        assert interrupted.state == pb.TRAINING_JOB_STATE_FAILED
        assert interrupted.error.reason == "INTERRUPTED"
        assert interrupted.model == "" and interrupted.HasField("end_time")
        events = watch(stub, long.name, timeout=30)
        assert payload(events[0]) == "snapshot" and events[0].state == pb.TRAINING_JOB_STATE_FAILED
        log = stored(events)
        assert [e.sequence for e in log] == list(range(1, len(log) + 1))
        last = log[-1]
        assert (payload(last), last.state) == ("state_change", pb.TRAINING_JOB_STATE_FAILED)
        assert last.state_change.error.reason == "INTERRUPTED"
        assert last.sequence == interrupted.last_sequence
        # What watchers saw before the kill was stored: it is the start of the log, unchanged.
        before = stored(seen)
        assert_same_events(log[: len(before)], before)
        assert all(e.state == pb.TRAINING_JOB_STATE_RUNNING for e in log[:-1])
    # Nothing half-written survived: one model directory, an empty staging area.
    assert os.listdir(data_dir / "models") == [model.name.split("/")[1]]
    assert os.listdir(data_dir / "tmp") == []
    assert second.terminate() == 0


def _start_a_long_fit(stub: pb_grpc.TrainerServiceStub) -> tuple[pb.Dataset, pb.TrainingJob]:
    """Upload data and start a scikit-learn fit of minutes; returns once it is fitting."""
    dataset = upload(stub, nonlinear_csv(), chunk_size=50_000)
    spec = make_spec(dataset.name, "y", "gradient_boosting_regressor", {"n_estimators": 5000, "max_depth": 6})
    job = stub.CreateTrainingJob(pb.CreateTrainingJobRequest(spec=spec), timeout=RPC_TIMEOUT).training_job
    wait_for(stub, job.name, lambda j: j.phase == pb.TRAINING_PHASE_FITTING)
    return dataset, job


def _wait_until_gone(pids: list[int], seconds: float, what: str) -> None:
    """Fail unless every process in `pids` has ended within `seconds`."""
    deadline = time.monotonic() + seconds
    while alive := [pid for pid in pids if _running(pid)]:
        assert time.monotonic() < deadline, f"processes {alive} {what}"
        time.sleep(0.1)


def test_a_scikit_learn_fit_ends_with_its_killed_server(servers) -> None:
    # A fit sends nothing until it ends, so no failed send tells it that the server is gone; and its
    # parent, the forkserver, stays alive as long as it does. It must notice the server's death itself.
    server = servers()
    with grpc.insecure_channel(server.address) as channel:
        _start_a_long_fit(pb_grpc.TrainerServiceStub(channel))
    training = _descendants(server.process.pid)  # the forkserver and the job's training process
    assert len(training) >= 2, training
    try:
        server.kill()
        _wait_until_gone(training, 15, "outlived the killed server")
    finally:
        for pid in training:
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_killed_forkserver_fails_its_job_as_such_and_ends_its_training_process(servers) -> None:
    server = servers()
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.TrainerServiceStub(channel)
        dataset, job = _start_a_long_fit(stub)
        server_pid = str(server.process.pid)
        # The job's process is the one grandchild: the server's children are the forkserver and its tracker.
        [training] = [pid for pid in _descendants(server.process.pid) if _status(pid, "PPid") != server_pid]
        forkserver = _status(training, "PPid")
        assert forkserver is not None and forkserver != server_pid
        try:
            os.kill(int(forkserver), signal.SIGKILL)
            failed = wait_for(stub, job.name, lambda j: j.state == pb.TRAINING_JOB_STATE_FAILED)
            assert failed.error.reason == "WORKER_CRASHED"
            assert "forkserver" in failed.error.message and "died" in failed.error.message, failed.error.message
            # Its forkserver gone, the process cannot be killed through multiprocessing; it ends by itself.
            _wait_until_gone([training], 15, "outlived its job")
        finally:
            if _running(training):
                os.kill(training, signal.SIGKILL)
        # The next job gets a new forkserver.
        again = stub.CreateTrainingJob(
            pb.CreateTrainingJobRequest(spec=make_spec(dataset.name, "y", "ridge")), timeout=RPC_TIMEOUT
        ).training_job
        wait_for(stub, again.name, lambda j: j.state == pb.TRAINING_JOB_STATE_SUCCEEDED)
    assert server.terminate() == 0


def test_a_second_server_on_the_same_data_dir_is_refused_and_the_first_keeps_its_job(servers) -> None:
    first = servers()
    with grpc.insecure_channel(first.address) as channel:
        stub = pb_grpc.TrainerServiceStub(channel)
        dataset = upload(stub, nonlinear_csv(), chunk_size=50_000)
        job = stub.CreateTrainingJob(
            pb.CreateTrainingJobRequest(spec=long_nn_spec(dataset.name)), timeout=RPC_TIMEOUT
        ).training_job
        wait_for_epochs(stub, job.name, 1)
        # A starting trainer fails the RUNNING jobs it finds as INTERRUPTED: a second one on this directory
        # would have failed a live job. It is refused before it touches anything.
        second = subprocess.run(
            [sys.executable, "-m", "trainer_service", "--port", "0", "--data-dir", str(servers.data_dir)],
            capture_output=True, text=True, timeout=60,
        )
        assert second.returncode == 2, second.stderr
        assert f"in use by another trainer (pid {first.process.pid})" in second.stderr
        assert "Traceback" not in second.stderr and second.stdout == ""
        reached = get_job(stub, job.name).latest_epoch.epoch
        wait_for_epochs(stub, job.name, reached + 1)  # still training
        assert get_job(stub, job.name).state == pb.TRAINING_JOB_STATE_RUNNING
        assert _health(channel, SERVICE_NAME) == SERVING
        stub.CancelTrainingJob(pb.CancelTrainingJobRequest(name=job.name), timeout=RPC_TIMEOUT)
        assert stored(watch(stub, job.name, timeout=60))[-1].state == pb.TRAINING_JOB_STATE_CANCELLED
    assert first.terminate() == 0
    # Stopped, it leaves nothing that refuses the next server.
    third = servers()
    assert third.terminate() == 0


def test_sigterm_right_after_start_is_never_lost(servers) -> None:
    # A SIGTERM the kernel delivers to a thread other than the main one only marks the handler pending; a
    # main thread blocked in one untimed wait never ran it, and the server ignored the signal (it did here
    # on the first try when the signal came right after "listening on").
    for _ in range(3):
        started = time.monotonic()
        assert servers().terminate(timeout=20) == 0
        assert time.monotonic() - started < 20


def test_sigterm_on_an_idle_server_exits_zero(servers) -> None:
    server = servers()
    with grpc.insecure_channel(server.address) as channel:
        assert _health(channel, "") == SERVING
        assert _health(channel, SERVICE_NAME) == SERVING
        watch_health = health_pb2_grpc.HealthStub(channel).Watch(
            health_pb2.HealthCheckRequest(service=""), timeout=30
        )
        assert next(watch_health).status == SERVING
        server.process.send_signal(signal.SIGTERM)
        # Health turns NOT_SERVING before the server stops.
        assert next(watch_health).status == health_pb2.HealthCheckResponse.NOT_SERVING
    assert server.terminate() == 0


def test_sigterm_while_training_fails_the_job_as_interrupted(servers) -> None:
    server = servers("--grace-seconds", "5")
    with grpc.insecure_channel(server.address) as channel:
        stub = pb_grpc.TrainerServiceStub(channel)
        dataset = upload(stub, nonlinear_csv())
        job = stub.CreateTrainingJob(
            pb.CreateTrainingJobRequest(spec=long_nn_spec(dataset.name)), timeout=RPC_TIMEOUT
        ).training_job
        wait_for_epochs(stub, job.name, 1)
    assert server.terminate() == 0
    restarted = servers()
    with grpc.insecure_channel(restarted.address) as channel:
        stub = pb_grpc.TrainerServiceStub(channel)
        job = get_job(stub, job.name)
        assert job.state == pb.TRAINING_JOB_STATE_FAILED
        assert job.error.reason == "INTERRUPTED"
        assert (
            stub.GetDataset(pb.GetDatasetRequest(name=dataset.name), timeout=RPC_TIMEOUT).dataset == dataset
        )
