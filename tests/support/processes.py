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
from typing import IO

__all__ = ["ServerProcess", "start_server_process"]


@dataclass
class ServerProcess:
    """A running server subprocess."""

    process: subprocess.Popen[str]
    address: str
    banner: tuple[str, ...] = ()  # stdout lines printed before `listening on`, e.g. the metrics URL

    def metrics_url(self) -> str:
        """The URL the server printed as `metrics on URL` (started with --metrics-port)."""
        return next(line.split()[-1] for line in self.banner if line.startswith("metrics on "))

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
    module: str,
    args: Sequence[str],
    env: dict[str, str] | None = None,
    timeout: float = 60.0,
    *,
    stderr: IO[str] | None = None,
    inherit_env: bool = True,
) -> ServerProcess:
    """Run `python -m module --port 0 ...args` and wait for its `listening on HOST:PORT` line."""
    process = subprocess.Popen(
        [sys.executable, "-m", module, "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**(os.environ if inherit_env else {}), **(env or {})},
    )
    assert process.stdout is not None
    # Read the raw pipe: a buffered readline could hold the `listening on` line while select() waits.
    fd = process.stdout.fileno()
    selector = selectors.DefaultSelector()
    selector.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    pending = b""
    banner: list[str] = []
    while time.monotonic() < deadline:
        if not selector.select(timeout=0.5):
            if process.poll() is not None:
                raise RuntimeError(f"{module} exited with {process.returncode} before listening")
            continue
        data = os.read(fd, 4096)
        if not data:
            process.wait(timeout=10)
            raise RuntimeError(f"{module} exited with {process.returncode} before listening")
        pending += data
        *lines, pending = pending.split(b"\n")
        for raw in lines:
            line = raw.decode().strip()
            if line.startswith("listening on "):
                selector.close()
                return ServerProcess(process, line.split()[-1], tuple(banner))
            banner.append(line)
    process.kill()
    raise TimeoutError(f"{module} did not start within {timeout}s")
