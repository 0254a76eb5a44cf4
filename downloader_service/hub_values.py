"""Values the Hub client returns: repo files, a resolved listing, a cached revision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["RepoFile", "RepoListing", "CachedRevision"]


@dataclass(frozen=True)
class RepoFile:
    """A file of a repo at one commit."""

    path: str
    size: int


@dataclass(frozen=True)
class RepoListing:
    """A repo revision resolved to a commit, with every file in it."""

    model_id: str
    revision: str
    commit: str
    files: tuple[RepoFile, ...]


@dataclass(frozen=True)
class CachedRevision:
    """One commit of a model in the local cache."""

    model_id: str
    commit: str
    refs: tuple[str, ...]
    files: tuple[str, ...]
    size_bytes: int
    last_modified: datetime
