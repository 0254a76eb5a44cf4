"""Transport security both servers share: TLS or mutual TLS, bearer tokens with two scopes, an exposure guard.

The interceptor keeps only SHA-256 digests of the tokens and compares a caller's digest with
hmac.compare_digest against every one of them, so neither the comparison nor the position of a matching
token shows in the timing. A call is checked before its handler runs, for unary and streaming RPCs alike;
health and reflection stay open so probes and grpcurl work without a secret. Tokens are never logged or
echoed back.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import ipaddress
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

__all__ = [
    "Scope",
    "AccessTokens",
    "TlsFiles",
    "ServerSecurity",
    "InsecureBindError",
    "TokenAuthInterceptor",
    "PUBLIC_SERVICES",
    "scope_table",
    "parse_tokens_file",
    "is_loopback",
    "check_exposure",
]

logger = logging.getLogger(__name__)

PUBLIC_SERVICES = frozenset(
    {
        "grpc.health.v1.Health",
        "grpc.reflection.v1alpha.ServerReflection",
        "grpc.reflection.v1.ServerReflection",
    }
)
"""Services every caller may use without a token: probes and grpcurl need them."""


class Scope(enum.IntEnum):
    """What a token may do; WRITE includes READ."""

    READ = 1
    WRITE = 2


@dataclass(frozen=True)
class AccessTokens:
    """Bearer tokens by scope; never shown in repr."""

    read: tuple[str, ...] = field(default=(), repr=False)
    write: tuple[str, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        for token in (*self.read, *self.write):
            if not token or any(c.isspace() for c in token):
                raise ValueError("a token must be non-empty and contain no whitespace")

    def __bool__(self) -> bool:
        return bool(self.read or self.write)

    def merged(self, other: AccessTokens) -> AccessTokens:
        """Both sets of tokens together."""
        return AccessTokens(self.read + other.read, self.write + other.write)


def parse_tokens_file(text: str) -> AccessTokens:
    """Tokens from `read TOKEN` / `write TOKEN` lines; blank lines and `#` comments are skipped."""
    read: list[str] = []
    write: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2 or parts[0].lower() not in ("read", "write"):
            # The line may hold a secret: name the line, never print it.
            raise ValueError(f"line {number}: expected `read TOKEN` or `write TOKEN`")
        (read if parts[0].lower() == "read" else write).append(parts[1])
    return AccessTokens(tuple(read), tuple(write))


@dataclass(frozen=True)
class TlsFiles:
    """PEM files of the server identity and, for mutual TLS, the CA that signs client certificates."""

    cert: Path
    key: Path
    client_ca: Path | None = None

    @property
    def mutual(self) -> bool:
        """Whether clients must present a certificate."""
        return self.client_ca is not None

    def server_credentials(self) -> grpc.ServerCredentials:
        """grpc server credentials; client certificates are required exactly when client_ca is set."""
        return grpc.ssl_server_credentials(
            [(self.key.read_bytes(), self.cert.read_bytes())],
            root_certificates=self.client_ca.read_bytes() if self.client_ca else None,
            require_client_auth=self.mutual,
        )


@dataclass(frozen=True)
class ServerSecurity:
    """TLS files (None = plaintext), bearer tokens (empty = no authentication) and the --insecure override."""

    tls: TlsFiles | None = None
    tokens: AccessTokens = field(default_factory=AccessTokens)
    insecure: bool = False

    def describe(self) -> str:
        """A log-safe summary, e.g. "mutual TLS, token auth"."""
        tls = "plaintext" if self.tls is None else ("mutual TLS" if self.tls.mutual else "TLS")
        return f"{tls}, {'token auth' if self.tokens else 'no token auth'}"


class InsecureBindError(ValueError):
    """A non-loopback address without TLS or tokens, and --insecure not given."""


def is_loopback(host: str) -> bool:
    """True for localhost, 127.0.0.0/8 and ::1 (brackets allowed); anything else may be reachable."""
    name = host.strip().strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, security: ServerSecurity) -> None:
    """Raise InsecureBindError when `host` is reachable from outside and nothing protects the server."""
    if security.tls or security.tokens or security.insecure or is_loopback(host):
        return
    raise InsecureBindError(
        f"refusing to serve on {host or 'all interfaces'} without TLS or tokens: anyone who can reach it "
        "could upload, train and delete. Set --tls-cert/--tls-key and/or --read-tokens/--write-tokens/"
        "--tokens-file, bind 127.0.0.1, or pass --insecure when a proxy or mesh in front protects it."
    )


def scope_table(service: str, *, read: Iterable[str], write: Iterable[str]) -> dict[str, Scope]:
    """Full method paths ("/pkg.Service/Method") of one service mapped to the scope each needs."""
    table = {f"/{service}/{method}": Scope.READ for method in read}
    for method in write:
        path = f"/{service}/{method}"
        if path in table:
            raise ValueError(f"{method} is listed as both read and write")
        table[path] = Scope.WRITE
    return table


def _denial(code: int, reason: str, message: str, domain: str, **metadata: str) -> tuple[str, grpc.Status]:
    """(reason, status) of a refused call: the code, a client-safe message and an ErrorInfo."""
    info = error_details_pb2.ErrorInfo(reason=reason, domain=domain, metadata=metadata)
    packed = any_pb2.Any()
    packed.Pack(info)
    return reason, rpc_status.to_status(status_pb2.Status(code=code, message=message, details=[packed]))


def _rejecting(handler: grpc.RpcMethodHandler, status: grpc.Status, method: str, reason: str) -> grpc.RpcMethodHandler:
    """A handler with the same serializers that ends the call with `status` and runs nothing else.

    It is always a request-streaming handler, whatever the method: grpc runs a unary-request handler only
    once the request message has arrived, so a caller without a token that opened calls and never sent
    their bodies held a slot of --max-concurrent-rpcs each until every caller was refused. A streaming
    handler runs at once and the refusal frees the slot without reading anything.
    """

    def reject(_requests: Any, context: grpc.ServicerContext) -> Any:
        logger.info("%s -> %s %s", method, status.code.name, reason)  # inside the call: with its request id
        context.abort_with_status(status)

    kwargs = {
        "request_deserializer": handler.request_deserializer,
        "response_serializer": handler.response_serializer,
    }
    if handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(reject, **kwargs)
    return grpc.stream_unary_rpc_method_handler(reject, **kwargs)


class TokenAuthInterceptor(grpc.ServerInterceptor):
    """Checks `authorization: Bearer <token>` against the method's scope before any handler runs.

    Missing token -> UNAUTHENTICATED (MISSING_TOKEN); unknown or malformed -> UNAUTHENTICATED (INVALID_TOKEN);
    a read token on a write method -> PERMISSION_DENIED (INSUFFICIENT_SCOPE). Methods absent from the scope
    table need WRITE; PUBLIC_SERVICES need nothing.
    """

    def __init__(
        self,
        tokens: AccessTokens,
        scopes: Mapping[str, Scope],
        domain: str,
        public_services: Iterable[str] = PUBLIC_SERVICES,
    ) -> None:
        if not tokens:
            raise ValueError("TokenAuthInterceptor needs at least one token")
        self._digests: list[tuple[bytes, Scope]] = [
            *((_digest(t), Scope.READ) for t in tokens.read),
            *((_digest(t), Scope.WRITE) for t in tokens.write),
        ]
        self._scopes = dict(scopes)
        self._domain = domain
        self._public = frozenset(public_services)

    def _granted(self, token: str) -> Scope | None:
        """The widest scope of a matching token; compares against every token whatever matches first."""
        candidate = _digest(token)
        granted: Scope | None = None
        for digest, scope in self._digests:
            matches = hmac.compare_digest(candidate, digest)
            if matches and (granted is None or scope > granted):
                granted = scope
        return granted

    def _denial_for(
        self, metadata: Sequence[tuple[str, str | bytes]] | None, required: Scope
    ) -> tuple[str, grpc.Status] | None:
        values = [value for key, value in metadata or () if key == "authorization"]
        if not values:
            return _denial(code_pb2.UNAUTHENTICATED, "MISSING_TOKEN",
                           "missing `authorization: Bearer <token>` metadata", self._domain)
        scheme, _, token = str(values[0]).strip().partition(" ")
        granted = self._granted(token.strip()) if len(values) == 1 and scheme.lower() == "bearer" else None
        if granted is None:
            return _denial(code_pb2.UNAUTHENTICATED, "INVALID_TOKEN", "the bearer token is not valid",
                           self._domain)
        if granted < required:
            return _denial(code_pb2.PERMISSION_DENIED, "INSUFFICIENT_SCOPE",
                           f"this method needs a {required.name.lower()} token", self._domain,
                           required_scope=required.name.lower())
        return None

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        """Pass public and authorized calls on; replace the handler of any other with a rejection."""
        method = handler_call_details.method
        if method.lstrip("/").partition("/")[0] in self._public:
            return continuation(handler_call_details)
        required = self._scopes.get(method, Scope.WRITE)
        denial = self._denial_for(handler_call_details.invocation_metadata, required)
        handler = continuation(handler_call_details)
        if denial is None or handler is None:
            return handler
        reason, status = denial
        return _rejecting(handler, status, method, reason)


def _digest(token: str) -> bytes:
    # Equal-length digests keep compare_digest from revealing the length of a configured token.
    return hashlib.sha256(token.encode()).digest()

