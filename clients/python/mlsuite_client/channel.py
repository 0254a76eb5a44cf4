"""Channels to the MLSuite servers: TLS or mutual TLS, a bearer token, keepalive and retries of safe reads.

    channel = create_channel("trainer.example:443", Credentials(ca_file="ca.pem", token=os.environ["TOKEN"]))
    client = TrainerClient(channel)   # or TrainerClient("trainer.example:443", credentials=...)

Keepalive pings every 30 s (the servers accept them from every 10 s, also with no call open), so proxies and
NATs keep long streams' connections open and dead ones are noticed. The service config retries only
idempotent unary reads (Get*/List*, GetDownloadStatus) on UNAVAILABLE; writes and streams are never retried
by the channel, since resending them could repeat a side effect or an event.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from mlsuite.downloader.v1 import downloader_service_pb2
from mlsuite.trainer.v1 import trainer_service_pb2

__all__ = [
    "Credentials",
    "create_channel",
    "channel_for",
    "default_credentials",
    "current_credentials",
    "retried_methods",
    "SERVICE_CONFIG",
    "KEEPALIVE_TIME_SECONDS",
    "MAX_RECEIVE_MESSAGE_BYTES",
    "MAX_TIMEOUT_SECONDS",
    "checked_timeout",
]

KEEPALIVE_TIME_SECONDS = 30
"""How often the client pings an idle connection (the servers accept every 10 s or slower)."""
KEEPALIVE_TIMEOUT_SECONDS = 10
MAX_RECEIVE_MESSAGE_BYTES = 64 * 1024 * 1024
"""The largest response accepted; above the servers' default 16 MiB send limit."""
MAX_TIMEOUT_SECONDS = 366 * 24 * 3600.0
"""The longest deadline a call takes: grpc treats one past its nanosecond clock (1e10 s and up), like
0, a negative number, nan or inf, as already expired, so such a call fails at once."""


def checked_timeout(timeout: float | None, *, optional: bool = False) -> float | None:
    """`timeout` if it is a number of seconds in (0, MAX_TIMEOUT_SECONDS] (or None where `optional`)."""
    if timeout is None and optional:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 0 < timeout <= MAX_TIMEOUT_SECONDS:
        raise ValueError(f"timeout must be a number of seconds in (0, {MAX_TIMEOUT_SECONDS:g}], not {timeout!r}")
    return float(timeout)


_SERVICES: tuple[ServiceDescriptor, ...] = (
    trainer_service_pb2.DESCRIPTOR.services_by_name["TrainerService"],
    downloader_service_pb2.DESCRIPTOR.services_by_name["DownloaderService"],
)


def retried_methods() -> list[dict[str, str]]:
    """The unary Get*/List* methods of both services: reads that are safe to send again."""
    return [
        {"service": service.full_name, "method": method.name}
        for service in _SERVICES
        for method in service.methods
        if method.name.startswith(("Get", "List"))
        and not (method.client_streaming or method.server_streaming)
    ]


