"""Command-line flags that also read MLSUITE_-prefixed environment variables."""

from __future__ import annotations

import argparse
import math
import os
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlsuite_common.lifecycle import MIN_MESSAGE_BYTES, ConnectionSettings, ServerOptions
from mlsuite_common.security import AccessTokens, ServerSecurity, TlsFiles, parse_tokens_file
from mlsuite_common.telemetry import Observability

__all__ = [
    "env_name",
    "add_flag",
    "parse_bool",
    "MAX_SECONDS",
    "positive_seconds",
    "non_negative_seconds",
    "port_number",
    "positive_int",
    "non_negative_int",
    "add_server_flags",
    "add_observability_flags",
    "observability_from_args",
    "connection_from_args",
    "security_from_args",
]


def env_name(flag: str) -> str:
    """The environment variable of a flag: --max-upload-bytes -> MLSUITE_MAX_UPLOAD_BYTES."""
    return "MLSUITE_" + flag.lstrip("-").replace("-", "_").upper()


def parse_bool(value: str | bool) -> bool:
    """Parse 1/0, true/false, yes/no, on/off (case-insensitive)."""
    if isinstance(value, bool):
        return value
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise argparse.ArgumentTypeError(f"not a boolean: {value!r}")


def add_flag(
    parser: argparse.ArgumentParser,
    flag: str,
    *,
    default: Any,
    type: Callable[[str], Any] = str,  # noqa: A002 - mirrors argparse
    help: str,  # noqa: A002 - mirrors argparse
    env: str | None = None,
    choices: list[str] | None = None,
) -> None:
    """Add `flag` whose default comes from its environment variable (or `env`), else `default`."""
    names = [env] if env else []
    names.append(env_name(flag))
    value = default
    for name in names:
        if name in os.environ:
            text = os.environ[name]
            try:
                value = type(text)
            except (ValueError, argparse.ArgumentTypeError) as exc:  # a usage error, like the flag's own
                parser.error(f"{name}={text!r}: {exc}")
            if choices is not None and value not in choices:
                parser.error(f"{name}={text!r}: choose from {', '.join(choices)}")
            break
    full_help = f"{help} (env {' / '.join(names)}; default {default if default != '' else 'unset'})"
    if type is parse_bool:
        parser.add_argument(
            flag, default=value, type=parse_bool, nargs="?", const=True, choices=None, help=full_help
        )
        return
    parser.add_argument(flag, default=value, type=type, choices=choices, help=full_help)


MAX_SECONDS = (2**31 - 1) / 1000
"""The longest duration a flag takes (about 24.8 days): grpc's millisecond options (keepalive,
connection age) are 32-bit ints, so anything longer failed at start with a traceback; nan or inf
are never meant."""


def _seconds(text: str, *, zero: bool) -> float:
    value = float(text)
    if not math.isfinite(value) or value > MAX_SECONDS:
        raise argparse.ArgumentTypeError(f"must be a number of seconds up to {MAX_SECONDS:g}, got {text!r}")
    if value < 0 or (value == 0 and not zero):
        raise argparse.ArgumentTypeError(f"must be {'at least 0' if zero else 'positive'}, got {text!r}")
    return value


def positive_seconds(text: str) -> float:
    """A duration flag: a finite number of seconds in (0, MAX_SECONDS]."""
    return _seconds(text, zero=False)


def non_negative_seconds(text: str) -> float:
    """A duration flag that may be 0: a finite number of seconds in [0, MAX_SECONDS]."""
    return _seconds(text, zero=True)


def port_number(text: str) -> int:
    """A TCP port flag: 0 (pick a free one) to 65535."""
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port in 0..65535, got {value}")
    return value


def _metrics_port(text: str) -> int:
    value = int(text)
    if value != -1:
        return port_number(text)
    return value


def positive_int(text: str) -> int:
    """A count flag: an integer of at least 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    """A count flag that may be 0: an integer of at least 0."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def _message_bytes(text: str) -> int:
    value = int(text)
    if value < MIN_MESSAGE_BYTES:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_MESSAGE_BYTES} (1 MiB chunk + framing)")
    return value


def _token_list(text: str) -> tuple[str, ...]:
    return tuple(token.strip() for token in text.split(",") if token.strip())


