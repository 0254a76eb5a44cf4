"""Bearer tokens on both servers: every token case on unary and streaming RPCs, read and write."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from grpc_status import rpc_status
from mlsuite.downloader.v1 import downloader_service_pb2 as dpb
from mlsuite.downloader.v1 import downloader_service_pb2_grpc as dpb_grpc
from mlsuite.trainer.v1 import trainer_service_pb2 as tpb
from mlsuite.trainer.v1 import trainer_service_pb2_grpc as tpb_grpc

from downloader_service.server import METHOD_SCOPES as DOWNLOADER_SCOPES
from mlsuite_common.security import AccessTokens, Scope, ServerSecurity, TokenAuthInterceptor
from tests.integration.security._servers import SERVICE_NAMES, InProcessServer, start_server
from trainer_service.server import METHOD_SCOPES as TRAINER_SCOPES

READ_TOKEN = "reader-7f3a9c1e5b"
WRITE_TOKEN = "writer-2d8e4f6a0c"
OTHER_WRITE_TOKEN = "writer-second-91b7"
Metadata = Sequence[tuple[str, str]]


def _bearer(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),)


TOKEN_CASES: dict[str, Metadata] = {
    "none": (),
    "unknown": _bearer("not-a-configured-token"),
    "not-bearer": (("authorization", f"Basic {WRITE_TOKEN}"),),
    "empty-bearer": (("authorization", "Bearer "),),
    "read": _bearer(READ_TOKEN),
    "write": _bearer(WRITE_TOKEN),
    "second-write": _bearer(OTHER_WRITE_TOKEN),
}


@dataclass(frozen=True)
class Outcome:
    """How a call ended: its code and the ErrorInfo reason, if any."""

    code: grpc.StatusCode
    reason: str = ""


def _outcome(run: Callable[[], object]) -> Outcome:
    try:
        run()
    except grpc.RpcError as error:
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
        reason = ""
        for detail in status.details if status else ():
            info = error_details_pb2.ErrorInfo()
            if detail.Unpack(info):
                reason = info.reason
        return Outcome(error.code(), reason)  # type: ignore[attr-defined]
    return Outcome(grpc.StatusCode.OK)


@dataclass(frozen=True)
class Rpc:
    """One RPC, how to call it with given metadata, and how it ends once authorized."""

    kind: str
    name: str
    shape: str
    call: Callable[[grpc.Channel, Metadata], object]
    authorized: grpc.StatusCode

    @property
    def scope(self) -> Scope:
        """The scope the server's table demands."""
        table = TRAINER_SCOPES if self.kind == "trainer" else DOWNLOADER_SCOPES
        return table[f"/{SERVICE_NAMES[self.kind]}/{self.name}"]


def _upload(channel: grpc.Channel, metadata: Metadata) -> object:
    requests = iter([
        tpb.UploadDatasetRequest(metadata=tpb.DatasetMetadata(format=tpb.DATASET_FORMAT_CSV)),
        tpb.UploadDatasetRequest(chunk=b"x,y\n1,2\n3,4\n5,6\n"),
    ])
    return tpb_grpc.TrainerServiceStub(channel).UploadDataset(requests, metadata=metadata, timeout=10)


def _train(channel: grpc.Channel, metadata: Metadata) -> object:
    spec = tpb.TrainingJobSpec(dataset="datasets/missing", target_column="y", model_type="linear_regression")
    stub = tpb_grpc.TrainerServiceStub(channel)
    return list(stub.Train(tpb.TrainRequest(spec=spec), metadata=metadata, timeout=10))


def _watch_job(channel: grpc.Channel, metadata: Metadata) -> object:
    request = tpb.WatchTrainingJobRequest(name="trainingJobs/missing")
    return list(tpb_grpc.TrainerServiceStub(channel).WatchTrainingJob(request, metadata=metadata, timeout=10))


def _watch_download(channel: grpc.Channel, metadata: Metadata) -> object:
    call = dpb_grpc.DownloaderServiceStub(channel).WatchDownloadStatus(
        dpb.WatchDownloadStatusRequest(), metadata=metadata, timeout=10
    )
    try:
        return next(call)
    finally:
        call.cancel()


def _unary(kind: str, method: str, request: object) -> Callable[[grpc.Channel, Metadata], object]:
    def call(channel: grpc.Channel, metadata: Metadata) -> object:
        stub_type = tpb_grpc.TrainerServiceStub if kind == "trainer" else dpb_grpc.DownloaderServiceStub
        return getattr(stub_type(channel), method)(request, metadata=metadata, timeout=10)

    return call


