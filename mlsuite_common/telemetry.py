"""Observability shared by both servers: Prometheus RPC metrics, access logs and request ids.

Log configuration and the request-id context live in mlsuite_common.logs (no grpc there).

One TelemetryInterceptor, outermost, times every call, counts it by method and final status code,
writes one structured access-log line, and binds the caller's `x-request-id` (or a generated one)
to the handler thread so every log line of the call carries it. The id goes back in every call's trailing
metadata, and a streaming call also sends it as initial metadata when the stream opens.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

from mlsuite_common.interceptors import BehaviorInterceptor
from mlsuite_common.logs import bound_request_id, request_id_var

__all__ = [
    "Observability",
    "RpcMetrics",
    "TelemetryInterceptor",
    "REQUEST_ID_HEADER",
    "start_metrics_server",
]

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID = re.compile(r"[\x21-\x7e]{1,128}")
access_log = logging.getLogger("mlsuite.access")

# Latency buckets from a sub-millisecond unary call to a long training stream.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800)


@dataclass(frozen=True)
class Observability:
    """Log format and the Prometheus endpoint of one server."""

    log_format: str = "text"  # "text" | "json"
    metrics_host: str = ""  # empty: the gRPC --host
    metrics_port: int = -1  # -1: no endpoint; 0: a free port (printed)


class RpcMetrics:
    """RPC counters and latency histograms in a registry of one server's own."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.requests = Counter(
            "mlsuite_rpc_requests", "RPCs handled, by method and final status code",
            ["service", "method", "code"], registry=registry,
        )
        self.latency = Histogram(
            "mlsuite_rpc_duration_seconds", "RPC duration (whole stream for streaming RPCs)",
            ["service", "method", "code"], buckets=_BUCKETS, registry=registry,
        )
        self._series: dict[tuple[str, grpc.StatusCode], tuple[Any, Any]] = {}

    def observe(self, full_method: str, code: grpc.StatusCode, seconds: float) -> None:
        """Count one finished call."""
        series = self._series.get((full_method, code))
        if series is None:
            service, _, method = full_method.lstrip("/").rpartition("/")
            # labels() looks its child up under a lock; once per (method, code) is enough.
            series = (self.requests.labels(service, method, code.name),
                      self.latency.labels(service, method, code.name))
            self._series[(full_method, code)] = series
        series[0].inc()
        series[1].observe(seconds)


def _final_code(context: grpc.ServicerContext, error: BaseException | None) -> grpc.StatusCode:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if error is None:
        return grpc.StatusCode.OK
    # grpc raises RpcError into a handler whose client has gone (a read or a send after the cancel).
    gone = isinstance(error, (GeneratorExit, grpc.RpcError))
    return grpc.StatusCode.CANCELLED if gone else grpc.StatusCode.INTERNAL


class TelemetryInterceptor(BehaviorInterceptor):
    """Times, counts and logs every RPC; binds its request id for the handler's log lines."""

    def __init__(self, metrics: RpcMetrics) -> None:
        super().__init__()
        self._metrics = metrics

    @staticmethod
    def _request_id(context: grpc.ServicerContext) -> str:
        """The call's request id: the caller's if it is 1-128 visible ASCII characters, else a new one.

        The id goes back in the trailers and into every log line: a control character (an escape sequence
        for whoever tails the log) or a byte grpc will not send made a call that succeeded end INTERNAL
        "Invalid metadata" on the client, which may then retry a write.
        """
        given = next((value for key, value in context.invocation_metadata() if key == REQUEST_ID_HEADER), "")
        if isinstance(given, str) and _REQUEST_ID.fullmatch(given):
            return given
        return secrets.token_hex(16)

    def _end(self, method: str, context: grpc.ServicerContext, started: float, error: BaseException | None,
             request_id: str) -> None:
        # Every call returns its id in the trailing metadata, which goes out with the status in the same
        # send as the response (an error's details included); `send_initial_metadata` would be a send of
        # its own on every unary call (~0.1 ms of a ~1 ms round trip).
        context.set_trailing_metadata((*(context.trailing_metadata() or ()), (REQUEST_ID_HEADER, request_id)))
        seconds = time.perf_counter() - started
        code = _final_code(context, error)
        self._metrics.observe(method, code, seconds)
        if access_log.isEnabledFor(logging.INFO):  # the extra fields cost more than the check
            access_log.info("%s %s %.1fms", method, code.name, seconds * 1000,
                            extra={"rpc_method": method, "rpc_code": code.name,
                                   "duration_ms": round(seconds * 1000, 3)})

    def _wrap_unary(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        def handler(request: Any, context: grpc.ServicerContext) -> Any:
            started = time.perf_counter()
            error: BaseException | None = None
            request_id = self._request_id(context)
            token = request_id_var.set(request_id)
            try:
                return behavior(request, context)
            except BaseException as exc:
                error = exc
                raise
            finally:
                self._end(method, context, started, error, request_id)
                request_id_var.reset(token)

        return handler

    def _wrap_stream(self, behavior: Callable[..., Iterator[Any]], method: str) -> Callable[..., Any]:
        def handler(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            started = time.perf_counter()
            request_id = self._request_id(context)
            error: BaseException | None = None
            responses: Iterator[Any] | None = None
            try:
                # A stream's trailers come only at its end: send the id at once as well.
                context.send_initial_metadata(((REQUEST_ID_HEADER, request_id),))
                # A response generator may be resumed on another thread: bind the id around each step.
                with bound_request_id(request_id):
                    responses = behavior(request, context)
                while True:
                    with bound_request_id(request_id):
                        try:
                            response = next(responses)
                        except StopIteration:
                            return
                    yield response
            except BaseException as exc:
                error = exc
                raise
            finally:
                if hasattr(responses, "close"):
                    responses.close()  # type: ignore[union-attr]
                with bound_request_id(request_id):
                    self._end(method, context, started, error, request_id)

        return handler


def start_metrics_server(host: str, port: int, registry: CollectorRegistry) -> int:
    """Serve /metrics over HTTP on host:port (0 picks a free port); returns the bound port."""
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return int(server.server_port)
