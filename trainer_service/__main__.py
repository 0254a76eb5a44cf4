"""`python -m trainer_service` / `mlsuite-trainer`: flags -> Config -> serve."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the TrainerService until SIGTERM; exit 0 after a clean drain."""
    from trainer_service.config import parse_config
    from trainer_service.server import serve

    config = parse_config(argv)
    logging.basicConfig(level=config.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    def announce(host: str, port: int) -> None:
        sys.stdout.write(f"listening on {host}:{port}\n")
        sys.stdout.flush()

    serve(config, announce)
    return 0


if __name__ == "__main__":
    sys.exit(main())
