"""StartDownload refusals, decided before the call returns: bad input, missing, gated, unsafe, too big."""

from __future__ import annotations

import logging
import socket
import threading
import time

import grpc
import pytest

from mlsuite_client.downloader_types import DownloadState
from mlsuite_client.errors import (
    FailedPreconditionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnavailableError,
)
from tests.support.downloader_testing import GATE_TOKEN, partial_files, snapshot_files


@pytest.mark.parametrize(
    "model_id",
    [
        "https://huggingface.co/org/name",
        "http:/org/name",
        "../etc/passwd",
        "/etc/passwd",
        "org/../name",
        "org/na..me",
        "org/name/extra",
        "~/models",
        "C:\\models\\x",
        "org/-name",
        "org/name.",
        ".hidden",
        "org name",
        "a" * 97,
        "org/" + "n" * 93,
        "",
    ],
)
def test_invalid_model_ids_are_invalid_argument(downloader, model_id: str) -> None:
    before = downloader.client.get_status()
    with pytest.raises(InvalidArgumentError) as bad:
        downloader.client.start_download(model_id)
    assert bad.value.code is grpc.StatusCode.INVALID_ARGUMENT
    assert [v.field for v in bad.value.field_violations] == ["model_id"]
    assert downloader.client.get_status().version == before.version  # nothing was claimed


def test_valid_ids_at_the_limits_are_accepted(downloader, repos) -> None:
    with pytest.raises(NotFoundError):  # 96 characters passes validation and reaches the Hub
        downloader.client.start_download("o/" + "n" * 94)
    downloader.client.start_download(repos.single)  # "name" without an org
    assert downloader.client.wait(timeout=30).state is DownloadState.SUCCEEDED


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"revision": "../main"}, "revision"),
        ({"revision": "main/"}, "revision"),
        ({"revision": "feature..x"}, "revision"),
        ({"allow_patterns": ["/etc/*"]}, "allow_patterns[0]"),
        ({"allow_patterns": ["*.json", "../*"]}, "allow_patterns[1]"),
        ({"ignore_patterns": [""]}, "ignore_patterns[0]"),
        ({"request_id": "x" * 129}, "request_id"),
    ],
)
def test_invalid_revision_patterns_and_request_id(downloader, repos, kwargs, field: str) -> None:
    with pytest.raises(InvalidArgumentError) as bad:
        downloader.client.start_download(repos.tiny, **kwargs)
    assert [v.field for v in bad.value.field_violations] == [field]


def test_missing_repo_and_revision_are_not_found_and_release_the_service(downloader, repos) -> None:
    client = downloader.client
    with pytest.raises(NotFoundError) as repo:
        client.start_download("mlsuite-test/does-not-exist")
    assert repo.value.reason == "MODEL_NOT_FOUND"
    assert repo.value.message == "model mlsuite-test/does-not-exist not found on the Hub"
    status = client.get_status()
    assert (status.state, status.error_reason, status.is_downloading) == (
        DownloadState.FAILED,
        "MODEL_NOT_FOUND",
        False,
    )

    with pytest.raises(NotFoundError) as revision:
        client.start_download(repos.tiny, revision="no-such-branch")
    assert revision.value.reason == "REVISION_NOT_FOUND"
    assert revision.value.metadata == {"model_id": repos.tiny, "revision": "no-such-branch"}
    with pytest.raises(NotFoundError):
        client.start_download(repos.tiny, revision="0" * 40)

    client.start_download(repos.tiny)
    assert client.wait(timeout=30).state is DownloadState.SUCCEEDED


