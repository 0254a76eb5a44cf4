"""The local model cache in huggingface_hub's layout: listing, damaged-repo handling, deletion.

HubClient (hub.py) is this cache plus the Hub's network side; with hub.py, the only modules that
import huggingface_hub. Listing and deleting tolerate damage a disk cleaner or a user leaves behind:
a repo with a missing blob or an unreadable ref is scanned file by file and deletable, never fatal.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_DISABLE_XET"] = "1"  # read when huggingface_hub is imported (see hub.py)

import dataclasses  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
from collections.abc import Collection  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

from huggingface_hub import HFCacheInfo, scan_cache_dir, try_to_load_from_cache  # noqa: E402
from huggingface_hub.errors import CorruptedCacheException  # noqa: E402
from huggingface_hub.file_download import repo_folder_name  # noqa: E402
from huggingface_hub.utils._cache_manager import CachedRepoInfo, _scan_cached_repo  # noqa: E402 - one repo

from downloader_service.hub_values import CachedRevision  # noqa: E402
from downloader_service.validation import is_commit, model_id_problem  # noqa: E402

__all__ = ["HubCache"]

logger = logging.getLogger(__name__)


class HubCache:
    """One cache dir of Hub repos: paths, the listing of intact revisions, deletion."""

    def __init__(self, cache_dir: Path) -> None:
        self.cache_dir = cache_dir
        self._skipped: set[str] = set()  # cache entries already logged as not listable
        self._scan_failure_logged = False

    def is_cached(self, model_id: str, commit: str, path: str) -> bool:
        """True when `path` of `commit` is complete in the cache."""
        found = try_to_load_from_cache(model_id, path, cache_dir=self.cache_dir, revision=commit)
        return isinstance(found, str)


    def repo_dir(self, model_id: str) -> Path:
        """The cache folder of `model_id` (models--org--name)."""
        return self.cache_dir / repo_folder_name(repo_id=model_id, repo_type="model")

    def snapshot_dir(self, model_id: str, commit: str) -> Path:
        """The snapshot folder of one commit."""
        return self.repo_dir(model_id) / "snapshots" / commit

    def scan(self) -> list[CachedRevision]:
        """Every intact cached model revision.

        scan_cache_dir drops a whole repo when one of its files lost its blob (a disk cleaner, a user):
        its intact revisions would vanish and could not be deleted. Such repos are scanned here file by
        file instead; a revision with a missing blob is logged and left out (DeleteDownloadedModel of the
        model removes it).
        """
        if not self.cache_dir.is_dir():
            return []
        info = self._scan_cache()
        for warning in info.warnings:
            logger.debug("cache scan skipped an entry: %s", warning)
        readable = {repo.repo_path.resolve() for repo in info.repos}
        found: list[CachedRevision] = []
        for repo_dir in sorted(self.cache_dir.glob("models--*")):
            if repo_dir.is_dir() and repo_dir.resolve() not in readable:
                found += self._scan_damaged(repo_dir)
        for repo in info.repos:
            if repo.repo_type != "model":
                continue
            if model_id_problem(repo.repo_id):
                self._skip(repo.repo_path.name, "its name is not a valid model id")
                continue
            for revision in repo.revisions:
                if not is_commit(revision.commit_hash):
                    self._skip(f"{repo.repo_path.name}/snapshots/{revision.commit_hash}", "not a 40-hex commit")
                    continue
                found.append(
                    CachedRevision(
                        model_id=repo.repo_id,
                        commit=revision.commit_hash,
                        refs=tuple(sorted(revision.refs)),
                        files=tuple(
                            sorted(
                                f.file_path.relative_to(revision.snapshot_path).as_posix()
                                for f in revision.files
                            )
                        ),
                        size_bytes=revision.size_on_disk,
                        last_modified=datetime.fromtimestamp(revision.last_modified, UTC),
                    )
                )
        return found

    def _skip(self, entry: str, why: str) -> None:
        """Log, once per entry, a cache entry left out of the listing because the API could not name it.

        Listed, it could not be deleted (DeleteDownloadedModel validates model ids and commits); it is
        left on disk untouched, for whoever put it there.
        """
        if entry not in self._skipped:
            self._skipped.add(entry)
            logger.warning("cache: %s is not listed: %s", entry, why)

    @staticmethod
    def _model_id_of(repo_dir: Path) -> str | None:
        """The model id of a models--org--name folder (None if it does not name a valid one)."""
        model_id = repo_dir.name.split("--", 1)[1].replace("--", "/") if "--" in repo_dir.name else ""
        return None if model_id_problem(model_id) else model_id

    def _scan_damaged(self, repo_dir: Path) -> list[CachedRevision]:
        """The intact revisions of a repo scan_cache_dir could not read; the others are logged."""
        model_id = self._model_id_of(repo_dir)
        snapshots = repo_dir / "snapshots"
        if model_id is None:
            self._skip(repo_dir.name, "its name is not a valid model id")
            return []
        if not snapshots.is_dir():
            return []
        refs: dict[str, list[str]] = {}
        if (repo_dir / "refs").is_dir():
            for ref in (repo_dir / "refs").rglob("*"):
                try:
                    commit = ref.read_text().strip() if ref.is_file() else ""
                except (OSError, UnicodeDecodeError):  # an unreadable ref names nothing
                    continue
                if commit:
                    refs.setdefault(commit, []).append(ref.relative_to(repo_dir / "refs").as_posix())
        intact: list[CachedRevision] = []
        try:
            snapshot_dirs = sorted(snapshots.iterdir())
        except OSError as exc:  # an unreadable folder: nothing of this model can be listed
            self._skip(repo_dir.name, f"its snapshots cannot be read ({type(exc).__name__})")
            return []
        for snapshot in snapshot_dirs:
            if not snapshot.is_dir() or not is_commit(snapshot.name):
                self._skip(f"{repo_dir.name}/snapshots/{snapshot.name}", "not a 40-hex commit folder")
                continue
            try:
                files = [p for p in snapshot.rglob("*") if p.is_symlink() or p.is_file()]
                missing = [p for p in files if not p.exists()]
                stats = [] if missing else [p.stat() for p in files]
            except OSError as exc:
                self._skip(f"{repo_dir.name}/snapshots/{snapshot.name}", f"it cannot be read ({type(exc).__name__})")
                continue
            if missing or not files:
                logger.warning("cache: %s@%s has %d file(s) whose blob is missing; it is not listed, and "
                               "deleting the model removes it", model_id, snapshot.name, len(missing))
                continue
            intact.append(CachedRevision(
                model_id=model_id,
                commit=snapshot.name,
                refs=tuple(sorted(refs.get(snapshot.name, ()))),
                files=tuple(sorted(p.relative_to(snapshot).as_posix() for p in files)),
                size_bytes=sum(st.st_size for st in stats),
                last_modified=datetime.fromtimestamp(max(st.st_mtime for st in stats), UTC),
            ))
        return intact

    def is_damaged(self, model_id: str) -> bool:
        """Whether `model_id` has a cache folder that huggingface_hub cannot read."""
        return self.repo_dir(model_id).is_dir() and self._repo_only(model_id) is None

    def remove_repo(self, model_id: str) -> int:
        """Remove the model's whole cache folder (every revision, damaged ones too); returns the bytes freed."""
        repo_dir = self.repo_dir(model_id)
        freed = sum(p.stat().st_size for p in repo_dir.rglob("*") if p.is_file() and not p.is_symlink())
        shutil.rmtree(repo_dir, ignore_errors=True)
        return freed

    def _delete_damaged(self, model_id: str, commits: Collection[str]) -> int:
        """Delete revisions of a repo huggingface_hub cannot read: snapshots, their refs, unused blobs."""
        repo_dir = self.repo_dir(model_id)
        for commit in commits:
            shutil.rmtree(repo_dir / "snapshots" / commit, ignore_errors=True)
        if (repo_dir / "refs").is_dir():
            for ref in (repo_dir / "refs").rglob("*"):
                try:
                    named = ref.read_text().strip() if ref.is_file() else ""
                except (OSError, UnicodeDecodeError):  # a damaged ref names nothing: leave it
                    continue
                if named in commits:
                    ref.unlink()
        used = {p.resolve() for p in (repo_dir / "snapshots").rglob("*") if p.is_symlink()}
        freed = 0
        for blob in (repo_dir / "blobs").iterdir() if (repo_dir / "blobs").is_dir() else ():
            if blob.resolve() not in used:
                freed += blob.stat().st_size
                blob.unlink()
        return freed

    def _scan_cache(self) -> HFCacheInfo:
        """scan_cache_dir, except that a repo it chokes on is left out (and logged) instead of failing it all.

        It lets UnicodeDecodeError or OSError escape (a ref file of binary bytes, an unreadable folder):
        one damaged entry then made listing and deleting any model INTERNAL. Those repos are rescanned
        one by one here; the ones left out are handled as damaged (see scan and _delete_damaged).
        """
        try:
            return scan_cache_dir(self.cache_dir)
        except (UnicodeDecodeError, OSError) as exc:
            if not self._scan_failure_logged:  # once, not on every list while the damage stays
                self._scan_failure_logged = True
                logger.warning("cache scan failed (%s); scanning the models one by one", type(exc).__name__)
        repos: set[CachedRepoInfo] = set()
        warnings: list[CorruptedCacheException] = []
        for repo_dir in sorted(self.cache_dir.glob("models--*")):
            try:
                repos.add(_scan_cached_repo(repo_dir))
            except (CorruptedCacheException, UnicodeDecodeError, OSError) as exc:
                warnings.append(CorruptedCacheException(f"{repo_dir.name}: {type(exc).__name__}"))
        return HFCacheInfo(
            size_on_disk=sum(r.size_on_disk for r in repos),
            repos=frozenset(repos),
            incomplete_files=frozenset(),
            warnings=warnings,
            cache_dir=self.cache_dir,
        )

    def _repo_only(self, model_id: str) -> HFCacheInfo | None:
        """The cache scan narrowed to `model_id`'s repo (None if it is not readable).

        huggingface_hub's delete_revisions looks a commit hash up in every repo of the scan and deletes
        the first repo it finds it in. A mirror or a pushed copy of a model shares its commit hashes, so
        on the whole cache that could delete another model; on one repo it cannot.
        """
        info = self._scan_cache()
        repo = next((r for r in info.repos if r.repo_id == model_id and r.repo_type == "model"), None)
        return None if repo is None else dataclasses.replace(info, repos=frozenset({repo}))

    def delete_revisions(self, model_id: str, commits: Collection[str]) -> int:
        """Delete cached revisions of one model (snapshots, refs, unshared blobs); returns the bytes freed."""
        info = self._repo_only(model_id)
        if info is None:
            return self._delete_damaged(model_id, commits) if self.repo_dir(model_id).is_dir() else 0
        strategy = info.delete_revisions(*commits)
        strategy.execute()
        return strategy.expected_freed_size

    def delete_files(self, model_id: str, commit: str, paths: Collection[str]) -> bool:
        """Delete snapshot entries (and blobs nothing else uses); False if the revision is unreadable."""
        info = self._repo_only(model_id)
        for repo in info.repos if info is not None else ():
            for revision in repo.revisions:
                if revision.commit_hash != commit:
                    continue
                doomed = [
                    f
                    for f in revision.files
                    if f.file_path.relative_to(revision.snapshot_path).as_posix() in paths
                ]
                if doomed:
                    info.delete_files(*doomed).execute()
                if len(doomed) == len(revision.files):
                    info.delete_revisions(commit).execute()
                return True
        return False
