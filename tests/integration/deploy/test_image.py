"""deploy/Dockerfile against pyproject.toml and the servers, and the image's health-check script against a
real gRPC health service. No Docker engine is needed."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from concurrent import futures
from fnmatch import fnmatch
from pathlib import PurePosixPath

import grpc
import pytest
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from tests.integration.deploy._facts import ROOT, SERVERS, console_scripts, project
from tests.integration.deploy._manifests import DEPLOY, compose, dockerfile

HEALTHCHECK = DEPLOY / "healthcheck.py"


def copies() -> list[tuple[list[str], str]]:
    """(sources, destination) of every COPY without --from (what the build context must provide)."""
    found = []
    for rest in dockerfile().all("COPY"):
        parts = rest.split()
        if any(p.startswith("--from") for p in parts):
            continue
        parts = [p for p in parts if not p.startswith("--")]
        found.append((parts[:-1], parts[-1]))
    return found


def test_commands_are_the_real_console_scripts() -> None:
    scripts = console_scripts()
    cmd = dockerfile().exec_form("CMD") or []
    entrypoint = dockerfile().exec_form("ENTRYPOINT") or []
    command = [*entrypoint, *cmd]
    assert command and command[0] in scripts
    mentioned = set(re.findall(r"\bmlsuite-[a-z]+\b", dockerfile().text))
    assert mentioned <= set(scripts), f"not console scripts: {sorted(mentioned - set(scripts))}"
    mains = {s.main for s in SERVERS.values()}
    server_scripts = {name for name, target in scripts.items() if target in mains}
    assert server_scripts == {"mlsuite-trainer", "mlsuite-downloader"} and server_scripts <= mentioned


def test_image_runs_as_a_non_root_user_and_exposes_the_default_ports() -> None:
    final = dockerfile().final_stage()
    user = final.all("USER")[-1].split(":")[0]
    assert user.isdigit() and int(user) != 0  # numeric, so runAsNonRoot can verify it
    exposed = {int(port) for rest in final.all("EXPOSE") for port in rest.split()}
    assert exposed == {facts.defaults().options.port for facts in SERVERS.values()}


def test_torch_build_arguments_match_the_project() -> None:
    args = dockerfile().args()
    (torch,) = [d for d in project()["project"]["dependencies"] if re.match(r"torch\b", d)]
    assert args["TORCH_SPEC"] == torch
    assert args["TORCH_INDEX_URL"].rstrip("/").endswith("/whl/cpu")
    assert any("${TORCH_INDEX_URL}" in run and "${TORCH_SPEC}" in run for run in dockerfile().all("RUN"))


def test_build_context_holds_every_package_and_file_the_wheel_needs() -> None:
    sources = {PurePosixPath(s.rstrip("/")) for parts, _ in copies() for s in parts}
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such path"
    find = project()["tool"]["setuptools"]["packages"]["find"]
    for where in find["where"]:
        # The top-level packages setuptools' find would take from this root.
        for directory in sorted((ROOT / where).iterdir()):
            included = any(fnmatch(directory.name, pattern) for pattern in find["include"])
            if included and (directory / "__init__.py").is_file():
                top = PurePosixPath(directory.relative_to(ROOT).as_posix())
                assert any(top == s or s in top.parents for s in sources), f"the image would lack {top}"
    assert PurePosixPath(project()["project"]["readme"]) in sources
    assert PurePosixPath("pyproject.toml") in sources


def test_dockerignore_keeps_what_the_build_copies() -> None:
    patterns = [
        line.strip() for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for parts, _ in copies():
        for source in parts:
            path = source.rstrip("/")
            candidates = [path, *_ancestors(path)]
            ignored = [p for p in patterns if any(fnmatch(c, p) for c in candidates)]
            assert not ignored, f"COPY {source} is excluded from the build context by {ignored}"


def _ancestors(path: str) -> list[str]:
    parts = PurePosixPath(path).parts
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


def test_compose_healthcheck_runs_the_script_the_image_ships() -> None:
    destinations = {dest for parts, dest in copies() if parts == [str(HEALTHCHECK.relative_to(ROOT))]}
    assert destinations
    for name, service in compose()["services"].items():
        if "build" in service:
            test = service["healthcheck"]["test"]
            assert test[:2] == ["CMD", "python"] and test[2] in destinations, name


@pytest.fixture
def health_server() -> Iterator[tuple[str, health.HealthServicer]]:
    """A gRPC server with only the health service, on a loopback port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}", servicer
    server.stop(0)


def run_healthcheck(*args: str) -> subprocess.CompletedProcess[str]:
    """python deploy/healthcheck.py ARGS."""
    command = [sys.executable, str(HEALTHCHECK), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


def test_healthcheck_exit_status_follows_the_serving_status(
    health_server: tuple[str, health.HealthServicer],
) -> None:
    address, servicer = health_server
    name = SERVERS["trainer"].service
    servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    assert run_healthcheck(address, "--service", name).returncode == 0
    assert run_healthcheck(address).returncode == 0

    servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    result = run_healthcheck(address, "--service", name)
    assert (result.returncode, result.stdout.split()[-1]) == (1, "NOT_SERVING")
    result = run_healthcheck(address, "--service", "mlsuite.unknown.v1.Nothing")
    assert (result.returncode, result.stdout.split()[-1]) == (1, "NOT_FOUND")

    with socket.socket() as probe:  # a port that was just free: nothing listens there
        probe.bind(("127.0.0.1", 0))
        closed = f"127.0.0.1:{probe.getsockname()[1]}"
    result = run_healthcheck(closed, "--timeout", "2")
    assert result.returncode == 1 and result.stdout.split()[-1] in {"UNAVAILABLE", "DEADLINE_EXCEEDED"}
