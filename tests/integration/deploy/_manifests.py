"""deploy/ read as data: the Dockerfile's instructions, the compose file, the Kubernetes and Istio documents,
and every server container in them reduced to what the process inside would see (command line, environment,
ports, probes, stop timing, volumes)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from tests.integration.deploy._facts import ROOT, SERVERS, ServerFacts, console_scripts

__all__ = [
    "DEPLOY",
    "SECRET_STAND_IN",
    "Dockerfile",
    "Probe",
    "Workload",
    "compose",
    "compose_duration",
    "dockerfile",
    "kube_documents",
    "kube_objects",
    "workloads",
    "yaml_documents",
]

DEPLOY = ROOT / "deploy"
SECRET_STAND_IN = "stand-in-secret-value"
"""The value a variable from a Secret (or from compose's own environment) takes in the simulation."""
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)")
_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


@cache
def yaml_documents(path: Path) -> tuple[dict[str, Any], ...]:
    """Every non-empty YAML document of a file."""
    with path.open() as stream:
        return tuple(doc for doc in yaml.safe_load_all(stream) if doc is not None)


def kube_documents() -> list[tuple[Path, dict[str, Any]]]:
    """(file, document) for every Kubernetes and Istio manifest (kustomization files excluded)."""
    paths = sorted([*DEPLOY.glob("k8s/*.y*ml"), *DEPLOY.glob("istio/*.y*ml")])
    return [(p, d) for p in paths if p.stem != "kustomization" for d in yaml_documents(p)]


def kube_objects(kind: str) -> list[dict[str, Any]]:
    """Every manifest object of one kind."""
    return [doc for _, doc in kube_documents() if doc.get("kind") == kind]


def compose() -> dict[str, Any]:
    """deploy/docker-compose.yml."""
    (document,) = yaml_documents(DEPLOY / "docker-compose.yml")
    return document


def compose_duration(text: str | int | float) -> float:
    """Seconds of a compose duration such as "30s", "1m30s" or "1.5s"."""
    value = str(text).strip()
    parts = _DURATION.findall(value)
    if not parts or "".join(f"{n}{u}" for n, u in parts) != value:
        raise ValueError(f"not a compose duration: {text!r}")
    return sum(float(n) * _UNITS[u] for n, u in parts)


@dataclass(frozen=True)
class Dockerfile:
    """The instructions of deploy/Dockerfile, continuation lines joined, comments dropped."""

    instructions: tuple[tuple[str, str], ...]
    text: str

    def all(self, name: str) -> list[str]:
        """Arguments of every instruction called `name` (upper case)."""
        return [rest for instruction, rest in self.instructions if instruction == name]

    def final_stage(self) -> Dockerfile:
        """Only the instructions after the last FROM (what the image that runs contains)."""
        last = max(i for i, (name, _) in enumerate(self.instructions) if name == "FROM")
        return Dockerfile(self.instructions[last:], self.text)

    def env(self) -> dict[str, str]:
        """The final image's ENV values (those referring to other variables, like PATH, left out)."""
        values: dict[str, str] = {}
        for rest in self.final_stage().all("ENV"):
            for token in shlex.split(rest):
                key, _, value = token.partition("=")
                if "$" not in value:
                    values[key] = value
        return values

    def exec_form(self, name: str) -> list[str] | None:
        """The JSON-array argument of the final stage's last CMD or ENTRYPOINT, if any."""
        found = self.final_stage().all(name)
        return yaml.safe_load(found[-1]) if found else None

    def args(self) -> dict[str, str]:
        """ARG defaults, unquoted."""
        values: dict[str, str] = {}
        for rest in self.all("ARG"):
            key, _, value = rest.partition("=")
            values[key.strip()] = shlex.split(value)[0] if value else ""
        return values


@cache
def dockerfile() -> Dockerfile:
    """deploy/Dockerfile, parsed."""
    text = (DEPLOY / "Dockerfile").read_text()
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    logical = re.sub(r"\\\n", " ", "\n".join(lines))
    instructions = []
    for line in logical.splitlines():
        if line.strip():
            name, _, rest = line.strip().partition(" ")
            instructions.append((name.upper(), rest.strip()))
    return Dockerfile(tuple(instructions), text)


@dataclass(frozen=True)
class Probe:
    """A gRPC health probe: the port it dials and the service name it asks about."""

    kind: str
    port: int
    service: str


@dataclass(frozen=True)
class Workload:
    """One server container as a manifest runs it."""

    label: str
    argv: tuple[str, ...]
    manifest_env: Mapping[str, str]  # what the manifest sets; Secret values replaced by SECRET_STAND_IN
    secret_env: frozenset[str]  # names whose value comes from a Secret or from compose's environment
    ports: tuple[int, ...]
    probes: tuple[Probe, ...]
    stop_seconds: float
    pre_stop_seconds: float
    volume_mounts: Mapping[str, str]  # mount path -> "pvc:<claim>", "volume:<compose volume>", "emptyDir"...
    spec: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)  # Deployment / service

    @property
    def server(self) -> ServerFacts:
        """The server this container runs, through its console script."""
        target = console_scripts().get(self.argv[0]) if self.argv else None
        for facts in SERVERS.values():
            if facts.main == target:
                return facts
        raise AssertionError(f"{self.label}: {self.argv[:1]} is no server's console script in pyproject")

    def env(self) -> dict[str, str]:
        """The process environment: the image's ENV overridden by the manifest's."""
        return {**dockerfile().env(), **self.manifest_env}


