"""Shared fixtures: an in-process TrainerService on 127.0.0.1 port 0 and its client."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import grpc
import pytest
from mlsuite.trainer.v1 import trainer_service_pb2_grpc as pb_grpc

from mlsuite_common.lifecycle import ServerOptions
from trainer_service.config import Config
from trainer_service.core import TrainerCore
from trainer_service.server import build_server


class RunningTrainer:
    """An in-process TrainerService: its address, core and config."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.core = TrainerCore.open(config)
        self.server, port, self.health = build_server(config, self.core)
        self.server.start()
        self.health.set_serving(True)
        self.address = f"127.0.0.1:{port}"

    def stop(self) -> None:
        """Stop serving, interrupt jobs, close the store."""
        self.server.stop(0).wait()
        self.core.close(timeout=30)


@pytest.fixture
def trainer_config(tmp_path: Path) -> Config:
    """A config over a fresh data dir, with a short heartbeat."""
    return Config(data_dir=tmp_path / "trainer", server=ServerOptions(host="127.0.0.1", port=0),
                  heartbeat_seconds=2.0)


@pytest.fixture
def make_trainer(trainer_config: Config) -> Iterator:
    """Factory for in-process trainers (config overrides as keyword arguments)."""
    started: list[RunningTrainer] = []

    def make(**overrides: object) -> RunningTrainer:
        running = RunningTrainer(replace(trainer_config, **overrides))
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


@pytest.fixture
def trainer(make_trainer) -> RunningTrainer:
    """One in-process TrainerService with default settings."""
    return make_trainer()


@pytest.fixture
def trainer_stub(trainer: RunningTrainer) -> Iterator[pb_grpc.TrainerServiceStub]:
    """A raw generated stub for the trainer fixture."""
    with grpc.insecure_channel(trainer.address) as channel:
        yield pb_grpc.TrainerServiceStub(channel)
