"""The nginx gRPC entry point (deploy/nginx) and its compose wiring against the servers' real configuration.
tests/integration/proxy runs the same template under a real nginx; these checks need no nginx."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import pytest

from mlsuite_common.security import PUBLIC_SERVICES
from tests.integration.deploy._facts import SERVERS
from tests.integration.deploy._manifests import DEPLOY, compose, workloads
from tests.integration.proxy._nginx import DEFAULTS, TEMPLATE, read_defaults

_BLOCK = r"{kind}\s+(\S+)\s*\{{((?:[^{{}}]|\$\{{\w+\}})*)\}}"  # bodies may hold ${PROXY_*} placeholders
_NGINX_TIME = re.compile(r"(\d+)(ms|s|m|h|d)?")
_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
UPSTREAM_VARIABLE = {"trainer": "PROXY_TRAINER_UPSTREAM", "downloader": "PROXY_DOWNLOADER_UPSTREAM"}
TEXT = TEMPLATE.read_text()


def blocks(kind: str) -> dict[str, str]:
    """Name/argument -> body of every `kind NAME { ... }` block without nested blocks (upstream, location)."""
    return dict(re.findall(_BLOCK.format(kind=kind), TEXT))


def directive(body: str, name: str) -> list[str]:
    """Arguments of every `name ...;` directive in a body."""
    return [m.strip() for m in re.findall(rf"^\s*{name}\s+([^;]+);", body, re.MULTILINE)]


def nginx_seconds(value: str) -> float:
    """Seconds of an nginx time such as 120s, 2m, 500ms or 30 (seconds)."""
    match = _NGINX_TIME.fullmatch(value.strip())
    assert match, f"not an nginx time: {value!r}"
    return int(match.group(1)) * _SECONDS[match.group(2)]


def upstreams_of(target: str) -> set[str]:
    """Upstreams a grpc_pass target reaches: a literal name or, for $variable, every value of its map."""
    name = target.removeprefix("grpc://")
    if not name.startswith("$"):
        return {name}
    maps = dict(re.findall(r"map\s+\S+\s+(\$\w+)\s*\{([^{}]*)\}", TEXT))
    assert name in maps, f"{name} is not set by a map"
    return {line.split()[-1].rstrip(";") for line in maps[name].strip().splitlines() if line.strip()}


def server_of(upstream: str) -> str:
    """Which server an upstream block points at, by the ${PROXY_*} variable of its `server` line."""
    (address,) = directive(blocks("upstream")[upstream], "server")
    return next(key for key, variable in UPSTREAM_VARIABLE.items() if address == f"${{{variable}}}")


def test_each_service_prefix_reaches_its_own_server() -> None:
    locations = blocks("location")
    for server in SERVERS.values():
        (target,) = directive(locations[f"/{server.service}/"], "grpc_pass")
        assert {server_of(u) for u in upstreams_of(target)} == {server.key}


def test_health_and_reflection_reach_both_servers() -> None:
    locations = blocks("location")
    for service in PUBLIC_SERVICES:
        (target,) = directive(locations[f"/{service}/"], "grpc_pass")
        assert {server_of(u) for u in upstreams_of(target)} == set(SERVERS), service
    assert directive(locations["/"], "return") == ["404"]  # anything else: UNIMPLEMENTED, no files served


def test_placeholders_have_production_values() -> None:
    placeholders = set(re.findall(r"\$\{(\w+)\}", TEXT))
    assert placeholders == set(read_defaults()), f"{TEMPLATE.name} and {DEFAULTS.name} disagree"
    assert all(name.startswith("PROXY_") for name in placeholders)  # compose's NGINX_ENVSUBST_FILTER


def test_production_timeouts_outlast_the_heartbeats() -> None:
    # The proxy must never cut a healthy idle stream: allow twice the longest heartbeat either server accepts.
    longest = max(
        value for facts in SERVERS.values() for value in (10, 15, 20, 30, 60, 120)
        if facts.accepts(["--heartbeat-seconds", str(value)])
    )
    defaults = read_defaults()
    for name in ("PROXY_GRPC_READ_TIMEOUT", "PROXY_GRPC_SEND_TIMEOUT"):
        assert nginx_seconds(defaults[name]) >= 2 * longest, name
    for name in ("client_body_timeout", "send_timeout"):
        (value,) = directive(TEXT, name)
        assert nginx_seconds(value) >= 2 * longest, name


def test_uploads_are_limited_by_the_trainer_not_the_proxy() -> None:
    (limit,) = directive(TEXT, "client_max_body_size")
    cap = SERVERS["trainer"].defaults().max_upload_bytes
    assert cap is not None
    assert limit == "0" or _size(limit) > cap


def _size(value: str) -> int:
    match = re.fullmatch(r"(\d+)([kmg]?)", value.lower())
    assert match, f"not an nginx size: {value!r}"
    return int(match.group(1)) * {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[match.group(2)]


@pytest.fixture
def proxy_service() -> dict:
    """The compose service that runs nginx."""
    (service,) = [s for s in compose()["services"].values() if str(s.get("image", "")).startswith("nginx")]
    return service


def test_compose_proxy_renders_the_shipped_template(proxy_service: dict) -> None:
    assert (DEPLOY / proxy_service["env_file"]).resolve() == DEFAULTS.resolve()
    mounts = [str(v).split(":") for v in proxy_service["volumes"]]
    (target,) = [t for source, t, *_ in mounts if (DEPLOY / source).resolve() == TEMPLATE.resolve()]
    assert PurePosixPath(target).parent == PurePosixPath("/etc/nginx/templates")
    assert target.endswith(".template")
    assert proxy_service["environment"]["NGINX_ENVSUBST_FILTER"] == "^PROXY_"
    (published,) = proxy_service["ports"]
    assert str(published).rsplit(":", 1)[1] == read_defaults()["PROXY_LISTEN"].rsplit(":", 1)[-1]


def test_compose_upstreams_are_the_compose_servers(proxy_service: dict) -> None:
    defaults = read_defaults()
    for workload in (w for w in workloads() if w.label.startswith("docker-compose")):
        port = workload.server.resolve(workload.argv[1:], workload.env()).options.port
        service_name = workload.label.split(":", 1)[1]
        assert defaults[UPSTREAM_VARIABLE[workload.server.key]] == f"{service_name}:{port}"
        assert proxy_service["depends_on"][service_name] == {"condition": "service_healthy"}
