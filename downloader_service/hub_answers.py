"""Checks of the Hub's JSON answers (model info, tree listing) before anything of them reaches the disk.

An endpoint that is not a Hub (a captive portal, a proxy, a wrong URL) can answer 200 with anything: the
commit becomes a cache folder name and each file name a path under it, so both are checked here first.
"""

from __future__ import annotations

from typing import Any

from downloader_service.hub_values import RepoFile
from downloader_service.validation import is_commit

__all__ = ["NotAHubAnswer", "file_path_problem", "parse_model_info", "parse_tree_page"]

MAX_PATH_LENGTH = 1000


class NotAHubAnswer(ValueError):
    """The answer is not what a Hub sends; the message says what was wrong, client-safe."""


def file_path_problem(path: object) -> str | None:
    """Why `path` is not a safe relative file path inside a repo, or None when it is."""
    if not isinstance(path, str) or not path:
        return "a file entry without a name"
    if len(path) > MAX_PATH_LENGTH or any(ord(c) < 0x20 or c == "\x7f" for c in path):
        return "a file name that is too long or has control characters"
    if path.startswith(("/", "~")) or "\\" in path or (len(path) > 1 and path[1] == ":"):
        return "an absolute file name"
    if any(part in ("", ".", "..") for part in path.split("/")):
        return "a file name that leaves the repo ('..', '.' or an empty part)"
    return None


def _size(entry: dict[str, Any], path: str) -> int | None:
    size = entry.get("size")
    if size is None:
        return None
    if type(size) is not int or size < 0:
        raise NotAHubAnswer(f"an invalid size for file {path!r}")
    return size


def _checked_path(entry: object) -> tuple[dict[str, Any], str]:
    if not isinstance(entry, dict):
        raise NotAHubAnswer("a file entry that is not an object")
    path = entry.get("rfilename", entry.get("path"))
    problem = file_path_problem(path)
    if problem is not None:
        raise NotAHubAnswer(problem)
    return entry, path  # type: ignore[return-value]


def parse_model_info(data: object) -> tuple[str, tuple[RepoFile, ...] | None]:
    """The commit and files of a model-info answer; files is None when a size is missing (list the tree)."""
    if not isinstance(data, dict):
        raise NotAHubAnswer("a body that is not a model info object")
    commit = data.get("sha")
    if not isinstance(commit, str) or not is_commit(commit):
        raise NotAHubAnswer("no 40-hex commit sha" if commit else "no commit sha")
    siblings = data.get("siblings") or []
    if not isinstance(siblings, list):
        raise NotAHubAnswer("a file list that is not a list")
    files: list[RepoFile] = []
    complete = True
    for sibling in siblings:
        entry, path = _checked_path(sibling)
        size = _size(entry, path)
        complete = complete and size is not None
        files.append(RepoFile(path, size or 0))
    return commit, (tuple(files) if complete and files else None)


def parse_tree_page(data: object) -> list[RepoFile]:
    """The files of one page of a recursive tree listing (folders are left out)."""
    if not isinstance(data, list):
        raise NotAHubAnswer("a tree listing that is not a list")
    files: list[RepoFile] = []
    for item in data:
        entry, path = _checked_path(item)
        if entry.get("type") == "directory":
            continue
        if entry.get("type") != "file":
            raise NotAHubAnswer(f"a tree entry of unknown type for {path!r}")
        size = _size(entry, path)
        if size is None:
            raise NotAHubAnswer(f"no size for file {path!r}")
        files.append(RepoFile(path, size))
    return files
