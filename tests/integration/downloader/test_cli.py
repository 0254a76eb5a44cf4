"""The `mlsuite download` CLI as a real subprocess against a real server."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys

from mlsuite_client.downloader_types import DownloadState
from tests.support.downloader_testing import THROTTLE

# The CLI registers every command group. Until all groups exist (other teams write theirs), this shim runs
# the real mlsuite_client.cli.main, with its real global flags, over the groups that import.
_GROUPS = ("datasets", "models", "train", "jobs", "predict", "download")
_SHIM = """
import importlib, sys
import mlsuite_client.cli as cli

def _imports(group):
    try:
        importlib.import_module("mlsuite_client.cli." + group)
        return True
    except Exception:
        return False

cli._GROUPS = tuple(g for g in cli._GROUPS if _imports(g))
sys.exit(cli.main())
"""


def _cli_prefix() -> list[str]:
    if all(importlib.util.find_spec(f"mlsuite_client.cli.{group}") for group in _GROUPS):
        return [sys.executable, "-m", "mlsuite_client"]
    return [sys.executable, "-c", _SHIM]


def _mlsuite(target: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_cli_prefix(), "--downloader", target, "--timeout", "20", "download", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_start_follow_status_list_rm(downloader, repos, hub) -> None:
    hub.throttle_bytes_per_second = THROTTLE
    follow = _mlsuite(downloader.target, "start", repos.padded, "--follow")
    assert follow.returncode == 0, follow.stderr
    assert f"succeeded {repos.padded}@main" in follow.stdout
    assert "3.3/3.3 MB" in follow.stdout  # the byte progress bar, complete
    assert downloader.client.get_status().state is DownloadState.SUCCEEDED

    status = _mlsuite(downloader.target, "status")
    assert status.returncode == 0, status.stderr
    assert "SUCCEEDED" in status.stdout and repos.padded in status.stdout and "100.0%" in status.stdout

    listing = _mlsuite(downloader.target, "list")
    assert listing.returncode == 0, listing.stderr
    assert repos.padded in listing.stdout and repos.commits[repos.padded][:12] in listing.stdout

    removed = _mlsuite(downloader.target, "rm", repos.padded, "--revision", "main")
    assert removed.returncode == 0, removed.stderr
    assert "freed 3.1 MiB" in removed.stdout
    assert list(downloader.client.list_models()) == []
    assert "no models in the cache" in _mlsuite(downloader.target, "list").stdout


def test_start_with_patterns_watch_and_cancel(downloader, repos, hub) -> None:
    started = _mlsuite(
        downloader.target,
        "start",
        repos.tiny,
        "--revision",
        "v1.0",
        "--allow",
        "*.json",
        "config*",
        "--ignore",
        "tokenizer*",
    )
    assert started.returncode == 0, started.stderr
    assert downloader.client.wait(timeout=30).state is DownloadState.SUCCEEDED
    assert downloader.client.get_status().files_total == 1  # config.json only

    hub.throttle_bytes_per_second = 300_000
    _mlsuite(downloader.target, "start", repos.padded)
    cancelled = _mlsuite(downloader.target, "cancel")
    assert cancelled.returncode == 0, cancelled.stderr
    assert "CANCELLED" in cancelled.stdout
    watched = _mlsuite(downloader.target, "watch")
    assert watched.returncode == 0 and watched.stdout.startswith("CANCELLED")


def test_errors_exit_one_with_the_reason(downloader, repos) -> None:
    missing = _mlsuite(downloader.target, "start", "mlsuite-test/nope", "--follow")
    assert missing.returncode == 1
    assert "NOT_FOUND [MODEL_NOT_FOUND]" in missing.stderr
    idle = _mlsuite(downloader.target, "cancel")
    assert idle.returncode == 1 and "FAILED_PRECONDITION [NOT_DOWNLOADING]" in idle.stderr
    invalid = _mlsuite(downloader.target, "rm", "https://evil.example/x")
    assert invalid.returncode == 1 and "model_id:" in invalid.stderr
    failed = _mlsuite(downloader.target, "start", repos.bad_config, "--follow")
    assert failed.returncode == 1 and "failed" in failed.stderr