def _rpc(kind: str, name: str, shape: str, authorized: grpc.StatusCode, request: object = None,
         call: Callable[[grpc.Channel, Metadata], object] | None = None) -> Rpc:
    return Rpc(kind, name, shape, call or _unary(kind, name, request), authorized)


OK, NOT_FOUND, FAILED_PRECONDITION = (
    grpc.StatusCode.OK, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION
)
RPCS = [
    _rpc("trainer", "ListDatasets", "unary", OK, tpb.ListDatasetsRequest()),
    _rpc("trainer", "WatchTrainingJob", "server-stream", NOT_FOUND, call=_watch_job),
    _rpc("trainer", "DeleteDataset", "unary", NOT_FOUND, tpb.DeleteDatasetRequest(name="datasets/missing")),
    _rpc("trainer", "UploadDataset", "client-stream", OK, call=_upload),
    _rpc("trainer", "Train", "server-stream", NOT_FOUND, call=_train),
    _rpc("downloader", "GetDownloadStatus", "unary", OK, dpb.GetDownloadStatusRequest()),
    _rpc("downloader", "WatchDownloadStatus", "server-stream", OK, call=_watch_download),
    _rpc("downloader", "CancelDownload", "unary", FAILED_PRECONDITION, dpb.CancelDownloadRequest()),
    _rpc("downloader", "DeleteDownloadedModel", "unary", NOT_FOUND,
         dpb.DeleteDownloadedModelRequest(model_id="org/name")),
]


def _expected(rpc: Rpc, case: str) -> Outcome:
    if case == "none":
        return Outcome(grpc.StatusCode.UNAUTHENTICATED, "MISSING_TOKEN")
    if case in ("unknown", "not-bearer", "empty-bearer"):
        return Outcome(grpc.StatusCode.UNAUTHENTICATED, "INVALID_TOKEN")
    if case == "read" and rpc.scope is Scope.WRITE:
        return Outcome(grpc.StatusCode.PERMISSION_DENIED, "INSUFFICIENT_SCOPE")
    return Outcome(rpc.authorized)


@pytest.fixture(scope="module")
def token_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, InProcessServer]]:
    """Both servers, plaintext, with one read token and two write tokens."""
    tokens = AccessTokens(read=(READ_TOKEN,), write=(WRITE_TOKEN, OTHER_WRITE_TOKEN))
    servers = {
        kind: start_server(kind, tmp_path_factory.mktemp(f"tokens-{kind}"), ServerSecurity(tokens=tokens))
        for kind in ("trainer", "downloader")
    }
    yield servers
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="module")
def channels(token_servers: dict[str, InProcessServer]) -> Iterator[dict[str, grpc.Channel]]:
    """One plaintext channel per server."""
    opened = {kind: grpc.insecure_channel(server.address) for kind, server in token_servers.items()}
    yield opened
    for channel in opened.values():
        channel.close()


def test_every_rpc_in_the_matrix_is_classified_as_the_issue_says() -> None:
    shapes = {(rpc.kind, rpc.shape, rpc.scope) for rpc in RPCS}
    # unary and streaming, read and write, on both servers
    assert {("trainer", "unary", Scope.READ), ("trainer", "unary", Scope.WRITE),
            ("trainer", "server-stream", Scope.READ), ("trainer", "server-stream", Scope.WRITE),
            ("trainer", "client-stream", Scope.WRITE), ("downloader", "unary", Scope.READ),
            ("downloader", "unary", Scope.WRITE), ("downloader", "server-stream", Scope.READ)} <= shapes


@pytest.mark.parametrize("case", list(TOKEN_CASES))
@pytest.mark.parametrize("rpc", RPCS, ids=lambda rpc: f"{rpc.kind}-{rpc.name}")
def test_token_case(rpc: Rpc, case: str, channels: dict[str, grpc.Channel]) -> None:
    outcome = _outcome(lambda: rpc.call(channels[rpc.kind], TOKEN_CASES[case]))
    expected = _expected(rpc, case)
    if expected.reason:
        assert outcome == expected
    else:
        assert outcome.code is expected.code


def test_a_refused_write_runs_nothing(channels: dict[str, grpc.Channel]) -> None:
    channel = channels["trainer"]
    stub = tpb_grpc.TrainerServiceStub(channel)
    reader = _bearer(READ_TOKEN)

    def counts() -> tuple[int, int]:
        datasets = stub.ListDatasets(tpb.ListDatasetsRequest(page_size=1000), metadata=reader, timeout=10)
        jobs = stub.ListTrainingJobs(tpb.ListTrainingJobsRequest(page_size=1000), metadata=reader, timeout=10)
        return len(datasets.datasets), len(jobs.training_jobs)

    before = counts()
    assert _outcome(lambda: _upload(channel, reader)).code is grpc.StatusCode.PERMISSION_DENIED
    assert _outcome(lambda: _upload(channel, ())).code is grpc.StatusCode.UNAUTHENTICATED
    assert _outcome(lambda: _train(channel, reader)).code is grpc.StatusCode.PERMISSION_DENIED
    assert counts() == before


