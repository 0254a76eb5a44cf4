"""`python -m downloader_service` / `mlsuite-downloader`: flags -> Config -> serve."""

from __future__ import annotations

import os

os.environ["HF_HUB_DISABLE_XET"] = "1"  # before anything imports huggingface_hub: plain HTTP transfers only
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import logging  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from downloader_service.config import parse_config  # noqa: E402
from downloader_service.server import serve  # noqa: E402

__all__ = ["main"]


def _announce(host: str, port: int) -> None:
    # The one line on stdout, so a parent process can read the port picked for --port 0.
    sys.stdout.write(f"listening on {host}:{port}\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the DownloaderService until SIGTERM; exit status 0 after a clean drain."""
    config = parse_config(argv)
    logging.basicConfig(
        level=config.log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if config.log_level != "DEBUG":
        logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per Hub request is debug detail
    return serve(config, on_listening=_announce)


if __name__ == "__main__":
    sys.exit(main())
