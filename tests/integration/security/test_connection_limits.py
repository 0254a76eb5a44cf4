"""Connection management reaches the real server: concurrency and message-size limits; keepalive agreement."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from mlsuite.downloader.v1 import downloader_service_pb2 as dpb
from mlsuite.downloader.v1 import downloader_service_pb2_grpc as dpb_grpc
from mlsuite.trainer.v1 import trainer_service_pb2 as tpb
from mlsuite.trainer.v1 import trainer_service_pb2_grpc as tpb_grpc

from mlsuite_client import channel as client_channel
from mlsuite_common.lifecycle import MIN_CLIENT_PING_INTERVAL_SECONDS, MIN_MESSAGE_BYTES, ConnectionSettings
from mlsuite_common.security import AccessTokens, ServerSecurity
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


def _stuck_calls(channel: grpc.Channel, method: str, count: int, metadata: tuple = ()) -> tuple[list, threading.Event]:
    """Calls that send their headers and never their request message: a slow, or hostile, client."""
    release = threading.Event()

    def nothing_until_released() -> Iterator[bytes]:
        release.wait(30)
        yield from ()

    calls = [channel.stream_unary(method).future(nothing_until_released(), timeout=30, metadata=metadata)
             for _ in range(count)]
    return calls, release


def _codes(calls: list, within: float) -> list[grpc.StatusCode | None]:
    """The status code of each call that ended within `within` seconds (None for one still open)."""
    deadline = time.monotonic() + within
    codes = []
    for call in calls:
        try:
            call.result(timeout=max(0.01, deadline - time.monotonic()))
            codes.append(grpc.StatusCode.OK)
        except grpc.FutureTimeoutError:
            codes.append(None)
        except grpc.RpcError as error:
            codes.append(error.code())
    return codes


def test_calls_without_a_token_that_never_send_their_request_are_refused_at_once(tmp_path: Path) -> None:
    # A refusal used to wait for the request like any unary handler: 40 such calls held every one of the
    # server's call slots, and callers with a valid token were refused "Concurrent RPC limit exceeded!".
    security = ServerSecurity(tokens=AccessTokens(write=("w-token",)))
    server = start_server("trainer", tmp_path, security, ConnectionSettings(max_concurrent_rpcs=16))
    try:
        with grpc.insecure_channel(server.address) as channel:
            calls, release = _stuck_calls(channel, "/mlsuite.trainer.v1.TrainerService/GetDataset", 40)
            try:
                assert _codes(calls, within=10) == [grpc.StatusCode.UNAUTHENTICATED] * 40
                stub = tpb_grpc.TrainerServiceStub(channel)
                listed = stub.ListDatasets(tpb.ListDatasetsRequest(), timeout=10,
                                           metadata=(("authorization", "Bearer w-token"),))
                assert list(listed.datasets) == []
            finally:
                release.set()
    finally:
        server.stop()


def test_anonymous_calls_that_never_send_their_request_hold_only_the_public_slots(tmp_path: Path) -> None:
    # Health checks need no token. Stuck ones take their slot before their request is read, from the
    # public eighth of the limit: the rest are refused at once and the service keeps its slots.
    server = start_server("trainer", tmp_path, connection=ConnectionSettings(max_concurrent_rpcs=64))
    try:
        with grpc.insecure_channel(server.address) as channel:
            calls, release = _stuck_calls(channel, "/grpc.health.v1.Health/Check", 20)
            try:
                codes = _codes(calls, within=3)
                assert codes.count(None) == 6  # an eighth of the 48 streams 64 calls allow
                assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == 14
                stub = tpb_grpc.TrainerServiceStub(channel)
                for _ in range(30):  # the service's own calls are all served meanwhile
                    assert list(stub.ListDatasets(tpb.ListDatasetsRequest(), timeout=10).datasets) == []
            finally:
                release.set()
            assert set(_codes(calls, within=10)) <= {grpc.StatusCode.INVALID_ARGUMENT,
                                                     grpc.StatusCode.RESOURCE_EXHAUSTED}
    finally:
        server.stop()
