"""A TrainerService subprocess and the few calls the benchmark makes through the Python client."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from mlsuite.trainer.v1 import trainer_service_pb2 as pb
from mlsuite.trainer.v1 import trainer_service_pb2_grpc as pb_grpc

from bench import procs
from bench.baselines import median_epoch_ms
from bench.data import TARGET
from mlsuite_client import TrainerClient

__all__ = ["TrainerSession", "JobTiming", "channel"]

# Enough handler threads for the fan-out figure's 100 open watch streams (the default is 64).
MAX_WORKERS = 192


def channel(address: str) -> grpc.Channel:
    """A channel with its own connection (a server allows 100 concurrent streams per connection)."""
    return grpc.insecure_channel(address, options=[("grpc.use_local_subchannel_pool", 1)])


@dataclass(frozen=True)
class JobTiming:
    """A finished job timed from its stored epoch events."""

    ms_per_epoch: float
    r2: float
    model: str
    epochs: int
    events: int  # stored events, the terminal one included
    watchers_seen: int = 0


class TrainerSession:
    """`python -m trainer_service` on 127.0.0.1 port 0 with its own data directory."""

    def __init__(self, work: Path, *, extra_args: Sequence[str] = ()) -> None:
        args = ["--port", "0", "--data-dir", str(work / "trainer-data"), "--max-workers", str(MAX_WORKERS),
                "--max-concurrent-jobs", "1", "--log-level", "WARNING", *extra_args]
        self.server = procs.start("trainer", "trainer_service", args, work)
        self._channel = channel(self.server.address)
        self.client = TrainerClient(self._channel, timeout=600)

    def close(self) -> None:
        """Close the channel and stop the server."""
        self.client.close()
        self._channel.close()
        self.server.stop()

    def __enter__(self) -> TrainerSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def upload(self, path: Path) -> str:
        """Upload a dataset file; returns its name."""
        return self.client.upload_dataset(path, display_name=path.name).name

    def train(self, dataset: str, *, epochs: int, batch_size: int, device: str = "cpu", watchers: int = 0,
              model_type: str = "neural_network") -> JobTiming:
        """Run one job to the end (with `watchers` extra live watch streams) and time it from its events."""
        job = self.client.create_training_job(
            dataset, TARGET, model_type=model_type, validation_fraction=0.2, seed=0, device=device,
            hyperparameters={"epochs": epochs, "batch_size": batch_size},
        )
        seen = _watch(self.server.address, job.name, watchers) if watchers else None
        while not self.client.get_training_job(job.name).state.is_terminal:
            time.sleep(0.25)
        watchers_seen = seen() if seen is not None else 0
        ends: list[float] = []
        finished = None
        for event in self.client.watch_training_job(job.name):  # stored events, replayed
            if event.epoch is not None:
                ends.append(event.epoch.elapsed)
            if event.is_terminal and event.is_stored:  # the opening snapshot is already terminal
                finished = event
                break
        if finished is None or finished.state.value != "SUCCEEDED":
            raise RuntimeError(f"{job.name} ended {finished and finished.state}: {finished}")
        return JobTiming(median_epoch_ms(ends), float(finished.metrics["r2"]), finished.model, len(ends),
                         finished.sequence, watchers_seen)


def _watch(address: str, job: str, count: int) -> Callable[[], int]:
    """Open `count` live WatchTrainingJob streams on 4 connections; returns a join that counts finishers.

    The watchers read the raw stream (each message is still received and parsed) without turning events
    into the client's dataclasses: they share this machine's cores with the server, and the figure is
    about what the service spends on them, not what a client spends on its own objects.
    """
    channels = [channel(address) for _ in range(4)]
    finished: list[int] = []
    lock = threading.Lock()
    terminal = {
        pb.TRAINING_JOB_STATE_SUCCEEDED, pb.TRAINING_JOB_STATE_FAILED, pb.TRAINING_JOB_STATE_CANCELLED
    }

    def follow(index: int) -> None:
        stub = pb_grpc.TrainerServiceStub(channels[index % len(channels)])
        for response in stub.WatchTrainingJob(pb.WatchTrainingJobRequest(name=job), timeout=600):
            event = response.event
            if event.state in terminal and event.WhichOneof("payload") != "snapshot":
                with lock:
                    finished.append(index)
                return

    threads = [threading.Thread(target=follow, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()

    def join() -> int:
        for thread in threads:
            thread.join(timeout=60)
        for opened in channels:
            opened.close()
        return len(finished)

    return join
