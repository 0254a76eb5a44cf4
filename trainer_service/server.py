"""Build and run the TrainerService gRPC server."""

from __future__ import annotations

import logging
from collections.abc import Callable

import grpc

from mlsuite.trainer.v1 import trainer_service_pb2 as pb
from mlsuite.trainer.v1 import trainer_service_pb2_grpc as pb_grpc
from mlsuite_common.interceptors import ErrorMappingInterceptor
from mlsuite_common.lifecycle import ServingHealth, create_server, run_until_signalled
from trainer_service.config import Config
from trainer_service.core import TrainerCore
from trainer_service.servicer import TrainerServicer

__all__ = ["build_server", "serve", "SERVICE_NAME", "ERROR_DOMAIN"]

logger = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["TrainerService"].full_name
ERROR_DOMAIN = "trainer.mlsuite"


def build_server(config: Config, core: TrainerCore) -> tuple[grpc.Server, int, ServingHealth]:
    """A bound, not yet started server over `core`; returns (server, port, health)."""

    def register(server: grpc.Server) -> None:
        pb_grpc.add_TrainerServiceServicer_to_server(TrainerServicer(core), server)

    return create_server(config.server, [ErrorMappingInterceptor(ERROR_DOMAIN)], register, [SERVICE_NAME])


def serve(config: Config, on_listening: Callable[[str, int], None] = lambda host, port: None) -> None:
    """Open the core, serve until SIGTERM, drain, close."""
    core = TrainerCore.open(config)
    server, port, health = build_server(config, core)
    server.start()
    health.set_serving(True)
    logger.info("TrainerService listening on %s:%d (data dir %s)", config.server.host, port, config.data_dir)
    on_listening(config.server.host, port)
    run_until_signalled(server, health, config.server.grace_seconds,
                        on_drain=lambda: core.jobs.shutdown(config.server.grace_seconds))
    core.store.close()
