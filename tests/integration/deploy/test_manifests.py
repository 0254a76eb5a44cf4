"""Every manifest in deploy/ parses, and every server container in them (Kubernetes and compose) would start
with the configuration the servers really have: real flags, the default ports, the real health service names,
a stop period longer than the drain, persistent state. Values come from the servers' code, so drift fails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlsuite_common.security import check_exposure, is_loopback
from tests.integration.deploy._facts import SERVERS, project
from tests.integration.deploy._manifests import (
    DEPLOY,
    Workload,
    compose,
    dockerfile,
    kube_documents,
    kube_objects,
    workloads,
    yaml_documents,
)

KNOWN_KINDS = {
    "Namespace", "ServiceAccount", "PersistentVolumeClaim", "Deployment", "Service", "PodDisruptionBudget",
    "PeerAuthentication", "AuthorizationPolicy", "DestinationRule", "VirtualService",
}
NAMESPACE = "mlsuite"
# Names a manifest may set besides the servers' flag variables: the Hub token the downloader reads itself.
NON_FLAG_ENV = {"trainer": set(), "downloader": {"HF_TOKEN"}}
WORKLOADS = workloads()
KUBE_WORKLOADS = [w for w in WORKLOADS if w.spec.get("kind") == "Deployment"]


def by_label(items: list[Workload] | tuple[Workload, ...]) -> dict[str, Any]:
    """pytest.mark.parametrize arguments with readable ids."""
    return {"argvalues": list(items), "ids": [w.label for w in items]}


def test_every_yaml_file_parses() -> None:
    files = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])
    assert files
    for path in files:
        assert yaml_documents(path), f"{path} has no documents"


def test_kubernetes_objects_are_complete_and_known() -> None:
    documents = kube_documents()
    assert {doc["kind"] for _, doc in documents} == KNOWN_KINDS  # a new kind needs checks here first
    for path, doc in documents:
        where = f"{path.name}: {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        assert doc.get("apiVersion") and doc["metadata"].get("name"), where
        if doc["kind"] != "Namespace":
            assert doc["metadata"].get("namespace") == NAMESPACE, where
        assert doc["metadata"].get("labels", {}).get("app.kubernetes.io/part-of") == "mlsuite", where


def test_kustomization_lists_every_kubernetes_file() -> None:
    (kustomization,) = yaml_documents(DEPLOY / "k8s" / "kustomization.yaml")
    files = {p.name for p in (DEPLOY / "k8s").glob("*.y*ml") if p.stem != "kustomization"}
    assert set(kustomization["resources"]) == files
    assert kustomization["namespace"] == NAMESPACE


def test_both_servers_run_in_kubernetes_and_in_compose() -> None:
    assert sorted(w.server.key for w in KUBE_WORKLOADS) == sorted(SERVERS)
    assert sorted(w.server.key for w in WORKLOADS if w.label.startswith("docker-compose")) == sorted(SERVERS)


@pytest.mark.parametrize("workload", **by_label(WORKLOADS))
def test_environment_variables_are_real_flags(workload: Workload) -> None:
    server = workload.server
    accepted = server.env_names()
    assert "MLSUITE_PORT" in accepted and "MLSUITE_GRACE_SECONDS" in accepted  # the lookup itself works
    unknown = set(workload.manifest_env) - accepted - NON_FLAG_ENV[server.key]
    assert not unknown, f"{workload.label}: no flag of the {server.key} reads {sorted(unknown)}"
    either = SERVERS["trainer"].env_names() | SERVERS["downloader"].env_names()
    image_unknown = {name for name in dockerfile().env() if name.startswith("MLSUITE_")} - either
    assert not image_unknown, f"Dockerfile ENV sets {sorted(image_unknown)}, which no server reads"


@pytest.mark.parametrize("workload", **by_label(WORKLOADS))
def test_secrets_never_appear_as_literal_values(workload: Workload) -> None:
    for name in workload.manifest_env:
        if "TOKEN" in name:
            assert name in workload.secret_env, f"{workload.label}: {name} must come from a Secret/the shell"


@pytest.mark.parametrize("workload", **by_label(WORKLOADS))
def test_server_would_start_on_its_default_port(workload: Workload) -> None:
    server = workload.server
    effective = server.resolve(workload.argv[1:], workload.env())
    options = effective.options
    default_port = server.defaults().options.port
    assert options.port == default_port, f"{workload.label}: port {options.port}, not {default_port}"
    metrics = (effective.metrics_port,) if effective.metrics_port > 0 else ()
    assert workload.ports == (options.port, *metrics), (
        f"{workload.label}: the container must expose exactly its gRPC port (and its metrics port when set)"
    )
    assert not is_loopback(options.host), f"{workload.label}: {options.host} is unreachable from outside"
    check_exposure(options.host, options.security)  # the same refusal the server's main applies


@pytest.mark.parametrize("workload", **by_label(WORKLOADS))
def test_health_probes_ask_the_real_service_on_the_real_port(workload: Workload) -> None:
    server = workload.server
    port = server.resolve(workload.argv[1:], workload.env()).options.port
    assert workload.probes, f"{workload.label} has no gRPC health probe"
    for probe in workload.probes:
        assert (probe.port, probe.service) == (port, server.service), f"{workload.label} {probe.kind}"
    if workload in KUBE_WORKLOADS:
        assert {"readinessProbe", "livenessProbe"} <= {p.kind for p in workload.probes}


@pytest.mark.parametrize("workload", **by_label(WORKLOADS))
def test_stop_period_outlasts_the_drain(workload: Workload) -> None:
    # On SIGTERM a server first drains its work (jobs or the download) for up to --grace-seconds, then
    # server.stop(grace) lets calls finish for up to as long again.
    grace = workload.server.resolve(workload.argv[1:], workload.env()).options.grace_seconds
    stop, pre_stop = workload.stop_seconds, workload.pre_stop_seconds
    assert stop > pre_stop + 2 * grace, f"{workload.label}: {stop}s <= preStop {pre_stop}s + 2 x {grace}s"


@pytest.mark.parametrize("workload", **by_label(WORKLOADS))
def test_state_directory_is_on_a_persistent_volume(workload: Workload) -> None:
    state_dir = workload.server.resolve(workload.argv[1:], workload.env()).state_dir
    claims = {doc["metadata"]["name"] for doc in kube_objects("PersistentVolumeClaim")}
    named_volumes = set(compose().get("volumes") or {})
    sources = [source for path, source in workload.volume_mounts.items()
               if state_dir == Path(path) or Path(path) in state_dir.parents]
    assert sources, f"{workload.label}: {state_dir} is on no mounted volume"
    for source in sources:
        kind, _, name = source.partition(":")
        assert (kind, name) in {("pvc", c) for c in claims} | {("volume", v) for v in named_volumes}, source


@pytest.mark.parametrize("workload", **by_label(KUBE_WORKLOADS))
def test_deployment_service_and_disruption_budget_fit_together(workload: Workload) -> None:
    deployment = workload.spec
    pod = deployment["spec"]["template"]
    labels = pod["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    (container,) = pod["spec"]["containers"]
    port = workload.server.defaults().options.port

    services = [s for s in kube_objects("Service") if s["spec"]["selector"].items() <= labels.items()]
    assert len(services) == 1, f"{workload.label}: {len(services)} Services select it"
    (service_port,) = services[0]["spec"]["ports"]
    assert service_port["appProtocol"] == "grpc" and service_port["port"] == port
    named = {p.get("name"): p["containerPort"] for p in container["ports"]}
    assert named.get(service_port["targetPort"], service_port["targetPort"]) == port

    budgets = [b for b in kube_objects("PodDisruptionBudget")
               if b["spec"]["selector"]["matchLabels"].items() <= labels.items()]
    assert len(budgets) == 1, f"{workload.label}: {len(budgets)} PodDisruptionBudgets"

    resources = container["resources"]
    assert {"cpu", "memory"} <= resources["requests"].keys() and "memory" in resources["limits"]
    assert pod["spec"]["enableServiceLinks"] is False  # or MLSUITE_*_PORT=tcp://... lands next to the flags
    security = pod["spec"]["securityContext"]
    assert security["runAsNonRoot"] is True
    assert str(security["runAsUser"]) == dockerfile().final_stage().all("USER")[-1].split(":")[0]

    claims = {d["metadata"]["name"]: d for d in kube_objects("PersistentVolumeClaim")}
    for source in workload.volume_mounts.values():
        if source.startswith("pvc:") and "ReadWriteOnce" in claims[source[4:]]["spec"]["accessModes"]:
            # One writer; a rolling update would wait forever for the volume the old pod holds.
            assert deployment["spec"]["replicas"] == 1
            assert deployment["spec"]["strategy"]["type"] == "Recreate"


def test_images_carry_the_project_version() -> None:
    version = project()["project"]["version"]
    pods = [d["spec"]["template"]["spec"] for d in kube_objects("Deployment")]
    images = [c["image"] for pod in pods for c in pod["containers"]]
    images += [s["image"] for s in compose()["services"].values() if "build" in s]
    assert images and all(image.rsplit(":", 1)[1] == version for image in images), images
    (kustomization,) = yaml_documents(DEPLOY / "k8s" / "kustomization.yaml")
    assert [i["newTag"] for i in kustomization["images"]] == [version]
