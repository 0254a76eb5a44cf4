"""The error-mapping interceptor on a real server: codes, ErrorInfo, BadRequest, streams, INTERNAL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent import futures
from typing import NamedTuple

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from mlsuite_common.errors import Aborted, FieldViolation, InvalidArgument, NotFound
from mlsuite_common.interceptors import (
    ErrorMappingInterceptor,
    StreamLimitInterceptor,
    clip,
    status_for,
    stream_limit,
)
from mlsuite_common.lifecycle import ConnectionSettings, ServerOptions
from mlsuite_common.telemetry import TelemetryInterceptor


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


def test_open_streams_are_limited_and_unary_calls_always_served() -> None:
    release = threading.Event()

    def hold(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        yield b"open"
        release.wait(30)

    def sink(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        return b"".join(requests)

    server = grpc.server(futures.ThreadPoolExecutor(4),
                         interceptors=[ErrorMappingInterceptor("test.mlsuite"), StreamLimitInterceptor(2)])
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(_unary),
        "Hold": grpc.unary_stream_rpc_method_handler(hold),
        "Sink": grpc.stream_unary_rpc_method_handler(sink),
    }
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("t.T", handlers)])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as chan:
            streams = [chan.unary_stream("/t.T/Hold")(b"", timeout=30) for _ in range(2)]
            assert [next(stream) for stream in streams] == [b"open", b"open"]  # both hold a thread now
            with pytest.raises(grpc.RpcError) as refused:
                next(chan.unary_stream("/t.T/Hold")(b"", timeout=30))
            assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert _details(refused.value)[0].reason == "TOO_MANY_STREAMS"
            with pytest.raises(grpc.RpcError) as refused_upload:  # a client stream counts as well
                chan.stream_unary("/t.T/Sink")(iter([b"a"]), timeout=30)
            assert refused_upload.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert chan.unary_unary("/t.T/Unary")(b"ok", timeout=5) == b"ok"  # a unary call still gets a thread
            release.set()
            for stream in streams:
                assert list(stream) == []
            assert chan.stream_unary("/t.T/Sink")(iter([b"a", b"b"]), timeout=30) == b"ab"  # slots freed
    finally:
        release.set()
        server.stop(0)


def test_stream_limit_keeps_a_quarter_of_the_threads_for_unary_calls() -> None:
    assert [stream_limit(n) for n in (1, 4, 8, 64, 256)] == [1, 2, 6, 48, 192]


def test_the_stream_limit_follows_the_smaller_of_threads_and_the_call_cap() -> None:
    assert ServerOptions().stream_limit() == 192  # 256 threads, 256 calls
    assert ServerOptions(max_workers=512, connection=ConnectionSettings(max_concurrent_rpcs=8)).stream_limit() == 6
    assert ServerOptions(max_workers=8).stream_limit() == 6


def test_public_streams_have_a_pool_of_their_own() -> None:
    release = threading.Event()

    def hold(request: bytes, context: grpc.ServicerContext) -> Iterator[bytes]:
        yield b"open"
        release.wait(30)

    server = grpc.server(futures.ThreadPoolExecutor(24), interceptors=[
        ErrorMappingInterceptor("test.mlsuite"), StreamLimitInterceptor(16, frozenset({"p.Public"}))])
    for service in ("t.T", "p.Public"):
        handlers = {"Hold": grpc.unary_stream_rpc_method_handler(hold)}
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(service, handlers)])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as chan:
            def open_streams(service: str) -> list:
                opened = []
                while True:
                    stream = chan.unary_stream(f"/{service}/Hold")(b"", timeout=30)
                    try:
                        next(stream)
                    except grpc.RpcError as error:
                        assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
                        return opened
                    opened.append(stream)

            public = open_streams("p.Public")  # anonymous streams fill their own 2 (an eighth of 16) ...
            service = open_streams("t.T")  # ... and the service's 14 are all still there
            assert (len(public), len(service)) == (2, 14)
            release.set()
    finally:
        release.set()
        server.stop(0)


def test_a_client_gone_mid_upload_is_not_an_unexpected_failure(caplog: pytest.LogCaptureFixture) -> None:
    reading = threading.Event()
    cancelled = threading.Event()
    finished: list[str] = []

    def sink(requests: Iterator[bytes], context: grpc.ServicerContext) -> bytes:
        context.add_callback(cancelled.set)
        try:
            next(requests)
            reading.set()
            # Read again only once grpc has seen the cancel: a read racing the cancel may instead end the stream
            # cleanly (grpc delivers "no more messages" before it learns why), which is not the path under test.
            assert cancelled.wait(10)
            for _ in requests:
                pass
            finished.append("stream ended")
            return b"done"
        except grpc.RpcError:
            finished.append("rpc error")  # what grpc raises into a read after the client cancelled
            raise

    server = grpc.server(futures.ThreadPoolExecutor(4), interceptors=[ErrorMappingInterceptor("test.mlsuite")])
    handlers = {"Sink": grpc.stream_unary_rpc_method_handler(sink)}
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("t.T", handlers)])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    stop = threading.Event()

    def chunks() -> Iterator[bytes]:
        yield b"a"
        stop.wait(30)

    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as chan:
            future = chan.stream_unary("/t.T/Sink").future(chunks(), timeout=30)
            assert reading.wait(10)
            future.cancel()
            deadline = threading.Event()
            for _ in range(100):
                if finished:
                    break
                deadline.wait(0.05)
        assert finished == ["rpc error"]
        assert "failed unexpectedly" not in caplog.text
    finally:
        stop.set()
        server.stop(0)


def test_clip_cuts_on_a_character_boundary_and_marks_the_cut() -> None:
    assert clip("short", 10) == "short"
    cut = clip("é" * 100, 11)  # two bytes each: 4 fit before the 3-byte ellipsis
    assert cut == "éééé\u2026" and len(cut.encode()) <= 11


def test_a_status_stays_small_whatever_the_error_echoes() -> None:
    violations = [FieldViolation(f"columns[{i}]" + "x" * 5_000, "y" * 5_000) for i in range(40)]
    error = InvalidArgument("z" * 50_000, reason="MANY", violations=violations, metadata={"k": "v" * 5_000})
    status = status_for(error, "test.mlsuite")
    assert len(status.SerializeToString()) < 4_096  # base64 in the trailers: well under grpc's 8 KiB
    bad_request = error_details_pb2.BadRequest()
    status.details[1].Unpack(bad_request)
    assert [v.field.split("x")[0] for v in bad_request.field_violations] == [f"columns[{i}]" for i in range(5)]
    assert status.message.endswith("\u2026 (35 more violations not listed)") and len(status.message.encode()) <= 512
    info = error_details_pb2.ErrorInfo()
    status.details[0].Unpack(info)
    assert info.reason == "MANY" and len(info.metadata["k"].encode()) <= 128


class _Metadata:
    def __init__(self, *pairs: tuple[str, str]) -> None:
        self._pairs = pairs

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self._pairs


@pytest.mark.parametrize(
    "given",
    ["ops\x1b[2J\x1b[31mFAKE", "tab\there", "del\x7f", "caf\u00e9", "line\nbreak", "with space", "x" * 129, ""],
)
def test_a_request_id_that_is_not_visible_ascii_is_replaced_not_echoed(given: str) -> None:
    # Echoed in the trailers, a control or non-ASCII character made grpc refuse the metadata: a call that
    # had succeeded ended INTERNAL "Invalid metadata"; in a text log an escape sequence reached the terminal.
    replaced = TelemetryInterceptor._request_id(_Metadata(("x-request-id", given)))  # noqa: SLF001
    assert replaced != given and len(replaced) == 32 and replaced.isalnum()
    kept = "req-4711_ABC.def:1/2"
    assert TelemetryInterceptor._request_id(_Metadata(("x-request-id", kept))) == kept  # noqa: SLF001