SERVICE_CONFIG: dict[str, Any] = {
    "methodConfig": [
        {
            "name": retried_methods(),
            "retryPolicy": {
                "maxAttempts": 4,
                "initialBackoff": "0.1s",
                "maxBackoff": "2s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }
    ]
}
"""The gRPC service config every channel gets: the retry policy of the idempotent reads."""


@dataclass(frozen=True)
class Credentials:
    """How to reach a server: TLS (system roots, or ca_file), a client certificate for mutual TLS, a token."""

    tls: bool = False
    ca_file: str | Path | None = None
    cert_file: str | Path | None = None
    key_file: str | Path | None = None
    token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("cert_file and key_file go together")
        if self.token is not None and (not self.token or any(c.isspace() for c in self.token)):
            raise ValueError("the token must be non-empty and contain no whitespace")

    @property
    def uses_tls(self) -> bool:
        """TLS is on when asked for or when any TLS file is given."""
        return self.tls or any(f is not None for f in (self.ca_file, self.cert_file, self.key_file))

    def channel_credentials(self) -> grpc.ChannelCredentials:
        """TLS channel credentials from the files (read now); system roots when no ca_file."""
        return grpc.ssl_channel_credentials(
            root_certificates=_read(self.ca_file),
            private_key=_read(self.key_file),
            certificate_chain=_read(self.cert_file),
        )


def _read(path: str | Path | None) -> bytes | None:
    return None if path is None else Path(path).expanduser().read_bytes()


_DEFAULT: contextvars.ContextVar[Credentials | None] = contextvars.ContextVar(
    "mlsuite_credentials", default=None
)


@contextlib.contextmanager
def default_credentials(credentials: Credentials) -> Iterator[None]:
    """Within the block, clients made from a target string without credentials use these (CLI flags)."""
    reset = _DEFAULT.set(credentials)
    try:
        yield
    finally:
        _DEFAULT.reset(reset)


def current_credentials() -> Credentials:
    """The credentials set by default_credentials, else none (plaintext, no token)."""
    return _DEFAULT.get() or Credentials()


def _channel_options(extra: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [
        ("grpc.keepalive_time_ms", KEEPALIVE_TIME_SECONDS * 1000),
        ("grpc.keepalive_timeout_ms", KEEPALIVE_TIMEOUT_SECONDS * 1000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.max_receive_message_length", MAX_RECEIVE_MESSAGE_BYTES),
        ("grpc.enable_retries", 1),
        ("grpc.service_config", json.dumps(SERVICE_CONFIG)),
        *extra,
    ]


def create_channel(
    target: str, credentials: Credentials | None = None, *, options: Sequence[tuple[str, Any]] = ()
) -> grpc.Channel:
    """A channel to `target` with keepalive, the read retry policy and, when given, TLS and a bearer token.

    The token travels as `authorization: Bearer <token>` metadata on every call; over plaintext it is only
    as private as the network, so use TLS unless a local proxy or mesh sidecar encrypts the hop.
    """
    credentials = credentials or Credentials()
    opts = _channel_options(options)
    if credentials.uses_tls:
        channel = grpc.secure_channel(target, credentials.channel_credentials(), options=opts)
    else:
        channel = grpc.insecure_channel(target, options=opts)
    if credentials.token is None:
        return channel
    return grpc.intercept_channel(channel, _BearerToken(credentials.token))


class _Details(NamedTuple):
    method: str
    timeout: float | None
    metadata: Sequence[tuple[str, str | bytes]] | None
    credentials: grpc.CallCredentials | None
    wait_for_ready: bool | None
    compression: grpc.Compression | None


class _ClientCallDetails(_Details, grpc.ClientCallDetails):
    """grpc.ClientCallDetails with the extra header."""


class _BearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds `authorization: Bearer <token>` to every call."""

    def __init__(self, token: str) -> None:
        self._header = ("authorization", f"Bearer {token}")

    def __repr__(self) -> str:
        return "_BearerToken(<hidden>)"

    def _details(self, details: grpc.ClientCallDetails) -> grpc.ClientCallDetails:
        metadata = [*(details.metadata or ()), self._header]
        return _ClientCallDetails(
            details.method, details.timeout, metadata, details.credentials,
            getattr(details, "wait_for_ready", None), getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Callable[..., Any], details: grpc.ClientCallDetails,
                              request: Any) -> Any:
        """Add the header to a unary call."""
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Callable[..., Any], details: grpc.ClientCallDetails,
                               request: Any) -> Any:
        """Add the header to a response stream."""
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Callable[..., Any], details: grpc.ClientCallDetails,
                               request_iterator: Any) -> Any:
        """Add the header to a request stream."""
        return continuation(self._details(details), request_iterator)

    def intercept_stream_stream(self, continuation: Callable[..., Any], details: grpc.ClientCallDetails,
                                request_iterator: Any) -> Any:
        """Add the header to a bidirectional stream."""
        return continuation(self._details(details), request_iterator)


def channel_for(
    channel_or_target: grpc.Channel | str, credentials: Credentials | None
) -> tuple[grpc.Channel, bool]:
    """(channel, whether the caller owns it): a new channel for a target, or the caller's own channel as is."""
    if isinstance(channel_or_target, str):
        return create_channel(channel_or_target, credentials or current_credentials()), True
    if credentials is not None:
        raise ValueError("credentials apply to a target; for your own channel use create_channel")
    return channel_or_target, False
