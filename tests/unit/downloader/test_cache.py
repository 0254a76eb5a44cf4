"""Cache listing, pagination, deletion and partial-file cleanup over a fake cache scan."""

from __future__ import annotations

import base64
import json
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path

import pytest

from downloader_service.cache import ModelCache
from downloader_service.hub_values import CachedRevision
from mlsuite_common.errors import InvalidArgument, NotFound


class FakeHub:
    """The cache side of HubClient: a list of revisions and a folder per repo."""

    def __init__(self, root: Path, revisions: list[CachedRevision]) -> None:
        self.root = root
        self.revisions = revisions
        self.deleted: list[list[str]] = []
        self.deleted_files: list[tuple[str, str, set[str]]] = []

    def scan(self) -> list[CachedRevision]:
        return list(self.revisions)

    def delete_revisions(self, model_id: str, commits: Collection[str]) -> int:
        self.deleted.append(sorted(commits))
        doomed = [r for r in self.revisions if r.model_id == model_id and r.commit in commits]
        self.revisions = [r for r in self.revisions if r not in doomed]
        return sum(r.size_bytes for r in doomed)

    def is_damaged(self, model_id: str) -> bool:
        return False

    def delete_files(self, model_id: str, commit: str, paths: Collection[str]) -> bool:
        self.deleted_files.append((model_id, commit, set(paths)))
        return True

    def repo_dir(self, model_id: str) -> Path:
        return self.root / f"models--{model_id.replace('/', '--')}"

    def snapshot_dir(self, model_id: str, commit: str) -> Path:
        return self.repo_dir(model_id) / "snapshots" / commit


def _rev(model_id: str, commit: str, refs: tuple[str, ...] = ()) -> CachedRevision:
    return CachedRevision(model_id, commit, refs, ("config.json",), 10, datetime(2025, 1, 1, tzinfo=UTC))


@pytest.fixture
def hub(tmp_path: Path) -> FakeHub:
    revisions = [_rev(f"org/m{i}", f"{i:040x}", ("main",) if i % 2 else ()) for i in range(7)]
    revisions.append(_rev("org/m1", "f" * 40, ("dev", "v2")))
    return FakeHub(tmp_path, revisions)


def test_keyset_pagination_covers_everything_once(hub: FakeHub) -> None:
    cache = ModelCache(hub)
    seen, token, pages = [], "", 0
    while True:
        page = cache.list_page(3, token)
        seen.extend((m.model_id, m.commit) for m in page.models)
        pages += 1
        token = page.next_page_token
        if not token:
            break
    assert pages == 3 and seen == sorted(seen) and len(seen) == len(set(seen)) == 8


def test_pagination_is_stable_when_entries_are_deleted(hub: FakeHub) -> None:
    cache = ModelCache(hub)
    first = cache.list_page(2, "")
    hub.revisions = [r for r in hub.revisions if r.model_id != "org/m0"]
    second = cache.list_page(2, first.next_page_token)
    assert [m.model_id for m in second.models] == ["org/m1", "org/m2"]
    assert second.models[0].commit == "f" * 40


def test_page_sizes_and_tokens(hub: FakeHub) -> None:
    cache = ModelCache(hub)
    assert len(cache.list_page(0, "").models) == 8  # 0 means the default (50)
    with pytest.raises(InvalidArgument) as negative:
        cache.list_page(-1, "")
    assert negative.value.violations[0].field == "page_size"
    with pytest.raises(InvalidArgument) as bad:
        cache.list_page(2, "garbage!")
    assert bad.value.violations[0].field == "page_token"


@pytest.mark.parametrize(
    "forged",
    [
        {"after": [None, None]},
        {"after": "ab"},
        {"after": ["org/name"]},
        {"after": ["org/name", "c" * 40, "x"]},
        {"after": ["../etc", "c" * 40]},
        {"after": ["org/name", "notacommit"]},
        {"after": [1, 2]},
        {"after": ["org/name", "c" * 40], "more": 1},
        ["org/name", "c" * 40],
        None,
        "after",
    ],
)
def test_a_forged_page_token_is_invalid_page_token(hub: FakeHub, forged: object) -> None:
    token = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
    with pytest.raises(InvalidArgument) as bad:
        ModelCache(hub).list_page(2, token)
    assert bad.value.reason == "INVALID_PAGE_TOKEN"
    assert bad.value.violations[0].field == "page_token"


def test_revision_is_a_ref_or_the_commit(hub: FakeHub) -> None:
    models = {(m.model_id, m.commit): m for m in ModelCache(hub).models()}
    assert models[("org/m1", f"{1:040x}")].revision == "main"
    assert models[("org/m0", f"{0:040x}")].revision == f"{0:040x}"
    assert models[("org/m1", "f" * 40)].revision == "dev"


def test_delete_by_ref_commit_or_all(hub: FakeHub) -> None:
    cache = ModelCache(hub)
    assert [m.commit for m in cache.delete("org/m1", "v2").deleted] == ["f" * 40]
    assert cache.delete("org/m3", "").freed_bytes == 10
    with pytest.raises(NotFound) as missing:
        cache.delete("org/m3", "")
    assert missing.value.reason == "NOT_CACHED"
    with pytest.raises(NotFound):
        cache.delete("org/m2", "nope")


def test_remove_partial_deletes_incomplete_files_and_pending_entries(hub: FakeHub) -> None:
    blobs = hub.repo_dir("org/m1") / "blobs"
    blobs.mkdir(parents=True)
    (blobs / "abc.1234abcd.incomplete").write_bytes(b"half")
    (blobs / "done").write_bytes(b"kept")
    ModelCache(hub).remove_partial("org/m1", "c" * 40, ["model.safetensors"])
    assert sorted(p.name for p in blobs.iterdir()) == ["done"]
    assert hub.deleted_files == [("org/m1", "c" * 40, {"model.safetensors"})]


def test_write_ref(hub: FakeHub) -> None:
    cache = ModelCache(hub)
    cache.write_ref("org/m1", "refs/pr/1", "c" * 40)
    assert (hub.repo_dir("org/m1") / "refs" / "refs" / "pr" / "1").read_text() == "c" * 40
    cache.write_ref("org/m1", "d" * 40, "d" * 40)  # a commit needs no ref
    assert not (hub.repo_dir("org/m1") / "refs" / ("d" * 40)).exists()
