"""Build and run the TrainerService gRPC server."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from typing import cast

import grpc
from google.protobuf.message import Message
from mlsuite.trainer.v1 import trainer_service_pb2 as pb
from prometheus_client import CollectorRegistry

from mlsuite_common.interceptors import ErrorMappingInterceptor
from mlsuite_common.lifecycle import (
    PendingCore,
    ServingHealth,
    create_server,
    run_until_signalled,
    watch_signals,
)
from mlsuite_common.security import Scope, TokenAuthInterceptor, scope_table
from mlsuite_common.telemetry import RpcMetrics, TelemetryInterceptor, start_metrics_server
from trainer_service.config import Config
from trainer_service.core import TrainerCore
from trainer_service.paths import DataPaths
from trainer_service.servicer import TrainerServicer
from trainer_service.store_schema import StoreUnreadable
from trainer_service.telemetry import register_trainer_metrics

__all__ = ["add_servicer", "build_server", "interceptors", "serve", "SERVICE_NAME", "ERROR_DOMAIN", "METHOD_SCOPES"]

logger = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["TrainerService"].full_name
ERROR_DOMAIN = "trainer.mlsuite"
METHOD_SCOPES: dict[str, Scope] = scope_table(
    SERVICE_NAME,
    read=["GetDataset", "ListDatasets", "ListModelTypes", "GetTrainingJob", "ListTrainingJobs",
          "WatchTrainingJob", "GetModel", "ListModels", "Predict"],
    write=["UploadDataset", "DeleteDataset", "CreateTrainingJob", "Train", "CancelTrainingJob",
           "DeleteModel"],
)
"""The token scope each RPC needs; an RPC missing here needs a write token."""


def interceptors(config: Config, metrics: RpcMetrics) -> list[grpc.ServerInterceptor]:
    """Outermost first: telemetry (so rejected calls count too), token check (when set), error mapping."""
    chain: list[grpc.ServerInterceptor] = [TelemetryInterceptor(metrics)]
    tokens = config.server.security.tokens
    if tokens:
        chain.append(TokenAuthInterceptor(tokens, METHOD_SCOPES, ERROR_DOMAIN))
    chain.append(ErrorMappingInterceptor(ERROR_DOMAIN))
    return chain


def _serialize(message: Message | bytes) -> bytes:
    return message if isinstance(message, bytes) else message.SerializeToString()


_HANDLER_FACTORIES = {
    (False, False): grpc.unary_unary_rpc_method_handler,
    (True, False): grpc.stream_unary_rpc_method_handler,
    (False, True): grpc.unary_stream_rpc_method_handler,
    (True, True): grpc.stream_stream_rpc_method_handler,
}


def add_servicer(servicer: TrainerServicer, server: grpc.Server) -> None:
    """What the generated add_TrainerServiceServicer_to_server does, with a serializer that also takes bytes.

    The event streams send one pre-encoded copy of each stored event to all of a job's watchers
    (servicer.EncodedEvents); every other response is a message, serialised as usual.
    """
    service = pb.DESCRIPTOR.services_by_name["TrainerService"]
    handlers = {
        method.name: _HANDLER_FACTORIES[(method.client_streaming, method.server_streaming)](
            getattr(servicer, method.name),
            request_deserializer=getattr(pb, method.input_type.name).FromString,
            response_serializer=_serialize,
        )
        for method in service.methods
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(service.full_name, handlers),))
    server.add_registered_method_handlers(service.full_name, handlers)


def build_server(
    config: Config, core: TrainerCore | PendingCore[TrainerCore], registry: CollectorRegistry | None = None
) -> tuple[grpc.Server, int, ServingHealth]:
    """A bound, not yet started server over `core` (NOT_SERVING); returns (server, port, health).

    RPC metrics go to `registry` (a fresh one when None, so several servers can share a process).
    """
    metrics = RpcMetrics(registry or CollectorRegistry())

    def register(server: grpc.Server) -> None:
        # A PendingCore answers UNAVAILABLE (SERVER_STARTING) until it is filled with the opened core.
        add_servicer(TrainerServicer(cast(TrainerCore, core)), server)

    return create_server(config.server, interceptors(config, metrics), register, [SERVICE_NAME])


def _set_aside_orphans(core: TrainerCore) -> None:
    """Move model and dataset directories no row names to orphaned/, before any call is served (none is
    mid-publish then).

    Not when this start created the database: an emptied or replaced trainer.db names nothing, and every
    directory would look orphaned. They are kept, to be recovered by restoring the database.
    """
    if core.store.created:
        kept = [p.name for folder in (core.models.folder, core.datasets.folder) for p in folder.iterdir()]
        if kept:
            logger.warning("trainer.db is new but %d model/dataset directories exist; keeping them", len(kept))
        return
    core.models.set_aside_orphans()
    core.datasets.set_aside_orphans()


def serve(config: Config, announce: Callable[[str], None] = lambda line: None) -> None:
    """Start NOT_SERVING, open the core, report SERVING, serve until SIGTERM, drain, close.

    StoreUnreadable when the database cannot be opened and read at startup.

    `announce` receives `metrics on URL` (when enabled) and then `listening on HOST:PORT`.
    """
    stop = watch_signals()
    pending: PendingCore[TrainerCore] = PendingCore()
    registry = CollectorRegistry()
    server, port, health = build_server(config, pending, registry)
    server.start()
    try:
        core = TrainerCore.open(config)
        _set_aside_orphans(core)
    except sqlite3.DatabaseError as error:
        server.stop(0)
        # sqlite3's messages ("file is not a database", "database disk image is malformed") name no path.
        # OperationalError (a subclass) is mostly the file's access (read-only, locked, I/O), not its
        # contents; "no such table/column" is contents: an SQLite file of another program or schema.
        foreign = str(error).startswith(("no such table", "no such column"))
        raise StoreUnreadable(DataPaths(config.data_dir).database.name, str(error),
                              damaged=foreign or not isinstance(error, sqlite3.OperationalError)) from error
    except BaseException:
        server.stop(0)
        raise
    pending.fill(core)
    core.jobs.warm()
    register_trainer_metrics(registry, core)
    observability = config.observability
    if observability.metrics_port >= 0:
        host = observability.metrics_host or config.server.host
        metrics_port = start_metrics_server(host, observability.metrics_port, registry)
        announce(f"metrics on http://{host}:{metrics_port}/metrics")
    health.set_serving(True)
    logger.info("TrainerService listening on %s:%d (data dir %s, %s)", config.server.host, port,
                config.data_dir, config.server.security.describe())
    announce(f"listening on {config.server.host}:{port}")
    run_until_signalled(server, health, config.server.grace_seconds,
                        on_drain=lambda: core.jobs.shutdown(config.server.grace_seconds), stop=stop)
    core.store.close()

