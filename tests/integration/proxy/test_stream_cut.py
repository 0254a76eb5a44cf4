"""The proxy cuts idle watch streams (a short grpc_read_timeout); re-attaching loses and repeats nothing.

The trainer sends a heartbeat only after 15 s of quiet while nginx, rendered here with a 1 s
grpc_read_timeout, cuts any call whose server stays silent for 1 s. The watched job is first queued behind a
long neural network (no events at all), then fits a gradient-boosting model for about five seconds (no events
between the FITTING and EVALUATING phase changes), so its watch stream is cut while queued and again in the
middle of training. After each cut the client re-attaches with the last stored sequence it received.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from mlsuite_client import Dataset, JobState, MLSuiteError, TrainerClient, TrainingEvent, TrainingJob
from tests.integration.proxy._nginx import NginxProxy, start_nginx
from tests.integration.proxy._node import run_node
from tests.integration.proxy._support import start_trainer, stop_all, write_regression_csv
from tests.support.processes import ServerProcess

READ_TIMEOUT_S = 1.0
HEARTBEAT_S = 15.0
TARGET_FIT_S = 5.0
CALIBRATION_TREES = 100
UNUSED_UPSTREAM = "127.0.0.1:9"  # the downloader route is not used here


def quiet_before_cut(silence_s: float) -> bool:
    """Whether a stream ended after about the read timeout's silence, long before any heartbeat was due.

    Loose below: nginx moves a timer only when it changes by more than 300 ms (NGX_TIMER_LAZY_DELAY), and a
    busy client notes the last message late. The proxy's error log says exactly which calls it cut.
    """
    return READ_TIMEOUT_S / 4 <= silence_s < HEARTBEAT_S / 2


def timeouts_logged(nginx: NginxProxy) -> int:
    """Calls nginx has ended because the server stayed silent longer than grpc_read_timeout."""
    return nginx.error_log().count("upstream timed out")


@dataclass
class CuttingProxy:
    """A trainer that heartbeats every 15 s behind nginx with a 1 s read timeout."""

    trainer: ServerProcess
    nginx: NginxProxy


@dataclass(frozen=True)
class Cut:
    """One stream the proxy ended: stored events received before it, and the silence that preceded it."""

    stored_before: int
    silence_s: float
    error: MLSuiteError


@pytest.fixture(scope="module")
def cutting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CuttingProxy]:
    """One training worker (jobs queue), heartbeats at the 15 s maximum, nginx cutting after 1 s of quiet."""
    root = tmp_path_factory.mktemp("stream-cut")
    trainer = start_trainer(
        root / "trainer", "--heartbeat-seconds", str(HEARTBEAT_S), "--max-concurrent-jobs", "1"
    )
    try:
        nginx = start_nginx(
            root / "nginx", trainer.address, UNUSED_UPSTREAM,
            overrides={"PROXY_GRPC_READ_TIMEOUT": f"{READ_TIMEOUT_S:g}s"},
        )
    except BaseException:
        stop_all(trainer)
        raise
    yield CuttingProxy(trainer, nginx)
    stop_all(nginx, trainer)


def _seconds_per_tree(direct: TrainerClient, dataset: Dataset) -> float:
    """Fit time per gradient-boosting tree here, from a short job's FITTING -> EVALUATING event times."""
    events = list(
        direct.train(
            dataset, "y", model_type="gradient_boosting_regressor", timeout=120,
            hyperparameters={"n_estimators": CALIBRATION_TREES},
        )
    )
    assert events[-1].state is JobState.SUCCEEDED, events[-1]
    stored = [e for e in events if e.is_stored]
    fitting = next(i for i, e in enumerate(stored) if e.kind == "phase_change" and e.phase == "FITTING")
    start, end = stored[fitting].time, stored[fitting + 1].time
    assert start is not None and end is not None
    return max((end - start).total_seconds(), 0.001) / CALIBRATION_TREES


def _watch_until_done(
    client: TrainerClient, job: TrainingJob, on_cut: Callable[[], None], deadline_s: float = 90.0
) -> tuple[list[TrainingEvent], list[Cut]]:
    """Watch, re-attaching after every cut with the last stored sequence, until the terminal event."""
    received: list[TrainingEvent] = []
    cuts: list[Cut] = []
    after = 0
    deadline = time.monotonic() + deadline_s
    while not (received and received[-1].is_terminal):
        assert time.monotonic() < deadline, f"no terminal event after {deadline_s}s; {len(cuts)} cuts"
        stream = client.watch_training_job(job, after_sequence=after)
        last_message = time.monotonic()
        try:
            for event in stream:
                last_message = time.monotonic()
                assert event.kind != "heartbeat", "the proxy should have cut the stream before any heartbeat"
                if event.is_stored:
                    received.append(event)
        except MLSuiteError as exc:
            cuts.append(Cut(len(received), time.monotonic() - last_message, exc))
            on_cut()
        after = stream.last_sequence
    return received, cuts


@dataclass(frozen=True)
class SlowFit:
    """A dataset and a gradient-boosting size whose fit takes about TARGET_FIT_S seconds on this machine."""

    dataset: str
    trees: int


