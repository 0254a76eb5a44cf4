"""In-process TrainerService and DownloaderService with chosen security, on 127.0.0.1 port 0."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
from mlsuite.downloader.v1 import downloader_service_pb2_grpc as downloader_grpc
from mlsuite.trainer.v1 import trainer_service_pb2_grpc as trainer_grpc

from downloader_service.config import Config as DownloaderConfig
from downloader_service.manager import DownloadManager
from downloader_service.server import SERVICE_NAME as DOWNLOADER_SERVICE
from downloader_service.server import build_server as build_downloader
from mlsuite_common.lifecycle import ConnectionSettings, ServerOptions, ServingHealth
from mlsuite_common.security import ServerSecurity
from trainer_service.config import Config as TrainerConfig
from trainer_service.core import TrainerCore
from trainer_service.server import SERVICE_NAME as TRAINER_SERVICE
from trainer_service.server import build_server as build_trainer

__all__ = ["KINDS", "SERVICE_NAMES", "InProcessServer", "start_server", "trainer_config", "downloader_config"]

KINDS = ("trainer", "downloader")
SERVICE_NAMES = {"trainer": TRAINER_SERVICE, "downloader": DOWNLOADER_SERVICE}
UNREACHABLE_HUB = "http://127.0.0.1:9"  # discard port: the RPCs these tests make never reach the Hub


@dataclass
class InProcessServer:
    """A started server: where it listens, its health switch, how to stop it."""

    kind: str
    port: int
    server: grpc.Server
    health: ServingHealth
    close_core: Callable[[], object]

    @property
    def address(self) -> str:
        """127.0.0.1:port (the test server certificate names 127.0.0.1 and localhost)."""
        return f"127.0.0.1:{self.port}"

    @property
    def service_name(self) -> str:
        """The full name of the service it serves."""
        return SERVICE_NAMES[self.kind]

    def stub(
        self, channel: grpc.Channel
    ) -> trainer_grpc.TrainerServiceStub | downloader_grpc.DownloaderServiceStub:
        """The generated stub of its service over `channel`."""
        if self.kind == "trainer":
            return trainer_grpc.TrainerServiceStub(channel)
        return downloader_grpc.DownloaderServiceStub(channel)

    def stop(self) -> None:
        """Stop serving and close the core."""
        self.server.stop(0).wait()
        self.close_core()


def trainer_config(
    directory: Path, security: ServerSecurity, connection: ConnectionSettings
) -> TrainerConfig:
    """A TrainerService config over `directory`."""
    options = ServerOptions(
        host="127.0.0.1", port=0, grace_seconds=1.0, connection=connection, security=security
    )
    return TrainerConfig(data_dir=directory / "trainer", server=options, heartbeat_seconds=1.0)


def downloader_config(
    directory: Path, security: ServerSecurity, connection: ConnectionSettings
) -> DownloaderConfig:
    """A DownloaderService config over `directory`."""
    return DownloaderConfig(
        port=0, cache_dir=directory / "cache", hub_endpoint=UNREACHABLE_HUB, hub_timeout_seconds=2.0,
        heartbeat_seconds=1.0, grace_seconds=1.0, connection=connection, security=security,
    )


def start_server(
    kind: str,
    directory: Path,
    security: ServerSecurity | None = None,
    connection: ConnectionSettings | None = None,
) -> InProcessServer:
    """Build, start and open a server of `kind` ("trainer" or "downloader"), reporting SERVING."""
    security = security or ServerSecurity()
    connection = connection or ConnectionSettings()
    if kind == "trainer":
        config = trainer_config(directory, security, connection)
        core = TrainerCore.open(config)
        server, port, health = build_trainer(config, core)
        server.start()
        close = functools.partial(core.close, timeout=10)
    else:
        dconfig = downloader_config(directory, security, connection)
        manager = DownloadManager.from_config(dconfig)
        server, port, health = build_downloader(dconfig, manager)
        server.start()
        manager.open()
        close = functools.partial(manager.close, timeout=2)
    health.set_serving(True)
    return InProcessServer(kind, port, server, health, close)
