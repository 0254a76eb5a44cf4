"""Command-line flags that also read MLSUITE_-prefixed environment variables."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any

__all__ = ["env_name", "add_flag", "parse_bool"]


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
            value = type(os.environ[name])
            break
    if type is parse_bool:
        parser.add_argument(
            flag, default=value, type=parse_bool, nargs="?", const=True, choices=None,
            help=f"{help} (env {' / '.join(names)}; default {default})",
        )
        return
    parser.add_argument(
        flag, default=value, type=type, choices=choices,
        help=f"{help} (env {' / '.join(names)}; default {default})",
    )
