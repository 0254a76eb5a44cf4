"""Startup repair: remove stored files that no database row names (left by a process killed mid-publish)."""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Set
from pathlib import Path

__all__ = ["remove_orphans"]

logger = logging.getLogger(__name__)

_ID = re.compile(r"[0-9a-f]{32}")  # names.new_id(): anything else under the folder is not ours to remove


def remove_orphans(folder: Path, stored_ids: Set[str], kind: str) -> list[str]:
    """Remove the directories under `folder` named like an id that is not in `stored_ids`; their names.

    A file is renamed into place before its row is committed, and its row deleted before its files, so a
    SIGKILL in between leaves a directory no row names: nothing can ever reach or delete it. Call this
    only before serving, while no upload, job or delete can be between its rename and its commit.
    """
    removed = []
    for entry in sorted(folder.iterdir()):
        if entry.name in stored_ids or not _ID.fullmatch(entry.name) or not entry.is_dir():
            continue
        logger.warning("removing %s/%s: no stored %s names it (a process stopped mid-publish)",
                       folder.name, entry.name, kind)
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry.name)
    return removed
