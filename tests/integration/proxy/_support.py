"""Helpers of the proxy tests: server subprocesses and a regression CSV."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tests.integration.proxy._nginx import NginxProxy
from tests.support.processes import ServerProcess, start_server_process

__all__ = [
    "UNREACHABLE_HUB",
    "Servers",
    "start_downloader",
    "start_trainer",
    "stop_all",
    "write_regression_csv",
]

UNREACHABLE_HUB = "http://127.0.0.1:9"
"""No proxy test downloads a model, so the downloader never contacts its Hub."""


@dataclass
class Servers:
    """The two server subprocesses."""

    trainer: ServerProcess
    downloader: ServerProcess


def start_trainer(data_dir: Path, *extra: str) -> ServerProcess:
    """A TrainerService subprocess on a loopback port of its own."""
    return start_server_process(
        "trainer_service", ["--data-dir", str(data_dir), "--log-level", "WARNING", *extra]
    )


def start_downloader(cache_dir: Path) -> ServerProcess:
    """A DownloaderService subprocess on a loopback port of its own."""
    return start_server_process(
        "downloader_service",
        ["--cache-dir", str(cache_dir), "--hub-endpoint", UNREACHABLE_HUB, "--log-level", "WARNING"],
    )


def stop_all(*processes: ServerProcess | NginxProxy | None) -> None:
    """Stop whatever was started, each even if another fails to stop."""
    for process in processes:
        if isinstance(process, NginxProxy):
            process.stop()
        elif process is not None:
            try:
                process.terminate()
            except Exception:  # noqa: BLE001 - teardown: SIGKILL whatever is left
                process.kill()


def write_regression_csv(path: Path, rows: int, seed: int = 0) -> Path:
    """Four numeric features, one string feature and a numeric target `y` that depends on them."""
    rng = np.random.default_rng(seed)
    features = rng.normal(0.0, 1.0, (rows, 4)).round(5)
    color = rng.choice(["red", "green", "blue"], rows)
    y = features @ np.array([1.5, -2.0, 0.5, 3.0]) + np.sin(features[:, 0])
    y = y + np.where(color == "red", 1.0, 0.0)
    frame = pd.DataFrame(features, columns=["x1", "x2", "x3", "x4"])
    frame["color"] = color
    frame["y"] = (y + rng.normal(0.0, 0.05, rows)).round(5)
    frame.to_csv(path, index=False)
    return path
