"""Servers as real subprocesses on 127.0.0.1 (port 0), and their peak memory from /proc."""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Server", "start", "peak_rss_mib", "rss_mib", "ROOT"]

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Server:
    """A running server subprocess and the address it printed."""

    name: str
    process: subprocess.Popen[str]
    address: str
    log: Path

    @property
    def pid(self) -> int:
        """The server's process id (the Python interpreter itself, no wrapper)."""
        return self.process.pid

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(name: str, module: str, args: Sequence[str], log_dir: Path, *, env: dict[str, str] | None = None,
          unset: Sequence[str] = (), timeout: float = 120.0) -> Server:
    """Run `python -m module ...args` (which binds port 0) and wait for its `listening on HOST:PORT` line.

    The child gets this process's environment plus `env`, without the variables named in `unset`.
    """
    log = log_dir / f"{name}.log"
    child_env = {k: v for k, v in os.environ.items() if k not in unset}
    child_env |= {"PYTHONUNBUFFERED": "1", **(env or {})}
    process = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=open(log, "w"),  # noqa: SIM115 - the child owns it
        text=True,
        env=child_env,
    )
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not selector.select(timeout=0.5):
            if process.poll() is not None:
                break
            continue
        line = process.stdout.readline()
        if line.startswith("listening on "):
            return Server(name, process, line.split()[-1], log)
        if not line and process.poll() is not None:
            break
    process.kill()
    raise RuntimeError(f"{name} did not start; see {log}:\n{log.read_text()[-2000:]}")


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def peak_rss_mib(pid: int) -> float:
    """The process's peak resident set size so far (VmHWM), in MiB."""
    return _status_kib(pid, "VmHWM") / 1024


def rss_mib(pid: int) -> float:
    """The process's resident set size now (VmRSS), in MiB."""
    return _status_kib(pid, "VmRSS") / 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process's own threads have used so far (not its children's)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
