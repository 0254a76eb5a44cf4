"""TLS and mutual TLS on both servers: who can connect with which certificates."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from mlsuite.downloader.v1 import downloader_service_pb2 as downloader_pb
from mlsuite.trainer.v1 import trainer_service_pb2 as trainer_pb

from mlsuite_common.security import ServerSecurity, TlsFiles
from tests.integration.security._servers import KINDS, InProcessServer, start_server
from tests.support.certs import Pki


def _serve(kind: str, directory: Path, pki: Pki, *, mutual: bool) -> InProcessServer:
    tls = TlsFiles(pki.server_cert, pki.server_key, pki.ca if mutual else None)
    return start_server(kind, directory, ServerSecurity(tls=tls))


@pytest.fixture(scope="module", params=KINDS)
def tls_server(
    request: pytest.FixtureRequest, pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessServer]:
    """A server of each kind with server-side TLS."""
    running = _serve(request.param, tmp_path_factory.mktemp(f"tls-{request.param}"), pki, mutual=False)
    yield running
    running.stop()


@pytest.fixture(scope="module", params=KINDS)
def mtls_server(
    request: pytest.FixtureRequest, pki: Pki, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[InProcessServer]:
    """A server of each kind that requires a client certificate signed by the test CA."""
    running = _serve(request.param, tmp_path_factory.mktemp(f"mtls-{request.param}"), pki, mutual=True)
    yield running
    running.stop()


def _credentials(ca: Path, cert: Path | None = None, key: Path | None = None) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=ca.read_bytes(),
        private_key=key.read_bytes() if key else None,
        certificate_chain=cert.read_bytes() if cert else None,
    )


def _check(channel: grpc.Channel) -> int:
    response = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5)
    return response.status


def _read_rpc(server: InProcessServer, channel: grpc.Channel) -> None:
    """A read call of the server's own service, to show TLS carries real traffic, not just health."""
    stub = server.stub(channel)
    if server.kind == "trainer":
        stub.ListDatasets(trainer_pb.ListDatasetsRequest(), timeout=5)
    else:
        stub.GetDownloadStatus(downloader_pb.GetDownloadStatusRequest(), timeout=5)


def _refused(channel: grpc.Channel) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as raised:
        _check(channel)
    return raised.value.code()


def test_tls_with_the_right_ca_works(tls_server: InProcessServer, pki: Pki) -> None:
    with grpc.secure_channel(tls_server.address, _credentials(pki.ca)) as channel:
        assert _check(channel) == health_pb2.HealthCheckResponse.SERVING
        _read_rpc(tls_server, channel)


def test_tls_by_host_name_works(tls_server: InProcessServer, pki: Pki) -> None:
    with grpc.secure_channel(f"localhost:{tls_server.port}", _credentials(pki.ca)) as channel:
        assert _check(channel) == health_pb2.HealthCheckResponse.SERVING


def test_a_plaintext_client_cannot_talk_to_a_tls_server(tls_server: InProcessServer) -> None:
    with grpc.insecure_channel(tls_server.address) as channel:
        assert _refused(channel) is grpc.StatusCode.UNAVAILABLE


def test_trusting_the_wrong_ca_fails(tls_server: InProcessServer, pki: Pki) -> None:
    with grpc.secure_channel(tls_server.address, _credentials(pki.other_ca)) as channel:
        assert _refused(channel) is grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_without_a_client_certificate_fails(mtls_server: InProcessServer, pki: Pki) -> None:
    with grpc.secure_channel(mtls_server.address, _credentials(pki.ca)) as channel:
        assert _refused(channel) is grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_with_a_certificate_from_another_ca_fails(mtls_server: InProcessServer, pki: Pki) -> None:
    credentials = _credentials(pki.ca, pki.stranger_cert, pki.stranger_key)
    with grpc.secure_channel(mtls_server.address, credentials) as channel:
        assert _refused(channel) is grpc.StatusCode.UNAVAILABLE


def test_mutual_tls_with_a_client_certificate_works(mtls_server: InProcessServer, pki: Pki) -> None:
    credentials = _credentials(pki.ca, pki.client_cert, pki.client_key)
    with grpc.secure_channel(mtls_server.address, credentials) as channel:
        assert _check(channel) == health_pb2.HealthCheckResponse.SERVING
        _read_rpc(mtls_server, channel)
