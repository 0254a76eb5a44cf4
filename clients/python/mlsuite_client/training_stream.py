"""TrainingEventStream: an iterator over a training job's events that hides the gRPC call."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Self

import grpc

from mlsuite_client import _convert as conv
from mlsuite_client.errors import from_rpc_error
from mlsuite_client.trainer_types import TrainingEvent

__all__ = ["TrainingEventStream"]


class TrainingEventStream(Iterator[TrainingEvent]):
    """Iterator over a job's events (Train or WatchTrainingJob); cancel() detaches, the job keeps running."""

    def __init__(self, call: grpc.Call, after_sequence: int = 0) -> None:
        self._call = call
        self._cancelled = False
        self.job_name = ""
        self.last_sequence = after_sequence

    def __iter__(self) -> Self:
        return self

    def __next__(self) -> TrainingEvent:
        try:
            message = next(self._call)
        except grpc.RpcError as exc:
            if self._cancelled and exc.code() == grpc.StatusCode.CANCELLED:
                raise StopIteration from None
            raise from_rpc_error(exc) from None
        event = conv.event_from_proto(message.event)
        if event.job is not None and event.job.name:
            self.job_name = event.job.name
        if event.is_stored:
            self.last_sequence = max(self.last_sequence, event.sequence)
        return event

    def cancel(self) -> None:
        """Stop receiving; leaving the stream never cancels the job."""
        self._cancelled = True
        self._call.cancel()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()
