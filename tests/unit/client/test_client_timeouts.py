"""Deadlines the clients refuse before any call: grpc would treat them as already expired."""

from __future__ import annotations

import io
import math

import pytest

from mlsuite_client import DownloaderClient, TrainerClient
from mlsuite_client.channel import MAX_TIMEOUT_SECONDS

# Nothing listens here: a check that let a call through would fail with UNAVAILABLE, not ValueError.
NOWHERE = "127.0.0.1:9"
BAD = [math.inf, -math.inf, math.nan, 0, -1, 1e10, MAX_TIMEOUT_SECONDS * 2, True, "30"]


@pytest.mark.parametrize("client_type", [TrainerClient, DownloaderClient])
@pytest.mark.parametrize("timeout", BAD, ids=repr)
def test_a_client_refuses_a_deadline_grpc_would_treat_as_expired(client_type: type, timeout: object) -> None:
    with pytest.raises(ValueError, match="timeout must be a number of seconds"):
        client_type(NOWHERE, timeout=timeout)


@pytest.mark.parametrize("client_type", [TrainerClient, DownloaderClient])
def test_a_client_takes_any_deadline_in_range(client_type: type) -> None:
    for timeout in (0.001, 30, MAX_TIMEOUT_SECONDS, None):  # None: no deadline, as before
        with client_type(NOWHERE, timeout=timeout) as client:
            assert client.timeout == timeout


@pytest.mark.parametrize("timeout", [math.inf, 0, -5.0], ids=repr)
def test_per_call_and_stream_deadlines_are_checked_too(timeout: float) -> None:
    with TrainerClient(NOWHERE) as trainer, DownloaderClient(NOWHERE) as downloader:
        with pytest.raises(ValueError, match="timeout must be"):
            trainer.upload_dataset(io.BytesIO(b"a,b\n1,2\n"), format="csv", timeout=timeout)
        with pytest.raises(ValueError, match="timeout must be"):
            trainer.watch_training_job("trainingJobs/abc", timeout=timeout)
        with pytest.raises(ValueError, match="timeout must be"):
            next(iter(downloader.watch_status(timeout=timeout)))
