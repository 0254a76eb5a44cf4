"""Downloads end to end: the real huggingface_hub client against the local Hub, a real gRPC server."""

from __future__ import annotations

import base64
import threading
import time
from datetime import UTC, datetime

import pytest

from mlsuite_client.downloader_types import DownloadState, DownloadStatus
from mlsuite_client.errors import InvalidArgumentError, NotFoundError
from tests.support.downloader_testing import THROTTLE, partial_files, snapshot_files, wait_for

DEFAULT_FILES = ("README.md", "config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt")


def test_full_download_is_loadable_by_transformers(downloader, repos, hub) -> None:
    client = downloader.client
    started = client.start_download(repos.tiny)
    assert started.current_model == repos.tiny
    assert started.revision == "main"
    assert started.commit == repos.commits[repos.tiny]  # resolved before StartDownload returned
    assert started.bytes_total == sum(len(repos.files[repos.tiny][f]) for f in DEFAULT_FILES)
    assert started.files_total == len(DEFAULT_FILES)

    final = client.wait(timeout=30)
    assert final.state is DownloadState.SUCCEEDED, final
    assert (final.progress, final.is_downloading, final.error, final.error_reason) == (100.0, False, "", "")
    assert final.bytes_downloaded == final.bytes_total
    assert final.files_downloaded == final.files_total == len(DEFAULT_FILES)
    assert final.end_time is not None and final.start_time is not None and final.end_time >= final.start_time

    commit = repos.commits[repos.tiny]
    # Safe by default: .gitattributes (not a model file) stays on the Hub.
    assert snapshot_files(downloader.cache_dir, repos.tiny) == [f"{commit}/{f}" for f in DEFAULT_FILES]
    snapshot = downloader.cache_dir / "models--mlsuite-test--tiny-bert" / "snapshots" / commit
    assert (snapshot / "model.safetensors").read_bytes() == repos.files[repos.tiny]["model.safetensors"]

    from transformers import AutoModel, BertModel

    model = BertModel.from_pretrained(str(snapshot))
    assert model.config.hidden_size == 32 and model.config.num_hidden_layers == 2
    # refs/main was written after the download, so the cache also resolves the repo id offline.
    by_id = AutoModel.from_pretrained(repos.tiny, cache_dir=str(downloader.cache_dir), local_files_only=True)
    assert by_id.config.to_dict()["intermediate_size"] == 37


def test_watch_reports_progress_rising_monotonically_to_100(downloader, repos, hub) -> None:
    hub.throttle_bytes_per_second = THROTTLE
    client = downloader.client
    seen: list[DownloadStatus] = []
    first_seen = threading.Event()

    def watch() -> None:
        for status in client.watch_status(timeout=60):
            seen.append(status)
            first_seen.set()
            if status.current_model == repos.padded and status.is_terminal:
                return

    watcher = threading.Thread(target=watch)
    watcher.start()
    assert first_seen.wait(10)
    client.start_download(repos.padded)
    watcher.join(60)
    assert not watcher.is_alive()

    ours = [s for s in seen if s.current_model == repos.padded]
    assert ours[-1].state is DownloadState.SUCCEEDED and ours[-1].progress == 100.0
    progress = [s.progress for s in ours]
    assert progress == sorted(progress), "progress went backwards"
    versions = [s.version for s in ours]
    assert versions == sorted(versions) and len(set(versions)) == len(versions)
    live = {round(s.progress) for s in ours if s.state is DownloadState.DOWNLOADING and 0 < s.progress < 100}
    assert len(live) >= 5, f"too few live progress updates: {sorted(live)}"
    for status in ours:
        assert 0 <= status.bytes_downloaded <= status.bytes_total
        if status.state is DownloadState.DOWNLOADING:
            assert status.bytes_total == ours[-1].bytes_total  # totals known before the first byte


def test_fully_cached_model_succeeds_at_once(downloader, repos, hub) -> None:
    client = downloader.client
    client.start_download(repos.tiny)
    assert client.wait(timeout=30).state is DownloadState.SUCCEEDED
    bodies = hub.body_requests("model.safetensors")

    again = client.start_download(repos.tiny)
    assert again.state is DownloadState.SUCCEEDED  # already finished when StartDownload returned
    assert (again.progress, again.bytes_downloaded, again.files_downloaded) == (100.0, again.bytes_total, 5)
    assert hub.body_requests("model.safetensors") == bodies  # nothing fetched again


