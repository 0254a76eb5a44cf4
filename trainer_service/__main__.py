"""`python -m trainer_service` / `mlsuite-trainer`: flags -> Config -> serve."""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the TrainerService until SIGTERM; exit 0 after a clean drain, 2 on a configuration error."""
    from mlsuite_common.logs import configure_logging
    from mlsuite_common.security import InsecureBindError, check_exposure
    from trainer_service.config import parse_config

    config = parse_config(argv)
    try:
        # Before the heavy imports below, so a refused configuration fails at once.
        check_exposure(config.server.host, config.server.security)
    except InsecureBindError as exc:
        sys.stderr.write(f"mlsuite-trainer: error: {exc}\n")
        return 2
    configure_logging(config.log_level, config.observability.log_format)

    from trainer_service.server import serve

    def announce(line: str) -> None:
        sys.stdout.write(f"{line}\n")
        sys.stdout.flush()

    serve(config, announce)
    return 0


if __name__ == "__main__":
    sys.exit(main())
