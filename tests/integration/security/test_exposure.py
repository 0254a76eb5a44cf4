"""The exposure guard: a non-loopback address needs TLS, tokens or an explicit --insecure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from mlsuite.downloader.v1 import downloader_service_pb2 as dpb
from mlsuite.downloader.v1 import downloader_service_pb2_grpc as dpb_grpc

from mlsuite_common.lifecycle import ServerOptions, create_server
from mlsuite_common.security import AccessTokens, InsecureBindError, ServerSecurity, is_loopback
from tests.support.certs import Pki
from tests.support.processes import ServerProcess, start_server_process

MODULES = {"trainer": "trainer_service", "downloader": "downloader_service"}


def _dir_args(kind: str, tmp_path: Path) -> list[str]:
    if kind == "trainer":
        return ["--data-dir", str(tmp_path / "trainer")]
    return ["--cache-dir", str(tmp_path / "cache"), "--hub-endpoint", "http://127.0.0.1:9"]


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("MLSUITE_")}


def _get_status(channel: grpc.Channel) -> None:
    dpb_grpc.DownloaderServiceStub(channel).GetDownloadStatus(dpb.GetDownloadStatusRequest(), timeout=10)


def _local(process: ServerProcess) -> str:
    return "127.0.0.1:" + process.address.rsplit(":", 1)[1]


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LOCALHOST"])
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::]", "", "10.1.2.3", "192.168.0.1", "trainer.internal"])
def test_reachable_addresses(host: str) -> None:
    assert not is_loopback(host)


@pytest.mark.parametrize("kind", ["trainer", "downloader"])
def test_an_unprotected_public_bind_exits_2(kind: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", MODULES[kind], "--host", "0.0.0.0", "--port", "0", *_dir_args(kind, tmp_path)],
        capture_output=True, text=True, timeout=60, env=_clean_env(),
    )
    assert result.returncode == 2
    assert "refusing to serve on 0.0.0.0 without TLS or tokens" in result.stderr
    assert "--insecure" in result.stderr
    assert "listening" not in result.stdout


def test_create_server_refuses_too() -> None:
    options = ServerOptions(host="0.0.0.0", port=0)
    with pytest.raises(InsecureBindError):
        create_server(options, [], lambda server: None, [])
    tokens = ServerOptions(host="0.0.0.0", port=0, security=ServerSecurity(tokens=AccessTokens(write=("t",))))
    server, port, _ = create_server(tokens, [], lambda server: None, [])
    assert port > 0
    server.stop(0)


def test_insecure_lets_the_downloader_bind_all_interfaces(tmp_path: Path) -> None:
    process = start_server_process(
        "downloader_service", ["--host", "0.0.0.0", "--insecure", *_dir_args("downloader", tmp_path)],
        env=_clean_env(),
    )
    try:
        assert process.address.startswith("0.0.0.0:")
        with grpc.insecure_channel(_local(process)) as channel:
            _get_status(channel)
    finally:
        assert process.terminate() == 0


@pytest.mark.parametrize("kind", ["trainer", "downloader"])
def test_tokens_let_a_server_bind_all_interfaces(kind: str, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("# scope token\nread public-reader-1\nwrite public-writer-1\n")
    env = {**_clean_env(), "MLSUITE_READ_TOKENS": "env-reader-1,env-reader-2"}
    process = start_server_process(
        MODULES[kind], ["--host", "0.0.0.0", "--tokens-file", str(tokens), *_dir_args(kind, tmp_path)],
        env=env,
    )
    try:
        with grpc.insecure_channel(_local(process)) as channel:
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            if kind == "downloader":
                stub = dpb_grpc.DownloaderServiceStub(channel)
                for token in ("env-reader-2", "public-reader-1", "public-writer-1"):
                    stub.GetDownloadStatus(dpb.GetDownloadStatusRequest(), timeout=10,
                                           metadata=(("authorization", f"Bearer {token}"),))
                with pytest.raises(grpc.RpcError) as raised:
                    stub.GetDownloadStatus(dpb.GetDownloadStatusRequest(), timeout=10)
                assert raised.value.code() is grpc.StatusCode.UNAUTHENTICATED  # type: ignore[attr-defined]
    finally:
        assert process.terminate() == 0


def test_tls_from_the_environment_lets_the_downloader_bind_all_interfaces(tmp_path: Path, pki: Pki) -> None:
    env = {**_clean_env(), "MLSUITE_TLS_CERT": str(pki.server_cert), "MLSUITE_TLS_KEY": str(pki.server_key),
           "MLSUITE_TLS_CLIENT_CA": str(pki.ca)}
    args = ["--host", "0.0.0.0", *_dir_args("downloader", tmp_path)]
    process = start_server_process("downloader_service", args, env=env)
    try:
        credentials = grpc.ssl_channel_credentials(pki.ca.read_bytes(), pki.client_key.read_bytes(),
                                                   pki.client_cert.read_bytes())
        with grpc.secure_channel(_local(process), credentials) as channel:
            _get_status(channel)
        no_client_cert = grpc.ssl_channel_credentials(pki.ca.read_bytes())
        with grpc.secure_channel(_local(process), no_client_cert) as channel, pytest.raises(grpc.RpcError):
            _get_status(channel)
    finally:
        assert process.terminate() == 0
