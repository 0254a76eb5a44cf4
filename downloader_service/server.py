"""The downloader server: build (health, reflection, error mapping), start, open the core, drain."""

from __future__ import annotations

import logging
from collections.abc import Callable

import grpc
from mlsuite.downloader.v1 import downloader_service_pb2 as pb
from mlsuite.downloader.v1 import downloader_service_pb2_grpc as pb_grpc

from downloader_service.config import Config
from downloader_service.manager import DownloadManager
from downloader_service.servicer import DownloaderServicer
from mlsuite_common.interceptors import ErrorMappingInterceptor
from mlsuite_common.lifecycle import ServingHealth, create_server, run_until_signalled

__all__ = ["ERROR_DOMAIN", "SERVICE_NAME", "build_server", "serve"]

logger = logging.getLogger(__name__)

ERROR_DOMAIN = "downloader.mlsuite"
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["DownloaderService"].full_name


def build_server(config: Config, core: DownloadManager) -> tuple[grpc.Server, int, ServingHealth]:
    """Bind (not start) the server around `core`; health stays NOT_SERVING until the caller opens the core."""

    def register(server: grpc.Server) -> None:
        """Add the DownloaderService to `server`."""
        pb_grpc.add_DownloaderServiceServicer_to_server(DownloaderServicer(core), server)

    return create_server(
        config.server_options(), [ErrorMappingInterceptor(domain=ERROR_DOMAIN)], register, [SERVICE_NAME]
    )


def serve(config: Config, on_listening: Callable[[str, int], None] = lambda host, port: None) -> int:
    """Run the server until SIGTERM/SIGINT: NOT_SERVING, cancel the download, stop with grace; returns 0."""
    core = DownloadManager.from_config(config)
    server, port, health = build_server(config, core)
    server.start()
    core.open()
    health.set_serving(True)
    logger.info(
        "DownloaderService listening on %s:%d (hub %s, cache %s)",
        config.host,
        port,
        config.hub_endpoint,
        config.cache_dir,
    )
    on_listening(config.host, port)
    run_until_signalled(
        server, health, config.grace_seconds, on_drain=lambda: core.close(config.grace_seconds)
    )
    return 0
