"""The one exception family the MLSuite clients raise, chosen by status code and ErrorInfo reason.

    MLSuiteError
     +-- InvalidArgumentError      INVALID_ARGUMENT (field_violations name the fields)
     +-- NotFoundError             NOT_FOUND
     +-- AlreadyExistsError        ALREADY_EXISTS
     +-- FailedPreconditionError   FAILED_PRECONDITION
     +-- AbortedError              ABORTED
     |    +-- DownloadInProgressError   reason DOWNLOAD_IN_PROGRESS (metadata names the current model)
     +-- ResourceExhaustedError    RESOURCE_EXHAUSTED
     +-- PermissionDeniedError     PERMISSION_DENIED
     +-- UnauthenticatedError      UNAUTHENTICATED
     +-- CancelledError            CANCELLED
     +-- UnavailableError          UNAVAILABLE (retry the call)
     +-- DeadlineExceededError     DEADLINE_EXCEEDED
     +-- InternalError             INTERNAL, UNKNOWN, and anything else
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

__all__ = [
    "FieldViolation",
    "MLSuiteError",
    "InvalidArgumentError",
    "NotFoundError",
    "AlreadyExistsError",
    "FailedPreconditionError",
    "AbortedError",
    "DownloadInProgressError",
    "ResourceExhaustedError",
    "PermissionDeniedError",
    "UnauthenticatedError",
    "CancelledError",
    "UnavailableError",
    "DeadlineExceededError",
    "InternalError",
    "from_rpc_error",
]


@dataclass(frozen=True)
class FieldViolation:
    """A request field the server rejected."""

    field: str
    description: str


class MLSuiteError(Exception):
    """Base of every client error; carries the gRPC code, the ErrorInfo reason and details."""

    def __init__(
        self,
        message: str,
        *,
        code: grpc.StatusCode,
        reason: str = "",
        metadata: dict[str, str] | None = None,
        field_violations: tuple[FieldViolation, ...] = (),
        request_id: str = "",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason
        self.metadata = dict(metadata or {})
        self.field_violations = field_violations
        # The id the server logged the call under (its `x-request-id` trailer): quote it when asking
        # an operator about the failure. Empty when the answer came from elsewhere (a proxy, the channel).
        self.request_id = request_id

    def __str__(self) -> str:
        reason = f" [{self.reason}]" if self.reason else ""
        return f"{self.code.name}{reason}: {self.message}"


class InvalidArgumentError(MLSuiteError):
    """The request was malformed; see field_violations."""


class NotFoundError(MLSuiteError):
    """The named resource does not exist."""


class AlreadyExistsError(MLSuiteError):
    """The resource exists already."""


class FailedPreconditionError(MLSuiteError):
    """The server's state does not allow this now; fix the state first."""


class AbortedError(MLSuiteError):
    """A conflicting operation is in progress; retry at a higher level."""


class DownloadInProgressError(AbortedError):
    """Another model is downloading; metadata["current_model"] names it."""


class ResourceExhaustedError(MLSuiteError):
    """A size cap, quota or queue bound was hit."""


class PermissionDeniedError(MLSuiteError):
    """The caller (or the server's upstream credentials) may not do this."""


class UnauthenticatedError(MLSuiteError):
    """Missing or invalid credentials."""


class CancelledError(MLSuiteError):
    """The call was cancelled."""


class UnavailableError(MLSuiteError):
    """The server (or its upstream) is unreachable; retrying may succeed."""


class DeadlineExceededError(MLSuiteError):
    """The call's deadline passed."""


class InternalError(MLSuiteError):
    """The server failed unexpectedly."""


_BY_CODE: dict[grpc.StatusCode, type[MLSuiteError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgumentError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.ALREADY_EXISTS: AlreadyExistsError,
    grpc.StatusCode.FAILED_PRECONDITION: FailedPreconditionError,
    grpc.StatusCode.ABORTED: AbortedError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhaustedError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.UNAUTHENTICATED: UnauthenticatedError,
    grpc.StatusCode.CANCELLED: CancelledError,
    grpc.StatusCode.UNAVAILABLE: UnavailableError,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceededError,
}
_BY_REASON: dict[str, type[MLSuiteError]] = {"DOWNLOAD_IN_PROGRESS": DownloadInProgressError}


def from_rpc_error(error: grpc.RpcError) -> MLSuiteError:
    """Translate a grpc.RpcError (a grpc.Call) into the matching MLSuiteError."""
    code = error.code() if hasattr(error, "code") else grpc.StatusCode.UNKNOWN
    message = (error.details() if hasattr(error, "details") else None) or str(error)
    reason, metadata, violations = "", {}, ()
    status = rpc_status.from_call(error) if hasattr(error, "trailing_metadata") else None
    if status is not None:
        for detail in status.details:
            if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
                info = error_details_pb2.ErrorInfo()
                detail.Unpack(info)
                reason, metadata = info.reason, dict(info.metadata)
            elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                bad = error_details_pb2.BadRequest()
                detail.Unpack(bad)
                violations = tuple(FieldViolation(v.field, v.description) for v in bad.field_violations)
    request_id = ""
    # The trailers carry it; a stream cut by a proxy has none, but got it in its initial metadata.
    for source in ("trailing_metadata", "initial_metadata"):
        if not request_id and hasattr(error, source):
            request_id = next((str(v) for k, v in getattr(error, source)() or () if k == "x-request-id"), "")
    cls = _BY_REASON.get(reason) or _BY_CODE.get(code, InternalError)
    return cls(message, code=code, reason=reason, metadata=metadata, field_violations=violations,
               request_id=request_id)
