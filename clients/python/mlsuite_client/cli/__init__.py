"""The `mlsuite` command line: one sub-command group per module in this package."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from rich.console import Console

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
    parser.add_argument("--timeout", type=float, default=30.0, help="deadline of each unary call, seconds")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for group in _GROUPS:
        importlib.import_module(f"mlsuite_client.cli.{group}").register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; exit status 0 on success, 1 on a server error, 2 on a usage error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    err = Console(stderr=True)
    try:
        return int(args.handler(args) or 0)
    except MLSuiteError as exc:
        err.print(f"[red]error:[/red] {exc}")
        for violation in exc.field_violations:
            err.print(f"  {violation.field}: {violation.description}")
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
