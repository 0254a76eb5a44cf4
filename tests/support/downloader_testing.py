"""Helpers shared by the DownloaderService tests: polling, cache inspection, repo ids of the test Hub."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.hub_server import LocalHub
from tests.support.tiny_models import padding_safetensors, pickle_only_files, tiny_bert_files

__all__ = [
    "GATE_TOKEN",
    "PADDING_BYTES",
    "THROTTLE",
    "Repos",
    "make_model_files",
    "populate",
    "wait_for",
    "partial_files",
    "snapshot_files",
]

GATE_TOKEN = "hf_gateKEEPERtoken0123456789"
PADDING_BYTES = 3 * 1024 * 1024
THROTTLE = 1_500_000  # bytes/s: the padded model then takes about two seconds


@dataclass(frozen=True)
class Repos:
    """Repo ids on the test Hub, their files and commits."""

    tiny: str
    padded: str
    other: str
    single: str
    pickle: str
    gated: str
    bad_config: str
    files: dict[str, dict[str, bytes]]
    commits: dict[str, str]
    tag: str
    dev_commit: str


def make_model_files() -> dict[str, dict[str, bytes]]:
    """Tiny real models (save_pretrained), keyed by kind."""
    tiny = tiny_bert_files(seed=0)
    return {
        "tiny": tiny,
        "padded": tiny_bert_files(seed=1, padding_bytes=PADDING_BYTES),
        "pickle": pickle_only_files(),
        "bad_config": {"config.json": b"{ this is not json", "model.safetensors": padding_safetensors(4096)},
        "dev": {**tiny, "README.md": b"# dev branch\n"},
    }


def populate(hub: LocalHub, files: dict[str, dict[str, bytes]]) -> Repos:
    """Add the test repos to `hub`."""
    ids = {
        "tiny": "mlsuite-test/tiny-bert",
        "padded": "mlsuite-test/padded-bert",
        "other": "other-org/tiny-bert-2",
        "single": "tiny-bert-single",
        "pickle": "mlsuite-test/pickle-only",
        "gated": "mlsuite-test/gated-bert",
        "bad_config": "mlsuite-test/bad-config",
    }
    sources = {
        "tiny": "tiny",
        "padded": "padded",
        "other": "tiny",
        "single": "tiny",
        "pickle": "pickle",
        "gated": "tiny",
        "bad_config": "bad_config",
    }
    commits: dict[str, str] = {}
    for key, repo_id in ids.items():
        commits[repo_id] = hub.add_repo(
            repo_id,
            files[sources[key]],
            tags=("v1.0",) if key == "tiny" else (),
            gated_token=GATE_TOKEN if key == "gated" else None,
        )
    dev_commit = hub.add_repo(ids["tiny"], files["dev"], branch="dev")
    return Repos(
        **ids,
        files={ids[k]: files[sources[k]] for k in ids},
        commits=commits,
        tag="v1.0",
        dev_commit=dev_commit,
    )


def wait_for(predicate: Callable[[], Any], timeout: float = 15.0, interval: float = 0.02) -> Any:
    """Poll until predicate() is truthy; returns its value or fails the test."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(interval)


def partial_files(cache_dir: Path) -> list[Path]:
    """Every *.incomplete file left in the cache."""
    return sorted(cache_dir.rglob("*.incomplete"))


def snapshot_files(cache_dir: Path, model_id: str) -> list[str]:
    """Files present in any snapshot of `model_id` ("<commit>/<path>")."""
    snapshots = cache_dir / f"models--{model_id.replace('/', '--')}" / "snapshots"
    if not snapshots.is_dir():
        return []
    return sorted(p.relative_to(snapshots).as_posix() for p in snapshots.rglob("*") if not p.is_dir())
