"""What a download fetches: the safe default file selection, the pickle-weights policy and the size cap."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from downloader_service import errors
from downloader_service.hub import filter_paths
from downloader_service.hub_values import RepoFile, RepoListing
from mlsuite_common.errors import FailedPrecondition, ResourceExhausted

__all__ = [
    "DEFAULT_ALLOW_PATTERNS",
    "PICKLE_WEIGHT_PATTERNS",
    "DownloadPolicy",
    "DownloadPlan",
    "select_files",
    "is_pickle_weight",
]

# Safe by default: safetensors weights, configs, tokenizer files and the model card.
DEFAULT_ALLOW_PATTERNS: tuple[str, ...] = (
    "*.safetensors",
    "*.json",
    "tokenizer*",
    "vocab*",
    "merges.txt",
    "*.model",
    "*.tiktoken",
    "spiece.model",
    "special_tokens_map.json",
    "README.md",
)
PICKLE_WEIGHT_PATTERNS: tuple[str, ...] = ("*.bin", "*.pt", "*.pth", "*.pkl", "*.pickle", "*.ckpt")
_PICKLE_SUFFIXES = tuple(p[1:] for p in PICKLE_WEIGHT_PATTERNS)


def is_pickle_weight(path: str) -> bool:
    """True for files that unpickle when loaded (.bin, .pt, .pth, .pkl, .pickle, .ckpt)."""
    return path.lower().endswith(_PICKLE_SUFFIXES)


@dataclass(frozen=True)
class DownloadPolicy:
    """Server-wide limits on what a download may fetch."""

    max_download_bytes: int
    allow_pickle_weights: bool = False


@dataclass(frozen=True)
class DownloadPlan:
    """The files one download selects at one commit, and which of them are already cached."""

    commit: str
    files: tuple[RepoFile, ...]
    cached: frozenset[str]

    @property
    def bytes_total(self) -> int:
        """Bytes of every selected file."""
        return sum(f.size for f in self.files)

    @property
    def pending(self) -> tuple[RepoFile, ...]:
        """Selected files not yet in the cache, smallest first (configs before weights)."""
        return tuple(
            sorted((f for f in self.files if f.path not in self.cached), key=lambda f: (f.size, f.path))
        )


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def select_files(
    listing: RepoListing,
    allow_patterns: Iterable[str],
    ignore_patterns: Iterable[str],
    policy: DownloadPolicy,
) -> tuple[RepoFile, ...]:
    """The files to fetch; refuses pickle weights (unless allowed), empty selections and oversize ones."""
    allow, ignore = tuple(allow_patterns), tuple(ignore_patterns)
    meta = {"model_id": listing.model_id}
    if not allow:
        has_safetensors = any(f.path.endswith(".safetensors") for f in listing.files)
        has_pickle = any(is_pickle_weight(f.path) for f in listing.files)
        allow = DEFAULT_ALLOW_PATTERNS
        if has_pickle and not has_safetensors:
            if not policy.allow_pickle_weights:
                raise FailedPrecondition(
                    f"model {listing.model_id} has only pickle weights, which this server refuses to fetch "
                    "(start it with --allow-pickle-weights to accept them)",
                    reason=errors.PICKLE_WEIGHTS_REFUSED,
                    metadata=meta,
                )
            allow = allow + PICKLE_WEIGHT_PATTERNS
    by_path = {f.path: f for f in listing.files}
    selected = tuple(by_path[p] for p in filter_paths(by_path, allow, ignore))
    if not policy.allow_pickle_weights:
        pickled = [f.path for f in selected if is_pickle_weight(f.path)]
        if pickled:
            raise FailedPrecondition(
                f"the patterns select pickle weights ({pickled[0]}), which this server refuses to fetch "
                "(start it with --allow-pickle-weights to accept them)",
                reason=errors.PICKLE_WEIGHTS_REFUSED,
                metadata={**meta, "file": pickled[0]},
            )
    if not selected:
        raise FailedPrecondition(
            f"no file of model {listing.model_id} matches the patterns",
            reason=errors.NO_FILES_SELECTED,
            metadata=meta,
        )
    total = sum(f.size for f in selected)
    if total > policy.max_download_bytes:
        raise ResourceExhausted(
            f"model {listing.model_id} needs {_human(total)}, over this server's limit of "
            f"{_human(policy.max_download_bytes)}",
            reason=errors.DOWNLOAD_TOO_LARGE,
            metadata={
                **meta,
                "bytes_total": str(total),
                "max_download_bytes": str(policy.max_download_bytes),
            },
        )
    return selected
