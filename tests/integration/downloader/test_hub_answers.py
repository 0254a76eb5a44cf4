"""Hub answers no Hub gives (a bad commit sha, junk bodies, unsafe file names, a hung listing): refused precisely."""

from __future__ import annotations

import grpc
import pytest

from mlsuite_client.downloader_types import DownloadState
from mlsuite_client.errors import FailedPreconditionError


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
