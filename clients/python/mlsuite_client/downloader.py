"""Python client of the DownloaderService: frozen dataclasses out, mlsuite_client.errors raised.

with DownloaderClient("127.0.0.1:50052") as client:
    client.start_download("org/name")
    for status in client.watch_status():
        print(f"{status.progress:.0f}%")
        if status.is_terminal:
            break
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from mlsuite.downloader.v1 import downloader_service_pb2 as pb
from mlsuite.downloader.v1 import downloader_service_pb2_grpc as pb_grpc

from mlsuite_client.channel import Credentials, channel_for, checked_timeout
from mlsuite_client.downloader_types import (
    DeleteResult,
    DownloadedModel,
    DownloadedModelPage,
    DownloadState,
    DownloadStatus,
)
from mlsuite_client.errors import DeadlineExceededError, from_rpc_error

__all__ = ["DownloaderClient"]

_STATES = {
    pb.DOWNLOAD_STATE_UNSPECIFIED: DownloadState.UNSPECIFIED,
    pb.DOWNLOAD_STATE_IDLE: DownloadState.IDLE,
    pb.DOWNLOAD_STATE_RESOLVING: DownloadState.RESOLVING,
    pb.DOWNLOAD_STATE_DOWNLOADING: DownloadState.DOWNLOADING,
    pb.DOWNLOAD_STATE_VERIFYING: DownloadState.VERIFYING,
    pb.DOWNLOAD_STATE_SUCCEEDED: DownloadState.SUCCEEDED,
    pb.DOWNLOAD_STATE_FAILED: DownloadState.FAILED,
    pb.DOWNLOAD_STATE_CANCELLED: DownloadState.CANCELLED,
}


def _time(message: pb.DownloadStatus | pb.DownloadedModel, name: str) -> datetime | None:
    if not message.HasField(name):
        return None
    stamp: Timestamp = getattr(message, name)
    return stamp.ToDatetime(tzinfo=UTC)


def _status(message: pb.DownloadStatus) -> DownloadStatus:
    return DownloadStatus(
        state=_STATES.get(message.state, DownloadState.UNSPECIFIED),
        is_downloading=message.is_downloading,
        current_model=message.current_model,
        revision=message.revision,
        commit=message.commit,
        progress=message.progress,
        status_message=message.status_message,
        error=message.error,
        error_reason=message.error_reason,
        bytes_downloaded=message.bytes_downloaded,
        bytes_total=message.bytes_total,
        files_downloaded=message.files_downloaded,
        files_total=message.files_total,
        version=message.version,
        start_time=_time(message, "start_time"),
        update_time=_time(message, "update_time"),
        end_time=_time(message, "end_time"),
        allow_patterns=tuple(message.allow_patterns),
        ignore_patterns=tuple(message.ignore_patterns),
    )


def _model(message: pb.DownloadedModel) -> DownloadedModel:
    return DownloadedModel(
        model_id=message.model_id,
        revision=message.revision,
        commit=message.commit,
        files=tuple(message.files),
        size_bytes=message.size_bytes,
        last_modified=_time(message, "last_modified_time"),
        refs=tuple(message.refs),
    )


class DownloaderClient:
    """Calls every DownloaderService RPC with a deadline; errors are mlsuite_client.errors.MLSuiteError.

    Given a target ("host:port"), it opens its own channel (mlsuite_client.channel.create_channel) with
    `credentials` (TLS files, a bearer token) or, when None, those of an enclosing default_credentials block.
    """

    def __init__(
        self,
        channel_or_target: grpc.Channel | str,
        *,
        timeout: float | None = 30.0,
        credentials: Credentials | None = None,
    ) -> None:
        self.timeout = checked_timeout(timeout, optional=True)  # None: unary calls have no deadline
        self._channel, self._owns_channel = channel_for(channel_or_target, credentials)
        self._stub = pb_grpc.DownloaderServiceStub(self._channel)

    # -- RPCs ----------------------------------------------------------------------------------------

    def start_download(
        self,
        model_id: str,
        *,
        revision: str = "",
        allow_patterns: Iterable[str] = (),
        ignore_patterns: Iterable[str] = (),
        request_id: str = "",
    ) -> DownloadStatus:
        """Start (or join) a download; returns once it runs or, when everything is cached, has ended."""
        request = pb.StartDownloadRequest(
            model_id=model_id,
            revision=revision,
            allow_patterns=list(allow_patterns),
            ignore_patterns=list(ignore_patterns),
            request_id=request_id,
        )
        return _status(self._unary(self._stub.StartDownload, request).status)

    def get_status(self) -> DownloadStatus:
        """The current status."""
        return _status(self._unary(self._stub.GetDownloadStatus, pb.GetDownloadStatusRequest()).status)

    def watch_status(
        self, *, timeout: float | None = None, include_heartbeats: bool = False
    ) -> Iterator[DownloadStatus]:
        """The current status, then every change (coalesced); runs until closed or `timeout` seconds pass.

        Closing the iterator (or breaking out of a for loop over it) cancels the call.
        """
        timeout = checked_timeout(timeout, optional=True)
        call = self._stub.WatchDownloadStatus(pb.WatchDownloadStatusRequest(), timeout=timeout)
        try:
            for response in call:
                if response.heartbeat and not include_heartbeats:
                    continue
                yield _status(response.status)
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                raise from_rpc_error(exc) from None
        finally:
            call.cancel()

    def wait(self, *, timeout: float | None = None) -> DownloadStatus:
        """Block until no download runs (watching the status); DeadlineExceededError after `timeout` s."""
        try:
            for status in self.watch_status(timeout=timeout):
                if not status.is_downloading:
                    return status
        except DeadlineExceededError:
            pass
        status = self.get_status()
        if status.is_downloading:
            raise DeadlineExceededError(
                f"{status.current_model} is still downloading after {timeout} s",
                code=grpc.StatusCode.DEADLINE_EXCEEDED,
            )
        return status

    def cancel(self) -> DownloadStatus:
        """Cancel the running download; returns the status after it stopped (CANCELLED)."""
        return _status(self._unary(self._stub.CancelDownload, pb.CancelDownloadRequest()).status)

    def list_models_page(self, *, page_size: int = 0, page_token: str = "") -> DownloadedModelPage:
        """One page of the cached models."""
        response = self._unary(
            self._stub.ListDownloadedModels,
            pb.ListDownloadedModelsRequest(page_size=page_size, page_token=page_token),
        )
        return DownloadedModelPage(tuple(_model(m) for m in response.models), response.next_page_token)

    def list_models(self, *, page_size: int = 0) -> Iterator[DownloadedModel]:
        """Every cached model, fetching pages as the iteration goes."""
        token = ""
        while True:
            page = self.list_models_page(page_size=page_size, page_token=token)
            yield from page.models
            token = page.next_page_token
            if not token:
                return

    def delete_model(self, model_id: str, *, revision: str = "") -> DeleteResult:
        """Delete a cached model: one revision (ref or commit) or, when empty, all of them."""
        response = self._unary(
            self._stub.DeleteDownloadedModel,
            pb.DeleteDownloadedModelRequest(model_id=model_id, revision=revision),
        )
        return DeleteResult(tuple(_model(m) for m in response.deleted_models), response.freed_bytes)

    # -- plumbing ------------------------------------------------------------------------------------

    def _unary(self, method: grpc.UnaryUnaryMultiCallable, request: object) -> Any:
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    def close(self) -> None:
        """Close the channel if this client created it."""
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> DownloaderClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
