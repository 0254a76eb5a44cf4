"""The post-download check: transformers loads the model's config from the local snapshot."""

from __future__ import annotations

import logging
from pathlib import Path

__all__ = ["VerificationError", "verify_snapshot"]

logger = logging.getLogger(__name__)

_MAX_REASON = 300


class VerificationError(Exception):
    """The snapshot's config did not load; the message is client-safe (no local path)."""


def verify_snapshot(snapshot_dir: Path, label: str) -> str:
    """AutoConfig-load the snapshot offline; returns the model type or raises VerificationError.

    `label` replaces the local path in any error text, e.g. "org/name@1a2b3c4d".
    """
    from transformers import AutoConfig  # heavy import, only when a download reaches this step

    try:
        config = AutoConfig.from_pretrained(str(snapshot_dir), local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to load is a verification failure
        logger.info("config check of %s failed", label, exc_info=True)
        text = " ".join(str(exc).split()) or type(exc).__name__
        for secret_path in {str(snapshot_dir), str(snapshot_dir.resolve())}:
            text = text.replace(secret_path, label)
        raise VerificationError(text[:_MAX_REASON]) from None
    return str(getattr(config, "model_type", "") or "unknown")
