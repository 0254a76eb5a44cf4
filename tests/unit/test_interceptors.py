"""The error-mapping interceptor on a real server: codes, ErrorInfo, BadRequest, streams, INTERNAL."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures
from typing import NamedTuple

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from mlsuite_common.errors import Aborted, InvalidArgument, NotFound
from mlsuite_common.interceptors import ErrorMappingInterceptor


def _unary(request: bytes, context: grpc.ServicerContext) -> bytes:
    if request == b"bad":
        raise InvalidArgument("epochs must be at most 1000", field="spec.hyperparameters[epochs]",
                              reason="HYPERPARAMETER_OUT_OF_RANGE")
    if request == b"missing":
        raise NotFound("dataset 'datasets/x' does not exist", reason="DATASET_NOT_FOUND")
    if request == b"crash":
        raise RuntimeError("/secret/path exploded")
    return request


def _stream(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
    yield b"first"
    raise Aborted("busy", reason="DOWNLOAD_IN_PROGRESS", metadata={"current_model": "org/name"})


@pytest.fixture
def channel() -> Iterator[grpc.Channel]:
    server = grpc.server(futures.ThreadPoolExecutor(4), interceptors=[ErrorMappingInterceptor("test.mlsuite")])
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(_unary),
        "Stream": grpc.unary_stream_rpc_method_handler(_stream),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("t.T", handlers)])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as chan:
        yield chan
    server.stop(0)


def _details(error: grpc.RpcError) -> tuple[error_details_pb2.ErrorInfo, error_details_pb2.BadRequest | None]:
    status = rpc_status.from_call(error)
    info, bad = error_details_pb2.ErrorInfo(), None
    for detail in status.details:
        if detail.Unpack(info):
            continue
        bad = error_details_pb2.BadRequest()
        assert detail.Unpack(bad)
    return info, bad


def test_invalid_argument_carries_reason_and_field_violation(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary("/t.T/Unary")(b"bad", timeout=5)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    info, bad = _details(caught.value)
    assert (info.reason, info.domain) == ("HYPERPARAMETER_OUT_OF_RANGE", "test.mlsuite")
    assert bad is not None and bad.field_violations[0].field == "spec.hyperparameters[epochs]"


def test_not_found_and_success_pass_through(channel: grpc.Channel) -> None:
    assert channel.unary_unary("/t.T/Unary")(b"ok", timeout=5) == b"ok"
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary("/t.T/Unary")(b"missing", timeout=5)
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND
    assert _details(caught.value)[0].reason == "DATASET_NOT_FOUND"


def test_unexpected_exceptions_become_internal_without_leaking(channel: grpc.Channel) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        channel.unary_unary("/t.T/Unary")(b"crash", timeout=5)
    assert caught.value.code() is grpc.StatusCode.INTERNAL
    assert "/secret" not in caught.value.details() and "Traceback" not in caught.value.details()


def test_errors_raised_mid_stream_map_the_same_way(channel: grpc.Channel) -> None:
    received = []
    with pytest.raises(grpc.RpcError) as caught:
        for message in channel.unary_stream("/t.T/Stream")(b"", timeout=5):
            received.append(message)
    assert received == [b"first"]
    assert caught.value.code() is grpc.StatusCode.ABORTED
    info, _ = _details(caught.value)
    assert info.reason == "DOWNLOAD_IN_PROGRESS" and info.metadata["current_model"] == "org/name"


class _CallDetails(NamedTuple):
    method: str
    invocation_metadata: tuple[tuple[str, str], ...]


def test_each_method_is_wrapped_once_and_rewrapped_when_its_handler_changes() -> None:
    interceptor = ErrorMappingInterceptor("test.mlsuite")
    first = grpc.unary_unary_rpc_method_handler(_unary)
    second = grpc.unary_stream_rpc_method_handler(_stream)
    current = {"/t.T/Unary": first}

    def intercept(method: str) -> grpc.RpcMethodHandler | None:
        return interceptor.intercept_service(lambda d: current.get(d.method), _CallDetails(method, ()))

    wrapped = intercept("/t.T/Unary")
    assert wrapped is not None and wrapped.unary_unary is not _unary
    assert intercept("/t.T/Unary") is wrapped  # reused, not rebuilt per call
    current["/t.T/Unary"] = second  # e.g. a rejection handler for one call
    rewrapped = intercept("/t.T/Unary")
    assert rewrapped is not wrapped and rewrapped.unary_stream is not None and rewrapped.unary_unary is None
    assert intercept("/t.T/Made-Up") is None
    assert "/t.T/Made-Up" not in interceptor._wrapped  # noqa: SLF001 - names a client makes up are not kept
