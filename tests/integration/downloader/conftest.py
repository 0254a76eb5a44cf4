"""Fixtures of the DownloaderService integration tests: a local Hub with tiny real models, real servers."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from downloader_service.config import Config
from downloader_service.manager import DownloadManager
from downloader_service.server import build_server
from mlsuite_client.downloader import DownloaderClient
from tests.support.downloader_testing import Repos, make_model_files, populate
from tests.support.hub_server import LocalHub

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def model_files() -> dict[str, dict[str, bytes]]:
    """Tiny real models, made once per session with save_pretrained."""
    return make_model_files()


@pytest.fixture(scope="session")
def _session_hub(model_files: dict[str, dict[str, bytes]]) -> Iterator[tuple[LocalHub, Repos]]:
    hub = LocalHub()
    repos = populate(hub, model_files)
    yield hub, repos
    hub.stop()


@pytest.fixture
def hub(_session_hub: tuple[LocalHub, Repos]) -> Iterator[LocalHub]:
    """The shared test Hub; faults injected by a test are cleared after it."""
    local_hub, _ = _session_hub
    local_hub.reset_faults()
    yield local_hub
    local_hub.reset_faults()


@pytest.fixture
def repos(_session_hub: tuple[LocalHub, Repos]) -> Repos:
    """Repo ids and files of the shared test Hub."""
    return _session_hub[1]


class HubHolder:
    """A Hub of one test's own, which it may kill and bring back on the same port."""

    def __init__(self, files: dict[str, dict[str, bytes]]) -> None:
        self._files = files
        self.hub = LocalHub()
        self.repos = populate(self.hub, files)

    def restart(self) -> LocalHub:
        """A new Hub with the same repos on the same port."""
        self.hub = LocalHub(port=self.hub.port)
        self.repos = populate(self.hub, self._files)
        return self.hub


@pytest.fixture
def own_hub(model_files: dict[str, dict[str, bytes]]) -> Iterator[HubHolder]:
    """A Hub of this test's own (it may kill it)."""
    holder = HubHolder(model_files)
    yield holder
    try:
        holder.hub.stop()
    except OSError:
        pass


@pytest.fixture(autouse=True)
def hf_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No real token, no telemetry, a private HF_HOME, never offline mode."""
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.mktemp("hf_home")))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)


@dataclass
class RunningDownloader:
    """An in-process DownloaderService on 127.0.0.1 and a client for it."""

    config: Config
    core: DownloadManager
    server: Any
    port: int
    client: DownloaderClient
    stopped: bool = False

    @property
    def target(self) -> str:
        """host:port of the server."""
        return f"127.0.0.1:{self.port}"

    @property
    def cache_dir(self) -> Path:
        """The server's cache folder."""
        return self.config.cache_dir

    def stop(self) -> None:
        """Close the core and the server (once)."""
        if self.stopped:
            return
        self.stopped = True
        self.client.close()
        self.core.close(timeout=5)
        self.server.stop(1).wait()


@pytest.fixture
def make_downloader(tmp_path: Path, hub: LocalHub) -> Iterator[Callable[..., RunningDownloader]]:
    """Start in-process servers (built with build_server) with Config overrides; stopped after the test."""
    started: list[RunningDownloader] = []

    def make(**overrides: Any) -> RunningDownloader:
        defaults = dict(
            port=0,
            cache_dir=tmp_path / "cache",
            hub_endpoint=hub.url,
            heartbeat_seconds=1.0,
            hub_timeout_seconds=5.0,
            grace_seconds=2.0,
        )
        config = Config(**{**defaults, **overrides})
        core = DownloadManager.from_config(config)
        server, port, health = build_server(config, core)
        server.start()
        core.open()
        health.set_serving(True)
        running = RunningDownloader(
            config, core, server, port, DownloaderClient(f"127.0.0.1:{port}", timeout=20)
        )
        started.append(running)
        return running

    yield make
    for running in started:
        running.stop()


@pytest.fixture
def downloader(make_downloader: Callable[..., RunningDownloader]) -> RunningDownloader:
    """A default in-process server against the shared Hub."""
    return make_downloader()


@dataclass
class DownloaderProcess:
    """`python -m downloader_service` as a real subprocess."""

    process: subprocess.Popen[str]
    port: int
    listening_line: str

    @property
    def target(self) -> str:
        """host:port of the server."""
        return f"127.0.0.1:{self.port}"

    def signal(self, signum: int) -> None:
        """Send a signal to the server process."""
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        """Wait for the exit status."""
        return self.process.wait(timeout=timeout)


@pytest.fixture
def spawn_downloader(tmp_path: Path) -> Iterator[Callable[..., DownloaderProcess]]:
    """Start the server as a subprocess; reads its `listening on HOST:PORT` line; killed after the test."""
    processes: list[subprocess.Popen[str]] = []

    def spawn(*args: str, env: dict[str, str] | None = None) -> DownloaderProcess:
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        process = subprocess.Popen(
            [sys.executable, "-m", "downloader_service", "--port", "0", *args],
            cwd=ROOT,
            env=full_env,
            stdout=subprocess.PIPE,
            stderr=open(tmp_path / f"server-{len(processes)}.log", "w"),
            text=True,
        )
        processes.append(process)
        line: list[str] = []
        reader = threading.Thread(target=lambda: line.append(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
        reader.start()
        reader.join(timeout=60)
        if not line or not line[0]:
            pytest.fail("the server printed no 'listening on' line")
        match = re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", line[0])
        assert match, f"unexpected first line: {line[0]!r}"
        return DownloaderProcess(process, int(match.group(1)), line[0])

    yield spawn
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
