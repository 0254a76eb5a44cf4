"""The server lifecycle both services share: transport options, health, reflection, binding, a SIGTERM drain.

Startup: build and start the server (health NOT_SERVING, service calls UNAVAILABLE with SERVER_STARTING),
open the domain core, then report SERVING. Shutdown: SIGTERM/SIGINT -> NOT_SERVING for every name (health
Watch streams see it before anything stops) -> the service's own drain -> server.stop(grace) -> return.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent import futures
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from mlsuite_common.errors import Unavailable
from mlsuite_common.interceptors import StreamLimitInterceptor, stream_limit
from mlsuite_common.security import PUBLIC_SERVICES, ServerSecurity, check_exposure

__all__ = [
    "ConnectionSettings",
    "ServerOptions",
    "HealthServicer",
    "ServingHealth",
    "PendingCore",
    "MIN_MESSAGE_BYTES",
    "MIN_CLIENT_PING_INTERVAL_SECONDS",
    "create_server",
    "watch_signals",
    "run_until_signalled",
]

logger = logging.getLogger(__name__)

_MIB = 1024 * 1024
MIN_MESSAGE_BYTES = _MIB + 64 * 1024
"""The smallest message limit allowed: an upload chunk (1 MiB) plus its framing."""
MIN_CLIENT_PING_INTERVAL_SECONDS = 10
"""Clients may send keepalive pings this often, even with no call open, without being disconnected."""

_T = TypeVar("_T")


@dataclass(frozen=True)
class ConnectionSettings:
    """HTTP/2 connection management: keepalive, connection age, concurrency and message-size limits."""

    keepalive_time_seconds: float = 30.0
    keepalive_timeout_seconds: float = 10.0
    max_connection_age_seconds: float = 0.0  # 0 = unlimited: long Train/Watch streams are never cut
    max_connection_age_grace_seconds: float = 30.0
    max_concurrent_streams: int = 100
    max_concurrent_rpcs: int = 256
    max_message_bytes: int = 16 * _MIB

    def __post_init__(self) -> None:
        if self.max_message_bytes < MIN_MESSAGE_BYTES:
            raise ValueError(f"max_message_bytes must be at least {MIN_MESSAGE_BYTES} (1 MiB + framing)")
        if self.keepalive_time_seconds <= 0 or self.keepalive_timeout_seconds <= 0:
            raise ValueError("keepalive time and timeout must be positive")
        if self.max_connection_age_seconds < 0 or self.max_connection_age_grace_seconds < 0:
            raise ValueError("connection age and grace must not be negative")
        if self.max_concurrent_streams < 1 or self.max_concurrent_rpcs < 1:
            raise ValueError("concurrency limits must be at least 1")

    def channel_options(self) -> list[tuple[str, int]]:
        """grpc.server options for these settings."""
        options = [
            ("grpc.keepalive_time_ms", _ms(self.keepalive_time_seconds)),
            ("grpc.keepalive_timeout_ms", _ms(self.keepalive_timeout_seconds)),
            # Accept client keepalive pings on idle connections, as often as every 10 s, so the client
            # library's keepalive (mlsuite_client.channel) never earns a GOAWAY "too_many_pings".
            ("grpc.keepalive_permit_without_calls", 1),
            ("grpc.http2.min_ping_interval_without_data_ms", MIN_CLIENT_PING_INTERVAL_SECONDS * 1000),
            ("grpc.http2.max_pings_without_data", 0),
            ("grpc.max_concurrent_streams", self.max_concurrent_streams),
            ("grpc.max_receive_message_length", self.max_message_bytes),
            ("grpc.max_send_message_length", self.max_message_bytes),
        ]
        if self.max_connection_age_seconds > 0:
            options += [
                ("grpc.max_connection_age_ms", _ms(self.max_connection_age_seconds)),
                ("grpc.max_connection_age_grace_ms", _ms(self.max_connection_age_grace_seconds)),
            ]
        return options


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


@dataclass(frozen=True)
class ServerOptions:
    """Everything about the listening socket shared by both servers."""

    host: str = "127.0.0.1"
    port: int = 0
    max_workers: int = 256  # as many as --max-concurrent-rpcs admits by default: no admitted call waits for one
    grace_seconds: float = 10.0
    connection: ConnectionSettings = field(default_factory=ConnectionSettings)
    security: ServerSecurity = field(default_factory=ServerSecurity)
    extra_options: tuple[tuple[str, int | str], ...] = field(default=())

    def channel_options(self) -> list[tuple[str, int | str]]:
        """grpc.server options derived from these settings."""
        return [*self.connection.channel_options(), ("grpc.so_reuseport", 0), *self.extra_options]

    def stream_limit(self) -> int:
        """Open streams allowed at once: a quarter of the calls (at least 2) stay free for unary calls.

        The smaller of the handler threads and the concurrent-call cap is what streams compete for.
        """
        return stream_limit(min(self.max_workers, self.connection.max_concurrent_rpcs))


class HealthServicer(health.HealthServicer):
    """grpcio-health-checking's servicer plus grpc.health.v1 List, which its 1.85 release leaves out."""

    def __init__(self) -> None:
        super().__init__(experimental_non_blocking=True)
        self._listed_lock = threading.Lock()
        self._listed: dict[str, int] = {"": health_pb2.HealthCheckResponse.SERVING}  # the base class's start
        self._draining = False

    def set(self, service: str, status: int) -> None:
        """Set one service's status (ignored once draining, like the base class)."""
        super().set(service, status)
        with self._listed_lock:
            if not self._draining:
                self._listed[service] = status

    def enter_graceful_shutdown(self) -> None:
        """Report NOT_SERVING for every service, for good."""
        super().enter_graceful_shutdown()  # goes through set() for each service, so List follows
        with self._listed_lock:
            self._draining = True

    def List(self, request: health_pb2.HealthListRequest, context: grpc.ServicerContext) -> Any:  # noqa: N802
        """Every known service with its status."""
        with self._listed_lock:
            listed = dict(self._listed)
        return health_pb2.HealthListResponse(
            statuses={name: health_pb2.HealthCheckResponse(status=status) for name, status in listed.items()}
        )


