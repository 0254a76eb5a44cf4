"""Conversions between the downloader's domain values and its protobuf messages."""

from __future__ import annotations

from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp
from mlsuite.downloader.v1 import downloader_service_pb2 as pb

from downloader_service.cache import CachedModel, DeleteResult, ModelPage
from downloader_service.status import DownloadState, DownloadStatus
from downloader_service.watch import StatusUpdate

__all__ = ["status_to_proto", "update_to_proto", "model_to_proto", "page_to_proto", "delete_to_proto"]

_STATES: dict[DownloadState, int] = {
    DownloadState.IDLE: pb.DOWNLOAD_STATE_IDLE,
    DownloadState.RESOLVING: pb.DOWNLOAD_STATE_RESOLVING,
    DownloadState.DOWNLOADING: pb.DOWNLOAD_STATE_DOWNLOADING,
    DownloadState.VERIFYING: pb.DOWNLOAD_STATE_VERIFYING,
    DownloadState.SUCCEEDED: pb.DOWNLOAD_STATE_SUCCEEDED,
    DownloadState.FAILED: pb.DOWNLOAD_STATE_FAILED,
    DownloadState.CANCELLED: pb.DOWNLOAD_STATE_CANCELLED,
}


def _timestamp(value: datetime | None) -> Timestamp | None:
    if value is None:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


def status_to_proto(status: DownloadStatus) -> pb.DownloadStatus:
    """The DownloadStatus message of a domain status (internal fields such as request_id stay out)."""
    return pb.DownloadStatus(
        is_downloading=status.is_downloading,
        current_model=status.current_model,
        progress=status.progress,
        status_message=status.status_message,
        error=status.error,
        state=_STATES[status.state],  # type: ignore[arg-type]
        revision=status.revision,
        commit=status.commit,
        bytes_downloaded=status.bytes_downloaded,
        bytes_total=status.bytes_total,
        files_downloaded=status.files_downloaded,
        files_total=status.files_total,
        version=status.version,
        start_time=_timestamp(status.start_time),
        update_time=_timestamp(status.update_time),
        end_time=_timestamp(status.end_time),
        error_reason=status.error_reason,
        allow_patterns=list(status.allow_patterns),
        ignore_patterns=list(status.ignore_patterns),
    )


def update_to_proto(update: StatusUpdate) -> pb.WatchDownloadStatusResponse:
    """One WatchDownloadStatus message."""
    return pb.WatchDownloadStatusResponse(status=status_to_proto(update.status), heartbeat=update.heartbeat)


def model_to_proto(model: CachedModel) -> pb.DownloadedModel:
    """The DownloadedModel message of a cached model."""
    return pb.DownloadedModel(
        model_id=model.model_id,
        revision=model.revision,
        commit=model.commit,
        files=list(model.files),
        size_bytes=model.size_bytes,
        last_modified_time=_timestamp(model.last_modified),
        refs=list(model.refs),
    )


def page_to_proto(page: ModelPage) -> pb.ListDownloadedModelsResponse:
    """A ListDownloadedModels response."""
    return pb.ListDownloadedModelsResponse(
        models=[model_to_proto(m) for m in page.models], next_page_token=page.next_page_token
    )


def delete_to_proto(result: DeleteResult) -> pb.DeleteDownloadedModelResponse:
    """A DeleteDownloadedModel response."""
    return pb.DeleteDownloadedModelResponse(
        deleted_models=[model_to_proto(m) for m in result.deleted], freed_bytes=result.freed_bytes
    )
