"""Startup repair: set aside stored files that no database row names (left by a process killed mid-publish)."""

from __future__ import annotations

import logging
import re
from collections.abc import Set
from pathlib import Path

__all__ = ["set_aside_orphans"]

logger = logging.getLogger(__name__)

_ID = re.compile(r"[0-9a-f]{32}")  # names.new_id(): anything else under the folder is not ours to move


def set_aside_orphans(folder: Path, stored_ids: Set[str], kind: str, orphaned: Path) -> list[str]:
    """Move the directories under `folder` named like an id not in `stored_ids` to `orphaned`/folder's name.

    A file is renamed into place before its row is committed, and its row deleted before its files, so a
    SIGKILL in between leaves a directory no row names: nothing can ever reach or delete it. It is moved
    aside rather than deleted: after a trainer.db restored from an older backup, the newer models'
    directories look the same, and must survive to be restored too. Call this only before serving,
    while no upload, job or delete can be between its rename and its commit. Returns the ids moved.
    """
    moved = []
    for entry in sorted(folder.iterdir()):
        if entry.name in stored_ids or not _ID.fullmatch(entry.name) or not entry.is_dir():
            continue
        target = orphaned / folder.name / entry.name
        target.parent.mkdir(parents=True, exist_ok=True)
        suffix = 1
        while target.exists():  # set aside before and again now: keep both, under the first free name
            target = target.with_name(f"{entry.name}.{suffix}")
            suffix += 1
        logger.warning("moved %s/%s to %s: no stored %s names it (a process stopped mid-publish, or the "
                       "database is older than the files); delete it, or restore its row", folder.name,
                       entry.name, target.relative_to(orphaned.parent), kind)
        entry.rename(target)
        moved.append(entry.name)
    return moved
