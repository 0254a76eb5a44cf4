"""Which libraries a module drags in when imported on its own (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

_PROBE = "import importlib, json, sys; importlib.import_module(sys.argv[1]); print(json.dumps(sorted(sys.modules)))"


def _loaded(module: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", _PROBE, module], capture_output=True, text=True, check=True,
                         timeout=120).stdout
    return set(json.loads(out))


def test_training_processes_load_no_grpc_protobuf_or_prometheus() -> None:
    # The forkserver preloads job_worker; every job process forks from it, so whatever it imports
    # is paid for at every server start and held in every job's memory.
    loaded = _loaded("trainer_service.job_worker")
    assert "torch" in loaded and "sklearn" in loaded  # what a job needs
    assert not {"grpc", "google.protobuf", "prometheus_client"} & loaded


@pytest.mark.parametrize("module", ["trainer_service.pipeline", "trainer_service.store", "downloader_service.hub"])
def test_domain_modules_do_not_import_grpc(module: str) -> None:
    assert "grpc" not in _loaded(module)
