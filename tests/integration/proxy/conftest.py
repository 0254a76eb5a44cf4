"""Fixtures of the proxy tests: both servers as real subprocesses behind the shipped nginx gRPC config."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlsuite_client import DownloaderClient, TrainerClient
from tests.integration.proxy._nginx import NginxProxy, nginx_binary, start_nginx
from tests.integration.proxy._support import (
    Servers,
    start_downloader,
    start_trainer,
    stop_all,
    write_regression_csv,
)


@pytest.fixture(scope="session", autouse=True)
def _require_nginx() -> None:
    """Skip the whole directory when nginx is missing (CI installs it: apt-get install nginx)."""
    if nginx_binary() is None:
        pytest.skip("nginx is not installed (Debian: apt-get install nginx); the proxy tests need it")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    """A trainer and a downloader with default settings, stopped with SIGTERM."""
    root = tmp_path_factory.mktemp("proxied-servers")
    trainer = start_trainer(root / "trainer")
    try:
        downloader = start_downloader(root / "hub")
    except BaseException:
        stop_all(trainer)
        raise
    yield Servers(trainer, downloader)
    stop_all(trainer, downloader)


@pytest.fixture(scope="module")
def proxy(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NginxProxy]:
    """nginx running the shipped config with its production defaults, in front of both servers."""
    nginx = start_nginx(tmp_path_factory.mktemp("nginx"), servers.trainer.address, servers.downloader.address)
    yield nginx
    nginx.stop()


@pytest.fixture
def proxied_trainer(proxy: NginxProxy) -> Iterator[TrainerClient]:
    """A TrainerClient whose only address is the proxy's."""
    with TrainerClient(proxy.address, timeout=30) as client:
        yield client


@pytest.fixture
def proxied_downloader(proxy: NginxProxy) -> Iterator[DownloaderClient]:
    """A DownloaderClient whose only address is the proxy's."""
    with DownloaderClient(proxy.address, timeout=30) as client:
        yield client


@pytest.fixture(scope="session")
def make_csv(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Writer of regression CSVs: (rows, seed=0) -> path."""
    root = tmp_path_factory.mktemp("csv")
    return lambda rows, seed=0: write_regression_csv(root / f"regression-{rows}-{seed}.csv", rows, seed)
