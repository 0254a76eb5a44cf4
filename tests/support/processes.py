"""Start a server as a real subprocess (python -m ...) and read the port it prints."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["ServerProcess", "start_server_process"]


@dataclass
class ServerProcess:
    """A running server subprocess."""

    process: subprocess.Popen[str]
    address: str

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, wait, return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL, no cleanup in the server."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def start_server_process(
    module: str, args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 60.0
) -> ServerProcess:
    """Run `python -m module --port 0 ...args` and wait for its `listening on HOST:PORT` line."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        env={**os.environ, **(env or {})},
    )
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not selector.select(timeout=0.5):
            if process.poll() is not None:
                raise RuntimeError(f"{module} exited with {process.returncode} before listening")
            continue
        line = process.stdout.readline()
        if line.startswith("listening on "):
            return ServerProcess(process, line.split()[-1])
        if not line and process.poll() is not None:
            raise RuntimeError(f"{module} exited with {process.returncode} before listening")
    process.kill()
    raise TimeoutError(f"{module} did not start within {timeout}s")
