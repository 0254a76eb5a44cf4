"""Values the DownloaderClient returns: frozen dataclasses, no protobuf."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

__all__ = ["DownloadState", "DownloadStatus", "DownloadedModel", "DownloadedModelPage", "DeleteResult"]


class DownloadState(enum.Enum):
    """Lifecycle of the downloader (-ING transient, past participle terminal)."""

    UNSPECIFIED = "UNSPECIFIED"
    IDLE = "IDLE"
    RESOLVING = "RESOLVING"
    DOWNLOADING = "DOWNLOADING"
    VERIFYING = "VERIFYING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"

    @property
    def is_active(self) -> bool:
        """True while a download runs."""
        return self in (DownloadState.RESOLVING, DownloadState.DOWNLOADING, DownloadState.VERIFYING)

    @property
    def is_terminal(self) -> bool:
        """True for SUCCEEDED, FAILED and CANCELLED."""
        return self in (DownloadState.SUCCEEDED, DownloadState.FAILED, DownloadState.CANCELLED)


@dataclass(frozen=True)
class DownloadStatus:
    """One consistent snapshot of the downloader's status; progress is in percent (0-100)."""

    state: DownloadState
    is_downloading: bool
    current_model: str
    revision: str
    commit: str
    progress: float
    status_message: str
    error: str
    error_reason: str
    bytes_downloaded: int
    bytes_total: int
    files_downloaded: int
    files_total: int
    version: int
    start_time: datetime | None
    update_time: datetime | None
    end_time: datetime | None
    allow_patterns: tuple[str, ...] = ()
    ignore_patterns: tuple[str, ...] = ()

    @property
    def is_terminal(self) -> bool:
        """True when the last download has ended (SUCCEEDED, FAILED or CANCELLED)."""
        return self.state.is_terminal


@dataclass(frozen=True)
class DownloadedModel:
    """A model in the server's cache at one commit."""

    model_id: str
    revision: str
    commit: str
    files: tuple[str, ...]
    size_bytes: int
    last_modified: datetime | None
    refs: tuple[str, ...]


@dataclass(frozen=True)
class DownloadedModelPage:
    """One page of cached models; next_page_token is empty on the last page."""

    models: tuple[DownloadedModel, ...]
    next_page_token: str


@dataclass(frozen=True)
class DeleteResult:
    """The cache entries a delete removed and the bytes it freed."""

    deleted: tuple[DownloadedModel, ...]
    freed_bytes: int
