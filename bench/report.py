"""Ratios against baselines: printed as measured, written as a Markdown table and a PNG plot."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.baselines import Run

__all__ = ["Comparison", "Report"]


@dataclass(frozen=True)
class Comparison:
    """subject / baseline in one unit, with the issue's target for that ratio when it sets one."""

    figure: str
    subject: str
    baseline: str
    subject_value: float
    baseline_value: float
    unit: str
    target: tuple[str, float] | None = None  # ("<=", 1.05) or (">=", 0.5)
    note: str = ""

    @property
    def ratio(self) -> float:
        """subject_value / baseline_value."""
        return self.subject_value / self.baseline_value if self.baseline_value else math.inf

    @property
    def met(self) -> bool | None:
        """Whether the ratio meets the target; None without one."""
        if self.target is None:
            return None
        op, value = self.target
        return self.ratio <= value if op == "<=" else self.ratio >= value

    def target_text(self) -> str:
        """e.g. "≤ 1.05"."""
        return "" if self.target is None else f"{'≤' if self.target[0] == '<=' else '≥'} {self.target[1]:g}"

    def line(self) -> str:
        """One printable line."""
        verdict = {None: "", True: " MET", False: " NOT MET"}[self.met]
        target = f" (target {self.target_text()}{verdict})" if self.target else ""
        return (f"{self.figure}: {self.subject} {_fmt(self.subject_value)} vs {self.baseline} "
                f"{_fmt(self.baseline_value)} {self.unit} = {self.ratio:.2f}x{target}"
                + (f"; {self.note}" if self.note else ""))


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"


class Report:
    """Collects comparisons and per-method training runs; prints each comparison as it arrives."""

    def __init__(self, machine: str, description: Sequence[str]) -> None:
        self.machine = machine
        self.description = list(description)
        self.comparisons: list[Comparison] = []
        self.runs: list[tuple[str, Run]] = []
        self.notes: list[str] = []

    def add(self, comparison: Comparison) -> None:
        """Record and print one ratio."""
        self.comparisons.append(comparison)
        print("ratio  " + comparison.line(), flush=True)

    def add_run(self, config: str, run: Run) -> None:
        """Record and print one method's training run."""
        self.runs.append((config, run))
        note = f", {run.note}" if run.note else ""
        print(f"run    {config}: {run.method}: {run.ms_per_epoch:,.1f} ms/epoch, R² {run.r2:.4f} "
              f"({run.epochs} epochs{note})", flush=True)

    def ordered(self) -> list[Comparison]:
        """The comparisons by figure number (figures run in another order), otherwise as measured."""
        return sorted(self.comparisons, key=lambda c: c.figure.split(".", 1)[0])

    def write(self, directory: Path) -> tuple[Path, Path]:
        """bench/results/<machine>.md and .png."""
        directory.mkdir(parents=True, exist_ok=True)
        markdown, plot = directory / f"{self.machine}.md", directory / f"{self.machine}.png"
        markdown.write_text(self._markdown(plot.name))
        self._plot(plot)
        return markdown, plot

    def _markdown(self, plot_name: str) -> str:
        lines = [f"# MLSuite benchmark: {self.machine}", "", *[f"- {d}" for d in self.description], "",
                 "## Ratios (subject / baseline, measured in the same run)", "",
                 "| Figure | Subject | Baseline | Subject value | Baseline value | Unit | Ratio | Target "
                 "| Met | Notes |",
                 "|---|---|---|---:|---:|---|---:|---|---|---|"]
        for c in self.ordered():
            met = {None: "", True: "yes", False: "**no**"}[c.met]
            lines.append(f"| {c.figure} | {c.subject} | {c.baseline} | {_fmt(c.subject_value)} | "
                         f"{_fmt(c.baseline_value)} | {c.unit} | {c.ratio:.2f}x | {c.target_text()} | {met} "
                         f"| {c.note} |")
        if self.runs:
            lines += ["", "## NN training: every method", "",
                      "| Configuration | Method | ms/epoch | R² (held-out 20 %) | Epochs |",
                      "|---|---|---:|---:|---:|"]
            for config, run in self.runs:
                note = f" ({run.note})" if run.note else ""
                lines.append(f"| {config} | {run.method}{note} | {run.ms_per_epoch:,.1f} | {run.r2:.4f} | "
                             f"{run.epochs} |")
        if self.notes:
            lines += ["", "## How it was measured", "", *[f"- {note}" for note in self.notes]]
        lines += ["", f"![ratios]({plot_name})", ""]
        return "\n".join(lines)

    def _plot(self, path: Path) -> None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        rows = list(reversed(self.ordered()))
        figure, axes = plt.subplots(figsize=(11, 0.42 * len(rows) + 1.6))
        colours = [{None: "#8c8c8c", True: "#2a9d55", False: "#d1495b"}[c.met] for c in rows]
        positions = range(len(rows))
        axes.barh(positions, [c.ratio for c in rows], color=colours)
        for y, c in zip(positions, rows, strict=True):
            if c.target is not None:
                axes.plot([c.target[1]] * 2, [y - 0.4, y + 0.4], color="black", linewidth=2)
            axes.text(c.ratio, y, f" {c.ratio:.2f}x", va="center", fontsize=8)
        labels = [f"{c.figure}: {c.subject} / {c.baseline}" for c in rows]
        axes.set_yticks(list(positions), labels, fontsize=8)
        axes.set_xscale("log")
        axes.axvline(1.0, color="#444444", linewidth=0.8, linestyle="--")
        axes.set_xlabel("ratio subject / baseline (log scale; black tick = target; green met, red not met)")
        axes.set_title(f"MLSuite benchmark ratios: {self.machine}")
        figure.tight_layout()
        figure.savefig(path, dpi=110)
        plt.close(figure)
