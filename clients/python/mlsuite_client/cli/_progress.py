"""The live view of a training job's events, shared by `train --follow` and `jobs watch`."""

from __future__ import annotations

import argparse
import time
from typing import Self

import grpc
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskID, TextColumn
from rich.text import Text

from mlsuite_client.cli._trainer_common import err, fmt_duration, fmt_state, metrics_table, reattach_command
from mlsuite_client.errors import MLSuiteError
from mlsuite_client.trainer import TrainerClient
from mlsuite_client.trainer_types import EpochProgress, JobState, TrainingEvent
from mlsuite_client.training_stream import TrainingEventStream

__all__ = ["follow"]

_PHASES = ("LOADING_DATA", "PREPROCESSING", "FITTING", "EVALUATING", "SAVING")


def _loss(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


class _View:
    """Renders events: a live progress display on a terminal, log lines elsewhere."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.live = console.is_terminal
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<14}", style="bold", markup=False),
            BarColumn(bar_width=32),
            TextColumn("{task.fields[count]}"),
            TextColumn("{task.fields[detail]}"),
            console=console,
            disable=not self.live,
        )
        self.phase_task: TaskID | None = None
        self.epoch_task: TaskID | None = None

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def note(self, text: str | Text) -> None:
        """A line above the live display (or a plain log line)."""
        self.console.print(text, soft_wrap=True)

    def phase(self, phase: str | None) -> None:
        """Show the phase that is now running."""
        if not phase:
            return
        done = _PHASES.index(phase) if phase in _PHASES else 0
        label = phase.lower().replace("_", " ")
        if self.phase_task is None:
            self.phase_task = self.progress.add_task(label, total=len(_PHASES), count="", detail="")
        self.progress.update(
            self.phase_task, description=label, completed=done, count=f"step {done + 1}/{len(_PHASES)}"
        )
        if not self.live:
            self.note(f"phase: {label}")

    def epoch(self, e: EpochProgress) -> None:
        """Show one finished epoch."""
        detail = f"train {_loss(e.train_loss)}  val {_loss(e.validation_loss)}  ETA {fmt_duration(e.eta)}"
        if self.epoch_task is None:
            self.epoch_task = self.progress.add_task("epochs", total=e.total_epochs, count="", detail="")
        self.progress.update(
            self.epoch_task,
            total=e.total_epochs,
            completed=e.epoch,
            count=f"epoch {e.epoch}/{e.total_epochs}",
            detail=detail,
        )
        step = max(1, e.total_epochs // 10)
        if not self.live and (e.epoch == 1 or e.epoch % step == 0 or e.epoch == e.total_epochs):
            self.note(f"epoch {e.epoch}/{e.total_epochs}  {detail}")

    def finish(self) -> None:
        """Fill the phase bar once the job has succeeded."""
        if self.phase_task is not None:
            self.progress.update(self.phase_task, description="done", completed=len(_PHASES), count="")


class _Outcome:
    """What the stream said about the end of the job."""

    def __init__(self) -> None:
        self.state: JobState | None = None
        self.metrics: dict[str, float] = {}
        self.model = ""
        self.error = ""

    def absorb(self, event: TrainingEvent) -> None:
        """Remember the terminal details an event carries."""
        self.state = event.state
        if event.job is not None:
            self.metrics = dict(event.job.metrics) or self.metrics
            self.model = event.job.model or self.model
            if event.job.error is not None:
                self.error = f"{event.job.error.reason}: {event.job.error.message}"
        if event.kind == "result":
            self.metrics, self.model = dict(event.metrics), event.model
        if event.error_reason or event.error_message:
            self.error = f"{event.error_reason}: {event.error_message}"


def _show(view: _View, event: TrainingEvent, job: str, replay_pending: bool) -> None:
    if event.kind == "snapshot" and event.job is not None:
        spec = event.job.spec
        view.note(Text.assemble(
            f"{job}: ", fmt_state(event.state), f"  {spec.model_type} on {spec.dataset} -> {spec.target_column}"
        ))
        # Stored events after the re-attach point are replayed next; they show the progress themselves.
        if not replay_pending:
            if event.job.latest_epoch is not None:
                view.epoch(event.job.latest_epoch)
            view.phase(event.job.phase)
    elif event.kind == "phase_change":
        view.phase(event.phase)
    elif event.kind == "epoch_progress" and event.epoch is not None:
        view.epoch(event.epoch)
    elif event.kind == "state_change":
        suffix = f" ({event.message})" if event.message else ""
        view.note(Text.assemble("state: ", fmt_state(event.state), suffix))
    elif event.kind == "result":
        view.finish()


# A proxy or load balancer cutting a long stream surfaces as one of these; the job itself goes on.
_STREAM_CUTS = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.INTERNAL)
_MAX_REATTACH = 5


def follow(
    stream: TrainingEventStream,
    console: Console,
    args: argparse.Namespace,
    job: str = "",
    client: TrainerClient | None = None,
) -> int:
    """Render a job's events until it ends: 0 if it SUCCEEDED, 1 if FAILED/CANCELLED, 130 when detached.

    With a client, a stream cut by a proxy is re-attached from the last stored event (no loss, no repeat).
    """
    outcome = _Outcome()
    attempts = 0
    opened = False  # a refused stream (NOT_FOUND, TOO_MANY_STREAMS) never opened: no "lost the stream" hint
    try:
        with _View(console) as view:
            while True:
                try:
                    for event in stream:
                        attempts, opened = 0, True
                        replay_pending = event.sequence > stream.last_sequence
                        job = stream.job_name or job
                        outcome.absorb(event)
                        _show(view, event, job, replay_pending)
                        if event.is_terminal and event.kind != "snapshot":
                            break
                    break
                except MLSuiteError as exc:
                    if client is None or not job or exc.code not in _STREAM_CUTS or attempts >= _MAX_REATTACH:
                        raise
                    attempts += 1
                    view.note(f"stream lost ({exc.code.name}); re-attaching after event {stream.last_sequence}")
                    time.sleep(min(0.5 * 2**attempts, 5.0))
                    stream = client.watch_training_job(job, stream.last_sequence)
    except KeyboardInterrupt:
        stream.cancel()
        if job:
            err().print(f"detached; {job} keeps running. Re-attach with:")
            err().print(f"  {reattach_command(args, job, stream.last_sequence)}", soft_wrap=True)
        else:
            err().print("detached before the job was known; find it with: mlsuite jobs list")
        return 130
    except MLSuiteError:
        if job and opened:
            err().print(f"lost the stream of {job}; it keeps running. Re-attach with:")
            err().print(f"  {reattach_command(args, job, stream.last_sequence)}", soft_wrap=True)
        raise
    finally:
        stream.cancel()
    return _report(outcome, console, job)


def _report(outcome: _Outcome, console: Console, job: str) -> int:
    if outcome.state == JobState.SUCCEEDED:
        console.print(metrics_table(outcome.metrics))
        console.print(f"model: {outcome.model}", soft_wrap=True)
        return 0
    if outcome.state == JobState.FAILED:
        err().print(Text.assemble((f"{job} failed", "red"), f" {outcome.error}"), soft_wrap=True)
        return 1
    if outcome.state == JobState.CANCELLED:
        err().print(f"{job} was cancelled")
        return 1
    err().print(f"the stream ended before {job or 'the job'} finished (state {outcome.state})")
    return 1
