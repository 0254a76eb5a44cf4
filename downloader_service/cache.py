"""The local model cache: listing (paginated), deleting, refs, and removing a download's partial files."""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from downloader_service import errors
from downloader_service.hub import HubClient
from downloader_service.hub_values import CachedRevision
from downloader_service.validation import is_commit, model_id_problem
from mlsuite_common.errors import InvalidArgument, NotFound

__all__ = ["CachedModel", "ModelPage", "DeleteResult", "ModelCache", "DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE"]

logger = logging.getLogger(__name__)

INVALID_PAGE_TOKEN = "INVALID_PAGE_TOKEN"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class CachedModel:
    """A model in the cache at one commit."""

    model_id: str
    revision: str
    commit: str
    files: tuple[str, ...]
    size_bytes: int
    last_modified: datetime
    refs: tuple[str, ...]


@dataclass(frozen=True)
class ModelPage:
    """One page of cached models and the token of the next (empty on the last page)."""

    models: tuple[CachedModel, ...]
    next_page_token: str


@dataclass(frozen=True)
class DeleteResult:
    """What a delete removed."""

    deleted: tuple[CachedModel, ...]
    freed_bytes: int


def _to_model(revision: CachedRevision) -> CachedModel:
    refs = revision.refs
    preferred = "main" if "main" in refs else (refs[0] if refs else revision.commit)
    return CachedModel(
        model_id=revision.model_id,
        revision=preferred,
        commit=revision.commit,
        files=revision.files,
        size_bytes=revision.size_bytes,
        last_modified=revision.last_modified,
        refs=refs,
    )


def _encode_token(model_id: str, commit: str) -> str:
    raw = json.dumps({"after": [model_id, commit]}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_token(token: str) -> tuple[str, str]:
    """The (model id, commit) a token of _encode_token holds; INVALID_PAGE_TOKEN for anything else.

    The shape is checked, not only the encoding: a forged {"after": [null, null]} or {"after": "ab"}
    must not pass for a position in the listing.
    """
    bad = InvalidArgument(
        "page_token is not a token this server issued", field="page_token", reason=INVALID_PAGE_TOKEN
    )
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise bad from None
    after = data.get("after") if isinstance(data, dict) and len(data) == 1 else None
    if not isinstance(after, list) or len(after) != 2 or not all(isinstance(v, str) for v in after):
        raise bad
    model_id, commit = after
    if model_id_problem(model_id) is not None or not is_commit(commit):
        raise bad
    return model_id, commit


class ModelCache:
    """Cache operations on top of the Hub client's cache scan."""

    def __init__(self, hub: HubClient) -> None:
        self._hub = hub

    def models(self) -> list[CachedModel]:
        """Every cached model revision, by model id then commit."""
        return sorted((_to_model(r) for r in self._hub.scan()), key=lambda m: (m.model_id, m.commit))

    def list_page(self, page_size: int, page_token: str, downloading: tuple[str, str] | None = None) -> ModelPage:
        """One page (keyset pagination: stable when entries are added or deleted between pages).

        `downloading` (model id, commit) is left out: its snapshot fills while it downloads, and a
        half-written revision is not a downloaded model.
        """
        if page_size < 0:
            raise InvalidArgument("page_size must not be negative", field="page_size")
        size = min(page_size or DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE)
        models = [m for m in self.models() if (m.model_id, m.commit) != downloading]
        if page_token:
            after = _decode_token(page_token)
            models = [m for m in models if (m.model_id, m.commit) > after]
        page = tuple(models[:size])
        more = len(models) > size
        return ModelPage(page, _encode_token(page[-1].model_id, page[-1].commit) if more else "")

    def matching(self, model_id: str, revision: str) -> list[CachedModel]:
        """The cached revisions of `model_id` that `revision` names (all of them when empty)."""
        found = [m for m in self.models() if m.model_id == model_id]
        if revision:
            found = [m for m in found if revision == m.commit or revision in m.refs]
        return found

    def delete(self, model_id: str, revision: str) -> DeleteResult:
        """Remove one revision (a ref or commit) or every revision of a model; NotFound if absent."""
        found = self.matching(model_id, revision)
        if not revision and self._hub.is_damaged(model_id):
            # A blob went missing under one of its revisions: remove the whole folder, damaged ones included.
            freed = self._hub.remove_repo(model_id)
            logger.info("deleted the damaged cache folder of %s (%d intact revision(s)), %d bytes",
                        model_id, len(found), freed)
            return DeleteResult(tuple(found), freed)
        if not found:
            what = f"revision {revision!r} of model {model_id}" if revision else f"model {model_id}"
            raise NotFound(
                f"{what} is not in the cache", reason=errors.NOT_CACHED, metadata={"model_id": model_id}
            )
        freed = self._hub.delete_revisions(model_id, [m.commit for m in found])
        logger.info("deleted %d cached revision(s) of %s, %d bytes", len(found), model_id, freed)
        return DeleteResult(tuple(found), freed)

    def write_ref(self, model_id: str, revision: str, commit: str) -> None:
        """Point refs/<revision> at `commit` (done only after a download completes)."""
        if is_commit(revision):
            return
        ref = self._hub.repo_dir(model_id) / "refs" / revision
        ref.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".ref-", dir=ref.parent)
        with os.fdopen(fd, "w") as handle:
            handle.write(commit)
        os.replace(tmp, ref)

    def remove_partial(self, model_id: str, commit: str, paths: Collection[str]) -> None:
        """Remove what an unfinished download left: its .incomplete files and its files in the snapshot.

        Files that were cached before the download started are not in `paths` and stay. A snapshot left
        empty is removed with its refs, so nothing half-downloaded can later pass for a complete model.
        """
        repo = self._hub.repo_dir(model_id)
        for partial in (repo / "blobs").glob("*.incomplete"):
            partial.unlink(missing_ok=True)
        if not commit or not paths or not repo.is_dir():
            return
        if self._hub.delete_files(model_id, commit, paths):
            return
        # The library could not read the revision (e.g. a half-written repo folder): unlink the entries
        # directly; an orphaned blob is harmless, a snapshot entry is not.
        snapshot = self._hub.snapshot_dir(model_id, commit)
        for path in paths:
            (snapshot / path).unlink(missing_ok=True)
        _remove_empty_dirs(snapshot)


def _remove_empty_dirs(root: Path) -> None:
    if not root.is_dir():
        return
    for directory in sorted(
        (p for p in root.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True
    ):
        if not any(directory.iterdir()):
            directory.rmdir()
    if not any(root.iterdir()):
        root.rmdir()
