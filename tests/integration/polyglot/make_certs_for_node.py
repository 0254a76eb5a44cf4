"""A throwaway PKI for the Node client's TLS tests, written into a directory the caller owns.

Run from the repository root as `python -m tests.integration.polyglot.make_certs_for_node DIRECTORY`. It writes
the PEM files of tests.support.certs.make_pki (a CA with a server and a client certificate, and an unrelated CA
with a client of its own) and prints one JSON line mapping each Pki field to its absolute path.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path

from tests.support.certs import make_pki

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Write the PKI into the directory given and print its file paths as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, help="where the PEM files go (created if missing)")
    args = parser.parse_args(argv)
    pki = make_pki(args.directory.resolve())
    paths = {field.name: str(getattr(pki, field.name)) for field in dataclasses.fields(pki)}
    print(json.dumps(paths), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
