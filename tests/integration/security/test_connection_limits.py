"""Connection management reaches the real server: concurrency and message-size limits; keepalive agreement."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from mlsuite.downloader.v1 import downloader_service_pb2 as dpb
from mlsuite.downloader.v1 import downloader_service_pb2_grpc as dpb_grpc
from mlsuite.trainer.v1 import trainer_service_pb2 as tpb
from mlsuite.trainer.v1 import trainer_service_pb2_grpc as tpb_grpc

from mlsuite_client import channel as client_channel
from mlsuite_common.lifecycle import MIN_CLIENT_PING_INTERVAL_SECONDS, MIN_MESSAGE_BYTES, ConnectionSettings
from tests.integration.security._servers import start_server


def test_calls_beyond_max_concurrent_rpcs_are_resource_exhausted(tmp_path: Path) -> None:
    server = start_server("downloader", tmp_path, connection=ConnectionSettings(max_concurrent_rpcs=1))
    try:
        with grpc.insecure_channel(server.address) as channel:
            stub = dpb_grpc.DownloaderServiceStub(channel)
            watch = stub.WatchDownloadStatus(dpb.WatchDownloadStatusRequest(), timeout=10)
            next(watch)  # the one allowed call is now in progress
            with pytest.raises(grpc.RpcError) as raised:
                stub.GetDownloadStatus(dpb.GetDownloadStatusRequest(), timeout=10)
            assert raised.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
            watch.cancel()
    finally:
        server.stop()


def test_the_smallest_message_limit_still_takes_a_full_upload_chunk(tmp_path: Path) -> None:
    smallest = ConnectionSettings(max_message_bytes=MIN_MESSAGE_BYTES)
    server = start_server("trainer", tmp_path, connection=smallest)
    body = b"x,y\n" + b"".join(b"%d,%d\n" % (i % 10, i % 7) for i in range(300_000))
    chunk = body[: body.rfind(b"\n", 0, 1024 * 1024) + 1]  # a whole number of rows, just under 1 MiB
    try:
        with grpc.insecure_channel(server.address) as channel:
            stub = tpb_grpc.TrainerServiceStub(channel)
            metadata = tpb.DatasetMetadata(format=tpb.DATASET_FORMAT_CSV)
            requests = [tpb.UploadDatasetRequest(metadata=metadata), tpb.UploadDatasetRequest(chunk=chunk)]
            response = stub.UploadDataset(iter(requests), timeout=30)
            assert len(chunk) > 1024 * 1024 - 16 and response.dataset.size_bytes == len(chunk)
            with pytest.raises(grpc.RpcError) as raised:
                stub.GetDataset(tpb.GetDatasetRequest(name="x" * (2 * 1024 * 1024)), timeout=10)
            assert raised.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED  # type: ignore[attr-defined]
    finally:
        server.stop()


def test_client_keepalive_is_never_faster_than_the_server_allows() -> None:
    assert client_channel.KEEPALIVE_TIME_SECONDS >= MIN_CLIENT_PING_INTERVAL_SECONDS
    assert client_channel.MAX_RECEIVE_MESSAGE_BYTES >= ConnectionSettings().max_message_bytes
