"""The Python client library and the `mlsuite` CLI over TLS (and mutual TLS) with bearer tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlsuite_client.channel import Credentials, current_credentials
from mlsuite_client.cli import main as cli_main
from mlsuite_client.downloader import DownloaderClient
from mlsuite_client.errors import PermissionDeniedError, UnauthenticatedError, UnavailableError
from mlsuite_client.trainer import TrainerClient
from mlsuite_common.security import AccessTokens, ServerSecurity, TlsFiles
from tests.integration.security._servers import InProcessServer, start_server
from tests.support.certs import Pki

READ_TOKEN = "cli-reader-5c2e"
WRITE_TOKEN = "cli-writer-8a1f"
CSV = b"x,y\n1,2\n2,4\n3,6\n4,8\n"


@pytest.fixture(scope="module")
def secured(pki: Pki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, InProcessServer]]:
    """Both servers with mutual TLS and tokens."""
    security = ServerSecurity(
        tls=TlsFiles(pki.server_cert, pki.server_key, pki.ca),
        tokens=AccessTokens(read=(READ_TOKEN,), write=(WRITE_TOKEN,)),
    )
    servers = {kind: start_server(kind, tmp_path_factory.mktemp(f"cli-{kind}"), security)
               for kind in ("trainer", "downloader")}
    yield servers
    for server in servers.values():
        server.stop()


def _credentials(pki: Pki, token: str | None) -> Credentials:
    return Credentials(ca_file=pki.ca, cert_file=pki.client_cert, key_file=pki.client_key, token=token)


def test_python_clients_over_mutual_tls_with_a_write_token(
    secured: dict[str, InProcessServer], pki: Pki, tmp_path: Path
) -> None:
    path = tmp_path / "line.csv"
    path.write_bytes(CSV)
    credentials = _credentials(pki, WRITE_TOKEN)
    with TrainerClient(secured["trainer"].address, credentials=credentials, timeout=10) as trainer:
        dataset = trainer.upload_dataset(path)
        assert dataset.row_count == 4
        assert trainer.get_dataset(dataset.name).sha256 == dataset.sha256
        assert any(t.id == "linear_regression" for t in trainer.list_model_types())
        trainer.delete_dataset(dataset)
    with DownloaderClient(secured["downloader"].address, credentials=credentials, timeout=10) as downloader:
        assert not downloader.get_status().is_downloading
        assert list(downloader.list_models()) == []


def test_python_client_errors_for_missing_wrong_and_read_tokens(
    secured: dict[str, InProcessServer], pki: Pki
) -> None:
    address = secured["trainer"].address
    with TrainerClient(address, credentials=_credentials(pki, None)) as anonymous, \
            pytest.raises(UnauthenticatedError) as missing:
        anonymous.list_datasets()
    assert missing.value.reason == "MISSING_TOKEN"
    with TrainerClient(address, credentials=_credentials(pki, "wrong-token")) as wrong, \
            pytest.raises(UnauthenticatedError) as invalid:
        wrong.list_datasets()
    assert invalid.value.reason == "INVALID_TOKEN"
    with TrainerClient(address, credentials=_credentials(pki, READ_TOKEN)) as reader:
        assert reader.list_datasets().items == ()
        with pytest.raises(PermissionDeniedError) as denied:
            reader.delete_dataset("datasets/anything")
    assert denied.value.reason == "INSUFFICIENT_SCOPE"


def test_python_client_without_a_client_certificate_cannot_connect(
    secured: dict[str, InProcessServer], pki: Pki
) -> None:
    credentials = Credentials(ca_file=pki.ca, token=WRITE_TOKEN)
    with DownloaderClient(secured["downloader"].address, credentials=credentials, timeout=5) as downloader, \
            pytest.raises(UnavailableError):
        downloader.get_status()


def _cli(pki: Pki, secured: dict[str, InProcessServer], *args: str) -> int:
    return cli_main([
        "--trainer", secured["trainer"].address, "--downloader", secured["downloader"].address,
        "--timeout", "10",
        "--tls-ca", str(pki.ca), "--tls-cert", str(pki.client_cert), "--tls-key", str(pki.client_key), *args,
    ])


def test_cli_over_mutual_tls_with_a_token_flag(
    secured: dict[str, InProcessServer], pki: Pki, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "cli.csv"
    path.write_bytes(CSV)
    assert _cli(pki, secured, "--token", WRITE_TOKEN, "datasets", "upload", str(path), "--quiet") == 0
    name = capsys.readouterr().out.strip()
    assert name.startswith("datasets/")
    assert _cli(pki, secured, "--token", READ_TOKEN, "datasets", "list") == 0
    assert name.split("/")[1][:8] in capsys.readouterr().out
    assert _cli(pki, secured, "--token", READ_TOKEN, "download", "status") == 0
    assert "IDLE" in capsys.readouterr().out
    assert _cli(pki, secured, "--token", READ_TOKEN, "datasets", "delete", name) == 1
    assert "PERMISSION_DENIED" in capsys.readouterr().err
    assert current_credentials() == Credentials()  # the CLI's credentials do not outlive the command


def test_cli_reads_the_token_from_the_environment(
    secured: dict[str, InProcessServer],
    pki: Pki,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MLSUITE_TOKEN", READ_TOKEN)
    assert _cli(pki, secured, "download", "list") == 0
    monkeypatch.setenv("MLSUITE_TOKEN", "not-the-token")
    assert _cli(pki, secured, "download", "list") == 1
    err = capsys.readouterr().err
    assert "UNAUTHENTICATED" in err and "not-the-token" not in err


def test_cli_without_a_token_is_unauthenticated(
    secured: dict[str, InProcessServer],
    pki: Pki,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("MLSUITE_TOKEN", raising=False)
    assert _cli(pki, secured, "datasets", "list") == 1
    assert "MISSING_TOKEN" in capsys.readouterr().err