def test_revisions_tags_branches_and_commits(downloader, repos) -> None:
    client = downloader.client
    by_tag = client.start_download(repos.tiny, revision=repos.tag)
    assert by_tag.revision == "v1.0" and by_tag.commit == repos.commits[repos.tiny]
    assert client.wait(timeout=30).state is DownloadState.SUCCEEDED

    by_branch = client.start_download(repos.tiny, revision="dev")
    assert by_branch.commit == repos.dev_commit != repos.commits[repos.tiny]
    assert client.wait(timeout=30).state is DownloadState.SUCCEEDED

    by_commit = client.start_download(repos.tiny, revision=repos.dev_commit)
    assert by_commit.state is DownloadState.SUCCEEDED and by_commit.commit == repos.dev_commit

    listed = {m.commit: m for m in client.list_models() if m.model_id == repos.tiny}
    assert set(listed) == {repos.commits[repos.tiny], repos.dev_commit}
    assert listed[repos.commits[repos.tiny]].refs == ("v1.0",)
    assert listed[repos.commits[repos.tiny]].revision == "v1.0"
    assert listed[repos.dev_commit].refs == ("dev",)


def test_file_sizes_come_from_the_tree_when_the_model_info_lacks_them(downloader, repos, hub) -> None:
    hub.model_info_sizes = False
    started = downloader.client.start_download(repos.tiny)
    assert started.bytes_total == sum(len(repos.files[repos.tiny][f]) for f in DEFAULT_FILES)
    assert any("/tree/" in r.path for r in hub.requests)
    assert downloader.client.wait(timeout=30).state is DownloadState.SUCCEEDED


def test_custom_patterns_select_files(downloader, repos) -> None:
    client = downloader.client
    started = client.start_download(
        repos.tiny, allow_patterns=["*.json", "*.txt"], ignore_patterns=["tokenizer*"]
    )
    assert started.files_total == 2 and started.allow_patterns == ("*.json", "*.txt")
    assert client.wait(timeout=30).state is DownloadState.SUCCEEDED
    commit = repos.commits[repos.tiny]
    assert snapshot_files(downloader.cache_dir, repos.tiny) == [
        f"{commit}/config.json",
        f"{commit}/vocab.txt",
    ]


@pytest.mark.parametrize(
    ("patterns", "revision"),
    [(["vocab.txt", "tokenizer_config.json"], "main"), (["README.md"], "dev"), (["*.txt"], "main")],
)
def test_patterns_without_the_config_succeed_without_loading_it(downloader, repos, patterns, revision) -> None:
    client = downloader.client
    client.start_download(repos.tiny, revision=revision, allow_patterns=patterns)
    final = client.wait(timeout=30)
    assert final.state is DownloadState.SUCCEEDED, final.error
    assert "no config.json, files checked" in final.status_message
    [model] = client.list_models()
    assert model.revision == revision and "config.json" not in model.files
    client.start_download(repos.tiny, revision=revision)  # config.json included: loaded as before
    final = client.wait(timeout=30)
    assert final.state is DownloadState.SUCCEEDED and "(bert, " in final.status_message


def test_a_cut_connection_is_resumed_by_the_client(downloader, repos, hub) -> None:
    hub.cut_after["model.safetensors"] = 100_000  # past the first 64 KiB chunk, so the retry resumes
    client = downloader.client
    client.start_download(repos.single)
    final = client.wait(timeout=30)
    assert final.state is DownloadState.SUCCEEDED, final
    ranges = [
        r.range
        for r in hub.requests
        if r.path.startswith("/tiny-bert-single/")
        and r.method == "GET"
        and r.path.endswith("/model.safetensors")
    ]
    assert ranges == [None, "bytes=65536-"]
    commit = repos.commits[repos.single]
    blob = downloader.cache_dir / "models--tiny-bert-single" / "snapshots" / commit / "model.safetensors"
    assert blob.read_bytes() == repos.files[repos.single]["model.safetensors"]


def test_a_config_that_does_not_load_fails_verification(downloader, repos) -> None:
    client = downloader.client
    client.start_download(repos.bad_config)
    final = client.wait(timeout=30)
    assert final.state is DownloadState.FAILED
    assert final.error_reason == "VERIFICATION_FAILED"
    assert final.error.startswith("the downloaded config does not load:")
    assert str(downloader.cache_dir) not in final.error and "Traceback" not in final.error
    assert f"{repos.bad_config}@" in final.error  # the local path is replaced by model@commit