@pytest.fixture(scope="module")
def slow_fit(cutting: CuttingProxy, tmp_path_factory: pytest.TempPathFactory) -> SlowFit:
    """The fit dataset, uploaded through the proxy, and the calibrated number of trees."""
    csv = write_regression_csv(tmp_path_factory.mktemp("fit") / "fit.csv", rows=4000, seed=5)
    with TrainerClient(cutting.nginx.address) as proxied, TrainerClient(cutting.trainer.address) as direct:
        dataset = proxied.upload_dataset(csv, display_name="stream-cut")
        per_tree = _seconds_per_tree(direct, dataset)
    return SlowFit(dataset.name, min(5000, max(CALIBRATION_TREES, math.ceil(TARGET_FIT_S / per_tree))))


@pytest.fixture
def idle_trainer(cutting: CuttingProxy) -> Iterator[TrainerClient]:
    """A direct client; afterwards every unfinished job is cancelled: the next test finds the worker free."""
    with TrainerClient(cutting.trainer.address) as direct:
        yield direct
        for state in (JobState.QUEUED, JobState.RUNNING):
            for job in direct.iter_training_jobs(state):
                direct.cancel_training_job(job)


def test_reattach_after_proxy_cuts_loses_and_repeats_nothing(
    cutting: CuttingProxy, slow_fit: SlowFit, idle_trainer: TrainerClient
) -> None:
    logged_before = timeouts_logged(cutting.nginx)
    with TrainerClient(cutting.nginx.address) as proxied:
        blocker = proxied.create_training_job(
            slow_fit.dataset, "y", model_type="neural_network",
            hyperparameters={"epochs": 1000, "batch_size": 8},
        )
        job = proxied.create_training_job(
            slow_fit.dataset, "y", model_type="gradient_boosting_regressor",
            hyperparameters={"n_estimators": slow_fit.trees},
        )
        assert job.state is JobState.QUEUED

        def release_once() -> None:
            if proxied.get_training_job(blocker).state is JobState.RUNNING:
                proxied.cancel_training_job(blocker)

        received, cuts = _watch_until_done(proxied, job, release_once)
        finished = proxied.get_training_job(job)

    sequences = [e.sequence for e in received]
    assert sequences == list(range(1, len(received) + 1)), f"gap or duplicate in {sequences}"
    assert received[-1].state is JobState.SUCCEEDED and finished.state is JobState.SUCCEEDED
    assert any(e.kind == "result" and e.model for e in received)
    assert finished.last_sequence == len(received)

    assert cuts, "the proxy never cut a stream"
    assert cuts[0].stored_before == 0, "the first cut should come while the job waits in the queue"
    assert any(c.stored_before > 0 for c in cuts), f"no cut in training ({slow_fit.trees} trees): {cuts}"
    # nginx's read timeout, not the server or the client, ended each of these calls
    assert timeouts_logged(cutting.nginx) - logged_before == len(cuts)
    assert all(quiet_before_cut(cut.silence_s) for cut in cuts), cuts


def test_node_client_reattaches_after_proxy_cuts(
    cutting: CuttingProxy, slow_fit: SlowFit, idle_trainer: TrainerClient
) -> None:
    logged_before = timeouts_logged(cutting.nginx)
    report = run_node("cut", cutting.nginx.address, slow_fit.dataset, str(slow_fit.trees))

    assert report["queued"] == "QUEUED"
    sequences = report["sequences"]
    assert sequences == list(range(1, len(sequences) + 1)), f"gap or duplicate in {sequences}"
    assert report["lastState"] == "SUCCEEDED" and report["hasResult"]
    assert report["lastSequence"] == len(sequences) and report["heartbeats"] == 0
    cuts = report["cuts"]
    assert cuts and cuts[0]["storedBefore"] == 0
    assert any(c["storedBefore"] > 0 for c in cuts), f"no cut during training: {cuts}"
    assert timeouts_logged(cutting.nginx) - logged_before == len(cuts)
    assert all(quiet_before_cut(cut["silenceS"]) for cut in cuts), cuts


def test_cli_follow_reattaches_by_itself_after_proxy_cuts(
    cutting: CuttingProxy, slow_fit: SlowFit, idle_trainer: TrainerClient
) -> None:
    logged_before = timeouts_logged(cutting.nginx)
    with TrainerClient(cutting.nginx.address) as proxied:
        job = proxied.create_training_job(
            slow_fit.dataset, "y", model_type="gradient_boosting_regressor",
            hyperparameters={"n_estimators": slow_fit.trees},
        )
        result = subprocess.run(
            [sys.executable, "-m", "mlsuite_client", "--trainer", cutting.nginx.address, "jobs", "watch", job.name],
            capture_output=True, text=True, timeout=120, check=False,
        )
        finished = proxied.get_training_job(job)
    assert result.returncode == 0, result.stdout + result.stderr
    assert finished.state is JobState.SUCCEEDED and finished.model in result.stdout
    assert "re-attaching" in result.stdout + result.stderr
    assert timeouts_logged(cutting.nginx) > logged_before
