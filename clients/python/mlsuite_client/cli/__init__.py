"""The `mlsuite` command line: one sub-command group per module in this package."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from rich.console import Console
from rich.text import Text

from mlsuite_client.channel import Credentials, default_credentials
from mlsuite_client.cli._arg_types import MAX_TIMEOUT_SECONDS, float_range
from mlsuite_client.errors import MLSuiteError

__all__ = ["main", "build_parser"]

_GROUPS = ("datasets", "models", "train", "jobs", "predict", "download")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, every group registered."""
    import importlib

    parser = argparse.ArgumentParser(prog="mlsuite", description="Train tabular models and fetch Hub models.")
    parser.add_argument(
        "--trainer",
        default=os.environ.get("MLSUITE_TRAINER_TARGET", "127.0.0.1:50051"),
        help="TrainerService address (env MLSUITE_TRAINER_TARGET)",
    )
    parser.add_argument(
        "--downloader",
        default=os.environ.get("MLSUITE_DOWNLOADER_TARGET", "127.0.0.1:50052"),
        help="DownloaderService address (env MLSUITE_DOWNLOADER_TARGET)",
    )
    parser.add_argument(
        "--timeout",
        type=float_range(0, MAX_TIMEOUT_SECONDS, include_low=False),
        default=30.0,
        metavar="SECONDS",
        help=f"deadline of each unary call, in (0, {MAX_TIMEOUT_SECONDS}] seconds (default 30)",
    )
    parser.add_argument(
        "--tls",
        action=argparse.BooleanOptionalAction,
        default=os.environ.get("MLSUITE_TLS", "").lower() in {"1", "true", "yes", "on"},
        help="use TLS with the system's trusted roots (implied by --tls-ca/--tls-cert; env MLSUITE_TLS)",
    )
    parser.add_argument(
        "--tls-ca",
        default=os.environ.get("MLSUITE_TLS_CA") or None,
        metavar="PEM",
        help="CA bundle that signed the servers' certificates; implies --tls (env MLSUITE_TLS_CA)",
    )
    parser.add_argument(
        "--tls-cert",
        default=os.environ.get("MLSUITE_TLS_CLIENT_CERT") or None,
        metavar="PEM",
        help="client certificate for mutual TLS, with --tls-key (env MLSUITE_TLS_CLIENT_CERT)",
    )
    parser.add_argument(
        "--tls-key",
        default=os.environ.get("MLSUITE_TLS_CLIENT_KEY") or None,
        metavar="PEM",
        help="private key of --tls-cert (env MLSUITE_TLS_CLIENT_KEY)",
    )
    parser.add_argument(
        "--token",
        default=os.environ.get("MLSUITE_TOKEN") or None,
        help="bearer token for both servers; prefer env MLSUITE_TOKEN (command lines show in ps)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in _GROUPS:
        importlib.import_module(f"mlsuite_client.cli.{group}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; exit status 0 on success, 1 on a server error, 2 on a usage error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    err = Console(stderr=True, markup=False, emoji=False)  # server text ("[alpha]", a name like "[/x]") is never markup
    try:
        credentials = Credentials(
            tls=args.tls,
            ca_file=args.tls_ca,
            cert_file=args.tls_cert,
            key_file=args.tls_key,
            token=args.token,
        )
    except ValueError as exc:
        parser.error(str(exc))
    try:
        with default_credentials(credentials):
            return int(args.handler(args) or 0)
    except MLSuiteError as exc:
        err.print(Text.assemble(("error:", "red"), f" {exc}"))
        for violation in exc.field_violations:
            err.print(f"  {violation.field}: {violation.description}")
        if exc.request_id:
            err.print(f"  request id: {exc.request_id}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
