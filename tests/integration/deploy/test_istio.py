"""The Istio example (deploy/istio) against the servers' RPCs (proto descriptors), their token scopes
(METHOD_SCOPES) and the Kubernetes objects it refers to."""

from __future__ import annotations

from typing import Any

import pytest

from mlsuite_common.security import PUBLIC_SERVICES, Scope
from tests.integration.deploy._facts import SERVERS, ServerFacts
from tests.integration.deploy._manifests import kube_objects, workloads

GROUP_LABEL = "mlsuite.io/method-group"


def pod_labels(server: ServerFacts) -> dict[str, str]:
    """The pod labels of the Deployment that runs this server."""
    (workload,) = [w for w in workloads() if w.spec.get("kind") == "Deployment" and w.server is server]
    return workload.spec["spec"]["template"]["metadata"]["labels"]


def service_of(server: ServerFacts) -> dict[str, Any]:
    """The Kubernetes Service in front of this server's pods."""
    labels = pod_labels(server)
    (service,) = [s for s in kube_objects("Service") if s["spec"]["selector"].items() <= labels.items()]
    return service


def fqdn(service: dict[str, Any]) -> str:
    """The in-cluster DNS name of a Service."""
    return f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc.cluster.local"


def policies_of(server: ServerFacts) -> dict[str, dict[str, Any]]:
    """This server's AuthorizationPolicies by method group."""
    labels = pod_labels(server)
    found: dict[str, dict[str, Any]] = {}
    for policy in kube_objects("AuthorizationPolicy"):
        if policy["spec"]["selector"]["matchLabels"].items() <= labels.items():
            group = policy["metadata"]["labels"][GROUP_LABEL]
            assert group not in found, f"two {group} policies for the {server.key}"
            found[group] = policy
    return found


def _paths_and_principals(policy: dict[str, Any]) -> tuple[set[str], set[str]]:
    assert policy["spec"]["action"] == "ALLOW"
    paths: set[str] = set()
    principals: set[str] = set()
    for rule in policy["spec"]["rules"]:
        for source in rule["from"]:
            principals.update(source["source"]["principals"])
        for target in rule["to"]:
            assert target["operation"].get("methods", ["POST"]) == ["POST"]  # gRPC is always POST
            paths.update(target["operation"]["paths"])
    return paths, principals


def _matches(match: dict[str, Any], path: str) -> bool:
    """Whether an HTTPMatchRequest (uri exact or prefix only) takes this path."""
    uri = match.get("uri")
    if uri is None:
        return True
    assert set(uri) <= {"exact", "prefix"}, f"this test only evaluates exact and prefix matches: {uri}"
    return uri["exact"] == path if "exact" in uri else path.startswith(uri["prefix"])


def test_mutual_tls_is_strict_where_the_servers_run() -> None:
    namespaces = {w.spec["metadata"]["namespace"] for w in workloads() if w.spec.get("kind") == "Deployment"}
    strict = {
        p["metadata"]["namespace"]
        for p in kube_objects("PeerAuthentication")
        if p["spec"]["mtls"]["mode"] == "STRICT" and "selector" not in p["spec"]
    }
    assert namespaces <= strict


@pytest.mark.parametrize("server", SERVERS.values(), ids=SERVERS.keys())
def test_authorization_groups_are_the_servers_token_scopes(server: ServerFacts) -> None:
    policies = policies_of(server)
    assert set(policies) == {"read", "write", "public"}
    read_paths, readers = _paths_and_principals(policies["read"])
    write_paths, writers = _paths_and_principals(policies["write"])
    public_paths, _ = _paths_and_principals(policies["public"])

    assert read_paths | write_paths == server.method_paths, "every RPC, and only those, in read or write"
    assert not read_paths & write_paths
    scopes = server.scopes()
    assert read_paths == {path for path, scope in scopes.items() if scope is Scope.READ}
    assert write_paths == {path for path, scope in scopes.items() if scope is Scope.WRITE}
    assert writers <= readers, "a write token also reads; so should a writer identity"
    assert public_paths == {f"/{service}/*" for service in PUBLIC_SERVICES}


@pytest.mark.parametrize("server", SERVERS.values(), ids=SERVERS.keys())
def test_routes_never_retry_mutations_nor_time_out_streams(server: ServerFacts) -> None:
    service = service_of(server)
    (virtual_service,) = [v for v in kube_objects("VirtualService") if fqdn(service) in v["spec"]["hosts"]]
    routes = virtual_service["spec"]["http"]
    for route in routes:
        for destination in route["route"]:
            assert destination["destination"]["host"] == fqdn(service)
            assert destination["destination"]["port"]["number"] == service["spec"]["ports"][0]["port"]

    def first_route(path: str) -> dict[str, Any]:
        for route in routes:
            if any(_matches(match, path) for match in route.get("match") or [{}]):
                return route
        raise AssertionError(f"no route for {path}")

    for path, scope in server.scopes().items():
        retries = first_route(path).get("retries")
        assert retries is not None, f"{path}: Istio's default retries apply"
        if scope is Scope.WRITE:
            assert retries["attempts"] == 0, f"{path} mutates and must not be retried"
        else:
            assert retries["attempts"] >= 1 and "unavailable" in retries["retryOn"], path
    for path in server.streaming_paths:
        route = first_route(path)
        assert "timeout" not in route and "perTryTimeout" not in (route.get("retries") or {}), path


@pytest.mark.parametrize("server", SERVERS.values(), ids=SERVERS.keys())
def test_destination_rule_uses_mesh_tls_within_the_servers_limits(server: ServerFacts) -> None:
    host = fqdn(service_of(server))
    (rule,) = [r for r in kube_objects("DestinationRule") if r["spec"]["host"] == host]
    policy = rule["spec"]["trafficPolicy"]
    assert policy["tls"]["mode"] == "ISTIO_MUTUAL"
    (workload,) = [w for w in workloads() if w.spec.get("kind") == "Deployment" and w.server is server]
    admitted = server.resolve(workload.argv[1:], workload.env()).options.connection.max_concurrent_rpcs
    assert policy["connectionPool"]["http"]["http2MaxRequests"] <= admitted
