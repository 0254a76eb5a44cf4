"""Each training job in a process of its own, forked from a forkserver that has the ML libraries loaded.

Why a process: training is CPU-bound Python (per-step framework overhead) that shares nothing with
the RPC threads but the GIL. On a server thread, every burst of RPC work (100 watch streams woken by
one epoch event) stalled the training loop at its next GIL hand-off. In its own process, and its own
session (so its own scheduler autogroup on Linux: the kernel weighs the job against the whole server,
not against each of the server's threads), it trains undisturbed; a crash or an out-of-memory kill
inside a native library ends the job FAILED instead of taking the server down; and cancel is real: a
process that has not stopped `kill_after` seconds after the cancel (a scikit-learn fit between two
phase boundaries) is killed.

The forkserver imports torch, scikit-learn, pandas and pyarrow once (about 5 s here) when the first
job starts, or earlier through warm(); each job then forks in milliseconds. The forkserver is a fresh
interpreter that never touches CUDA, so the processes forked from it can; training on CUDA sets up its
context inside the job's process.
"""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import signal
import threading
import time
from multiprocessing import forkserver
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from trainer_service.events import JobCancelled, ProgressReporter
from trainer_service.job_worker import WorkerTask, run_task
from trainer_service.pipeline import TrainingOutcome

__all__ = ["TrainingProcesses", "WorkerFailed"]

logger = logging.getLogger(__name__)

_PRELOAD = ["trainer_service.job_worker"]
_POLL_SECONDS = 0.05  # how often the relay looks at the cancel flag and the process while no message arrives
_EXIT_SECONDS = 2.0  # how long a process that is done, or was told to stop, gets to exit before it is killed
# The exit code multiprocessing reports when the forkserver could not tell it because it died (popen_forkserver);
# a training process never exits with 255 itself (it returns, or its watchdog exits with 1).
_HOST_DIED = 255


class WorkerFailed(Exception):
    """The training process ended the job with an error; `reason` and `message` are safe to show."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _describe_exit(code: int | None) -> str:
    if code == _HOST_DIED:
        return "the forkserver that hosts training processes died"
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:  # a real-time signal has no name
            name = f"signal {-code}"
        hint = ", often the kernel's out-of-memory killer" if -code == signal.SIGKILL else ""
        return f"killed by {name}{hint}"
    return f"exit code {code}"


class TrainingProcesses:
    """Starts one training process per job and relays its messages to the job's reporter."""

    def __init__(self, kill_after: float = 3.0) -> None:
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(_PRELOAD)
        self._kill_after = kill_after

    def warm(self) -> None:
        """Start the forkserver and its imports in the background, so the first job starts at once."""
        threading.Thread(target=forkserver.ensure_running, name="forkserver-warm", daemon=True).start()

    def run(
        self, task: WorkerTask, reporter: ProgressReporter, cancelled: threading.Event
    ) -> TrainingOutcome:
        """Train in a new process; returns its outcome, or raises JobCancelled / WorkerFailed."""
        # A lock-free shared byte, not an mp.Event: a process killed while holding an Event's lock would
        # leave it held, and the next set() here would block forever.
        cancel = self._context.RawValue(ctypes.c_byte, 0)
        receive, send = self._context.Pipe(duplex=False)
        # The process lives no longer than this call: it ends at EOF on `lifeline` (job_worker._exit_with_server).
        # The write end `hold` stays in this process only (never inherited, never sent), so the kernel closes
        # it when the server dies, however it dies, and the `finally` below closes it when the run is over,
        # which also ends a process that process.kill() cannot reach because its forkserver died.
        lifeline, hold = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=run_task,
            args=(task, send, cancel, lifeline),
            name=f"mlsuite-train-{task.job_id}",
            daemon=True,
        )
        try:
            process.start()
        except BaseException:
            for end in (receive, send, lifeline, hold):
                end.close()
            raise
        send.close()  # the child holds the only write end: EOF here means it is gone
        lifeline.close()
        logger.info("job %s training in process %s", task.job_id, process.pid)
        try:
            return self._relay(process, receive, cancel, reporter, cancelled)
        finally:
            receive.close()
            cancel.value = 1  # a process still training past this point is not wanted any more
            process.join(timeout=_EXIT_SECONDS)  # one that sent its last message is exiting by itself
            hold.close()
            if process.is_alive():
                process.kill()
                process.join(timeout=10)

    def _relay(
        self,
        process: BaseProcess,
        receive: Connection,
        cancel: Any,
        reporter: ProgressReporter,
        cancelled: threading.Event,
    ) -> TrainingOutcome:
        cancel_sent: float | None = None
        while True:
            if cancelled.is_set() and cancel_sent is None:
                cancel.value = 1
                cancel_sent = time.monotonic()
            if cancel_sent is not None and time.monotonic() - cancel_sent > self._kill_after:
                logger.info(
                    "job process %s did not stop %.0f s after the cancel; killing it",
                    process.pid,
                    self._kill_after,
                )
                process.kill()
                raise JobCancelled()
            try:
                if not receive.poll(_POLL_SECONDS):
                    if not process.is_alive() and not receive.poll(0):
                        raise EOFError
                    continue
                message = receive.recv()
            except EOFError:
                process.join(timeout=5)
                if cancel_sent is not None:  # it died after being told to stop: a cancel, not a crash
                    raise JobCancelled() from None
                raise WorkerFailed(
                    "WORKER_CRASHED",
                    f"the training process ended unexpectedly ({_describe_exit(process.exitcode)})",
                ) from None
            kind = message[0]
            if kind == "phase":
                reporter.on_phase(message[1])
            elif kind == "epoch":
                reporter.on_epoch(message[1])
            elif kind == "done":
                outcome: TrainingOutcome = message[1]
                return outcome
            elif kind == "cancelled":
                raise JobCancelled()
            elif kind == "failed":
                raise WorkerFailed(message[1], message[2])
            else:  # "crashed": the process logged the traceback
                raise WorkerFailed("INTERNAL", "internal error during training; see the server log")
