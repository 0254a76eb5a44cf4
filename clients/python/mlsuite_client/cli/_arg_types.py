"""Argparse types that keep numbers inside what the proto fields and gRPC accept, so a bad flag is a usage error."""

from __future__ import annotations

import argparse
from collections.abc import Callable

__all__ = ["INT32_MAX", "INT64_MIN", "INT64_MAX", "int_range"]

INT32_MAX = 2**31 - 1
"""Largest value of a proto int32 field."""
INT64_MIN = -(2**63)
"""Smallest value of a proto int64 field."""
INT64_MAX = 2**63 - 1
"""Largest value of a proto int64 field."""


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
