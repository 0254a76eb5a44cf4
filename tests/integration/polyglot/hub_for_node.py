"""A local Hugging Face Hub for the Node client tests: tiny real models on 127.0.0.1, port 0.

Run from the repository root as `python -m tests.integration.polyglot.hub_for_node`. It prints one JSON
line (the Hub's URL and, per repo, its id, commit and the bytes the downloader selects by default), then
serves until its standard input closes, so the Hub never outlives the test process that started it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Mapping, Sequence

from tests.support.hub_server import LocalHub
from tests.support.tiny_models import tiny_bert_files

__all__ = ["REPOS", "default_selection_bytes", "main"]

# What the Node tests download: a small model, and one padded to 3 MiB that the throttled Hub serves in ~2 s.
REPOS = {"tiny": "mlsuite-test/tiny-bert", "padded": "mlsuite-test/padded-bert"}
PADDING_BYTES = 3 * 1024 * 1024
DEFAULT_THROTTLE = 1_500_000


def default_selection_bytes(files: Mapping[str, bytes]) -> int:
    """Bytes the downloader fetches without allow_patterns: every file here but .gitattributes."""
    return sum(len(data) for path, data in files.items() if not path.startswith(".git"))


def main(argv: Sequence[str] | None = None) -> int:
    """Serve the tiny repos until stdin reaches end of file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--throttle", type=int, default=DEFAULT_THROTTLE, help="bytes/s of file bodies (0 = off)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    contents = {
        "tiny": tiny_bert_files(seed=0),
        "padded": tiny_bert_files(seed=1, padding_bytes=PADDING_BYTES),
    }
    hub = LocalHub()
    hub.throttle_bytes_per_second = args.throttle or None
    repos = {
        key: {
            "id": REPOS[key],
            "commit": hub.add_repo(REPOS[key], files),
            "bytes": default_selection_bytes(files),
        }
        for key, files in contents.items()
    }
    sys.stdout.write(json.dumps({"url": hub.url, "repos": repos}) + "\n")
    sys.stdout.flush()
    try:
        sys.stdin.read()
    finally:
        hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
