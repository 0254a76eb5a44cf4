"""Helpers the trainer command groups share: the client, consoles, local errors and formatting."""

from __future__ import annotations

import argparse
import functools
import os
import sys
from collections.abc import Callable, Mapping
from datetime import datetime

from rich.console import Console
from rich.table import Table
from rich.text import Text

from mlsuite_client.trainer import TrainerClient
from mlsuite_client.trainer_types import (
    BoolParameter,
    CategoricalParameter,
    DoubleParameter,
    IntListParameter,
    IntParameter,
    JobState,
    ParameterSpec,
)

__all__ = [
    "Handler",
    "trainer_client",
    "out",
    "err",
    "usage_errors",
    "reattach_command",
    "fmt_time",
    "fmt_bytes",
    "fmt_duration",
    "fmt_value",
    "fmt_state",
    "describe_parameter",
    "metrics_table",
]

Handler = Callable[[argparse.Namespace], int]
"""What a sub-command's set_defaults(handler=...) receives."""

_DEFAULT_TRAINER = "127.0.0.1:50051"


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # Piped output (tests, scripts) gets a wide console so that tables never truncate resource names.
    wide = not stream.isatty() and "COLUMNS" not in os.environ
    # No markup or emoji codes: names, columns and messages come from the server; "[x]" or ":cat:" is text.
    return Console(stderr=stderr, width=200 if wide else None, highlight=False, markup=False, emoji=False)


def out() -> Console:
    """A console on stdout."""
    return _console(stderr=False)


def err() -> Console:
    """A console on stderr."""
    return _console(stderr=True)


def trainer_client(args: argparse.Namespace) -> TrainerClient:
    """A TrainerClient for the global --trainer and --timeout flags."""
    return TrainerClient(args.trainer, timeout=args.timeout)


def usage_errors(handler: Handler) -> Handler:
    """Turn local mistakes (bad values, unreadable files) into a message and exit status 2."""

    @functools.wraps(handler)
    def wrapper(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except (ValueError, TypeError, OSError) as exc:
            err().print(Text.assemble(("error:", "red"), f" {exc}"))
            return 2

    return wrapper


def reattach_command(args: argparse.Namespace, job: str, after: int) -> str:
    """The command line that re-attaches to a job's stream after the given sequence."""
    default = os.environ.get("MLSUITE_TRAINER_TARGET", _DEFAULT_TRAINER)
    target = "" if args.trainer == default else f" --trainer {args.trainer}"
    return f"mlsuite{target} jobs watch {job} --after {after}"


def fmt_time(value: datetime | None) -> str:
    """A timestamp in local time, to the second; "-" when unset."""
    return value.astimezone().strftime("%Y-%m-%d %H:%M:%S") if value else "-"


def fmt_bytes(size: int) -> str:
    """A byte count with a binary unit."""
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} GiB"


def fmt_duration(seconds: float | None) -> str:
    """Seconds as "4.2s", "3m05s" or "1h02m"."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def fmt_value(value: object) -> str:
    """A hyperparameter value as a user would type it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(str(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


_STATE_STYLES = {
    JobState.QUEUED: "yellow",
    JobState.RUNNING: "cyan",
    JobState.CANCELLING: "magenta",
    JobState.SUCCEEDED: "green",
    JobState.FAILED: "red",
    JobState.CANCELLED: "dim",
}


def fmt_state(state: JobState) -> Text:
    """A job state, styled."""
    return Text(state.value, style=_STATE_STYLES[state])


def _bounds(low: object, high: object) -> str:
    if low is None and high is None:
        return ""
    shown = ["…" if bound is None else fmt_value(bound) for bound in (low, high)]
    return f" ({shown[0]}–{shown[1]})"


def describe_parameter(p: ParameterSpec) -> str:
    """One line: name, type, default and allowed values."""
    if isinstance(p, BoolParameter):
        return f"{p.name}: bool = {fmt_value(p.default)}"
    if isinstance(p, IntParameter):
        return f"{p.name}: int = {p.default}{_bounds(p.min_value, p.max_value)}"
    if isinstance(p, DoubleParameter):
        return f"{p.name}: float = {fmt_value(p.default)}{_bounds(p.min_value, p.max_value)}"
    if isinstance(p, CategoricalParameter):
        return f"{p.name}: {'|'.join(p.choices)} = {p.default}"
    if isinstance(p, IntListParameter):
        lengths = f"{p.min_length}–{p.max_length} ints" if p.max_length else "ints"
        return f"{p.name}: [{lengths} in {p.min_value}–{p.max_value}] = {fmt_value(p.default)}"
    return p.name


def metrics_table(metrics: Mapping[str, float], title: str = "Metrics") -> Table:
    """Metrics as a two-column table."""
    table = Table(title=title, title_justify="left")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        table.add_row(key, f"{value:,.2f}" if abs(value) >= 1000 else f"{value:.4f}")
    return table
