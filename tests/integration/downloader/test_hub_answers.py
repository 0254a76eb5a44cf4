"""Hub answers no Hub gives (a bad commit sha, junk bodies, unsafe file names, a hung listing): refused precisely."""

from __future__ import annotations

import signal
import threading
import time

import grpc
import pytest

from mlsuite_client.downloader import DownloaderClient
from mlsuite_client.downloader_types import DownloadState
from mlsuite_client.errors import FailedPreconditionError, MLSuiteError, UnavailableError
from tests.support.downloader_testing import wait_for


@pytest.mark.parametrize("sha", ["../../../victim", "abc", "A" * 40, "a" * 39 + "/", None, 12])
def test_a_bad_commit_sha_is_hub_error_before_any_file_is_touched(make_downloader, repos, hub, tmp_path, sha) -> None:
    downloader = make_downloader()
    victim = tmp_path / "victim"  # where cache/models--*/snapshots/../../../victim points
    victim.mkdir()
    (victim / "config.json").write_text("{}")
    hub.info_fields["sha"] = sha
    with pytest.raises(FailedPreconditionError) as bad:
        downloader.client.start_download(repos.tiny)
    assert bad.value.code is grpc.StatusCode.FAILED_PRECONDITION
    assert bad.value.reason == "HUB_ERROR"
    assert "not a Hub answer" in bad.value.message
    assert str(tmp_path) not in bad.value.message
    status = downloader.client.get_status()
    assert (status.state, status.error_reason) == (DownloadState.FAILED, "HUB_ERROR")
    assert (victim / "config.json").exists()
    assert not list(downloader.cache_dir.glob("models--*/snapshots/*"))
    # The status it persisted loads again on restart: the version keeps counting up.
    downloader.stop()
    again = make_downloader()
    restored = again.client.get_status()
    assert restored.version == status.version
    assert restored.error_reason == "HUB_ERROR"


def _hang_the_tree_listing(hub) -> None:
    hub.model_info_sizes = False  # no sizes in the model info: the downloader lists the tree
    hub.stall_tree = True


def test_a_hung_tree_listing_is_unavailable_after_the_hub_timeout(make_downloader, repos, hub) -> None:
    downloader = make_downloader(hub_timeout_seconds=1.0)
    _hang_the_tree_listing(hub)
    started = time.monotonic()
    with pytest.raises(UnavailableError) as bad:
        downloader.client.start_download(repos.tiny)
    assert time.monotonic() - started < 5
    assert bad.value.reason == "HUB_UNAVAILABLE"
    status = downloader.client.get_status()
    assert (status.state, status.error_reason) == (DownloadState.FAILED, "HUB_UNAVAILABLE")
    hub.stall_tree = False  # the Hub recovers: the service is free again
    downloader.client.start_download(repos.tiny)
    assert downloader.client.wait(timeout=30).state is DownloadState.SUCCEEDED


def test_cancel_and_shutdown_do_not_wait_for_a_hung_listing(make_downloader, repos, hub) -> None:
    # Waiting on the hung listing would take the Hub timeout (8 s); half of it leaves room for a loaded machine.
    downloader = make_downloader(hub_timeout_seconds=8.0)
    _hang_the_tree_listing(hub)
    outcome: list[BaseException | None] = []

    def start() -> None:
        try:
            downloader.client.start_download(repos.tiny)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - recorded for the assertion
            outcome.append(exc)

    caller = threading.Thread(target=start)
    caller.start()
    wait_for(lambda: downloader.client.get_status().state is DownloadState.RESOLVING)
    began = time.monotonic()
    assert downloader.client.cancel().state is DownloadState.CANCELLED
    assert time.monotonic() - began < 4
    caller.join(20)  # the caller's thread is freed by the Hub timeout, not held forever
    assert not caller.is_alive() and outcome
    # A new hung resolve, then shutdown: close() does not wait for it.
    caller = threading.Thread(target=start)
    caller.start()
    wait_for(lambda: downloader.client.get_status().state is DownloadState.RESOLVING)
    began = time.monotonic()
    downloader.core.close(timeout=10)
    assert time.monotonic() - began < 4
    assert downloader.core.status().state.value == "CANCELLED"
    caller.join(20)
    assert not caller.is_alive()


def test_sigterm_exits_while_a_tree_listing_hangs(spawn_downloader, repos, hub, tmp_path) -> None:
    _hang_the_tree_listing(hub)
    process = spawn_downloader(
        "--cache-dir", str(tmp_path / "cache"), "--hub-endpoint", hub.url,
        "--hub-timeout-seconds", "2", "--grace-seconds", "1",
    )
    with DownloaderClient(process.target, timeout=1) as client:
        with pytest.raises(MLSuiteError):  # the deadline passes while the listing hangs
            client.start_download(repos.tiny)
    began = time.monotonic()
    process.signal(signal.SIGTERM)
    assert process.wait(15) == 0
    assert time.monotonic() - began < 8


_JSON = "application/json"


@pytest.mark.parametrize(
    ("knob", "value"),
    [
        ("api_body", (200, "text/html", b"<html>captive portal</html>")),
        ("api_body", (200, _JSON, b'{"foo": 1}')),
        ("api_body", (200, _JSON, b"[]")),
        ("api_body", (200, _JSON, b'{"sha": "' + b"a" * 40 + b'", "siblings": {"x": 1}}')),
        ("api_body", (302, "text/plain", b"")),  # a redirect without a Location
        ("info_siblings", [{"rfilename": "../../evil.json", "size": 10}]),
        ("info_siblings", [{"rfilename": "/tmp/evil.json", "size": 10}]),
        ("info_siblings", [{"rfilename": "a//evil.json", "size": 10}]),
        ("info_siblings", [{"rfilename": "config.json", "size": "ten"}]),
        ("info_siblings", [{"rfilename": "config.json", "size": -5}]),
        ("info_siblings", [None]),
        ("info_siblings", [{"size": 10}]),
        ("tree_entries", [{"type": "file", "path": "../evil.json", "size": 10}]),
        ("tree_entries", [{"type": "file", "path": "config.json", "size": "ten"}]),
        ("tree_entries", {"foo": 1}),
        ("tree_entries", [None]),
        # The next page of a listing must come from the same Hub: the request carries the token.
        ("tree_next_link", "http://127.0.0.2:9/api/models/org/tiny/tree/main?cursor=2"),
    ],
)
def test_an_answer_no_hub_gives_is_hub_error(make_downloader, repos, hub, tmp_path, knob: str, value) -> None:
    downloader = make_downloader()
    if knob in ("tree_entries", "tree_next_link"):
        hub.model_info_sizes = False
    setattr(hub, knob, value)
    with pytest.raises(FailedPreconditionError) as bad:
        downloader.client.start_download(repos.tiny)
    assert bad.value.reason == "HUB_ERROR"
    assert "not a Hub answer" in bad.value.message and hub.url in bad.value.message
    status = downloader.client.get_status()
    assert (status.state, status.error_reason) == (DownloadState.FAILED, "HUB_ERROR")
    assert not list(downloader.cache_dir.glob("models--*"))  # refused before any filesystem use
    assert not list(tmp_path.rglob("evil.json"))
    hub.reset_faults()  # the server keeps serving
    downloader.client.start_download(repos.tiny)
    assert downloader.client.wait(timeout=30).state is DownloadState.SUCCEEDED