def _command_line(command: list[str] | None, args: list[str] | None) -> tuple[str, ...]:
    """What runs, by Kubernetes/compose rules: command replaces ENTRYPOINT (and CMD), args replace CMD."""
    image = dockerfile()
    entrypoint = command if command is not None else (image.exec_form("ENTRYPOINT") or [])
    if args is not None:
        cmd = args
    else:
        cmd = [] if command is not None else (image.exec_form("CMD") or [])
    return tuple(str(part) for part in [*entrypoint, *cmd])


def _kube_env(container: Mapping[str, Any], label: str) -> tuple[dict[str, str], frozenset[str]]:
    values: dict[str, str] = {}
    secrets: set[str] = set()
    for item in container.get("env", []):
        name = item["name"]
        if "value" in item:
            values[name] = str(item["value"])
        elif "secretKeyRef" in item.get("valueFrom", {}):
            values[name] = SECRET_STAND_IN
            secrets.add(name)
        else:
            source = item.get("valueFrom")
            raise AssertionError(f"{label}: env {name} comes from {source}, which this test cannot simulate")
    return values, frozenset(secrets)


def _pre_stop_seconds(container: Mapping[str, Any], label: str) -> float:
    hook = container.get("lifecycle", {}).get("preStop")
    if hook is None:
        return 0.0
    if "sleep" in hook:
        return float(hook["sleep"]["seconds"])
    command = hook.get("exec", {}).get("command", [])
    if len(command) == 2 and command[0] == "sleep":
        return float(command[1])
    raise AssertionError(f"{label}: cannot tell how long preStop {hook} takes")


def _kube_workloads() -> Iterator[Workload]:
    for path, doc in kube_documents():
        if doc.get("kind") != "Deployment":
            continue
        pod = doc["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            label = f"{path.relative_to(DEPLOY)}:{doc['metadata']['name']}/{container['name']}"
            env, secrets = _kube_env(container, label)
            probes = tuple(
                Probe(kind, int(container[kind]["grpc"]["port"]), container[kind]["grpc"].get("service", ""))
                for kind in ("startupProbe", "readinessProbe", "livenessProbe")
                if "grpc" in container.get(kind, {})
            )
            mounts = {}
            for mount in container.get("volumeMounts", []):
                volume = volumes[mount["name"]]
                claim = volume.get("persistentVolumeClaim", {}).get("claimName")
                kind = next(k for k in volume if k != "name")
                mounts[mount["mountPath"]] = f"pvc:{claim}" if claim else kind
            yield Workload(
                label=label,
                argv=_command_line(container.get("command"), container.get("args")),
                manifest_env=env,
                secret_env=secrets,
                ports=tuple(int(p["containerPort"]) for p in container.get("ports", [])),
                probes=probes,
                stop_seconds=float(pod.get("terminationGracePeriodSeconds", 30)),
                pre_stop_seconds=_pre_stop_seconds(container, label),
                volume_mounts=mounts,
                spec=doc,
            )


def _compose_env(service: Mapping[str, Any]) -> tuple[dict[str, str], frozenset[str]]:
    raw = service.get("environment", {})
    if isinstance(raw, list):
        raw = dict(item.split("=", 1) for item in raw)
    values: dict[str, str] = {}
    secrets: set[str] = set()
    for name, value in raw.items():
        if isinstance(value, bool):
            raise AssertionError(f"compose environment {name}: quote booleans, compose rejects {value!r}")
        text = "" if value is None else str(value)
        if "${" in text:  # interpolated from the environment of whoever runs compose
            values[name] = SECRET_STAND_IN
            secrets.add(name)
        else:
            values[name] = text
    return values, frozenset(secrets)


def _compose_probe(service: Mapping[str, Any]) -> tuple[Probe, ...]:
    test = service.get("healthcheck", {}).get("test", [])
    if not test:
        return ()
    script = next(i for i, part in enumerate(test) if str(part).endswith("healthcheck.py"))
    rest = [str(part) for part in test[script + 1 :]]
    service_name = rest[rest.index("--service") + 1] if "--service" in rest else ""
    address = next(part for part in rest if re.fullmatch(r"[\w.\-\[\]:]+:\d+", part))
    return (Probe("healthcheck", int(address.rsplit(":", 1)[1]), service_name),)


def _compose_workloads() -> Iterator[Workload]:
    document = compose()
    for name, service in document["services"].items():
        if "build" not in service:
            continue  # not the MLSuite image (the nginx front)
        env, secrets = _compose_env(service)
        mounts = {}
        for volume in service.get("volumes", []):
            source, target = str(volume).split(":")[:2]
            named = source in (document.get("volumes") or {})
            mounts[target] = f"volume:{source}" if named else f"bind:{source}"
        yield Workload(
            label=f"docker-compose.yml:{name}",
            argv=_command_line(service.get("entrypoint"), service.get("command")),
            manifest_env=env,
            secret_env=secrets,
            ports=tuple(int(str(p).split("/")[0]) for p in service.get("expose", [])),
            probes=_compose_probe(service),
            stop_seconds=compose_duration(service.get("stop_grace_period", "10s")),
            pre_stop_seconds=0.0,
            volume_mounts=mounts,
            spec=service,
        )


@cache
def workloads() -> tuple[Workload, ...]:
    """Every container that runs one of the servers, in Kubernetes and in compose."""
    return (*_kube_workloads(), *_compose_workloads())
