"""The tests' local Hub in a process of its own, serving one tiny model padded to last a while when throttled.

`python -m bench.hub_process --padding-bytes N --throttle B` prints `listening on 127.0.0.1:PORT`
and serves MODEL_ID until SIGTERM. A separate process keeps the Hub's HTTP threads off the GIL of
the benchmark's pollers.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence

from tests.support.hub_server import LocalHub
from tests.support.tiny_models import tiny_bert_files

__all__ = ["MODEL_ID", "main"]

MODEL_ID = "bench/padded-bert"


def main(argv: Sequence[str] | None = None) -> int:
    """Serve until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m bench.hub_process")
    parser.add_argument("--padding-bytes", type=int, default=8 * 1024 * 1024)
    parser.add_argument("--throttle", type=int, default=1_000_000, help="body bytes per second")
    args = parser.parse_args(argv)
    hub = LocalHub()
    hub.add_repo(MODEL_ID, tiny_bert_files(seed=0, padding_bytes=args.padding_bytes))
    hub.throttle_bytes_per_second = args.throttle
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    sys.stdout.write(f"listening on 127.0.0.1:{hub.port}\n")
    sys.stdout.flush()
    stopped.wait()
    hub.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
