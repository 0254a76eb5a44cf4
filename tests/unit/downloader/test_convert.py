"""Domain <-> protobuf conversion, and the client's view of the same messages."""

from __future__ import annotations

from datetime import UTC, datetime

from mlsuite.downloader.v1 import downloader_service_pb2 as pb

from downloader_service.cache import CachedModel, DeleteResult, ModelPage
from downloader_service.convert import delete_to_proto, page_to_proto, status_to_proto, update_to_proto
from downloader_service.status import DownloadState, DownloadStatus
from downloader_service.watch import StatusUpdate
from mlsuite_client import downloader as client_module
from mlsuite_client.downloader_types import DownloadState as ClientState

WHEN = datetime(2025, 5, 6, 7, 8, 9, 123000, tzinfo=UTC)


def test_status_fields_and_times() -> None:
    status = DownloadStatus(
        state=DownloadState.DOWNLOADING,
        current_model="org/name",
        progress=42.5,
        status_message="downloading x",
        revision="main",
        commit="c" * 40,
        bytes_downloaded=425,
        bytes_total=1000,
        files_downloaded=1,
        files_total=2,
        version=9,
        start_time=WHEN,
        update_time=WHEN,
        allow_patterns=("*.json",),
        request_id="internal",
        pending_files=("secret/partial/list",),
    )
    message = status_to_proto(status)
    assert message.is_downloading and message.state == pb.DOWNLOAD_STATE_DOWNLOADING
    assert (message.current_model, message.progress, message.bytes_downloaded) == ("org/name", 42.5, 425)
    assert message.start_time.ToDatetime(tzinfo=UTC) == WHEN and not message.HasField("end_time")
    assert list(message.allow_patterns) == ["*.json"]
    assert b"internal" not in message.SerializeToString()  # request ids and pending files stay inside

    seen = client_module._status(message)
    assert seen.state is ClientState.DOWNLOADING and seen.is_downloading and not seen.is_terminal
    assert seen.start_time == WHEN and seen.end_time is None and seen.allow_patterns == ("*.json",)


def test_every_state_maps() -> None:
    for state in DownloadState:
        message = status_to_proto(DownloadStatus(state=state))
        assert message.is_downloading == state.is_active
        assert client_module._status(message).state.value == state.value


def test_watch_pages_and_deletes() -> None:
    assert update_to_proto(StatusUpdate(DownloadStatus(), heartbeat=True)).heartbeat is True
    model = CachedModel("org/name", "main", "c" * 40, ("config.json",), 10, WHEN, ("main", "v1"))
    page = page_to_proto(ModelPage((model,), "next"))
    assert page.next_page_token == "next" and list(page.models[0].refs) == ["main", "v1"]
    assert client_module._model(page.models[0]).last_modified == WHEN
    deleted = delete_to_proto(DeleteResult((model,), 10))
    assert deleted.freed_bytes == 10 and deleted.deleted_models[0].model_id == "org/name"
