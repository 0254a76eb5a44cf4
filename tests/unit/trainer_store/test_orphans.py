"""Startup's setting aside of directories no row names: moved, never deleted, never overwritten."""

from __future__ import annotations

import uuid
from pathlib import Path

from trainer_service.orphans import set_aside_orphans


def test_orphans_are_moved_aside_and_a_second_one_never_replaces_the_first(tmp_path: Path) -> None:
    models, aside = tmp_path / "models", tmp_path / "orphaned"
    kept, orphan = uuid.uuid4().hex, uuid.uuid4().hex
    for name in (kept, "not-an-id"):
        (models / name).mkdir(parents=True)
    for round_ in range(3):  # the same id orphaned again and again (e.g. restored, then lost again)
        (models / orphan).mkdir()
        (models / orphan / "weights").write_text(str(round_))
        assert set_aside_orphans(models, {kept}, "model", aside) == [orphan]
    (aside / "models" / f"{orphan}.1").rename(aside / "models" / "removed-by-hand")  # a gap in the names
    (models / orphan).mkdir()
    (models / orphan / "weights").write_text("3")
    set_aside_orphans(models, {kept}, "model", aside)
    assert sorted(p.name for p in models.iterdir()) == sorted([kept, "not-an-id"])
    contents = {p.name.replace(orphan, "X"): (p / "weights").read_text() for p in (aside / "models").iterdir()}
    assert contents == {"X": "0", "X.1": "3", "X.2": "2", "removed-by-hand": "1"}
