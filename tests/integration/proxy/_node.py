"""Run tests/integration/proxy/node_through_proxy.mjs (the Node client) and read the JSON it prints."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

__all__ = ["require_node_client", "run_node"]

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("node_through_proxy.mjs")
NODE_CLIENT = ROOT / "clients" / "node"


def require_node_client() -> str:
    """The node executable; skips the test when Node or the Node client's dependencies are not installed."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the Node client cannot run")
    if not (NODE_CLIENT / "node_modules" / "@grpc" / "grpc-js").is_dir():
        pytest.skip("clients/node has no node_modules: run `npm ci` in clients/node (make test does)")
    return node


def run_node(*args: str, timeout: float = 120) -> dict[str, Any]:
    """node node_through_proxy.mjs ARGS -> its JSON report; a non-zero exit fails with its stderr."""
    node = require_node_client()
    result = subprocess.run(
        [node, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, check=False, cwd=ROOT
    )
    assert result.returncode == 0, f"node exited {result.returncode}:\n{result.stderr[-4000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])
