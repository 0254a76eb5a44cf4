"""Cancel mid-download and Hub failures mid-download: clean ends, no partial files, the service freed."""

from __future__ import annotations

import time

import grpc
import pytest

from mlsuite_client.downloader_types import DownloadState
from mlsuite_client.errors import FailedPreconditionError
from tests.support.downloader_testing import THROTTLE, partial_files, snapshot_files, wait_for


def _wait_mid_padding(downloader, hub) -> None:
    """Wait until the big file's body is streaming and part of it is on disk as *.incomplete."""
    assert hub.wait_for_body("padding.safetensors", timeout=20)
    wait_for(lambda: partial_files(downloader.cache_dir), timeout=10)


def test_cancel_mid_download_stops_fast_and_leaves_nothing(downloader, repos, hub) -> None:
    hub.throttle_bytes_per_second = THROTTLE
    client = downloader.client
    client.start_download(repos.padded)
    _wait_mid_padding(downloader, hub)
    # Files finished before the cancel are in the snapshot now; they must go too.
    assert snapshot_files(downloader.cache_dir, repos.padded)
    before = client.get_status()
    assert 0 < before.progress < 100

    started = time.monotonic()
    cancelled = client.cancel()
    elapsed = time.monotonic() - started
    assert cancelled.state is DownloadState.CANCELLED, cancelled
    assert elapsed < 2.0, f"cancel took {elapsed:.2f} s"
    assert not cancelled.is_downloading and cancelled.error == ""
    assert cancelled.status_message == "cancelled by request"
    assert cancelled.progress >= before.progress  # never goes back, even on cancel
    assert partial_files(downloader.cache_dir) == []
    assert snapshot_files(downloader.cache_dir, repos.padded) == []
    assert repos.padded not in [m.model_id for m in client.list_models()]

    hub.throttle_bytes_per_second = None
    client.start_download(repos.tiny)  # the service is free
    assert client.wait(timeout=30).state is DownloadState.SUCCEEDED
    client.start_download(repos.padded)  # and the cancelled model downloads cleanly afterwards
    assert client.wait(timeout=30).state is DownloadState.SUCCEEDED
    commit = repos.commits[repos.padded]
    blob = (
        downloader.cache_dir
        / "models--mlsuite-test--padded-bert"
        / "snapshots"
        / commit
        / "padding.safetensors"
    )
    assert blob.read_bytes() == repos.files[repos.padded]["padding.safetensors"]


def test_cancel_of_a_transfer_the_hub_stopped_sending_ends_cancelled(make_downloader, repos, hub) -> None:
    # A Hub that sends the headers of a file and then nothing: no byte arrives to notice the cancel, and
    # huggingface_hub retries a stalled read five times. The cancel used to wait all of that out (about a
    # minute, the service busy) and end FAILED HUB_UNAVAILABLE; it now lands at the next read timeout.
    hub.stall.add("padding.safetensors")
    stalled = make_downloader(hub_timeout_seconds=1.0)
    client = stalled.client
    client.start_download(repos.padded)
    assert hub.wait_for_body("padding.safetensors", timeout=20)
    started = time.monotonic()
    client.cancel()
    final = client.wait(timeout=30)
    elapsed = time.monotonic() - started
    assert final.state is DownloadState.CANCELLED and final.error_reason == "", final
    assert elapsed < 6, f"the cancel took {elapsed:.1f} s"
    assert partial_files(stalled.cache_dir) == [] and snapshot_files(stalled.cache_dir, repos.padded) == []
    hub.stall.clear()
    client.start_download(repos.tiny)  # the service is free again
    assert client.wait(timeout=30).state is DownloadState.SUCCEEDED


def test_cancel_keeps_files_that_were_cached_before(downloader, repos, hub) -> None:
    client = downloader.client
    client.start_download(repos.padded, allow_patterns=["*.json"])
    assert client.wait(timeout=30).state is DownloadState.SUCCEEDED
    before = snapshot_files(downloader.cache_dir, repos.padded)

    hub.throttle_bytes_per_second = THROTTLE
    client.start_download(repos.padded)
    _wait_mid_padding(downloader, hub)
    assert client.cancel().state is DownloadState.CANCELLED
    assert snapshot_files(downloader.cache_dir, repos.padded) == before
    assert partial_files(downloader.cache_dir) == []


