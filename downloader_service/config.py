"""Server settings from command-line flags, each also read from an MLSUITE_ environment variable."""

from __future__ import annotations

import argparse
import os
import re
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlsuite_common.config import (
    add_flag,
    add_observability_flags,
    add_server_flags,
    connection_from_args,
    observability_from_args,
    parse_bool,
    port_number,
    positive_seconds,
    security_from_args,
)
from mlsuite_common.lifecycle import ConnectionSettings, ServerOptions
from mlsuite_common.security import ServerSecurity
from mlsuite_common.telemetry import Observability

__all__ = ["Config", "DEFAULT_CACHE_DIR", "DEFAULT_ENDPOINT", "build_parser", "parse_config", "parse_size"]

DEFAULT_CACHE_DIR = "~/.cache/mlsuite/hub"
DEFAULT_ENDPOINT = "https://huggingface.co"
DEFAULT_MAX_DOWNLOAD_BYTES = 20 * 1024**3
_SIZE = re.compile(r"(?i)\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*")
_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "ki": 1024,
    "kib": 1024,
    "m": 1000**2,
    "mb": 1000**2,
    "mi": 1024**2,
    "mib": 1024**2,
    "g": 1000**3,
    "gb": 1000**3,
    "gi": 1024**3,
    "gib": 1024**3,
    "t": 1000**4,
    "tb": 1000**4,
    "ti": 1024**4,
    "tib": 1024**4,
}


def parse_size(text: str) -> int:
    """Bytes from "21474836480", "20GiB", "500MB" or "1.5 GiB"."""
    match = _SIZE.fullmatch(str(text))
    unit = (match.group(2) or "").lower() if match else ""
    if not match or unit not in _UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use bytes or e.g. 20GiB, 500MB)")
    return int(float(match.group(1)) * _UNITS[unit])


@dataclass(frozen=True)
class Config:
    """Everything the downloader server needs; tokens are never shown in repr or logs."""

    host: str = "127.0.0.1"
    port: int = 50052
    cache_dir: Path = field(default_factory=lambda: Path(DEFAULT_CACHE_DIR).expanduser())
    hub_endpoint: str = DEFAULT_ENDPOINT
    hub_token: str | None = field(default=None, repr=False)
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES
    allow_pickle_weights: bool = False
    log_level: str = "INFO"
    heartbeat_seconds: float = 10.0
    hub_timeout_seconds: float = 10.0
    grace_seconds: float = 10.0
    max_workers: int = ServerOptions.max_workers
    connection: ConnectionSettings = field(default_factory=ConnectionSettings)
    security: ServerSecurity = field(default_factory=ServerSecurity)
    observability: Observability = field(default_factory=Observability)

    def server_options(self) -> ServerOptions:
        """Transport settings for mlsuite_common.lifecycle.create_server."""
        return ServerOptions(
            host=self.host,
            port=self.port,
            grace_seconds=self.grace_seconds,
            max_workers=self.max_workers,
            connection=self.connection,
            security=self.security,
        )


def build_parser() -> argparse.ArgumentParser:
    """The mlsuite-downloader argument parser."""
    parser = argparse.ArgumentParser(
        prog="mlsuite-downloader",
        description="DownloaderService: fetch Hugging Face Hub models into a local cache over gRPC. "
        "The Hub token comes from the HF_TOKEN environment variable only.",
    )
    add_flag(parser, "--host", default="127.0.0.1", help="address to bind")
    add_flag(parser, "--port", default=50052, type=port_number, help="port to bind; 0 picks a free one and prints it")
    add_flag(
        parser, "--cache-dir", default=DEFAULT_CACHE_DIR, help="Hugging Face cache folder of the downloads"
    )
    add_flag(parser, "--hub-endpoint", default=DEFAULT_ENDPOINT, env="HF_ENDPOINT", help="Hub base URL")
    add_flag(
        parser,
        "--max-download-bytes",
        default=DEFAULT_MAX_DOWNLOAD_BYTES,
        type=parse_size,
        help="refuse downloads larger than this (bytes, or e.g. 20GiB)",
    )
    add_flag(
        parser,
        "--allow-pickle-weights",
        default=False,
        type=parse_bool,
        help="allow .bin/.pt/.pkl/.ckpt weights (unsafe to load from untrusted repos)",
    )
    add_flag(
        parser,
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level",
    )
    add_flag(
        parser,
        "--heartbeat-seconds",
        default=10.0,
        type=positive_seconds,
        help="WatchDownloadStatus heartbeat interval (at most 15)",
    )
    add_flag(
        parser,
        "--hub-timeout-seconds",
        default=10.0,
        type=positive_seconds,
        help="timeout of each Hub metadata request",
    )
    add_flag(
        parser,
        "--grace-seconds",
        default=10.0,
        type=positive_seconds,
        help="how long SIGTERM waits for calls in flight",
    )
    add_server_flags(parser)
    add_observability_flags(parser)
    return parser


def _endpoint_problem(url: str) -> str | None:
    """Why `url` cannot be a Hub endpoint, or None.

    An "@" after the host means credentials with an unescaped "/", "?" or "#": the URL then parses with
    part of the password as its path, reaches no Hub, and would show that part in every error message.
    """
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http:// or https:// URL with a host"
    try:
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return "has a malformed port"
    if "@" in parts.path + parts.query + parts.fragment:
        return "has '@' after the host; percent-encode '/', '?' and '#' in credentials (%2F, %3F, %23)"
    return None


def parse_config(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Flags (with their environment fallbacks) -> Config."""
    env = os.environ if environ is None else environ
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.heartbeat_seconds > 15:
        parser.error("--heartbeat-seconds must be at most 15")
    if (problem := _endpoint_problem(str(args.hub_endpoint))) is not None:
        parser.error(f"--hub-endpoint: {problem}")
    return Config(
        host=args.host,
        port=args.port,
        cache_dir=Path(args.cache_dir).expanduser().resolve(),
        hub_endpoint=str(args.hub_endpoint).rstrip("/"),
        hub_token=env.get("HF_TOKEN") or None,
        max_download_bytes=args.max_download_bytes,
        allow_pickle_weights=bool(args.allow_pickle_weights),
        log_level=args.log_level,
        heartbeat_seconds=args.heartbeat_seconds,
        hub_timeout_seconds=args.hub_timeout_seconds,
        grace_seconds=args.grace_seconds,
        max_workers=args.max_workers,
        connection=connection_from_args(args),
        security=security_from_args(parser, args),
        observability=observability_from_args(args),
    )
