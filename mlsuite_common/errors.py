"""Domain exceptions with a stable reason; the interceptor maps each kind to a gRPC status.

Domain modules raise these and never import grpc. Messages are shown to clients, so they
never contain a stack trace, a server path or a secret.

    ServiceError
     +-- InvalidArgument      (INVALID_ARGUMENT, with BadRequest field violations)
     +-- NotFound             (NOT_FOUND)
     +-- AlreadyExists        (ALREADY_EXISTS)
     +-- FailedPrecondition   (FAILED_PRECONDITION: fix the state first)
     +-- Aborted              (ABORTED: retry at a higher level)
     +-- ResourceExhausted    (RESOURCE_EXHAUSTED)
     +-- PermissionDenied     (PERMISSION_DENIED)
     +-- Unavailable          (UNAVAILABLE: retry the call)
     +-- Cancelled            (CANCELLED)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

__all__ = [
    "ErrorKind",
    "FieldViolation",
    "ServiceError",
    "InvalidArgument",
    "NotFound",
    "AlreadyExists",
    "FailedPrecondition",
    "Aborted",
    "ResourceExhausted",
    "PermissionDenied",
    "Unavailable",
    "Cancelled",
]


class ErrorKind(enum.Enum):
    """The category of a domain error; names match google.rpc.Code."""

    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    ABORTED = "ABORTED"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    UNAVAILABLE = "UNAVAILABLE"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class FieldViolation:
    """One bad request field: `field` is the request path, e.g. "spec.hyperparameters[epochs]"."""

    field: str
    description: str


class ServiceError(Exception):
    """Base of every domain error: a client-safe message, a stable UPPER_SNAKE reason, optional details."""

    kind: ErrorKind = ErrorKind.FAILED_PRECONDITION

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
        self.metadata: dict[str, str] = dict(metadata or {})


class InvalidArgument(ServiceError):
    """The request itself is wrong; `violations` name the offending fields."""

    kind = ErrorKind.INVALID_ARGUMENT

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        reason: str = "INVALID_ARGUMENT",
        violations: Sequence[FieldViolation] = (),
        metadata: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, reason=reason, metadata=metadata)
        found = list(violations)
        if field is not None:
            found.insert(0, FieldViolation(field, message))
        self.violations: tuple[FieldViolation, ...] = tuple(found)


class NotFound(ServiceError):
    """The named resource does not exist."""

    kind = ErrorKind.NOT_FOUND


class AlreadyExists(ServiceError):
    """The resource to create exists already."""

    kind = ErrorKind.ALREADY_EXISTS


class FailedPrecondition(ServiceError):
    """The system is not in a state that allows the operation."""

    kind = ErrorKind.FAILED_PRECONDITION


class Aborted(ServiceError):
    """A concurrency conflict; retry at a higher level."""

    kind = ErrorKind.ABORTED


class ResourceExhausted(ServiceError):
    """A quota, size cap or queue bound was hit."""

    kind = ErrorKind.RESOURCE_EXHAUSTED


class PermissionDenied(ServiceError):
    """The caller may not do this (or the upstream refused our credentials)."""

    kind = ErrorKind.PERMISSION_DENIED


class Unavailable(ServiceError):
    """A dependency is unreachable right now; retrying the call may succeed."""

    kind = ErrorKind.UNAVAILABLE


class Cancelled(ServiceError):
    """The operation was cancelled."""

    kind = ErrorKind.CANCELLED
