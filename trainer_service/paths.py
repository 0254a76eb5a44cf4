"""Layout of the data directory: one SQLite file plus dataset bytes and model artifacts."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

__all__ = ["DataPaths"]


@dataclass(frozen=True)
class DataPaths:
    """Where everything lives under --data-dir."""

    root: Path

    @property
    def database(self) -> Path:
        """The SQLite metadata file."""
        return self.root / "trainer.db"

    @property
    def datasets(self) -> Path:
        """datasets/{id}/data.{csv|parquet}."""
        return self.root / "datasets"

    @property
    def models(self) -> Path:
        """models/{id}/ artifacts."""
        return self.root / "models"

    @property
    def orphaned(self) -> Path:
        """orphaned/{datasets|models}/{id}: directories no row named at startup, set aside, never deleted."""
        return self.root / "orphaned"

    @property
    def tmp(self) -> Path:
        """Staging area; files are renamed from here into place."""
        return self.root / "tmp"

    def create(self) -> None:
        """Create the directories and clear leftovers of an earlier process from tmp/."""
        for path in (self.datasets, self.models):
            path.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.tmp.mkdir(parents=True, exist_ok=True)
