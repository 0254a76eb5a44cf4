"""predict_columns against a server that predates PredictRequest.columns: it falls back to instances.

The older server is played by a real gRPC server on 127.0.0.1 that answers Predict the way the
service did before columns existed: it ignores field 3, so a columnar request has no rows and is
INVALID_ARGUMENT NO_INSTANCES on `instances`.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent import futures

import grpc
import pytest
from mlsuite.trainer.v1 import trainer_service_pb2 as pb
from mlsuite.trainer.v1 import trainer_service_pb2_grpc as pb_grpc

from mlsuite_client import TrainerClient
from mlsuite_common.errors import InvalidArgument
from mlsuite_common.interceptors import ErrorMappingInterceptor


class _OlderTrainer(pb_grpc.TrainerServiceServicer):
    def __init__(self) -> None:
        self.requests: list[pb.PredictRequest] = []

    def Predict(self, request, context):  # noqa: N802 - the generated name
        self.requests.append(request)
        if not request.instances:  # what the service answered before it read `columns`
            raise InvalidArgument("instances must not be empty", field="instances", reason="NO_INSTANCES")
        return pb.PredictResponse(predictions=[
            pb.Prediction(number=instance.fields["x"].number_value * 2) for instance in request.instances
        ])


@pytest.fixture
def older() -> Iterator[tuple[str, _OlderTrainer]]:
    servicer = _OlderTrainer()
    server = grpc.server(futures.ThreadPoolExecutor(4), interceptors=[ErrorMappingInterceptor("trainer.mlsuite")])
    pb_grpc.add_TrainerServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", servicer
    server.stop(0)


def test_predict_columns_falls_back_to_instances_on_an_older_server(older: tuple[str, _OlderTrainer]) -> None:
    address, servicer = older
    with TrainerClient(address, timeout=10) as client:
        pd = pytest.importorskip("pandas")
        frame = pd.DataFrame({"x": pd.array([1, 2, None], dtype="Int64"), "tag": pd.array(["a", None, "c"]),
                              "flag": [True, False, True]})
        predictions = client.predict_columns("models/m", frame, batch_size=2)
    assert [p.number for p in predictions] == [2.0, 4.0, 0.0]  # pandas NA went as a null, read as 0 here
    fields = servicer.requests[1].instances[1].fields
    assert fields["tag"].WhichOneof("kind") == "null_value" and fields["flag"].WhichOneof("kind") == "bool_value"
    sent = [("columns" if r.columns else "instances", len(r.columns) or len(r.instances)) for r in servicer.requests]
    assert sent == [("columns", 3), ("instances", 2), ("instances", 1)]
