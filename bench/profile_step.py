"""`python -m bench.profile_step`: the eager reference step against the fast step, timed and profiled.

One epoch of 16k rows x 32 features per engine and batch size, on one torch thread: plain timings
(best of three epochs, after a warm-up epoch) and torch.profiler's top operators by self CPU time.
Writes bench/results/<machine>-profile.md (or --out).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from bench.data import make_regression
from trainer_service.models.network_training import Engine, batch_bounds, build_network
from trainer_service.models.training_steps import make_step

__all__ = ["main"]

_ROWS = 16_000


def _epoch(step: object, bounds: list[tuple[int, int]], rows: int) -> float:
    started = time.perf_counter()
    step.start_epoch(torch.randperm(rows))  # type: ignore[attr-defined]
    for start, stop in bounds:
        step.step(start, stop)  # type: ignore[attr-defined]
    step.finish_epoch().item()  # type: ignore[attr-defined]
    return time.perf_counter() - started


def profile_engine(engine: Engine, batch_size: int, rows: int = _ROWS, top: int = 12) -> tuple[float, str]:
    """(best ms per epoch of three, profiler table of one more epoch) for one engine."""
    data = make_regression(rows)
    x = torch.as_tensor(data.x)
    y = torch.as_tensor((data.y - data.y.mean()) / data.y.std()).reshape(-1, 1)
    torch.manual_seed(0)
    module = build_network(x.shape[1], (128, 64, 32), 1, 0.2).train()
    step = make_step(engine, module, nn.MSELoss(), (x, y), learning_rate=1e-3, weight_decay=1e-5,
                     clip_norm=1.0, batch_size=batch_size)
    bounds = batch_bounds(rows, batch_size)
    try:
        _epoch(step, bounds, rows)
        best = min(_epoch(step, bounds, rows) for _ in range(3))
        with profile(activities=[ProfilerActivity.CPU]) as profiler:
            _epoch(step, bounds, rows)
    finally:
        step.close()
    table = profiler.key_averages().table(sort_by="self_cpu_time_total", row_limit=top)
    calls = sum(event.count for event in profiler.key_averages() if event.key.startswith("aten::"))
    summary = (f"{engine.value}, batch {batch_size}: {best * 1000:.0f} ms/epoch, "
               f"{best / len(bounds) * 1e6:.0f} µs/step, {calls / len(bounds):.0f} aten calls per step "
               "(nested ones included)")
    return best, summary + "\n\n" + table


def main(argv: Sequence[str] | None = None) -> int:
    """Profile both engines at batch 32 and 256 and write the summary."""
    from bench.run import RESULTS, _machine

    parser = argparse.ArgumentParser(prog="python -m bench.profile_step", description=__doc__)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    sections = [f"# Training step profile: {_machine(False)}", "",
                f"16k rows x 32 features, the seed network, one torch thread, torch {torch.__version__}.", ""]
    for batch_size in (32, 256):
        timings = {}
        for engine in (Engine.EAGER, Engine.FAST):
            timings[engine], text = profile_engine(engine, batch_size)
            print(text.splitlines()[0], flush=True)
            sections += [f"## {text.splitlines()[0]}", "", "```", *text.splitlines()[2:], "```", ""]
        speedup = timings[Engine.EAGER] / timings[Engine.FAST]
        line = f"batch {batch_size}: fast step {speedup:.1f}x faster than the eager reference"
        print(line)
        sections += [f"**{line}**", ""]
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{_machine(False)}-profile.md"
    path.write_text("\n".join(sections))
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
