"""`python -m trainer_service` / `mlsuite-trainer`: flags -> Config -> serve."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the TrainerService until SIGTERM; exit 0 after a clean drain, 2 on a configuration error or a
    data directory another trainer is using, 3 when the data directory's database is damaged."""
    from mlsuite_common.dirlock import DirectoryInUse, DirectoryLock
    from mlsuite_common.logs import configure_logging
    from mlsuite_common.security import InsecureBindError, check_exposure
    from trainer_service.config import parse_config

    config = parse_config(argv)
    try:
        # Before the heavy imports below, so a refused configuration fails at once.
        check_exposure(config.server.host, config.server.security)
        lock = DirectoryLock(config.data_dir, "trainer")
        lock.acquire()  # held until this process ends: the store and running jobs belong to one server
    except (InsecureBindError, DirectoryInUse) as exc:
        sys.stderr.write(f"mlsuite-trainer: error: {exc}\n")
        return 2
    except OSError as exc:  # e.g. a data directory this user may not write
        sys.stderr.write(f"mlsuite-trainer: error: cannot use --data-dir {config.data_dir}: {exc.strerror}\n")
        return 2
    configure_logging(config.log_level, config.observability.log_format)

    from trainer_service.server import serve
    from trainer_service.store_schema import StoreUnreadable

    def announce(line: str) -> None:
        sys.stdout.write(f"{line}\n")
        sys.stdout.flush()

    try:
        serve(config, announce)
    except StoreUnreadable as exc:
        advice = "; restore it from a backup, or move it aside to start empty" if exc.damaged else ""
        sys.stderr.write(f"mlsuite-trainer: error: {exc}{advice}\n")
        return 3
    finally:
        lock.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
