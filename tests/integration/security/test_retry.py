"""The client channel's retry policy: idempotent reads retry on UNAVAILABLE; writes and streams never do."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any

import grpc
import pytest
from mlsuite.downloader.v1 import downloader_service_pb2 as dpb
from mlsuite.trainer.v1 import trainer_service_pb2 as tpb

from mlsuite_client.channel import create_channel, retried_methods
from mlsuite_client.downloader import DownloaderClient
from mlsuite_client.errors import UnavailableError
from mlsuite_client.trainer import TrainerClient

TRAINER = "mlsuite.trainer.v1.TrainerService"
DOWNLOADER = "mlsuite.downloader.v1.DownloaderService"


class FlakyServer:
    """A generic-handler server whose every method fails UNAVAILABLE on its first attempt, then answers."""

    def __init__(self) -> None:
        self.attempts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        self.server.add_generic_rpc_handlers((
            grpc.method_handlers_generic_handler(TRAINER, {
                "GetDataset": self._unary("GetDataset", tpb.GetDatasetRequest, tpb.GetDatasetResponse(
                    dataset=tpb.Dataset(name="datasets/a"))),
                "DeleteDataset": self._unary("DeleteDataset", tpb.DeleteDatasetRequest,
                                             tpb.DeleteDatasetResponse()),
                "WatchTrainingJob": self._stream("WatchTrainingJob", tpb.WatchTrainingJobRequest,
                                                 tpb.WatchTrainingJobResponse()),
            }),
            grpc.method_handlers_generic_handler(DOWNLOADER, {
                "GetDownloadStatus": self._unary("GetDownloadStatus", dpb.GetDownloadStatusRequest,
                                                 dpb.GetDownloadStatusResponse()),
                "CancelDownload": self._unary("CancelDownload", dpb.CancelDownloadRequest,
                                              dpb.CancelDownloadResponse()),
            }),
        ))
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()

    def _first_fails(self, name: str, context: grpc.ServicerContext) -> None:
        with self._lock:
            self.attempts[name] += 1
            first = self.attempts[name] == 1
        if first:
            context.abort(grpc.StatusCode.UNAVAILABLE, "warming up")

    def _unary(self, name: str, request_type: Any, response: Any) -> grpc.RpcMethodHandler:
        def handle(request: Any, context: grpc.ServicerContext) -> Any:
            self._first_fails(name, context)
            return response

        return grpc.unary_unary_rpc_method_handler(
            handle, request_deserializer=request_type.FromString, response_serializer=response_type(response)
        )

    def _stream(self, name: str, request_type: Any, response: Any) -> grpc.RpcMethodHandler:
        def handle(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            self._first_fails(name, context)
            yield response

        return grpc.unary_stream_rpc_method_handler(
            handle, request_deserializer=request_type.FromString, response_serializer=response_type(response)
        )


def response_type(response: Any) -> Callable[[Any], bytes]:
    """The serializer of a response message's type."""
    return type(response).SerializeToString


@pytest.fixture
def flaky() -> Iterator[FlakyServer]:
    """A fresh flaky server per test."""
    server = FlakyServer()
    yield server
    server.server.stop(0).wait()


def test_reads_are_retried_once_and_succeed(flaky: FlakyServer) -> None:
    with TrainerClient(f"127.0.0.1:{flaky.port}", timeout=10) as trainer:
        assert trainer.get_dataset("datasets/a").name == "datasets/a"
    with DownloaderClient(f"127.0.0.1:{flaky.port}", timeout=10) as downloader:
        downloader.get_status()
    assert (flaky.attempts["GetDataset"], flaky.attempts["GetDownloadStatus"]) == (2, 2)


@pytest.mark.parametrize(
    ("name", "call"),
    [
        ("DeleteDataset", lambda channel: TrainerClient(channel, timeout=10).delete_dataset("datasets/a")),
        ("CancelDownload", lambda channel: DownloaderClient(channel, timeout=10).cancel()),
    ],
)
def test_writes_are_not_retried(
    flaky: FlakyServer, name: str, call: Callable[[grpc.Channel], object]
) -> None:
    with create_channel(f"127.0.0.1:{flaky.port}") as channel, pytest.raises(UnavailableError):
        call(channel)
    assert flaky.attempts[name] == 1


def test_streams_are_not_retried(flaky: FlakyServer) -> None:
    with create_channel(f"127.0.0.1:{flaky.port}") as channel:
        stream = TrainerClient(channel).watch_training_job("trainingJobs/a", timeout=10)
        with pytest.raises(UnavailableError):
            list(stream)
    assert flaky.attempts["WatchTrainingJob"] == 1


def test_only_unary_get_and_list_methods_are_retried() -> None:
    names = {(entry["service"], entry["method"]) for entry in retried_methods()}
    assert names == {
        (TRAINER, "GetDataset"), (TRAINER, "ListDatasets"), (TRAINER, "ListModelTypes"),
        (TRAINER, "GetTrainingJob"), (TRAINER, "ListTrainingJobs"), (TRAINER, "GetModel"),
        (TRAINER, "ListModels"),
        (DOWNLOADER, "GetDownloadStatus"), (DOWNLOADER, "ListDownloadedModels"),
    }