def test_gated_repo_without_token_is_permission_denied(downloader, repos, hub) -> None:
    seen = len(hub.requests)
    with pytest.raises(PermissionDeniedError) as gated:
        downloader.client.start_download(repos.gated)
    assert gated.value.code is grpc.StatusCode.PERMISSION_DENIED
    assert gated.value.reason == "GATED_REPO"
    gated_calls = [r for r in hub.requests[seen:] if r.path.startswith(f"/{repos.gated}/resolve/")]
    assert [r.method for r in gated_calls] == ["HEAD"]  # refused at the access check, before any body
    assert snapshot_files(downloader.cache_dir, repos.gated) == []
    assert downloader.client.get_status().error_reason == "GATED_REPO"


def test_token_is_used_but_never_shown(make_downloader, repos, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "hf_wrongTOKENwrongTOKEN0000"
    denied = make_downloader(hub_token=wrong)
    assert wrong not in repr(denied.config)
    with pytest.raises(PermissionDeniedError) as gated:
        denied.client.start_download(repos.gated)
    status = denied.client.get_status()
    shown = [gated.value.message, str(gated.value.metadata), status.error, status.status_message]
    assert all(wrong not in text for text in shown)
    denied.stop()

    allowed = make_downloader(hub_token=GATE_TOKEN, cache_dir=denied.cache_dir.parent / "cache-2")
    allowed.client.start_download(repos.gated)
    final = allowed.client.wait(timeout=30)
    assert final.state is DownloadState.SUCCEEDED  # the configured token reached the Hub
    for text in (final.error, final.status_message, str(final), caplog.text):
        assert GATE_TOKEN not in text and wrong not in text
    status_file = (allowed.cache_dir / ".mlsuite-downloader" / "status.json").read_text()
    assert GATE_TOKEN not in status_file


def test_pickle_only_weights_are_refused_unless_allowed(make_downloader, repos, tmp_path) -> None:
    safe = make_downloader()
    with pytest.raises(FailedPreconditionError) as refused:
        safe.client.start_download(repos.pickle)
    assert refused.value.reason == "PICKLE_WEIGHTS_REFUSED"
    assert "--allow-pickle-weights" in refused.value.message
    with pytest.raises(FailedPreconditionError) as by_pattern:
        safe.client.start_download(repos.pickle, allow_patterns=["*.bin"])
    assert by_pattern.value.reason == "PICKLE_WEIGHTS_REFUSED"
    assert snapshot_files(safe.cache_dir, repos.pickle) == []

    trusting = make_downloader(allow_pickle_weights=True, cache_dir=tmp_path / "cache-pickle")
    trusting.client.start_download(repos.pickle)
    assert trusting.client.wait(timeout=30).state is DownloadState.SUCCEEDED
    commit = repos.commits[repos.pickle]
    assert snapshot_files(trusting.cache_dir, repos.pickle) == [
        f"{commit}/config.json",
        f"{commit}/pytorch_model.bin",
    ]


def test_size_cap_is_resource_exhausted_before_any_byte(make_downloader, repos, hub) -> None:
    capped = make_downloader(max_download_bytes=100_000)
    seen = len(hub.requests)
    with pytest.raises(ResourceExhaustedError) as too_big:
        capped.client.start_download(repos.single)
    assert too_big.value.reason == "DOWNLOAD_TOO_LARGE"
    assert too_big.value.metadata["max_download_bytes"] == "100000"
    assert int(too_big.value.metadata["bytes_total"]) > 100_000
    assert not [r for r in hub.requests[seen:] if r.path.startswith("/tiny-bert-single/resolve/")]
    assert partial_files(capped.cache_dir) == [] and snapshot_files(capped.cache_dir, repos.single) == []


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_hub_is_unavailable_quickly(make_downloader) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    offline = make_downloader(hub_endpoint=endpoint)
    started = time.monotonic()
    with pytest.raises(UnavailableError) as unreachable:
        offline.client.start_download("org/name")
    assert time.monotonic() - started < 5
    assert unreachable.value.reason == "HUB_UNAVAILABLE"
    assert unreachable.value.message == f"Hub unreachable at {endpoint}"
    assert offline.client.get_status().is_downloading is False


def test_credentials_in_the_hub_endpoint_never_reach_a_client(make_downloader) -> None:
    port = _closed_port()
    offline = make_downloader(hub_endpoint=f"http://mirror-user:s3cr3t@127.0.0.1:{port}/hub?token=t0k3n")
    with pytest.raises(UnavailableError) as unreachable:
        offline.client.start_download("org/name")
    shown = f"http://127.0.0.1:{port}/hub"
    assert unreachable.value.message == f"Hub unreachable at {shown}"
    assert unreachable.value.metadata["endpoint"] == shown
    status = offline.client.get_status()
    assert "s3cr3t" not in f"{status.error} {status.status_message}" and "t0k3n" not in status.error


def test_a_silent_hub_times_out_as_unavailable(make_downloader) -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        stalled = make_downloader(hub_endpoint=endpoint, hub_timeout_seconds=1.0)
        started = time.monotonic()
        with pytest.raises(UnavailableError) as timed_out:
            stalled.client.start_download("org/name")
        assert time.monotonic() - started < 5
    assert timed_out.value.message == f"Hub unreachable at {endpoint}"


def test_hub_server_errors_are_unavailable(downloader, repos, hub) -> None:
    hub.api_status = 503
    with pytest.raises(UnavailableError) as failing:
        downloader.client.start_download(repos.tiny)
    assert failing.value.reason == "HUB_UNAVAILABLE"
    assert "(HTTP 503)" in failing.value.message


def test_request_id_makes_start_idempotent(downloader, repos) -> None:
    client = downloader.client
    first = client.start_download(repos.tiny, request_id="req-1")
    done = client.wait(timeout=30)
    retried = client.start_download(repos.tiny, request_id="req-1")
    assert retried.start_time == first.start_time and retried.version == done.version  # no new download
    with pytest.raises(InvalidArgumentError) as reused:
        client.start_download(repos.single, request_id="req-1")
    assert reused.value.field_violations[0].field == "request_id" and reused.value.reason == "REQUEST_ID_REUSED"
    # The same model with another revision or other patterns is another download too, not a retry.
    for other in ({"revision": "v1.0"}, {"allow_patterns": ["*.json"]}):
        with pytest.raises(InvalidArgumentError) as differs:
            client.start_download(repos.tiny, request_id="req-1", **other)
        assert differs.value.reason == "REQUEST_ID_REUSED"
    assert client.get_status().version == done.version  # nothing started


@pytest.mark.parametrize("status", [503, 404])
def test_a_refused_start_leaves_its_request_id_free_for_the_retry(downloader, repos, hub, status: int) -> None:
    client = downloader.client
    hub.api_status = status  # the Hub is down (retryable) or answers an error
    with pytest.raises((UnavailableError, FailedPreconditionError, NotFoundError)):
        client.start_download(repos.tiny, request_id="req-retry")
    hub.api_status = None
    retried = client.start_download(repos.tiny, request_id="req-retry")  # starts, not the old FAILED
    assert retried.state is not DownloadState.FAILED
    assert client.wait(timeout=30).state is DownloadState.SUCCEEDED
    again = client.start_download(repos.tiny, request_id="req-retry")  # now bound to the accepted one
    assert (again.state, again.start_time) == (DownloadState.SUCCEEDED, retried.start_time)


def test_a_retry_while_the_first_call_resolves_shares_its_refusal(downloader, repos, hub) -> None:
    hub.api_delay = 0.5
    errors: list[str] = []

    def start() -> None:
        try:
            downloader.client.start_download(repos.tiny, revision="no-such-branch", request_id="req-x")
        except NotFoundError as exc:
            errors.append(exc.reason)

    callers = [threading.Thread(target=start) for _ in range(2)]
    for caller in callers:
        caller.start()
        time.sleep(0.1)
    for caller in callers:
        caller.join(30)
    assert errors == ["REVISION_NOT_FOUND"] * 2
