"""grpc.health.v1 and server reflection on the TrainerService."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor_pool
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase

from tests.integration.trainer._support import SERVICE_NAME

RPCS = {
    "UploadDataset",
    "GetDataset",
    "ListDatasets",
    "DeleteDataset",
    "ListModelTypes",
    "CreateTrainingJob",
    "GetTrainingJob",
    "ListTrainingJobs",
    "CancelTrainingJob",
    "WatchTrainingJob",
    "Train",
    "GetModel",
    "ListModels",
    "DeleteModel",
    "Predict",
}


@pytest.mark.parametrize("service", ["", SERVICE_NAME])
def test_health_check_is_serving(trainer, service: str) -> None:
    with grpc.insecure_channel(trainer.address) as channel:
        response = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=service), timeout=10
        )
    assert response.status == health_pb2.HealthCheckResponse.SERVING


def test_health_check_of_an_unknown_service_is_not_found(trainer) -> None:
    with grpc.insecure_channel(trainer.address) as channel, pytest.raises(grpc.RpcError) as raised:
        health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=10
        )
    assert raised.value.code() is grpc.StatusCode.NOT_FOUND


def test_reflection_lists_and_describes_the_trainer_service(trainer) -> None:
    with grpc.insecure_channel(trainer.address) as channel:
        database = ProtoReflectionDescriptorDatabase(channel)
        services = set(database.get_services())
        assert {SERVICE_NAME, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= services
        pool = descriptor_pool.DescriptorPool(database)
        service = pool.FindServiceByName(SERVICE_NAME)
        methods = {m.name: m for m in service.methods}
    assert set(methods) == RPCS
    assert methods["UploadDataset"].client_streaming and not methods["UploadDataset"].server_streaming
    assert methods["Train"].server_streaming and not methods["Train"].client_streaming
    assert methods["WatchTrainingJob"].server_streaming
    assert methods["Predict"].input_type.full_name == "mlsuite.trainer.v1.PredictRequest"
