"""Figures 1 and 4: NN training ms/epoch through the service against the baselines, and watcher fan-out."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from bench import baselines, procs
from bench.baselines import Run
from bench.data import Regression, make_regression, write_parquet
from bench.report import Comparison, Report
from bench.service import TrainerSession

__all__ = ["Config", "CPU_CONFIGS", "GPU_CONFIGS", "QUICK_CONFIGS", "training_figure", "fanout_figure"]


@dataclass(frozen=True)
class Config:
    """One training configuration: training rows (the service gets rows / 0.8 and holds 20 % out).

    The service trains at least SERVICE_MIN_EPOCHS (its smallest allowed `epochs`); the other
    methods train `epochs`, fewer on 200k rows where an epoch of a baseline takes tens of seconds.
    """

    rows: int
    batch_size: int
    epochs: int
    repeats: int = 1  # of the service and in-process runs, alternated

    @property
    def service_epochs(self) -> int:
        """Epochs of the service's job."""
        return max(SERVICE_MIN_EPOCHS, self.epochs)

    @property
    def label(self) -> str:
        """e.g. "16k x 32, batch 32"."""
        return f"{self.rows // 1000}k x 32, batch {self.batch_size}"


SERVICE_MIN_EPOCHS = 10
CPU_CONFIGS = (Config(16_000, 32, 10, 3), Config(16_000, 256, 10, 3), Config(200_000, 32, 2, 2),
               Config(200_000, 256, 3, 2))
GPU_CONFIGS = (Config(16_000, 32, 10, 2), Config(16_000, 256, 10, 2), Config(200_000, 256, 3))
QUICK_CONFIGS = (Config(4_000, 32, 3), Config(4_000, 256, 3))


def _dataset(session: TrainerSession, data: Regression, work: Path) -> str:
    return session.upload(write_parquet(data, work / f"train-{len(data.x)}.parquet"))


def training_figure(report: Report, session: TrainerSession, work: Path, configs: tuple[Config, ...],
                    device: str) -> None:
    """Every method on every configuration; ratios of the service against each baseline."""
    datasets: dict[int, tuple[Regression, str]] = {}
    for config in configs:
        if config.rows not in datasets:
            data = make_regression(int(config.rows / 0.8))
            datasets[config.rows] = (data, _dataset(session, data, work))
        data, dataset = datasets[config.rows]
        label = f"1. {device.upper()} {config.label}"
        service, engine = _service_and_engine(session, dataset, data, config, device)
        report.add_run(label, service)
        runs = {"engine": engine,
                "plain": baselines.plain_torch_loop(data, config.epochs, config.batch_size, device)}
        if device == "cuda":
            runs["graph"] = baselines.cuda_graph_loop(data, config.epochs, config.batch_size)
        skorch = baselines.skorch_run(data, config.epochs, config.batch_size, device)
        if skorch is not None:
            runs["skorch"] = skorch
        else:
            note = f"skorch left out: it does not import here ({baselines.skorch_problem()})"
            if note not in report.notes:
                report.notes.append(note)
        if device == "cpu":
            mlp = [baselines.mlp_regressor(data, config.epochs, config.batch_size, threads)
                   for threads in (1, None)]
            runs["mlp"] = baselines.best_of(mlp)
            for run in mlp:
                report.add_run(label, run)
        for key, run in runs.items():
            if key != "mlp":
                report.add_run(label, run)
        _compare(report, label, config, service, runs)


def _service_and_engine(session: TrainerSession, dataset: str, data: Regression, config: Config,
                        device: str) -> tuple[Run, Run]:
    """The service's job and the in-process engine, alternated config.repeats times (median of each)."""
    services: list[Run] = []
    engines: list[Run] = []
    for _ in range(config.repeats):
        job = session.train(dataset, epochs=config.service_epochs, batch_size=config.batch_size,
                            device=device)
        services.append(Run("MLSuite service", job.ms_per_epoch, job.r2, job.epochs))
        engines.append(baselines.in_process(data, config.epochs, config.batch_size, device))
    note = f"median of {config.repeats} runs" if config.repeats > 1 else ""
    service = replace(services[-1], ms_per_epoch=statistics.median(r.ms_per_epoch for r in services))
    engine = replace(engines[-1], ms_per_epoch=statistics.median(r.ms_per_epoch for r in engines))
    service, engine = replace(service, note=note), replace(engine, note=note)
    return service, engine


def _compare(report: Report, label: str, config: Config, service: Run, runs: dict[str, Run]) -> None:
    def add(key: str, target: tuple[str, float] | None = None) -> None:
        if key in runs:
            baseline = runs[key]
            note = (f"R² {service.r2:.3f} after {service.epochs} epochs vs {baseline.r2:.3f} after "
                    f"{baseline.epochs}")
            report.add(Comparison(label, service.method, baseline.method, service.ms_per_epoch,
                                  baseline.ms_per_epoch, "ms/epoch", target, note))

    small_batch = config.batch_size <= 32
    add("engine", ("<=", 1.05))  # service overhead
    add("plain", ("<=", 0.5) if small_batch and "graph" not in runs else None)
    add("graph", ("<=", 1.2))
    add("mlp", ("<=", 1.0) if small_batch else None)
    add("skorch")


def fanout_figure(report: Report, session: TrainerSession, work: Path, configs: tuple[Config, ...],
                  watchers: int = 100, repeats: int = 2) -> None:
    """Training ms/epoch with 0 and `watchers` live watch streams on the job, alternated `repeats` times.

    The order flips every repeat (0, N, N, 0, ...), so a drift in the machine's speed during the
    figure lands on both sides alike.
    """
    for config in configs:
        data = make_regression(int(config.rows / 0.8), seed=1)
        dataset = _dataset(session, data, work)
        timings: dict[int, list[float]] = {0: [], watchers: []}
        cpu: dict[int, list[float]] = {0: [], watchers: []}  # the server process's own CPU seconds per job
        seen = events = 0
        for repeat in range(repeats):
            for count in (0, watchers) if repeat % 2 == 0 else (watchers, 0):
                before = procs.cpu_seconds(session.server.pid)
                job = session.train(dataset, epochs=config.service_epochs, batch_size=config.batch_size,
                                    watchers=count)
                cpu[count].append(procs.cpu_seconds(session.server.pid) - before)
                timings[count].append(job.ms_per_epoch)
                seen, events = max(seen, job.watchers_seen), job.events
        quiet, watched = statistics.median(timings[0]), statistics.median(timings[watchers])
        extra_cpu = statistics.median(cpu[watchers]) - statistics.median(cpu[0])
        note = (f"{seen} of {watchers} streams saw the end; median of {repeats} jobs each, alternated; server "
                f"CPU {statistics.median(cpu[0]):.2f} s vs {statistics.median(cpu[watchers]):.2f} s per job, "
                f"~{extra_cpu / (watchers * (events + 1)) * 1e6:.0f} us per stream message")
        report.add(Comparison(f"4. fan-out, {config.label}", f"{watchers} watchers", "0 watchers", watched,
                              quiet, "ms/epoch", ("<=", 1.05), note))


def gpu_name() -> str:
    """The CUDA device's name, e.g. "NVIDIA H200"."""
    return torch.cuda.get_device_name(0)
