"""`mlsuite jobs list|show|watch|cancel|plot`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from mlsuite_client.cli._arg_types import INT64_MAX, int_range
from mlsuite_client.cli._progress import follow
from mlsuite_client.cli._trainer_common import (
    err,
    fmt_duration,
    fmt_state,
    fmt_time,
    fmt_value,
    metrics_table,
    out,
    trainer_client,
    usage_errors,
)
from mlsuite_client.trainer import TrainerClient
from mlsuite_client.trainer_types import EpochProgress, JobState, TrainingJob

__all__ = ["register", "stored_epochs"]


def _progress(job: TrainingJob) -> str:
    if job.state is JobState.SUCCEEDED:
        key = next((k for k in ("r2", "accuracy") if k in job.metrics), "")
        return f"{key} {job.metrics[key]:.4f}" if key else ""
    if job.state is JobState.FAILED and job.error is not None:
        return job.error.reason
    if job.latest_epoch is not None:
        return f"epoch {job.latest_epoch.epoch}/{job.latest_epoch.total_epochs}"
    return (job.phase or "").lower().replace("_", " ")


def _list(args: argparse.Namespace) -> int:
    with trainer_client(args) as client:
        jobs = list(client.iter_training_jobs(args.state))
    console = out()
    if not jobs:
        console.print("no training jobs")
        return 0
    table = Table(title="Training jobs", title_justify="left")
    for header in ("name", "state", "model type", "target", "progress", "created", "model"):
        table.add_column(header, no_wrap=header in ("name", "model"), overflow="fold")
    for j in jobs:
        table.add_row(
            j.name,
            fmt_state(j.state),
            j.spec.model_type,
            j.spec.target_column,
            _progress(j),
            fmt_time(j.create_time),
            j.model or "-",
        )
    console.print(table)
    return 0


def _show(args: argparse.Namespace) -> int:
    with trainer_client(args) as client:
        job = client.get_training_job(args.name)
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    spec = job.spec
    rows = [
        ("state", fmt_state(job.state)),
        ("model type", spec.model_type),
        ("dataset", spec.dataset),
        ("target", spec.target_column),
        ("features", ", ".join(spec.feature_columns) or "all but the target"),
        ("device", job.device or spec.device),
        (
            "rows",
            f"{job.train_rows} train, {job.validation_rows} validation, {job.dropped_target_rows} dropped",
        ),
        ("progress", _progress(job) or "-"),
        ("created", fmt_time(job.create_time)),
        ("started", fmt_time(job.start_time)),
        ("ended", fmt_time(job.end_time)),
        ("model", job.model or "-"),
        ("error", f"{job.error.reason}: {job.error.message}" if job.error else "-"),
        ("last sequence", str(job.last_sequence)),
    ]
    params = job.resolved_hyperparameters or spec.hyperparameters
    rows.append(("hyperparameters", ", ".join(f"{k}={fmt_value(v)}" for k, v in params.items()) or "-"))
    for key, value in rows:
        facts.add_row(key, value)
    parts = Group(facts, metrics_table(job.metrics)) if job.metrics else facts
    out().print(Panel(parts, title=job.name, title_align="left", expand=False))
    return 0


def _watch(args: argparse.Namespace) -> int:
    with trainer_client(args) as client:
        return follow(client.watch_training_job(args.name, args.after), out(), args, job=args.name, client=client)


def _cancel(args: argparse.Namespace) -> int:
    with trainer_client(args) as client:
        job = client.cancel_training_job(args.name)
    out().print(Text.assemble(f"{job.name}: ", fmt_state(job.state)), soft_wrap=True)
    return 0


def stored_epochs(client: TrainerClient, name: str) -> list[EpochProgress]:
    """The job's epoch events stored so far, replayed from the start without waiting for live ones."""
    epochs: dict[int, EpochProgress] = {}
    with client.watch_training_job(name, 0, timeout=max(client.timeout, 60.0)) as stream:
        latest = 0
        for event in stream:
            if event.kind == "snapshot":
                latest = event.sequence
                if latest <= 0:
                    break
                continue
            if event.epoch is not None:
                epochs[event.epoch.epoch] = event.epoch
            # The replay has reached the snapshot's latest stored event: what follows would be live.
            if event.is_stored and event.sequence >= latest:
                break
    return [epochs[k] for k in sorted(epochs)]


@usage_errors
def _plot(args: argparse.Namespace) -> int:
    with trainer_client(args) as client:
        job = client.get_training_job(args.name)
        epochs = stored_epochs(client, args.name)
    if not epochs:
        err().print(Text.assemble(
            ("error:", "red"),
            f" {args.name} has no epoch events to plot ({job.spec.model_type} "
            "reports phases only, or no epoch has finished yet)",
        ))
        return 1
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5))
    xs = [e.epoch for e in epochs]
    ax.plot(xs, [e.train_loss for e in epochs], marker=".", label="train loss")
    validation = [(e.epoch, e.validation_loss) for e in epochs if e.validation_loss is not None]
    if validation:
        ax.plot([x for x, _ in validation], [y for _, y in validation], marker=".", label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title(
        f"{args.name}: {job.spec.model_type} ({job.state.value.lower()}, {fmt_duration(epochs[-1].elapsed)})"
    )
    ax.grid(True, alpha=0.3)
    ax.legend()
    output = Path(args.output)
    fig.savefig(output, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    out().print(f"wrote {output} ({len(epochs)} epochs)", soft_wrap=True)
    return 0


def register(commands: Any) -> None:
    """Add the `jobs` group to the CLI."""
    group = commands.add_parser("jobs", help="list, show, watch, cancel and plot training jobs")
    sub = group.add_subparsers(dest="jobs_command", required=True, metavar="ACTION")
    states = [s.value.lower() for s in JobState]

    listing = sub.add_parser("list", help="list training jobs, newest first")
    listing.add_argument("--state", type=str.lower, choices=states, help="only jobs in this state")
    listing.set_defaults(handler=_list)

    show = sub.add_parser("show", help="show one training job")
    show.add_argument("name", metavar="NAME", help='"trainingJobs/{id}"')
    show.set_defaults(handler=_show)

    watch = sub.add_parser("watch", help="follow a job live until it ends (Ctrl-C detaches)")
    watch.add_argument("name", metavar="NAME", help='"trainingJobs/{id}"')
    watch.add_argument(
        "--after",
        type=int_range(0, INT64_MAX),
        default=0,
        metavar="N",
        help="replay stored events after sequence N (0, the default, replays them all)",
    )
    watch.set_defaults(handler=_watch)

    cancel = sub.add_parser("cancel", help="stop a queued or running job")
    cancel.add_argument("name", metavar="NAME", help='"trainingJobs/{id}"')
    cancel.set_defaults(handler=_cancel)

    plot = sub.add_parser("plot", help="plot a job's train/validation loss per epoch to a PNG")
    plot.add_argument("name", metavar="NAME", help='"trainingJobs/{id}"')
    plot.add_argument("--output", "-o", required=True, metavar="PNG", help="image file to write")
    plot.set_defaults(handler=_plot)
