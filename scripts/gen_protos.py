"""Regenerate the Python gRPC code beside each .proto under protos/ (the only generator).

Usage: python scripts/gen_protos.py [--out DIR]   (DIR defaults to protos/; tests pass a temp dir)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import grpc_tools
from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTOS = ROOT / "protos"


def proto_files() -> list[Path]:
    """Every .proto under protos/, relative to it, sorted."""
    return sorted(p.relative_to(PROTOS) for p in PROTOS.rglob("*.proto"))


def generate(out: Path) -> None:
    """Run protoc for every .proto, writing *_pb2.py, *_pb2.pyi and *_pb2_grpc.py under `out`."""
    include = Path(grpc_tools.__file__).parent / "_proto"
    files = [str(p) for p in proto_files()]
    args = [
        "grpc_tools.protoc",
        f"-I{PROTOS}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *files,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    # Regular packages (not namespace ones) so that the generated absolute imports resolve everywhere.
    for proto in proto_files():
        package = out / proto.parent
        while package != out:
            init = package / "__init__.py"
            if not init.exists():
                init.write_text('"""Generated protobuf package."""\n')
            package = package.parent


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=PROTOS)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    generate(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
