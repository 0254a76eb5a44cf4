"""Server flags and their MLSUITE_ environment fallbacks."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from downloader_service.config import Config, parse_config, parse_size


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HF_ENDPOINT", "HF_TOKEN", "MLSUITE_PORT", "MLSUITE_CACHE_DIR", "MLSUITE_HUB_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    config = parse_config([], environ={})
    assert (config.host, config.port) == ("127.0.0.1", 50052)
    assert config.cache_dir == Path("~/.cache/mlsuite/hub").expanduser().resolve()
    assert config.hub_endpoint == "https://huggingface.co"
    assert config.max_download_bytes == 20 * 1024**3
    assert config.allow_pickle_weights is False and config.heartbeat_seconds == 10.0
    assert config.hub_token is None
    assert config.server_options().max_workers == 256


def test_flags(tmp_path: Path) -> None:
    config = parse_config(
        [
            "--host",
            "0.0.0.0",
            "--port",
            "0",
            "--cache-dir",
            str(tmp_path),
            "--hub-endpoint",
            "http://hub:8080/",
            "--max-download-bytes",
            "2GiB",
            "--allow-pickle-weights",
            "--log-level",
            "debug",
            "--heartbeat-seconds",
            "2.5",
            "--max-workers",
            "32",
        ],
        environ={},
    )
    assert (config.host, config.port, config.cache_dir) == ("0.0.0.0", 0, tmp_path.resolve())
    assert config.hub_endpoint == "http://hub:8080"
    assert config.max_download_bytes == 2 * 1024**3
    assert config.allow_pickle_weights is True and config.log_level == "DEBUG"
    assert config.heartbeat_seconds == 2.5
    assert config.server_options().max_workers == 32 and config.server_options().stream_limit() == 24


def test_environment_fallbacks(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MLSUITE_PORT", "6000")
    monkeypatch.setenv("MLSUITE_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("HF_ENDPOINT", "http://mirror.local")
    monkeypatch.setenv("MLSUITE_ALLOW_PICKLE_WEIGHTS", "true")
    monkeypatch.setenv("MLSUITE_MAX_DOWNLOAD_BYTES", "500MB")
    config = parse_config([], environ={"HF_TOKEN": "hf_secret_value"})
    assert (config.port, config.cache_dir, config.hub_endpoint) == (
        6000,
        tmp_path.resolve(),
        "http://mirror.local",
    )
    assert config.allow_pickle_weights is True and config.max_download_bytes == 500_000_000
    assert config.hub_token == "hf_secret_value"
    assert "hf_secret_value" not in repr(config)
    assert parse_config(["--port", "7000"], environ={}).port == 7000  # a flag beats the environment


def test_heartbeat_is_bounded() -> None:
    with pytest.raises(SystemExit):
        parse_config(["--heartbeat-seconds", "16"], environ={})
    with pytest.raises(SystemExit):
        parse_config(["--heartbeat-seconds", "0"], environ={})


@pytest.mark.parametrize(
    ("text", "size"),
    [("123", 123), ("20GiB", 20 * 1024**3), ("1.5 KiB", 1536), ("500MB", 500_000_000), ("7b", 7)],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "lots", "5 parsecs", "-1"])
def test_parse_size_rejects(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_size(text)


def test_server_options() -> None:
    options = Config(host="0.0.0.0", port=0, grace_seconds=3).server_options()
    assert (options.host, options.port, options.grace_seconds) == ("0.0.0.0", 0, 3)


@pytest.mark.parametrize(
    "endpoint",
    ["https://user:pa/ss@hub.example/", "https://user:p#w@hub.example", "ftp://hub.example", "https://", "http://hub:99999x"],
)
def test_a_hub_endpoint_that_reaches_no_hub_is_a_usage_error(endpoint: str) -> None:
    with pytest.raises(SystemExit) as usage:
        parse_config(["--hub-endpoint", endpoint], environ={})
    assert usage.value.code == 2
    ok = parse_config(["--hub-endpoint", "https://user:pa%2Fss@hub.example:8443/mirror"], environ={})
    assert ok.hub_endpoint == "https://user:pa%2Fss@hub.example:8443/mirror"