def test_list_is_paginated_and_delete_removes_models(downloader, repos) -> None:
    client = downloader.client
    for model in (repos.tiny, repos.single):
        client.start_download(model)
        assert client.wait(timeout=30).state is DownloadState.SUCCEEDED

    first = client.list_models_page(page_size=1)
    assert len(first.models) == 1 and first.next_page_token
    second = client.list_models_page(page_size=1, page_token=first.next_page_token)
    assert len(second.models) == 1 and second.next_page_token == ""
    assert [m.model_id for m in (*first.models, *second.models)] == sorted([repos.tiny, repos.single])
    models = {m.model_id: m for m in client.list_models()}
    tiny = models[repos.tiny]
    assert tiny.files == DEFAULT_FILES
    assert tiny.size_bytes == sum(len(repos.files[repos.tiny][f]) for f in DEFAULT_FILES)
    assert (tiny.revision, tiny.refs, tiny.commit) == ("main", ("main",), repos.commits[repos.tiny])
    assert (
        tiny.last_modified is not None and abs((datetime.now(UTC) - tiny.last_modified).total_seconds()) < 300
    )

    forged = base64.urlsafe_b64encode(b'{"after": [null, null]}').decode()
    for token in ("not-a-token", forged):
        with pytest.raises(InvalidArgumentError) as bad_token:
            client.list_models_page(page_token=token)
        assert bad_token.value.field_violations[0].field == "page_token"
        assert bad_token.value.reason == "INVALID_PAGE_TOKEN"

    result = client.delete_model(repos.tiny, revision="main")
    assert [m.model_id for m in result.deleted] == [repos.tiny]
    assert result.freed_bytes == tiny.size_bytes
    assert [m.model_id for m in client.list_models()] == [repos.single]
    assert not (downloader.cache_dir / "models--mlsuite-test--tiny-bert").exists()

    with pytest.raises(NotFoundError) as missing:
        client.delete_model(repos.tiny)
    assert missing.value.reason == "NOT_CACHED"
    with pytest.raises(InvalidArgumentError) as invalid:
        client.delete_model("../etc")
    assert invalid.value.field_violations[0].field == "model_id"

    everything = client.delete_model(repos.single)  # empty revision: every revision
    assert len(everything.deleted) == 1 and list(client.list_models()) == []
    assert partial_files(downloader.cache_dir) == []


def test_status_survives_a_restart_of_the_core(make_downloader, repos) -> None:
    first = make_downloader()
    first.client.start_download(repos.tiny)
    done = first.client.wait(timeout=30)
    assert done.state is DownloadState.SUCCEEDED
    first.stop()
    time.sleep(0.1)

    second = make_downloader(cache_dir=first.cache_dir)
    after = second.client.get_status()
    assert (after.state, after.current_model, after.commit) == (
        DownloadState.SUCCEEDED,
        repos.tiny,
        done.commit,
    )
    assert after.version >= done.version


def test_a_model_sharing_commits_with_another_is_never_deleted_in_its_place(downloader, repos, hub) -> None:
    # A mirror (or a git-pushed copy) keeps the commit hashes of its source. huggingface_hub deletes a hash
    # from whichever repo it finds first, so deleting one could remove the other (and a failed download of
    # the mirror could remove the cached source).
    mirror = "mirror-org/tiny-bert"
    hub.add_mirror(mirror, of=repos.tiny)
    client = downloader.client
    for model in (repos.tiny, mirror):
        client.start_download(model)
        assert client.wait(timeout=30).state is DownloadState.SUCCEEDED
    commit = repos.commits[repos.tiny]
    assert {(m.model_id, m.commit) for m in client.list_models()} == {(repos.tiny, commit), (mirror, commit)}

    result = client.delete_model(repos.tiny)
    assert [m.model_id for m in result.deleted] == [repos.tiny]
    assert [m.model_id for m in client.list_models()] == [mirror]
    assert not (downloader.cache_dir / "models--mlsuite-test--tiny-bert").exists()
    assert snapshot_files(downloader.cache_dir, mirror)  # the mirror's files are all still there

    client.start_download(repos.tiny)
    assert client.wait(timeout=30).state is DownloadState.SUCCEEDED
    client.delete_model(mirror)
    hub.fail_status["model.safetensors"] = 500  # a failed download of the mirror cleans up after itself ...
    client.start_download(mirror)
    assert client.wait(timeout=30).state is DownloadState.FAILED
    assert [m.model_id for m in client.list_models()] == [repos.tiny]  # ... without touching the source
    assert snapshot_files(downloader.cache_dir, repos.tiny) == sorted(f"{commit}/{f}" for f in DEFAULT_FILES)