class ServingHealth:
    """grpc.health.v1 for "" and every service name, flipped together."""

    def __init__(self, service_names: Sequence[str]) -> None:
        self.servicer = HealthServicer()
        self._names = ["", *service_names]
        self.set_serving(False)

    def set_serving(self, serving: bool) -> None:
        """Report SERVING or NOT_SERVING for every name (no effect once draining)."""
        status = (
            health_pb2.HealthCheckResponse.SERVING if serving else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in self._names:
            self.servicer.set(name, status)

    def begin_drain(self) -> None:
        """NOT_SERVING for every name from now on; open Watch streams get the update at once."""
        self.servicer.enter_graceful_shutdown()


class PendingCore(Generic[_T]):
    """Stands in for a domain core that is still opening; until fill(), every attribute is UNAVAILABLE."""

    def __init__(self) -> None:
        self._core: _T | None = None

    def fill(self, core: _T) -> None:
        """Start forwarding to the opened core."""
        self._core = core

    def __getattr__(self, name: str) -> Any:
        core = self.__dict__.get("_core")
        if core is None:
            raise Unavailable("the server is starting; retry shortly", reason="SERVER_STARTING")
        return getattr(core, name)


def create_server(
    options: ServerOptions,
    interceptors: Sequence[grpc.ServerInterceptor],
    register: Callable[[grpc.Server], None],
    service_full_names: Sequence[str],
) -> tuple[grpc.Server, int, ServingHealth]:
    """Build and bind (not start) a server with health and reflection; returns (server, port, health).

    Interceptors run outermost first; a StreamLimitInterceptor goes innermost, so that open streams
    never take the handler threads unary calls need (see interceptors.stream_limit). Binds with TLS when
    options.security.tls is set; raises InsecureBindError for a reachable address that neither TLS nor
    tokens protect (unless insecure).
    """
    check_exposure(options.host, options.security)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=options.max_workers, thread_name_prefix="grpc"),
        interceptors=[*interceptors, StreamLimitInterceptor(options.stream_limit(), PUBLIC_SERVICES)],
        options=options.channel_options(),
        maximum_concurrent_rpcs=options.connection.max_concurrent_rpcs,
    )
    register(server)
    serving = ServingHealth(service_full_names)
    health_pb2_grpc.add_HealthServicer_to_server(serving.servicer, server)
    health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    reflection.enable_server_reflection([*service_full_names, health_name, reflection.SERVICE_NAME], server)
    address = f"{options.host}:{options.port}"
    tls = options.security.tls
    if tls is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, tls.server_credentials())
    if port == 0:
        raise OSError(f"could not bind {address}")
    return server, port, serving


def watch_signals() -> threading.Event:
    """Route SIGTERM/SIGINT to an Event; install before starting so an early signal still drains."""
    stop = threading.Event()

    def _handle(signum: int, _frame: object) -> None:
        logger.info("received %s, draining", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _handle)
    signal.signal(signal.SIGINT, _handle)
    return stop


def run_until_signalled(
    server: grpc.Server,
    serving: ServingHealth,
    grace_seconds: float,
    on_drain: Callable[[], None] = lambda: None,
    stop: threading.Event | None = None,
) -> None:
    """Serve until SIGTERM/SIGINT: report NOT_SERVING, run on_drain, stop with a grace period."""
    stop = stop or watch_signals()
    # Wait in short slices, never in one blocking wait: a SIGTERM the kernel hands to another thread (one of
    # grpc's, or while the main thread briefly blocks signals to spawn a helper process) only marks the
    # handler pending, and Python runs it when the main thread next executes bytecode. A wait without a
    # timeout never returns to bytecode, and the signal was lost (seen with a SIGTERM right after start).
    while not stop.wait(0.2):
        pass
    serving.begin_drain()
    on_drain()
    server.stop(grace_seconds).wait()
    logger.info("stopped")
