"""The gRPC adapter of DownloaderService: convert the request, call the core, convert the answer."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import grpc
from mlsuite.downloader.v1 import downloader_service_pb2 as pb
from mlsuite.downloader.v1 import downloader_service_pb2_grpc as pb_grpc

from downloader_service import convert
from downloader_service.manager import DownloadManager
from downloader_service.validation import validate_start

__all__ = ["DownloaderServicer"]


class DownloaderServicer(pb_grpc.DownloaderServiceServicer):
    """Adapter only: no state, no Hub access; domain errors are mapped by the interceptor."""

    def __init__(self, core: DownloadManager) -> None:
        self._core = core

    def StartDownload(  # noqa: N802
        self, request: pb.StartDownloadRequest, context: grpc.ServicerContext
    ) -> pb.StartDownloadResponse:
        """Validate, start (or join) the download and return its status."""
        download = validate_start(
            request.model_id,
            request.revision,
            list(request.allow_patterns),
            list(request.ignore_patterns),
            request.request_id,
        )
        return pb.StartDownloadResponse(status=convert.status_to_proto(self._core.start(download)))

    def GetDownloadStatus(  # noqa: N802
        self, request: pb.GetDownloadStatusRequest, context: grpc.ServicerContext
    ) -> pb.GetDownloadStatusResponse:
        """The status snapshot."""
        return pb.GetDownloadStatusResponse(status=convert.status_to_proto(self._core.status()))

    def WatchDownloadStatus(  # noqa: N802
        self, request: pb.WatchDownloadStatusRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.WatchDownloadStatusResponse]:
        """The current status, then every change (coalesced) and heartbeats, until the client leaves."""
        left = threading.Event()

        def _client_left() -> None:
            left.set()
            self._core.wake_watchers()

        # The callback fires when the call ends for any reason; the stop check never takes grpc's locks.
        if not context.add_callback(_client_left):
            return
        for update in self._core.watch(left.is_set):
            yield convert.update_to_proto(update)

    def CancelDownload(  # noqa: N802
        self, request: pb.CancelDownloadRequest, context: grpc.ServicerContext
    ) -> pb.CancelDownloadResponse:
        """Cancel the running download."""
        return pb.CancelDownloadResponse(status=convert.status_to_proto(self._core.cancel()))

    def ListDownloadedModels(  # noqa: N802
        self, request: pb.ListDownloadedModelsRequest, context: grpc.ServicerContext
    ) -> pb.ListDownloadedModelsResponse:
        """One page of the cached models."""
        return convert.page_to_proto(self._core.list_models(request.page_size, request.page_token))

    def DeleteDownloadedModel(  # noqa: N802
        self, request: pb.DeleteDownloadedModelRequest, context: grpc.ServicerContext
    ) -> pb.DeleteDownloadedModelResponse:
        """Delete a cached model."""
        return convert.delete_to_proto(self._core.delete_model(request.model_id, request.revision))
