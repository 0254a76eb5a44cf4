"""The downloader server: build (health, reflection, token check, errors), start, open the core, drain."""

from __future__ import annotations

import logging
from collections.abc import Callable

import grpc
from mlsuite.downloader.v1 import downloader_service_pb2 as pb
from mlsuite.downloader.v1 import downloader_service_pb2_grpc as pb_grpc
from prometheus_client import CollectorRegistry

from downloader_service.config import Config
from downloader_service.hub import shown_url
from downloader_service.manager import DownloadManager
from downloader_service.servicer import DownloaderServicer
from downloader_service.telemetry import register_downloader_metrics
from mlsuite_common.interceptors import ErrorMappingInterceptor
from mlsuite_common.lifecycle import ServingHealth, create_server, run_until_signalled, watch_signals
from mlsuite_common.security import Scope, TokenAuthInterceptor, scope_table
from mlsuite_common.telemetry import RpcMetrics, TelemetryInterceptor, start_metrics_server

__all__ = ["ERROR_DOMAIN", "METHOD_SCOPES", "SERVICE_NAME", "build_server", "interceptors", "serve"]

logger = logging.getLogger(__name__)

ERROR_DOMAIN = "downloader.mlsuite"
SERVICE_NAME = pb.DESCRIPTOR.services_by_name["DownloaderService"].full_name
METHOD_SCOPES: dict[str, Scope] = scope_table(
    SERVICE_NAME,
    read=["GetDownloadStatus", "WatchDownloadStatus", "ListDownloadedModels"],
    write=["StartDownload", "CancelDownload", "DeleteDownloadedModel"],
)
"""The token scope each RPC needs; an RPC missing here needs a write token."""


def interceptors(config: Config, metrics: RpcMetrics) -> list[grpc.ServerInterceptor]:
    """Outermost first: telemetry (so rejected calls count too), token check (when set), error mapping."""
    chain: list[grpc.ServerInterceptor] = [TelemetryInterceptor(metrics)]
    if config.security.tokens:
        chain.append(TokenAuthInterceptor(config.security.tokens, METHOD_SCOPES, ERROR_DOMAIN))
    chain.append(ErrorMappingInterceptor(domain=ERROR_DOMAIN))
    return chain


def build_server(
    config: Config, core: DownloadManager, registry: CollectorRegistry | None = None
) -> tuple[grpc.Server, int, ServingHealth]:
    """Bind (not start) the server around `core`; health stays NOT_SERVING until the caller opens the core.

    RPC metrics go to `registry` (a fresh one when None, so several servers can share a process).
    """
    metrics = RpcMetrics(registry or CollectorRegistry())

    def register(server: grpc.Server) -> None:
        """Add the DownloaderService to `server`."""
        pb_grpc.add_DownloaderServiceServicer_to_server(DownloaderServicer(core), server)

    return create_server(config.server_options(), interceptors(config, metrics), register, [SERVICE_NAME])


def serve(config: Config, announce: Callable[[str], None] = lambda line: None) -> int:
    """Run the server until SIGTERM/SIGINT: NOT_SERVING, cancel the download, stop with grace; returns 0.

    `announce` receives `metrics on URL` (when enabled) and then `listening on HOST:PORT`.
    """
    stop = watch_signals()
    core = DownloadManager.from_config(config)
    registry = CollectorRegistry()
    server, port, health = build_server(config, core, registry)
    server.start()
    core.open()
    register_downloader_metrics(registry, core)
    if config.observability.metrics_port >= 0:
        host = config.observability.metrics_host or config.host
        metrics_port = start_metrics_server(host, config.observability.metrics_port, registry)
        announce(f"metrics on http://{host}:{metrics_port}/metrics")
    health.set_serving(True)
    logger.info(
        "DownloaderService listening on %s:%d (hub %s, cache %s, %s)",
        config.host,
        port,
        shown_url(config.hub_endpoint),
        config.cache_dir,
        config.security.describe(),
    )
    announce(f"listening on {config.host}:{port}")
    run_until_signalled(
        server, health, config.grace_seconds, on_drain=lambda: core.close(config.grace_seconds), stop=stop
    )
    return 0
