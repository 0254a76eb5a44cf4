"""The training process of one job: load the dataset, run the pipeline, report back through a pipe.

Runs in a child of the server (see job_process). It never touches the store or the gRPC server:
everything it has to say goes up the pipe as a message, and the server publishes it.

    ("phase", Phase)            a phase starts
    ("epoch", EpochProgress)    an epoch finished
    ("done", TrainingOutcome)   the model is in the artifact directory
    ("cancelled",)              the cancel flag was seen
    ("failed", reason, message) a domain error (bad data, divergence, ...) with a client-safe message
    ("crashed",)                anything else; the traceback is in this process's log
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

from mlsuite_common.errors import ServiceError
from mlsuite_common.logs import configure_logging
from trainer_service.datasets import DatasetFormat, load_frame
from trainer_service.devices import configure_cpu_threads
from trainer_service.events import EpochProgress, JobCancelled, Phase
from trainer_service.pipeline import TrainingRequest, run_training

__all__ = ["WorkerTask", "run_task"]

logger = logging.getLogger(__name__)


class _Flag(Protocol):
    """A shared byte the server sets to 1 to stop the run (a lock-free multiprocessing RawValue)."""

    value: int


@dataclass(frozen=True)
class WorkerTask:
    """Everything one training process needs, picklable."""

    job_id: str
    dataset_path: str
    dataset_format: str
    columns: tuple[str, ...]
    request: TrainingRequest
    artifact_dir: str
    torch_threads: int
    log_level: str
    log_format: str


class _PipeReporter:
    """The ProgressReporter of a training process: messages up the pipe, cancel from a shared flag."""

    def __init__(self, conn: Connection, cancel: _Flag) -> None:
        self._conn = conn
        self._cancel = cancel

    def send(self, *message: Any) -> None:
        """Send one message; a server that went away cancels the run."""
        try:
            self._conn.send(message)
        except (BrokenPipeError, EOFError, OSError):
            raise JobCancelled() from None

    def on_phase(self, phase: Phase) -> None:
        """Report a phase change."""
        self.check_cancelled()
        self.send("phase", phase)

    def on_epoch(self, progress: EpochProgress) -> None:
        """Report a finished epoch."""
        self.send("epoch", progress)

    def check_cancelled(self) -> None:
        """Raise JobCancelled once the server asked (a process whose server is gone is ended by its watchdog)."""
        if self._cancel.value:
            raise JobCancelled()


def _exit_with_server(lifeline: Connection) -> None:
    """End this process once the server is gone or done with it, even in the middle of a fit that reports nothing.

    Nothing is ever sent on the lifeline: the read returns only at EOF, when the server closes the write
    end (the run is over) or the kernel does (the server died). The parent pid cannot tell: it is the
    forkserver, which outlives the server as long as a process forked from it (this one) is alive.
    """
    with contextlib.suppress(EOFError, OSError):
        lifeline.recv_bytes()
    os._exit(1)


def run_task(task: WorkerTask, conn: Connection, cancel: _Flag, lifeline: Connection) -> None:
    """The training process's entry point; ends by sending exactly one final message."""
    # The server decides when a job stops (cancel flag, kill); a Ctrl-C or a SIGTERM sent to the whole
    # process group must not end the run on its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # A session of its own puts the job in its own scheduler autogroup (Linux, CONFIG_SCHED_AUTOGROUP), so
    # the kernel shares the CPU between the job and the server as two groups rather than thread by thread:
    # 100 watch-stream threads woken by one epoch event no longer outnumber the one training thread.
    os.setsid()
    threading.Thread(target=_exit_with_server, args=(lifeline,), name="server-watch", daemon=True).start()
    configure_logging(task.log_level, task.log_format)
    configure_cpu_threads(task.torch_threads)
    reporter = _PipeReporter(conn, cancel)
    try:
        reporter.on_phase(Phase.LOADING_DATA)
        frame = load_frame(
            Path(task.dataset_path), DatasetFormat(task.dataset_format), columns=list(task.columns)
        )
        outcome = run_training(frame, task.request, reporter, Path(task.artifact_dir))
        reporter.send("done", outcome)
    except JobCancelled:
        _send_last(conn, ("cancelled",))
    except ServiceError as exc:  # bad data, divergence, ...: reason and message are meant for the client
        _send_last(conn, ("failed", exc.reason, exc.message))
    except Exception as exc:  # noqa: BLE001 - every other failure is reported; the traceback stays in this log
        logger.error("job %s: training failed unexpectedly", task.job_id, exc_info=exc)
        _send_last(conn, ("crashed",))
    finally:
        conn.close()


def _send_last(conn: Connection, message: tuple[Any, ...]) -> None:
    with contextlib.suppress(OSError, EOFError):  # the server is gone (BrokenPipeError is an OSError)
        conn.send(message)
