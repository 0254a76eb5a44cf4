"""The server lifecycle both services share: health, reflection, port binding and a SIGTERM drain."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

__all__ = ["ServerOptions", "ServingHealth", "create_server", "run_until_signalled"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerOptions:
    """Transport settings shared by both servers."""

    host: str = "127.0.0.1"
    port: int = 0
    max_workers: int = 64
    max_concurrent_rpcs: int = 256
    max_message_bytes: int = 16 * 1024 * 1024
    grace_seconds: float = 10.0
    extra_options: tuple[tuple[str, int | str], ...] = field(default=())

    def channel_options(self) -> list[tuple[str, int | str]]:
        """grpc.server options derived from these settings."""
        return [
            ("grpc.max_receive_message_length", self.max_message_bytes),
            ("grpc.max_send_message_length", self.max_message_bytes),
            ("grpc.so_reuseport", 0),
            *self.extra_options,
        ]


class ServingHealth:
    """grpc.health.v1 for "" and every service name, flipped together."""

    def __init__(self, service_names: Sequence[str]) -> None:
        self.servicer = health.HealthServicer(experimental_non_blocking=True)
        self._names = ["", *service_names]
        self.set_serving(False)

    def set_serving(self, serving: bool) -> None:
        """Report SERVING or NOT_SERVING for every name."""
        status = (
            health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in self._names:
            self.servicer.set(name, status)


def create_server(
    options: ServerOptions,
    interceptors: Sequence[grpc.ServerInterceptor],
    register: Callable[[grpc.Server], None],
    service_full_names: Sequence[str],
) -> tuple[grpc.Server, int, ServingHealth]:
    """Build and bind (not start) a server with health and reflection; returns (server, port, health)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=options.max_workers, thread_name_prefix="grpc"),
        interceptors=list(interceptors),
        options=options.channel_options(),
        maximum_concurrent_rpcs=options.max_concurrent_rpcs,
    )
    register(server)
    serving = ServingHealth(service_full_names)
    health_pb2_grpc.add_HealthServicer_to_server(serving.servicer, server)
    reflection.enable_server_reflection(
        [*service_full_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME],
        server,
    )
    port = server.add_insecure_port(f"{options.host}:{options.port}")
    if port == 0:
        raise OSError(f"could not bind {options.host}:{options.port}")
    return server, port, serving


def run_until_signalled(
    server: grpc.Server,
    serving: ServingHealth,
    grace_seconds: float,
    on_drain: Callable[[], None] = lambda: None,
) -> None:
    """Serve until SIGTERM/SIGINT: report NOT_SERVING, run on_drain, stop with a grace period."""
    stop = threading.Event()

    def _handle(signum: int, _frame: object) -> None:
        logger.info("received %s, draining", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _handle)
    signal.signal(signal.SIGINT, _handle)
    stop.wait()
    serving.set_serving(False)
    on_drain()
    server.stop(grace_seconds).wait()
    logger.info("stopped")
