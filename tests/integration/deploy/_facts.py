"""What the servers really are, read from their code: console scripts, flags and their environment variables,
defaults, service names, RPCs and token scopes. The manifest tests compare deploy/ against these."""

from __future__ import annotations

import argparse
import importlib
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

from mlsuite.downloader.v1 import downloader_service_pb2
from mlsuite.trainer.v1 import trainer_service_pb2

from mlsuite_common.lifecycle import ServerOptions

__all__ = ["ROOT", "Effective", "ServerFacts", "SERVERS", "console_scripts", "project"]

ROOT = Path(__file__).resolve().parents[3]
_ENV_HELP = re.compile(r"\(env ([^;)]+)[;)]")
# Variables the servers' flags may read: resetting them isolates a simulated container from this process.
_ISOLATED_PREFIXES = ("MLSUITE_", "GPU_", "HF_")


@cache
def project() -> dict[str, Any]:
    """pyproject.toml."""
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def console_scripts() -> dict[str, str]:
    """Console script name -> "module:function" from pyproject.toml."""
    return dict(project()["project"]["scripts"])


class _Parsed(Exception):
    def __init__(self, parser: argparse.ArgumentParser) -> None:
        super().__init__("parser captured")
        self.parser = parser


def _parser_of(parse_config: Callable[[Sequence[str]], object]) -> argparse.ArgumentParser:
    """The argparse parser a parse_config builds, caught at its parse_args call."""

    def capture(self: argparse.ArgumentParser, *_args: object, **_kwargs: object) -> None:
        raise _Parsed(self)

    with mock.patch.object(argparse.ArgumentParser, "parse_args", capture):
        try:
            parse_config([])
        except _Parsed as parsed:
            return parsed.parser
    raise AssertionError(f"{parse_config.__module__}.parse_config never called parse_args")


@contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    """os.environ with only `env` among the variables flags read; restored afterwards."""
    with mock.patch.dict(os.environ):
        for key in [k for k in os.environ if k.startswith(_ISOLATED_PREFIXES)]:
            del os.environ[key]
        os.environ.update(env)
        yield


@dataclass(frozen=True)
class Effective:
    """The configuration a server starts with under some command line and environment."""

    options: ServerOptions
    state_dir: Path
    heartbeat_seconds: float
    max_upload_bytes: int | None
    metrics_port: int  # -1: no metrics endpoint


@dataclass(frozen=True)
class ServerFacts:
    """One server as its code defines it."""

    key: str
    main: str  # the console scripts' target, "package.__main__:main"
    proto: ModuleType
    service_short_name: str
    config_module: str
    server_module: str
    options_of: Callable[[Any], ServerOptions]
    state_dir_of: Callable[[Any], Path]

    @property
    def service(self) -> str:
        """Full service name, e.g. mlsuite.trainer.v1.TrainerService."""
        return self.proto.DESCRIPTOR.services_by_name[self.service_short_name].full_name

    @property
    def method_paths(self) -> frozenset[str]:
        """Every RPC as an HTTP/2 path, /package.Service/Method."""
        methods = self.proto.DESCRIPTOR.services_by_name[self.service_short_name].methods
        return frozenset(f"/{self.service}/{m.name}" for m in methods)

    @property
    def streaming_paths(self) -> frozenset[str]:
        """RPCs whose response or request is a stream."""
        methods = self.proto.DESCRIPTOR.services_by_name[self.service_short_name].methods
        streams = [m for m in methods if m.server_streaming or m.client_streaming]
        return frozenset(f"/{self.service}/{m.name}" for m in streams)

    def scopes(self) -> Mapping[str, Any]:
        """The token scope (mlsuite_common.security.Scope) each RPC path needs, as the server enforces it."""
        return importlib.import_module(self.server_module).METHOD_SCOPES

    def _parse_config(self) -> Callable[[Sequence[str]], Any]:
        return importlib.import_module(self.config_module).parse_config

    def env_names(self) -> frozenset[str]:
        """Every environment variable a flag of this server reads (as its --help lists them)."""
        names: set[str] = set()
        for action in _parser_of(self._parse_config())._actions:
            match = _ENV_HELP.search(action.help or "")
            if action.option_strings and match:
                names.update(name.strip() for name in match.group(1).split("/"))
        return frozenset(names)

    def resolve(self, argv: Sequence[str], env: Mapping[str, str]) -> Effective:
        """parse_config(argv) with exactly `env` set, as the process in a container would run it."""
        with _environment(env):
            try:
                config = self._parse_config()(list(argv))
            except SystemExit as exc:
                raise AssertionError(f"{self.key} rejects argv={list(argv)} env={dict(env)}") from exc
        return Effective(
            options=self.options_of(config),
            state_dir=self.state_dir_of(config),
            heartbeat_seconds=config.heartbeat_seconds,
            max_upload_bytes=getattr(config, "max_upload_bytes", None),
            metrics_port=config.observability.metrics_port,
        )

    def defaults(self) -> Effective:
        """The configuration with no flags and no environment."""
        return self.resolve([], {})

    def accepts(self, argv: Sequence[str]) -> bool:
        """Whether parse_config takes these flags (argparse exits on a usage error)."""
        try:
            self.resolve(argv, {})
        except AssertionError:
            return False
        return True


SERVERS: dict[str, ServerFacts] = {
    "trainer": ServerFacts(
        key="trainer",
        main="trainer_service.__main__:main",
        proto=trainer_service_pb2,
        service_short_name="TrainerService",
        config_module="trainer_service.config",
        server_module="trainer_service.server",
        options_of=lambda config: config.server,
        state_dir_of=lambda config: config.data_dir,
    ),
    "downloader": ServerFacts(
        key="downloader",
        main="downloader_service.__main__:main",
        proto=downloader_service_pb2,
        service_short_name="DownloaderService",
        config_module="downloader_service.config",
        server_module="downloader_service.server",
        options_of=lambda config: config.server_options(),
        state_dir_of=lambda config: config.cache_dir,
    ),
}
"""The two servers; a manifest's command picks one through its console script."""
