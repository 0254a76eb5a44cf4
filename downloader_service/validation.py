"""Strict validation of Hub repo ids, revisions, file patterns and request ids (never a URL or a path)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from mlsuite_common.errors import FieldViolation, InvalidArgument

__all__ = [
    "MAX_MODEL_ID_LENGTH",
    "DEFAULT_REVISION",
    "DownloadRequest",
    "is_commit",
    "model_id_problem",
    "revision_problem",
    "validate_model_id",
    "validate_revision",
    "validate_start",
]

MAX_MODEL_ID_LENGTH = 96
MAX_REVISION_LENGTH = 200
MAX_PATTERNS = 64
MAX_PATTERN_LENGTH = 200
MAX_REQUEST_ID_LENGTH = 128
DEFAULT_REVISION = "main"

# A name starts and ends with a letter or digit; "-", "_" and "." only inside (Hub repo naming rules).
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_MODEL_ID = re.compile(rf"(?:{_NAME}/)?{_NAME}")
_REF_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_REQUEST_ID = re.compile(r"[\x21-\x7e]+")


@dataclass(frozen=True)
class DownloadRequest:
    """A validated StartDownload request; revision is never empty."""

    model_id: str
    revision: str = DEFAULT_REVISION
    allow_patterns: tuple[str, ...] = ()
    ignore_patterns: tuple[str, ...] = ()
    request_id: str = ""


def is_commit(revision: str) -> bool:
    """True for a full 40-hex commit sha."""
    return _COMMIT.fullmatch(revision) is not None


def model_id_problem(model_id: str) -> str | None:
    """Why `model_id` is not a valid Hub repo id ("org/name" or "name"), or None when it is."""
    if not model_id:
        return "model_id is required"
    if len(model_id) > MAX_MODEL_ID_LENGTH:
        return f"model_id must be at most {MAX_MODEL_ID_LENGTH} characters"
    if "://" in model_id or model_id.startswith(("/", "~", ".")) or "\\" in model_id:
        return "model_id must be a Hub repo id like 'org/name', not a URL or a path"
    if ".." in model_id or "--" in model_id:
        return "model_id must not contain '..' or '--'"
    if not _MODEL_ID.fullmatch(model_id):
        return "model_id must be 'org/name' or 'name' made of letters, digits, '-', '_' and '.'"
    if model_id.endswith(".git"):
        return "model_id must not end with '.git'"
    return None


def revision_problem(revision: str) -> str | None:
    """Why `revision` is not a valid branch, tag or 40-hex commit, or None when it is."""
    if len(revision) > MAX_REVISION_LENGTH:
        return f"revision must be at most {MAX_REVISION_LENGTH} characters"
    if is_commit(revision):
        return None
    if ".." in revision or revision.endswith((".", ".lock")):
        return "revision must not contain '..' or end with '.' or '.lock'"
    if not all(_REF_SEGMENT.fullmatch(segment) for segment in revision.split("/")):
        return "revision must be a branch, a tag or a 40-hex commit"
    return None


def _pattern_problem(pattern: str) -> str | None:
    if not pattern.strip():
        return "patterns must not be empty"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return f"patterns must be at most {MAX_PATTERN_LENGTH} characters"
    if pattern.startswith(("/", "~")) or "\\" in pattern or ":" in pattern or "\0" in pattern:
        return "patterns are relative globs inside the repo, never absolute paths"
    if ".." in pattern.split("/"):
        return "patterns must not contain '..'"
    return None


def validate_model_id(model_id: str, field: str = "model_id") -> str:
    """Return `model_id` or raise InvalidArgument naming `field`."""
    problem = model_id_problem(model_id)
    if problem is not None:
        raise InvalidArgument(problem, field=field)
    return model_id


def validate_revision(revision: str, field: str = "revision") -> str:
    """Return `revision` ("" -> "main") or raise InvalidArgument naming `field`."""
    revision = revision or DEFAULT_REVISION
    problem = revision_problem(revision)
    if problem is not None:
        raise InvalidArgument(problem, field=field)
    return revision


def validate_start(
    model_id: str,
    revision: str,
    allow_patterns: Sequence[str],
    ignore_patterns: Sequence[str],
    request_id: str,
) -> DownloadRequest:
    """Validate every StartDownload field; raises InvalidArgument listing each bad field."""
    violations: list[FieldViolation] = []
    problem = model_id_problem(model_id)
    if problem is not None:
        violations.append(FieldViolation("model_id", problem))
    revision = revision or DEFAULT_REVISION
    problem = revision_problem(revision)
    if problem is not None:
        violations.append(FieldViolation("revision", problem))
    for name, patterns in (("allow_patterns", allow_patterns), ("ignore_patterns", ignore_patterns)):
        if len(patterns) > MAX_PATTERNS:
            violations.append(FieldViolation(name, f"at most {MAX_PATTERNS} patterns"))
        for index, pattern in enumerate(patterns):
            problem = _pattern_problem(pattern)
            if problem is not None:
                violations.append(FieldViolation(f"{name}[{index}]", problem))
    if request_id and (len(request_id) > MAX_REQUEST_ID_LENGTH or not _REQUEST_ID.fullmatch(request_id)):
        violations.append(
            FieldViolation(
                "request_id", f"request_id must be at most {MAX_REQUEST_ID_LENGTH} printable characters"
            )
        )
    if violations:
        raise InvalidArgument(violations[0].description, violations=violations)
    return DownloadRequest(
        model_id=model_id,
        revision=revision,
        allow_patterns=tuple(allow_patterns),
        ignore_patterns=tuple(ignore_patterns),
        request_id=request_id,
    )
