"""TrainerService configuration: flags, each also read from an MLSUITE_ environment variable."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlsuite_common.config import (
    add_flag,
    add_observability_flags,
    add_server_flags,
    connection_from_args,
    non_negative_int,
    non_negative_seconds,
    observability_from_args,
    parse_bool,
    port_number,
    positive_int,
    positive_seconds,
    security_from_args,
)
from mlsuite_common.lifecycle import ServerOptions
from mlsuite_common.telemetry import Observability
from trainer_service.devices import GpuSettings

__all__ = ["Config", "parse_config", "DEFAULT_PORT"]

DEFAULT_PORT = 50051


@dataclass(frozen=True)
class Config:
    """Everything the server needs to start."""

    data_dir: Path
    server: ServerOptions = field(default_factory=ServerOptions)
    max_concurrent_jobs: int = 2
    max_queued_jobs: int = 32
    max_upload_bytes: int = 1024 * 1024 * 1024
    gpu: GpuSettings = field(default_factory=GpuSettings)
    heartbeat_seconds: float = 10.0
    torch_threads: int = 1
    log_level: str = "INFO"
    observability: Observability = field(default_factory=Observability)


def parse_config(argv: Sequence[str] | None = None) -> Config:
    """Parse flags (and MLSUITE_ environment variables) into a Config."""
    parser = argparse.ArgumentParser(prog="mlsuite-trainer", description="MLSuite TrainerService gRPC server")
    add_flag(parser, "--host", default="127.0.0.1", help="address to bind")
    add_flag(parser, "--port", default=DEFAULT_PORT, type=port_number,
             help="port to bind; 0 picks a free one and prints it")
    add_flag(parser, "--data-dir", default=str(Path.home() / ".local/share/mlsuite/trainer"), type=str,
             help="directory for the SQLite metadata, dataset bytes and model artifacts")
    add_flag(parser, "--max-concurrent-jobs", default=2, type=positive_int, help="training jobs run at once")
    add_flag(parser, "--max-queued-jobs", default=32, type=positive_int,
             help="jobs waiting for a worker before CreateTrainingJob is RESOURCE_EXHAUSTED")
    add_flag(parser, "--max-upload-bytes", default=1024**3, type=positive_int, help="largest dataset upload")
    add_flag(parser, "--gpu-enabled", default=True, type=parse_bool, env="GPU_ENABLED",
             help="allow CUDA/MPS for neural networks")
    add_flag(parser, "--gpu-force-cpu", default=False, type=parse_bool, env="GPU_FORCE_CPU",
             help="AUTO always picks the CPU")
    add_flag(parser, "--gpu-preferred-backend", default="auto", env="GPU_PREFERRED_BACKEND",
             choices=["auto", "cuda", "mps", "cpu"], help="backend AUTO tries first")
    add_flag(parser, "--torch-threads", default=1, type=non_negative_int,
             help="torch CPU threads for training and prediction; 0 = one per core")
    add_flag(parser, "--heartbeat-seconds", default=10.0, type=positive_seconds,
             help="idle interval after which watch streams send a heartbeat (at most 15)")
    add_flag(parser, "--grace-seconds", default=10.0, type=non_negative_seconds, help="drain period on SIGTERM")
    add_flag(parser, "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
             help="log level")
    add_server_flags(parser)
    add_observability_flags(parser)
    args = parser.parse_args(argv)
    if not 0 < args.heartbeat_seconds <= 15:
        parser.error("--heartbeat-seconds must lie in (0, 15]")
    return Config(
        data_dir=Path(args.data_dir).expanduser(),
        server=ServerOptions(host=args.host, port=args.port, max_workers=args.max_workers,
                             grace_seconds=args.grace_seconds, connection=connection_from_args(args),
                             security=security_from_args(parser, args)),
        max_concurrent_jobs=args.max_concurrent_jobs,
        max_queued_jobs=args.max_queued_jobs,
        max_upload_bytes=args.max_upload_bytes,
        gpu=GpuSettings(enabled=args.gpu_enabled, force_cpu=args.gpu_force_cpu,
                        preferred_backend=args.gpu_preferred_backend),
        heartbeat_seconds=args.heartbeat_seconds,
        torch_threads=args.torch_threads,
        log_level=args.log_level,
        observability=observability_from_args(args),
    )