def test_cancel_when_idle_is_failed_precondition(downloader) -> None:
    with pytest.raises(FailedPreconditionError) as idle:
        downloader.client.cancel()
    assert idle.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert idle.value.reason == "NOT_DOWNLOADING"


def test_hub_error_mid_download_fails_readably_and_frees_the_service(downloader, repos, hub) -> None:
    hub.fail_status["padding.safetensors"] = 503
    client = downloader.client
    client.start_download(repos.padded)
    final = client.wait(timeout=30)
    assert final.state is DownloadState.FAILED
    assert final.error_reason == "HUB_ERROR"
    assert final.error == "the Hub answered HTTP 503 while downloading padding.safetensors"
    assert (
        partial_files(downloader.cache_dir) == [] and snapshot_files(downloader.cache_dir, repos.padded) == []
    )

    hub.fail_status.clear()
    client.start_download(repos.padded)
    assert client.wait(timeout=30).state is DownloadState.SUCCEEDED


def test_hub_killed_mid_download_fails_and_the_next_download_works(make_downloader, own_hub) -> None:
    hub, repos = own_hub.hub, own_hub.repos
    downloader = make_downloader(hub_endpoint=hub.url)
    hub.throttle_bytes_per_second = THROTTLE
    client = downloader.client
    client.start_download(repos.padded)
    _wait_mid_padding(downloader, hub)
    hub.kill()

    final = client.wait(timeout=40)  # huggingface_hub retries a broken body 5 times, a second apart
    assert final.state is DownloadState.FAILED
    assert final.error_reason == "HUB_UNAVAILABLE"
    assert final.error == f"lost the connection to the Hub at {hub.url} while downloading padding.safetensors"
    assert str(downloader.cache_dir) not in final.error and "Traceback" not in final.error
    assert partial_files(downloader.cache_dir) == []
    assert snapshot_files(downloader.cache_dir, repos.padded) == []

    own_hub.restart()  # the Hub comes back on the same address
    client.start_download(repos.padded)
    assert client.wait(timeout=30).state is DownloadState.SUCCEEDED


def test_a_hub_that_serves_more_than_it_listed_is_cut_off(downloader, repos, hub) -> None:
    # The size cap and the totals come from the listing: a Hub listing 1,000 bytes for a 3 MiB file got
    # past --max-download-bytes and stored all of it while the status said 100 %.
    hub.listed_sizes["padding.safetensors"] = 1_000
    client = downloader.client
    client.start_download(repos.padded)
    final = client.wait(timeout=30)
    assert (final.state, final.error_reason) == (DownloadState.FAILED, "HUB_ERROR"), final
    assert "more than the 1000 bytes it listed for padding.safetensors" in final.error
    assert final.bytes_downloaded <= final.bytes_total
    assert partial_files(downloader.cache_dir) == [] and snapshot_files(downloader.cache_dir, repos.padded) == []


def test_files_that_differ_from_the_listing_are_removed_so_a_retry_fetches_them_again(
    downloader, repos, hub
) -> None:
    # A Hub listing more bytes than it serves: the file arrives complete by its own headers but not as
    # listed. The files were kept, so every retry counted them as cached and failed the same way.
    hub.listed_sizes["padding.safetensors"] = 4 * 1024 * 1024
    client = downloader.client
    client.start_download(repos.padded)
    final = client.wait(timeout=30)
    assert (final.state, final.error_reason) == (DownloadState.FAILED, "VERIFICATION_FAILED"), final
    assert "differ from the Hub's listing" in final.error and "padding.safetensors" in final.error
    assert partial_files(downloader.cache_dir) == [] and snapshot_files(downloader.cache_dir, repos.padded) == []
    hub.reset_faults()  # the Hub lists the truth again: the retry fetches and succeeds
    client.start_download(repos.padded)
    assert client.wait(timeout=30).state is DownloadState.SUCCEEDED
