"""Stable error reasons of the downloader and the exceptions its worker raises internally."""

from __future__ import annotations

__all__ = [
    "DOWNLOAD_IN_PROGRESS",
    "MODEL_BEING_DELETED",
    "NOT_DOWNLOADING",
    "MODEL_NOT_FOUND",
    "REVISION_NOT_FOUND",
    "GATED_REPO",
    "HUB_ACCESS_DENIED",
    "HUB_UNAVAILABLE",
    "HUB_ERROR",
    "PICKLE_WEIGHTS_REFUSED",
    "DOWNLOAD_TOO_LARGE",
    "NO_FILES_SELECTED",
    "VERIFICATION_FAILED",
    "INTERRUPTED",
    "CANCELLED",
    "DOWNLOAD_FAILED",
    "NOT_CACHED",
    "SERVER_STARTING",
    "SERVER_STOPPING",
    "DownloadCancelled",
    "DownloadFailed",
]

DOWNLOAD_IN_PROGRESS = "DOWNLOAD_IN_PROGRESS"
MODEL_BEING_DELETED = "MODEL_BEING_DELETED"
NOT_DOWNLOADING = "NOT_DOWNLOADING"
MODEL_NOT_FOUND = "MODEL_NOT_FOUND"
REVISION_NOT_FOUND = "REVISION_NOT_FOUND"
GATED_REPO = "GATED_REPO"
HUB_ACCESS_DENIED = "HUB_ACCESS_DENIED"
HUB_UNAVAILABLE = "HUB_UNAVAILABLE"
HUB_ERROR = "HUB_ERROR"
PICKLE_WEIGHTS_REFUSED = "PICKLE_WEIGHTS_REFUSED"
DOWNLOAD_TOO_LARGE = "DOWNLOAD_TOO_LARGE"
NO_FILES_SELECTED = "NO_FILES_SELECTED"
VERIFICATION_FAILED = "VERIFICATION_FAILED"
INTERRUPTED = "INTERRUPTED"
CANCELLED = "CANCELLED"
DOWNLOAD_FAILED = "DOWNLOAD_FAILED"
NOT_CACHED = "NOT_CACHED"
SERVER_STARTING = "SERVER_STARTING"
SERVER_STOPPING = "SERVER_STOPPING"


class DownloadCancelled(Exception):
    """Raised inside a transfer once the download's cancel event is set; the download ends CANCELLED."""


class DownloadFailed(Exception):
    """A transfer failed; `message` is client-safe (no token, no local path, no traceback)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason
