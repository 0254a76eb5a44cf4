"""One server interceptor that turns domain errors into gRPC statuses with google.rpc details.

Wraps unary handlers and response generators alike, so a ServiceError raised mid-stream maps the
same way as one raised before the first message. Anything else becomes INTERNAL with a generic
message; the traceback goes to the log, never to the client.
"""

from __future__ import annotations

import abc
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from mlsuite_common.errors import ErrorKind, InvalidArgument, ResourceExhausted, ServiceError

__all__ = [
    "BehaviorInterceptor", "ErrorMappingInterceptor", "StreamLimitInterceptor", "clip", "status_for", "stream_limit",
]

logger = logging.getLogger(__name__)

_CODES: dict[ErrorKind, int] = {kind: getattr(code_pb2, kind.value) for kind in ErrorKind}


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


# The status travels in the trailers (grpc-message, grpc-status-details-bin in base64), and clients refuse
# trailers beyond 8 KiB (grpc's default soft limit; 16 KiB hard) with a bare RESOURCE_EXHAUSTED: the
# error itself would be lost. Messages echo what the client sent (a 20 KB column name, a 5,000-name
# list), so every text is clipped to a budget that keeps the whole status near 4 KiB at most.
_MESSAGE_BYTES = 512
_FIELD_BYTES = 128
_DESCRIPTION_BYTES = 256
_METADATA_BYTES = 128
_MAX_VIOLATIONS = 5


