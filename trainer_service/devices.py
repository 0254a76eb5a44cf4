"""Which compute device a training job runs on: CUDA, Apple MPS or CPU, never a silent fallback."""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass

from mlsuite_common.errors import FailedPrecondition, InvalidArgument

__all__ = ["GpuSettings", "BACKENDS", "available_backends", "resolve_device"]

logger = logging.getLogger(__name__)

BACKENDS: tuple[str, ...] = ("cuda", "mps", "cpu")


@dataclass(frozen=True)
class GpuSettings:
    """Server-wide GPU policy; preferred_backend is auto, cuda, mps or cpu."""

    enabled: bool = True
    force_cpu: bool = False
    preferred_backend: str = "auto"


def available_backends() -> dict[str, bool]:
    """Which backends this process can use; without torch only the CPU."""
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return {"cuda": False, "mps": False, "cpu": True}
    mps = getattr(torch.backends, "mps", None)
    return {
        "cuda": bool(torch.cuda.is_available()),
        "mps": bool(mps is not None and mps.is_available()),
        "cpu": True,
    }


def resolve_device(requested: str, settings: GpuSettings) -> str:
    """The device ("cpu", "cuda" or "mps") for a request of "auto", "cpu", "cuda" or "mps"."""
    if requested not in ("auto", *BACKENDS):
        raise InvalidArgument(
            f"unknown device {requested!r}; expected auto, cpu, cuda or mps",
            field="spec.device",
            reason="UNKNOWN_DEVICE",
        )
    if requested == "cpu":
        return "cpu"
    gpu_allowed = settings.enabled and not settings.force_cpu
    if requested == "auto":
        if not gpu_allowed:
            return "cpu"
        backends = available_backends()
        preferred = settings.preferred_backend
        if preferred != "auto" and backends.get(preferred, False):
            return preferred
        if preferred != "auto":
            logger.warning("preferred backend %r is not available; choosing automatically", preferred)
        return next(backend for backend in BACKENDS if backends[backend])
    if not gpu_allowed:
        why = "force_cpu is set" if settings.force_cpu else "GPU use is disabled"
        raise FailedPrecondition(
            f"device {requested!r} was requested but {why} on this server; request cpu or auto",
            reason="DEVICE_UNAVAILABLE",
        )
    if not available_backends()[requested]:
        raise FailedPrecondition(
            f"device {requested!r} was requested but this server has no {requested.upper()} device; "
            "request cpu or auto",
            reason="DEVICE_UNAVAILABLE",
        )
    return requested


def configure_cpu_threads(threads: int) -> None:
    """Set torch's intra-op CPU threads (0 keeps torch's default of one per core).

    The tabular networks trained here are small: per-step framework overhead dominates and extra
    threads mostly add synchronisation, while concurrent jobs compete for the same cores.
    """
    if threads <= 0:
        return
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return
    torch.set_num_threads(threads)
