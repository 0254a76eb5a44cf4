"""`python -m downloader_service` / `mlsuite-downloader`: flags -> Config -> serve."""

from __future__ import annotations

import os

os.environ["HF_HUB_DISABLE_XET"] = "1"  # before anything imports huggingface_hub: plain HTTP transfers only
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import logging  # noqa: E402
import sys  # noqa: E402
from collections.abc import Sequence  # noqa: E402

from downloader_service.config import parse_config  # noqa: E402
from downloader_service.manager import STATUS_FILE  # noqa: E402
from downloader_service.server import serve  # noqa: E402
from mlsuite_common.dirlock import DirectoryInUse, DirectoryLock  # noqa: E402
from mlsuite_common.logs import configure_logging  # noqa: E402
from mlsuite_common.security import InsecureBindError, check_exposure  # noqa: E402

__all__ = ["main"]


def _announce(line: str) -> None:
    # stdout carries only these lines, so a parent process can read the ports picked for port 0.
    sys.stdout.write(f"{line}\n")
    sys.stdout.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the DownloaderService until SIGTERM; exit 0 after a clean drain, 2 on a configuration error or a
    cache directory another downloader is using."""
    config = parse_config(argv)
    try:
        check_exposure(config.host, config.security)
        # Next to the status file, out of the Hub cache layout's way: one downloader per cache directory.
        lock = DirectoryLock(config.cache_dir, "downloader", STATUS_FILE.parent / "server.lock")
        lock.acquire()
    except (InsecureBindError, DirectoryInUse) as exc:
        sys.stderr.write(f"mlsuite-downloader: error: {exc}\n")
        return 2
    except OSError as exc:  # e.g. a cache directory this user may not write
        sys.stderr.write(f"mlsuite-downloader: error: cannot use --cache-dir {config.cache_dir}: {exc.strerror}\n")
        return 2
    configure_logging(config.log_level, config.observability.log_format)
    if config.log_level != "DEBUG":
        logging.getLogger("httpx2").setLevel(logging.WARNING)  # one line per Hub request is debug detail
    try:
        return serve(config, announce=_announce)
    finally:
        lock.release()


if __name__ == "__main__":
    sys.exit(main())
