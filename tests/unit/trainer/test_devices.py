"""Device resolution: AUTO order, explicit requests, and never a silent fallback."""

from __future__ import annotations

import importlib

import pytest
import torch

from mlsuite_common.errors import FailedPrecondition, InvalidArgument
from trainer_service import devices
from trainer_service.devices import GpuSettings, available_backends, resolve_device


def _backends(monkeypatch: pytest.MonkeyPatch, *, cuda: bool, mps: bool) -> None:
    monkeypatch.setattr(devices, "available_backends", lambda: {"cuda": cuda, "mps": mps, "cpu": True})


def test_available_backends_matches_torch() -> None:
    found = available_backends()
    assert found["cpu"] is True
    assert found["cuda"] is torch.cuda.is_available()
    assert found["mps"] is torch.backends.mps.is_available()


def test_without_torch_only_cpu_is_available(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = importlib.import_module

    def fake_import(name: str, package: str | None = None) -> object:
        if name == "torch":
            raise ImportError("No module named 'torch'")
        return real_import(name, package)

    monkeypatch.setattr(devices.importlib, "import_module", fake_import)
    assert available_backends() == {"cuda": False, "mps": False, "cpu": True}


@pytest.mark.skipif(
    torch.cuda.is_available() or torch.backends.mps.is_available(), reason="this host has a GPU"
)
def test_auto_is_cpu_on_this_host_and_cuda_is_refused() -> None:
    assert resolve_device("auto", GpuSettings()) == "cpu"
    with pytest.raises(FailedPrecondition) as caught:
        resolve_device("cuda", GpuSettings())
    assert caught.value.reason == "DEVICE_UNAVAILABLE"
    assert "cuda" in caught.value.message


def test_auto_prefers_cuda_then_mps_then_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    _backends(monkeypatch, cuda=True, mps=True)
    assert resolve_device("auto", GpuSettings()) == "cuda"
    _backends(monkeypatch, cuda=False, mps=True)
    assert resolve_device("auto", GpuSettings()) == "mps"
    _backends(monkeypatch, cuda=False, mps=False)
    assert resolve_device("auto", GpuSettings()) == "cpu"


def test_auto_honours_an_available_preferred_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    _backends(monkeypatch, cuda=True, mps=True)
    assert resolve_device("auto", GpuSettings(preferred_backend="mps")) == "mps"
    assert resolve_device("auto", GpuSettings(preferred_backend="cpu")) == "cpu"
    _backends(monkeypatch, cuda=True, mps=False)
    assert resolve_device("auto", GpuSettings(preferred_backend="mps")) == "cuda"


def test_force_cpu_and_disabled_gpu_make_auto_cpu_and_refuse_explicit_gpus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _backends(monkeypatch, cuda=True, mps=True)
    for settings in (GpuSettings(force_cpu=True), GpuSettings(enabled=False)):
        assert resolve_device("auto", settings) == "cpu"
        assert resolve_device("cpu", settings) == "cpu"
        for requested in ("cuda", "mps"):
            with pytest.raises(FailedPrecondition) as caught:
                resolve_device(requested, settings)
            assert caught.value.reason == "DEVICE_UNAVAILABLE"


def test_explicit_devices_are_returned_when_available_and_refused_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _backends(monkeypatch, cuda=True, mps=False)
    assert resolve_device("cuda", GpuSettings()) == "cuda"
    assert resolve_device("cpu", GpuSettings()) == "cpu"
    with pytest.raises(FailedPrecondition) as caught:
        resolve_device("mps", GpuSettings())
    assert caught.value.reason == "DEVICE_UNAVAILABLE"
    assert "MPS" in caught.value.message


def test_unknown_device_is_an_invalid_argument() -> None:
    with pytest.raises(InvalidArgument) as caught:
        resolve_device("tpu", GpuSettings())
    assert caught.value.violations[0].field == "spec.device"