def test_a_revision_still_downloading_is_not_listed_as_downloaded(downloader, repos, hub) -> None:
    hub.throttle_bytes_per_second = THROTTLE
    client = downloader.client
    client.start_download(repos.padded)
    # Some of its files are already complete in the snapshot (and the big one is arriving) ...
    assert wait_for(lambda: client.get_status().files_downloaded >= 1, timeout=30)
    assert snapshot_files(downloader.cache_dir, repos.padded)
    assert repos.padded not in [m.model_id for m in client.list_models()]  # ... but it is not a model yet
    assert client.wait(timeout=60).state is DownloadState.SUCCEEDED
    assert repos.padded in [m.model_id for m in client.list_models()]


def test_a_missing_blob_hides_only_its_revision_and_the_model_can_still_be_deleted(downloader, repos) -> None:
    client = downloader.client
    for revision in ("main", "dev"):
        client.start_download(repos.tiny, revision=revision)
        assert client.wait(timeout=30).state is DownloadState.SUCCEEDED
    main, dev = repos.commits[repos.tiny], repos.dev_commit
    # Something outside the service (a disk cleaner, a user) removes one blob of the dev revision.
    repo = downloader.cache_dir / "models--mlsuite-test--tiny-bert"
    (repo / "snapshots" / dev / "README.md").resolve().unlink()
    # huggingface_hub's scan drops the whole repo then; main is intact and stays listed, dev is left out.
    assert [(m.model_id, m.commit) for m in client.list_models()] == [(repos.tiny, main)]
    result = client.delete_model(repos.tiny, revision="main")
    assert [m.commit for m in result.deleted] == [main] and result.freed_bytes > 0
    assert list(client.list_models()) == [] and (repo / "snapshots" / dev).is_dir()
    with pytest.raises(NotFoundError):
        client.delete_model(repos.tiny, revision="dev")  # not a listed revision ...
    gone = client.delete_model(repos.tiny)  # ... but deleting the model removes the damaged folder
    assert gone.deleted == () and gone.freed_bytes > 0 and not repo.exists()
    client.start_download(repos.tiny, revision="dev")  # and it downloads cleanly again
    assert client.wait(timeout=30).state is DownloadState.SUCCEEDED


def test_a_ref_of_binary_bytes_damages_only_its_model(downloader, repos) -> None:
    client = downloader.client
    for model_id in (repos.tiny, repos.single):
        client.start_download(model_id)
        assert client.wait(timeout=30).state is DownloadState.SUCCEEDED
    repo = downloader.cache_dir / "models--mlsuite-test--tiny-bert"
    (repo / "refs" / "bin").write_bytes(b"\xff\xfe\x00")  # not text: huggingface_hub's scan raises
    listed = sorted((m.model_id, m.commit) for m in client.list_models())
    assert listed == sorted((m, repos.commits[m]) for m in (repos.tiny, repos.single))
    assert [m.model_id for m in client.delete_model(repos.single).deleted] == [repos.single]
    result = client.delete_model(repos.tiny, revision="main")  # the damaged model's revision too
    assert [m.commit for m in result.deleted] == [repos.commits[repos.tiny]]
    assert list(client.list_models()) == []
    client.delete_model(repos.tiny)  # and its folder, damaged ref included
    assert not repo.exists()


def test_cache_entries_the_api_cannot_name_are_not_listed(downloader, repos, caplog) -> None:
    client = downloader.client
    client.start_download(repos.tiny)
    assert client.wait(timeout=30).state is DownloadState.SUCCEEDED
    foreign = downloader.cache_dir / "models--a--b--c" / "snapshots" / ("b" * 40)
    foreign.mkdir(parents=True)
    (foreign / "x.txt").write_text("x")
    odd = downloader.cache_dir / "models--mlsuite-test--tiny-bert" / "snapshots" / "notacommit"
    odd.mkdir()
    (odd / "y.txt").write_text("y")
    for _ in range(2):
        assert [(m.model_id, m.commit) for m in client.list_models()] == [(repos.tiny, repos.commits[repos.tiny])]
    skipped = [r.getMessage() for r in caplog.records if "is not listed" in r.getMessage()]
    assert len(skipped) == 2  # logged once each, not at every listing
    client.delete_model(repos.tiny, revision="main")  # what is listed can be deleted
    assert list(client.list_models()) == []
    assert (foreign / "x.txt").exists()  # what the service cannot name is left alone