def add_server_flags(parser: argparse.ArgumentParser) -> None:
    """The TLS, token, --insecure, connection-management and handler-thread flags both servers share."""
    defaults = ConnectionSettings()
    add_flag(parser, "--tls-cert", default="", help="PEM certificate chain the server presents; enables TLS")
    add_flag(parser, "--tls-key", default="", help="PEM private key of --tls-cert")
    add_flag(parser, "--tls-client-ca", default="",
             help="PEM CA bundle; when set, clients must present a certificate it signed (mutual TLS)")
    add_flag(parser, "--read-tokens", default="",
             help="comma-separated bearer tokens that may call read RPCs (Get/List/Watch/Predict)")
    add_flag(parser, "--write-tokens", default="",
             help="comma-separated bearer tokens that may call every RPC")
    add_flag(parser, "--tokens-file", default="",
             help="file of `read TOKEN` / `write TOKEN` lines, added to the token flags")
    add_flag(parser, "--insecure", default=False, type=parse_bool,
             help="serve on a non-loopback address without TLS or tokens (e.g. behind a mesh)")
    add_flag(parser, "--keepalive-time-seconds", default=defaults.keepalive_time_seconds,
             type=positive_seconds, help="idle time after which the server pings a connection")
    add_flag(parser, "--keepalive-timeout-seconds", default=defaults.keepalive_timeout_seconds,
             type=positive_seconds, help="how long a keepalive ping may go unanswered before closing")
    add_flag(parser, "--max-connection-age-seconds", default=defaults.max_connection_age_seconds,
             type=non_negative_seconds, help="send GOAWAY after a connection lived this long; 0 = never")
    add_flag(parser, "--max-connection-age-grace-seconds", default=defaults.max_connection_age_grace_seconds,
             type=non_negative_seconds, help="how long calls may run after that GOAWAY before they are cut")
    add_flag(parser, "--max-concurrent-streams", default=defaults.max_concurrent_streams, type=positive_int,
             help="HTTP/2 streams (calls) per connection")
    add_flag(parser, "--max-concurrent-rpcs", default=defaults.max_concurrent_rpcs, type=positive_int,
             help="calls in progress before new ones are RESOURCE_EXHAUSTED")
    add_flag(parser, "--max-workers", default=ServerOptions.max_workers, type=positive_int,
             help="gRPC handler threads; open streams may hold all but a quarter of them")
    add_flag(parser, "--max-message-bytes", default=defaults.max_message_bytes, type=_message_bytes,
             help="largest message received or sent; uploads stay chunked at 1 MiB")


def add_observability_flags(parser: argparse.ArgumentParser) -> None:
    """Log format and Prometheus endpoint flags both servers share."""
    add_flag(parser, "--log-format", default="text", choices=["text", "json"],
             help="text, or json: one object per line with the RPC method, status code and request id")
    add_flag(parser, "--metrics-port", default=-1, type=_metrics_port,
             help="serve Prometheus metrics at http://HOST:PORT/metrics; -1 = off, 0 = a free port (printed)")
    add_flag(parser, "--metrics-host", default="", help="address of the metrics endpoint; empty = --host")


def observability_from_args(args: argparse.Namespace) -> Observability:
    """Observability from parsed add_observability_flags flags."""
    return Observability(log_format=args.log_format, metrics_host=args.metrics_host, metrics_port=args.metrics_port)


def connection_from_args(args: argparse.Namespace) -> ConnectionSettings:
    """ConnectionSettings from parsed add_server_flags flags."""
    return ConnectionSettings(
        keepalive_time_seconds=args.keepalive_time_seconds,
        keepalive_timeout_seconds=args.keepalive_timeout_seconds,
        max_connection_age_seconds=args.max_connection_age_seconds,
        max_connection_age_grace_seconds=args.max_connection_age_grace_seconds,
        max_concurrent_streams=args.max_concurrent_streams,
        max_concurrent_rpcs=args.max_concurrent_rpcs,
        max_message_bytes=args.max_message_bytes,
    )


def security_from_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> ServerSecurity:
    """ServerSecurity from parsed add_server_flags flags; a usage error (exit 2) when they do not fit."""
    cert, key, client_ca = (
        Path(p).expanduser() if p else None for p in (args.tls_cert, args.tls_key, args.tls_client_ca)
    )
    if (cert is None) != (key is None):
        parser.error("--tls-cert and --tls-key go together")
    if client_ca is not None and cert is None:
        parser.error("--tls-client-ca (mutual TLS) needs --tls-cert and --tls-key")
    for flag, path in (("--tls-cert", cert), ("--tls-key", key), ("--tls-client-ca", client_ca)):
        if path is not None and not path.is_file():
            parser.error(f"{flag}: no such file: {path}")
    try:
        tokens = AccessTokens(_token_list(args.read_tokens), _token_list(args.write_tokens))
        if args.tokens_file:
            tokens = tokens.merged(parse_tokens_file(Path(args.tokens_file).expanduser().read_text()))
    except (OSError, ValueError) as exc:
        parser.error(f"tokens: {exc}")
    tls = TlsFiles(cert, key, client_ca) if cert is not None and key is not None else None
    if tls is not None:
        # grpc only says "Failed to bind" (with a traceback) for a key that does not match its certificate
        # or a file that is no PEM at all; check them the way a TLS server would load them.
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(cert, key)
        except (ssl.SSLError, OSError) as exc:
            parser.error(f"--tls-cert/--tls-key: not a certificate chain and its matching key ({exc.strerror or exc})")
        if client_ca is not None:
            try:
                context.load_verify_locations(client_ca)
            except (ssl.SSLError, OSError) as exc:
                parser.error(f"--tls-client-ca: not a PEM CA bundle ({exc.strerror or exc})")
    return ServerSecurity(tls=tls, tokens=tokens, insecure=bool(args.insecure))