def clip(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes (on a character boundary), marked with an ellipsis when cut."""
    encoded = text.encode()
    if len(encoded) <= limit:
        return text
    return encoded[: limit - 3].decode(errors="ignore") + "\u2026"


def status_for(error: ServiceError, domain: str) -> status_pb2.Status:
    """The google.rpc.Status for a domain error: ErrorInfo always, BadRequest for field violations.

    Texts are clipped (see _MESSAGE_BYTES) and at most _MAX_VIOLATIONS violations are listed, so that the
    status always fits the trailers a client accepts.
    """
    metadata = {clip(k, _METADATA_BYTES): clip(v, _METADATA_BYTES) for k, v in error.metadata.items()}
    details = [_pack(error_details_pb2.ErrorInfo(reason=error.reason, domain=domain, metadata=metadata))]
    message, note = error.message, ""
    if isinstance(error, InvalidArgument) and error.violations:
        shown = error.violations[:_MAX_VIOLATIONS]
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=clip(v.field, _FIELD_BYTES), description=clip(v.description, _DESCRIPTION_BYTES)
                )
                for v in shown
            ]
        )
        details.append(_pack(bad_request))
        if len(error.violations) > len(shown):
            note = f" ({len(error.violations) - len(shown)} more violations not listed)"
    message = clip(message, _MESSAGE_BYTES - len(note)) + note
    return status_pb2.Status(code=_CODES[error.kind], message=message, details=details)


def _internal(domain: str) -> status_pb2.Status:
    info = error_details_pb2.ErrorInfo(reason="INTERNAL", domain=domain)
    return status_pb2.Status(
        code=code_pb2.INTERNAL, message="internal error; see the server log", details=[_pack(info)]
    )


class BehaviorInterceptor(grpc.ServerInterceptor, abc.ABC):
    """An interceptor that wraps each method's behavior, once per handler rather than once per call.

    grpc asks every interceptor for the handler of every call (on the server's polling thread); a
    method's handler is the same object from call to call, so its wrapped copy is kept and reused.
    """

    def __init__(self) -> None:
        self._wrapped: dict[str, tuple[grpc.RpcMethodHandler, grpc.RpcMethodHandler | None]] = {}

    def _wraps(self, handler: grpc.RpcMethodHandler, method: str) -> bool:
        """Whether to wrap this method's handler (every one, unless a subclass says otherwise)."""
        return True

    @abc.abstractmethod
    def _wrap_unary(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        """The behavior of a unary-response method, wrapped."""

    @abc.abstractmethod
    def _wrap_stream(self, behavior: Callable[..., Iterator[Any]], method: str) -> Callable[..., Any]:
        """The behavior of a streaming-response method (a generator), wrapped."""

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        """The handler with its behavior wrapped (unchanged if this interceptor does not wrap its kind)."""
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or not self._wraps(handler, method):
            return handler  # an unknown method is None: nothing is kept for names a client makes up
        cached = self._wrapped.get(method)
        if cached is not None and cached[0] is handler:
            return cached[1]
        wrapped = self._wrap(handler, method)
        self._wrapped[method] = (handler, wrapped)  # one entry per method name; a new handler replaces it
        return wrapped

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler | None:
        """The handler with its behavior wrapped (a subclass may return another kind of handler)."""
        return _wrap_handler(handler, method, self._wrap_unary, self._wrap_stream)


class ErrorMappingInterceptor(BehaviorInterceptor):
    """Maps ServiceError to its status code and details; unexpected exceptions to INTERNAL."""

    def __init__(self, domain: str) -> None:
        super().__init__()
        self._domain = domain

    def _abort(self, context: grpc.ServicerContext, exc: BaseException, method: str) -> None:
        if context.code() not in (None, grpc.StatusCode.OK):
            raise exc  # The servicer already set a status (e.g. context.abort); keep it.
        if isinstance(exc, grpc.RpcError) and not context.is_active():
            raise exc  # grpc's own signal that the client has gone (a read or send after its cancel)
        if isinstance(exc, ServiceError):
            logger.info("%s -> %s %s: %s", method, exc.kind.value, exc.reason, exc.message)
            status = status_for(exc, self._domain)
        else:
            logger.error("%s failed unexpectedly", method, exc_info=exc)
            status = _internal(self._domain)
        context.abort_with_status(rpc_status.to_status(status))

    def _wrap_unary(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        def handler(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
            try:
                return behavior(request_or_iterator, context)
            except Exception as exc:  # noqa: BLE001 - mapped, never leaked
                self._abort(context, exc, method)
                raise  # unreachable: abort raises

        return handler

    def _wrap_stream(self, behavior: Callable[..., Iterator[Any]], method: str) -> Callable[..., Any]:
        def handler(request_or_iterator: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            try:
                yield from behavior(request_or_iterator, context)
            except Exception as exc:  # noqa: BLE001 - mapped, never leaked
                self._abort(context, exc, method)

        return handler


def stream_limit(capacity: int) -> int:
    """How many streaming calls may be open at once out of `capacity` calls: all but a quarter, at least 2
    (so below a capacity of 4 fewer stay free: 1 of 3 is still a stream, 1 of 2, 1 of 1).

    In grpc's sync server every open stream (a watcher, an upload, a health Watch) holds a handler
    thread for as long as it lasts. Without a limit, as many open streams as threads leave unary calls
    (Predict, Get*, health Check) queued behind them until one ends; the reserve keeps them served.
    """
    return max(1, capacity - max(2, capacity // 4))


class _Slots:
    """Up to `limit` streams open at once; a stream beyond it is refused, never queued."""

    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self._what = what
        self._open = threading.BoundedSemaphore(limit)

    def take(self) -> None:
        if not self._open.acquire(blocking=False):
            raise ResourceExhausted(
                f"the server has {self.limit} {self._what} open, its limit; retry shortly",
                reason="TOO_MANY_STREAMS",
                metadata={"limit": str(self.limit)},
            )

    def give_back(self) -> None:
        self._open.release()


class StreamLimitInterceptor(BehaviorInterceptor):
    """Refuses a streaming call at once (RESOURCE_EXHAUSTED, TOO_MANY_STREAMS) when `limit` are open.

    Calls of `public_services` (health, reflection: open to callers without a token) get their own eighth
    of the limit (from a limit of 8), so that anonymous calls cannot take the service's slots. That counts
    their unary calls too (a health Check): such a call takes its slot before its request is read, so a
    client that opens calls and never sends their bodies holds at most that eighth (each such call holds
    a handler thread and one of grpc's --max-concurrent-rpcs until it ends).
    Innermost, inside the error mapping, so the refusal carries its ErrorInfo like any other error.
    """

    def __init__(self, limit: int, public_services: frozenset[str] = frozenset()) -> None:
        super().__init__()
        public = limit // 8 if public_services else 0  # below 8 the two share one pool
        self.limit = limit
        self._public_services = public_services
        self._service = _Slots(limit - public, "streams")
        self._public = _Slots(public, "health / reflection calls") if public else self._service

    def _is_public(self, method: str) -> bool:
        return method.lstrip("/").partition("/")[0] in self._public_services

    def _slots(self, method: str) -> _Slots:
        return self._public if self._is_public(method) else self._service

    def _wrap(self, handler: grpc.RpcMethodHandler, method: str) -> grpc.RpcMethodHandler | None:
        if handler.unary_unary is None:
            return super()._wrap(handler, method)
        # A public unary call: served as a request stream, so that its slot is taken before grpc reads the
        # request (a unary handler runs only once the request has arrived, which a client may never send).
        behavior, slots = handler.unary_unary, self._public

        def slot_then_request(requests: Iterator[Any], context: grpc.ServicerContext) -> Any:
            slots.take()
            try:
                request = next(requests, None)
                if request is None:
                    raise InvalidArgument("the call ended without its request message", reason="NO_REQUEST")
                return behavior(request, context)
            finally:
                slots.give_back()

        return grpc.stream_unary_rpc_method_handler(
            slot_then_request,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )

    def _wrap_unary(self, behavior: Callable[..., Any], method: str) -> Callable[..., Any]:
        slots = self._slots(method)

        def handler(request_or_iterator: Any, context: grpc.ServicerContext) -> Any:
            slots.take()  # a client stream (an upload): it holds its thread until the last chunk
            try:
                return behavior(request_or_iterator, context)
            finally:
                slots.give_back()

        return handler

    def _wrap_stream(self, behavior: Callable[..., Iterator[Any]], method: str) -> Callable[..., Any]:
        slots = self._slots(method)

        def handler(request_or_iterator: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            slots.take()
            try:
                yield from behavior(request_or_iterator, context)
            finally:
                slots.give_back()

        return handler

    def _wraps(self, handler: grpc.RpcMethodHandler, method: str) -> bool:
        """Streaming calls are counted, and the unary calls of public services; other unary calls pass."""
        if handler.request_streaming or handler.response_streaming:
            return True
        return self._is_public(method) and self._public is not self._service


Wrapper = Callable[[Callable[..., Any], str], Callable[..., Any]]


def _wrap_handler(
    handler: grpc.RpcMethodHandler | None, method: str, wrap_unary: Wrapper, wrap_stream: Wrapper
) -> grpc.RpcMethodHandler | None:
    """The handler with its behavior wrapped: `wrap_unary` for unary responses, `wrap_stream` for streams."""
    if handler is None:
        return None
    if handler.unary_unary:
        return handler._replace(unary_unary=wrap_unary(handler.unary_unary, method))
    if handler.stream_unary:
        return handler._replace(stream_unary=wrap_unary(handler.stream_unary, method))
    if handler.unary_stream:
        return handler._replace(unary_stream=wrap_stream(handler.unary_stream, method))
    if handler.stream_stream:
        return handler._replace(stream_stream=wrap_stream(handler.stream_stream, method))
    return handler
