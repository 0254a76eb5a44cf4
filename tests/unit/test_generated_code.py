"""The checked-in gRPC code is exactly what scripts/gen_protos.py generates from protos/."""

from __future__ import annotations

import filecmp
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROTOS = ROOT / "protos"


def _generated(root: Path) -> dict[str, Path]:
    return {
        str(p.relative_to(root)): p
        for p in root.rglob("*")
        if p.is_file() and (p.name.endswith(("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")) or p.name == "__init__.py")
    }


def test_checked_in_code_matches_a_fresh_generation(tmp_path: Path) -> None:
    subprocess.run([sys.executable, str(ROOT / "scripts/gen_protos.py"), "--out", str(tmp_path)], check=True)
    fresh, checked_in = _generated(tmp_path), _generated(PROTOS)
    assert sorted(fresh) == sorted(checked_in), "generated file set differs: run `make proto`"
    stale = [name for name in fresh if not filecmp.cmp(fresh[name], checked_in[name], shallow=False)]
    assert not stale, f"checked-in generated code is stale: {stale}; run `make proto`"


def test_buf_lint_standard_passes() -> None:
    buf = Path(sys.executable).parent / "buf"
    result = subprocess.run([str(buf), "lint"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
