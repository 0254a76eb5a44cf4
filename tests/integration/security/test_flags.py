"""The security and connection flags both servers share, their environment variables and their checks."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from downloader_service.config import parse_config as parse_downloader
from mlsuite_common.lifecycle import MIN_MESSAGE_BYTES, ConnectionSettings, ServerOptions
from mlsuite_common.security import ServerSecurity
from tests.support.certs import Pki
from trainer_service.config import parse_config as parse_trainer

SECRET = "s3cret-token-value"


def _trainer(argv: list[str]) -> tuple[ConnectionSettings, ServerSecurity, str]:
    config = parse_trainer(argv)
    return config.server.connection, config.server.security, repr(config)


def _downloader(argv: list[str]) -> tuple[ConnectionSettings, ServerSecurity, str]:
    config = parse_downloader(argv, environ={})
    options = config.server_options()
    return options.connection, options.security, repr(config)


PARSERS: dict[str, Callable[[list[str]], tuple[ConnectionSettings, ServerSecurity, str]]] = {
    "trainer": _trainer,
    "downloader": _downloader,
}


@pytest.fixture(autouse=True)
def _no_mlsuite_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("MLSUITE_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize("kind", PARSERS)
def test_defaults(kind: str) -> None:
    connection, security, _ = PARSERS[kind]([])
    assert connection == ConnectionSettings()
    assert (connection.keepalive_time_seconds, connection.keepalive_timeout_seconds) == (30.0, 10.0)
    assert (connection.max_connection_age_seconds, connection.max_connection_age_grace_seconds) == (0.0, 30.0)
    assert (connection.max_concurrent_streams, connection.max_concurrent_rpcs) == (100, 256)
    assert connection.max_message_bytes == 16 * 1024 * 1024 > MIN_MESSAGE_BYTES > 1024 * 1024
    assert security == ServerSecurity()


@pytest.mark.parametrize("kind", PARSERS)
def test_connection_flags(kind: str) -> None:
    connection, _, _ = PARSERS[kind]([
        "--keepalive-time-seconds", "45", "--keepalive-timeout-seconds", "5",
        "--max-connection-age-seconds", "600", "--max-connection-age-grace-seconds", "20",
        "--max-concurrent-streams", "50", "--max-concurrent-rpcs", "70",
        "--max-message-bytes", str(4 * 1024 * 1024),
    ])
    assert connection == ConnectionSettings(45, 5, 600, 20, 50, 70, 4 * 1024 * 1024)
    options = dict(ServerOptions(connection=connection).channel_options())
    assert options["grpc.keepalive_time_ms"] == 45_000
    assert options["grpc.max_connection_age_ms"] == 600_000
    assert options["grpc.max_connection_age_grace_ms"] == 20_000
    assert options["grpc.max_concurrent_streams"] == 50
    assert options["grpc.max_receive_message_length"] == 4 * 1024 * 1024
    assert options["grpc.max_send_message_length"] == 4 * 1024 * 1024
    assert options["grpc.keepalive_permit_without_calls"] == 1
    assert options["grpc.http2.min_ping_interval_without_data_ms"] <= 30_000  # the client library's interval


def test_unlimited_connection_age_sets_no_option() -> None:
    assert "grpc.max_connection_age_ms" not in dict(ConnectionSettings().channel_options())


@pytest.mark.parametrize("kind", PARSERS)
def test_connection_flags_from_the_environment(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLSUITE_MAX_CONCURRENT_RPCS", "9")
    monkeypatch.setenv("MLSUITE_KEEPALIVE_TIME_SECONDS", "12.5")
    connection, _, _ = PARSERS[kind]([])
    assert (connection.max_concurrent_rpcs, connection.keepalive_time_seconds) == (9, 12.5)


@pytest.mark.parametrize("kind", PARSERS)
@pytest.mark.parametrize(
    "argv",
    [
        ["--max-message-bytes", str(1024 * 1024)],  # would not fit a 1 MiB upload chunk
        ["--max-concurrent-rpcs", "0"],
        ["--max-concurrent-streams", "0"],
        ["--keepalive-time-seconds", "0"],
        ["--max-connection-age-seconds", "-1"],
        # Before, these passed and then overflowed grpc's millisecond options (a traceback at start).
        ["--keepalive-time-seconds", "1e300"],
        ["--keepalive-time-seconds", "3e6"],  # beyond grpc's 32-bit milliseconds
        ["--max-connection-age-seconds", "2147484"],
        ["--keepalive-timeout-seconds", "nan"],
        ["--max-connection-age-grace-seconds", "inf"],
        ["--metrics-port", "70000"],
        ["--metrics-port", "-2"],
    ],
)
def test_bad_connection_values_are_usage_errors(kind: str, argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        PARSERS[kind](argv)
    assert exited.value.code == 2


@pytest.mark.parametrize(
    "argv",
    [
        # Before: --port 99999 listened on a random port, -5 on 65531; inf grace overflowed at shutdown.
        ["--port", "99999"],
        ["--port", "-5"],
        ["--grace-seconds", "inf"],
        ["--grace-seconds", "-1"],
        ["--heartbeat-seconds", "nan"],
        ["--heartbeat-seconds", "16"],
        ["--torch-threads", "-2"],
    ],
)
def test_bad_trainer_values_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_trainer(argv)
    assert exited.value.code == 2


@pytest.mark.parametrize(
    "argv",
    [
        ["--port", "99999"],
        ["--port", "-5"],
        ["--heartbeat-seconds", "nan"],  # before: accepted (nan <= 0 is false), while the trainer refused it
        ["--grace-seconds", "inf"],
        ["--hub-timeout-seconds", "1e300"],
    ],
)
def test_bad_downloader_values_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_downloader(argv, environ={})
    assert exited.value.code == 2


@pytest.mark.parametrize("kind", PARSERS)
def test_tokens_from_flags_environment_and_file(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(f"# comment\n\nread file-reader\nWRITE {SECRET}\n")
    monkeypatch.setenv("MLSUITE_WRITE_TOKENS", "env-writer")
    _, security, shown = PARSERS[kind](["--read-tokens", "a, b,,", "--tokens-file", str(tokens_file)])
    assert security.tokens.read == ("a", "b", "file-reader")
    assert security.tokens.write == ("env-writer", SECRET)
    assert SECRET not in shown and "env-writer" not in shown


@pytest.mark.parametrize("kind", PARSERS)
def test_a_bad_tokens_file_never_prints_its_secret(
    kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tokens_file = tmp_path / "tokens"
    tokens_file.write_text(f"admin {SECRET}\n")
    with pytest.raises(SystemExit) as exited:
        PARSERS[kind](["--tokens-file", str(tokens_file)])
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "line 1" in err and SECRET not in err


@pytest.mark.parametrize("kind", PARSERS)
def test_tls_flags(kind: str, pki: Pki) -> None:
    _, security, _ = PARSERS[kind](["--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key)])
    assert security.tls is not None and not security.tls.mutual
    _, security, _ = PARSERS[kind]([
        "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key), "--tls-client-ca", str(pki.ca),
    ])
    assert security.tls is not None and security.tls.mutual and security.tls.client_ca == pki.ca


@pytest.mark.parametrize("kind", PARSERS)
@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tls-cert", "{cert}"], "--tls-cert and --tls-key go together"),
        (["--tls-client-ca", "{ca}"], "needs --tls-cert and --tls-key"),
        (["--tls-cert", "{cert}", "--tls-key", "/no/such.key"], "no such file"),
        (["--tokens-file", "/no/such/tokens"], "tokens:"),
        # A key of another certificate, or a file that is no PEM: grpc only said "Failed to bind" (traceback).
        (["--tls-cert", "{cert}", "--tls-key", "{client_key}"], "not a certificate chain and its matching key"),
        (["--tls-cert", "{ca_dir}/not.pem", "--tls-key", "{key}"], "not a certificate chain and its matching key"),
        (["--tls-cert", "{cert}", "--tls-key", "{key}", "--tls-client-ca", "{ca_dir}/not.pem"],
         "--tls-client-ca: not a PEM CA bundle"),
    ],
)
def test_bad_security_flags_are_usage_errors(
    kind: str, argv: list[str], message: str, pki: Pki, capsys: pytest.CaptureFixture[str]
) -> None:
    (pki.ca.parent / "not.pem").write_text("not a certificate\n")
    filled = [a.format(cert=pki.server_cert, ca=pki.ca, key=pki.server_key, client_key=pki.client_key,
                       ca_dir=pki.ca.parent) for a in argv]
    with pytest.raises(SystemExit) as exited:
        PARSERS[kind](filled)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("kind", PARSERS)
@pytest.mark.parametrize(
    ("name", "value"),
    [("MLSUITE_MAX_WORKERS", "abc"), ("MLSUITE_INSECURE", "maybe"), ("MLSUITE_KEEPALIVE_TIME_SECONDS", "-1")],
)
def test_a_bad_environment_value_is_a_usage_error_naming_the_variable(
    kind: str, name: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(name, value)  # a traceback and exit 1 before; the same value as a flag exits 2
    with pytest.raises(SystemExit) as exited:
        PARSERS[kind]([])
    assert exited.value.code == 2 and f"{name}={value!r}" in capsys.readouterr().err
