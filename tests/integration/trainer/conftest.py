"""Fixtures of the TrainerService integration tests: a server shared by a module, its stub, the bad-input baseline,
and server processes over one data dir (restart tests)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest
import torch
from mlsuite.trainer.v1 import trainer_service_pb2_grpc as pb_grpc

from mlsuite_common.lifecycle import ServerOptions
from tests.integration.trainer._baseline import Baseline, make_baseline
from tests.integration.trainer._support import expect_error
from tests.support.processes import ServerProcess, start_server_process
from trainer_service.config import Config
from trainer_service.core import TrainerCore
from trainer_service.server import build_server


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Iterator[None]:
    """Train the tests' tiny networks on one intra-op thread (restored after each module).

    With torch's default of one thread per core, a 64x32 MLP step measured 48 ms instead of 2 ms on
    a busy 2-core machine (threads spin against each other and against the concurrent jobs), which
    made these tests slow and their timing erratic. The server does not cap torch threads itself.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@dataclass
class SharedTrainer:
    """An in-process TrainerService shared by the tests of one module."""

    address: str
    data_dir: Path
    stub: pb_grpc.TrainerServiceStub


@pytest.fixture(scope="module")
def shared_trainer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedTrainer]:
    """One server (and stub) per test module, for tests that only add data and can share it."""
    data_dir = tmp_path_factory.mktemp("shared") / "trainer"
    config = Config(data_dir=data_dir, server=ServerOptions(host="127.0.0.1", port=0), heartbeat_seconds=2.0)
    core = TrainerCore.open(config)
    server, port, health = build_server(config, core)
    server.start()
    health.set_serving(True)
    address = f"127.0.0.1:{port}"
    try:
        with grpc.insecure_channel(address) as channel:
            yield SharedTrainer(address, data_dir, pb_grpc.TrainerServiceStub(channel))
    finally:
        server.stop(0).wait()
        core.close(timeout=30)


@pytest.fixture
def stub_for() -> Iterator:
    """Factory of raw stubs for extra servers (make_trainer), closed after the test."""
    channels: list[grpc.Channel] = []

    def make(address: str) -> pb_grpc.TrainerServiceStub:
        channel = grpc.insecure_channel(address)
        channels.append(channel)
        return pb_grpc.TrainerServiceStub(channel)

    yield make
    for channel in channels:
        channel.close()


@pytest.fixture(scope="module")
def baseline(shared_trainer: SharedTrainer) -> Baseline:
    """Data on the module's server that every rejected request must leave intact."""
    return make_baseline(shared_trainer.stub, shared_trainer.data_dir)


@pytest.fixture
def check(baseline: Baseline) -> Iterator:
    """expect_error on the module's server (no data-dir path in messages); then the baseline must be intact."""

    def run(call, code: grpc.StatusCode, reason: str, field: str | None = None):
        return expect_error(call, code, reason, field, data_dir=baseline.data_dir)

    yield run
    baseline.check_intact()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator:
    """Starts trainer server processes over one data dir (servers.data_dir); kills whatever is left at the end."""
    data_dir = tmp_path / "data"
    started: list[ServerProcess] = []

    def start(*extra: str) -> ServerProcess:
        # One torch thread, as in the in-process tests (see one_torch_thread).
        process = start_server_process(
            "trainer_service",
            ["--data-dir", str(data_dir), "--heartbeat-seconds", "2", *extra],
            env={"OMP_NUM_THREADS": "1"},
        )
        started.append(process)
        return process

    start.data_dir = data_dir  # type: ignore[attr-defined]
    yield start
    for process in started:
        process.kill()
