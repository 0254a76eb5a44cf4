"""Training runs in a process of its own: a crash there fails only its job, and cancel can kill it."""

from __future__ import annotations

import multiprocessing
import os
import signal
import time

import pytest

from tests.integration.trainer._support import (
    RPC_TIMEOUT,
    get_job,
    long_nn_spec,
    make_spec,
    nonlinear_csv,
    payload,
    pb,
    predict_numbers,
    stored,
    upload,
    wait_for,
    wait_for_epochs,
    watch,
)


def _create(stub, spec: pb.TrainingJobSpec) -> pb.TrainingJob:
    return stub.CreateTrainingJob(pb.CreateTrainingJobRequest(spec=spec), timeout=RPC_TIMEOUT).training_job


def _training_process(job: pb.TrainingJob) -> multiprocessing.process.BaseProcess:
    name = f"mlsuite-train-{job.name.removeprefix('trainingJobs/')}"
    found = [child for child in multiprocessing.active_children() if child.name == name]
    assert len(found) == 1, f"no live process {name}: {multiprocessing.active_children()}"
    return found[0]


@pytest.fixture
def dataset(trainer_stub) -> pb.Dataset:
    return upload(trainer_stub, nonlinear_csv())


def test_a_killed_training_process_fails_its_job_and_the_server_carries_on(
    trainer, trainer_stub, dataset
) -> None:
    job = _create(trainer_stub, long_nn_spec(dataset.name))
    wait_for_epochs(trainer_stub, job.name, 1)
    process = _training_process(job)
    assert process.pid != os.getpid()
    os.kill(process.pid, signal.SIGKILL)  # what the out-of-memory killer or a native crash does

    events = stored(watch(trainer_stub, job.name, timeout=60))
    last = events[-1]
    assert (payload(last), last.state) == ("state_change", pb.TRAINING_JOB_STATE_FAILED)
    assert last.state_change.error.reason == "WORKER_CRASHED"
    assert "SIGKILL" in last.state_change.error.message
    assert str(trainer.config.data_dir) not in last.state_change.error.message
    final = get_job(trainer_stub, job.name)
    assert final.state == pb.TRAINING_JOB_STATE_FAILED and final.model == ""
    assert list((trainer.config.data_dir / "tmp").iterdir()) == []
    assert list((trainer.config.data_dir / "models").iterdir()) == []

    # The server, its data and the next job are unaffected.
    again = _create(
        trainer_stub,
        make_spec(
            dataset.name, "y", "neural_network", {"epochs": 10, "batch_size": 64, "hidden_layers": [16]}
        ),
    )
    done = stored(watch(trainer_stub, again.name, timeout=120))[-1]
    assert done.state == pb.TRAINING_JOB_STATE_SUCCEEDED, done
    assert (
        len(predict_numbers(trainer_stub, done.result.model, [{"x0": 0.1, "x1": 0.2, "x2": 0.3, "x3": 0.4}]))
        == 1
    )


def test_cancel_kills_a_scikit_learn_fit_that_does_not_reach_a_phase_boundary(
    trainer, trainer_stub, dataset
) -> None:
    spec = make_spec(dataset.name, "y", "gradient_boosting_regressor", {"n_estimators": 5000, "max_depth": 6})
    job = _create(trainer_stub, spec)
    wait_for(trainer_stub, job.name, lambda j: j.phase == pb.TRAINING_PHASE_FITTING)
    process = _training_process(job)
    time.sleep(0.5)  # well inside the fit, which runs for minutes
    asked = time.monotonic()
    trainer_stub.CancelTrainingJob(pb.CancelTrainingJobRequest(name=job.name), timeout=RPC_TIMEOUT)
    events = stored(watch(trainer_stub, job.name, timeout=60))
    took = time.monotonic() - asked
    assert events[-1].state == pb.TRAINING_JOB_STATE_CANCELLED
    assert took < 30, f"cancel took {took:.1f}s"  # the process is killed a few seconds after the cancel
    process.join(timeout=10)
    assert process.exitcode == -signal.SIGKILL
    assert list((trainer.config.data_dir / "tmp").iterdir()) == []


def test_a_stray_sigint_or_sigterm_does_not_end_a_training_process(trainer_stub, dataset) -> None:
    job = _create(trainer_stub, long_nn_spec(dataset.name))
    wait_for_epochs(trainer_stub, job.name, 1)
    process = _training_process(job)
    for stray in (signal.SIGINT, signal.SIGTERM):  # e.g. a Ctrl-C sent to the server's whole process group
        os.kill(process.pid, stray)
    reached = get_job(trainer_stub, job.name).latest_epoch.epoch
    wait_for_epochs(trainer_stub, job.name, reached + 2)  # still training
    assert process.is_alive()
    trainer_stub.CancelTrainingJob(pb.CancelTrainingJobRequest(name=job.name), timeout=RPC_TIMEOUT)
    assert stored(watch(trainer_stub, job.name, timeout=60))[-1].state == pb.TRAINING_JOB_STATE_CANCELLED


def test_a_training_process_runs_in_a_session_of_its_own(trainer_stub, dataset) -> None:
    # Its own session is its own scheduler autogroup on Linux: the kernel weighs the job against the
    # server as a whole, so a burst of watch-stream threads cannot crowd out the training thread.
    job = _create(trainer_stub, long_nn_spec(dataset.name))
    wait_for_epochs(trainer_stub, job.name, 1)
    process = _training_process(job)
    assert os.getsid(process.pid) == process.pid != os.getsid(os.getpid())
    assert os.getpgid(process.pid) == process.pid
    trainer_stub.CancelTrainingJob(pb.CancelTrainingJobRequest(name=job.name), timeout=RPC_TIMEOUT)
    assert stored(watch(trainer_stub, job.name, timeout=60))[-1].state == pb.TRAINING_JOB_STATE_CANCELLED
