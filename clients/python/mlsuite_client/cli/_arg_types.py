"""Argparse types that keep numbers inside what the proto fields and gRPC accept, so a bad flag is a usage error."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["INT32_MAX", "INT64_MIN", "INT64_MAX", "MAX_TIMEOUT_SECONDS", "int_range", "float_range"]

INT32_MAX = 2**31 - 1
"""Largest value of a proto int32 field."""
INT64_MIN = -(2**63)
"""Smallest value of a proto int64 field."""
INT64_MAX = 2**63 - 1
"""Largest value of a proto int64 field."""
MAX_TIMEOUT_SECONDS = 86_400
"""Longest --timeout, a day: gRPC turns a deadline past about year 2262 (int64 nanoseconds) into an instant one."""


def int_range(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high], else an error that names the range."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer in {low}..{high}, got {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be in {low}..{high}, got {value}")
        return value

    return parse


def float_range(low: float, high: float, *, include_low: bool = True) -> Callable[[str], float]:
    """An argparse type: a finite number in [low, high] (or (low, high]), else an error that names the range."""
    shown = f"{'[' if include_low else '('}{low:g}, {high:g}]"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number in {shown}, got {text!r}") from None
        if math.isnan(value) or not (low <= value if include_low else low < value) or not value <= high:
            raise argparse.ArgumentTypeError(f"must be a finite number in {shown}, got {text.strip()}")
        return value

    return parse