def test_permission_denied_names_the_scope_needed(channels: dict[str, grpc.Channel]) -> None:
    with pytest.raises(grpc.RpcError) as raised:
        dpb_grpc.DownloaderServiceStub(channels["downloader"]).StartDownload(
            dpb.StartDownloadRequest(model_id="org/name"), metadata=_bearer(READ_TOKEN), timeout=10
        )
    status = rpc_status.from_call(raised.value)  # type: ignore[arg-type]
    info = error_details_pb2.ErrorInfo()
    assert status is not None and status.details[0].Unpack(info)
    assert (info.reason, info.domain, dict(info.metadata)) == (
        "INSUFFICIENT_SCOPE", "downloader.mlsuite", {"required_scope": "write"},
    )


@pytest.mark.parametrize("kind", ["trainer", "downloader"])
def test_health_needs_no_token(kind: str, token_servers: dict[str, InProcessServer],
                               channels: dict[str, grpc.Channel]) -> None:
    health = health_pb2_grpc.HealthStub(channels[kind])
    for name in ("", token_servers[kind].service_name):
        assert health.Check(health_pb2.HealthCheckRequest(service=name), timeout=5).status == \
            health_pb2.HealthCheckResponse.SERVING
    listed = health.List(health_pb2.HealthListRequest(), timeout=5)
    assert set(listed.statuses) == {"", token_servers[kind].service_name}
    watch = health.Watch(health_pb2.HealthCheckRequest(service=""), timeout=5)
    assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
    watch.cancel()


@pytest.mark.parametrize("kind", ["trainer", "downloader"])
def test_reflection_needs_no_token(kind: str, token_servers: dict[str, InProcessServer],
                                   channels: dict[str, grpc.Channel]) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(channels[kind])
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    answers = stub.ServerReflectionInfo(iter([request]), timeout=5)
    names = {service.name for answer in answers for service in answer.list_services_response.service}
    assert token_servers[kind].service_name in names


def test_tokens_never_reach_the_log(
    channels: dict[str, grpc.Channel], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for metadata in (_bearer("guessed-secret-value"), _bearer(READ_TOKEN), _bearer(WRITE_TOKEN)):
        _outcome(lambda: _upload(channels["trainer"], metadata))  # noqa: B023 - called at once
        _outcome(lambda: _train(channels["trainer"], metadata))  # noqa: B023
    assert "UNAUTHENTICATED" in caplog.text and "PERMISSION_DENIED" in caplog.text
    for secret in ("guessed-secret-value", READ_TOKEN, WRITE_TOKEN):
        assert secret not in caplog.text


def test_scope_tables_cover_every_rpc() -> None:
    for table, descriptor in ((TRAINER_SCOPES, tpb.DESCRIPTOR.services_by_name["TrainerService"]),
                              (DOWNLOADER_SCOPES, dpb.DESCRIPTOR.services_by_name["DownloaderService"])):
        assert set(table) == {f"/{descriptor.full_name}/{method.name}" for method in descriptor.methods}
        for path, scope in table.items():
            method = path.rsplit("/", 1)[1]
            reads = method.startswith(("Get", "List", "Watch")) or method == "Predict"
            assert scope is (Scope.READ if reads else Scope.WRITE), path


@dataclass(frozen=True)
class _CallDetails:
    method: str
    invocation_metadata: Metadata


def test_unlisted_methods_need_a_write_token() -> None:
    """A method missing from the table (say, a new RPC) defaults to write; health stays open."""
    interceptor = TokenAuthInterceptor(AccessTokens(read=(READ_TOKEN,)), {}, "test.mlsuite")
    handler = grpc.unary_unary_rpc_method_handler(lambda request, context: request)
    future = _CallDetails("/mlsuite.trainer.v1.TrainerService/FutureRpc", _bearer(READ_TOKEN))
    lookup = lambda details: handler  # noqa: E731
    assert interceptor.intercept_service(lookup, future) is not handler  # type: ignore[arg-type]
    health = _CallDetails("/grpc.health.v1.Health/Check", ())
    assert interceptor.intercept_service(lookup, health) is handler  # type: ignore[arg-type]
