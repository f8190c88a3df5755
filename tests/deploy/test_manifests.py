"""The manifests as Kubernetes would take them: every overlay renders, every object is valid for 1.32, and the
pod is wired the way the bot needs (probes, restricted security, policies mounted, audit writable, RBAC)."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import kubernetes_validate
import pytest
import yaml

from bot.policy import load_policy
from bot.settings import REPO_ROOT
from tests.deploy.manifests import (
    DEPLOY,
    KUBERNETES_VERSION,
    KUSTOMIZE_ROOT,
    OVERLAYS,
    Dockerfile,
    container,
    effective_command,
    manifest_env,
    one,
    render,
)

VERSION = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


@pytest.fixture(scope="module", params=OVERLAYS)
def rendered(request: pytest.FixtureRequest) -> tuple[str, list[dict[str, Any]]]:
    return request.param, render(request.param)


def test_there_is_a_single_replica_an_ha_and_a_namespaced_overlay() -> None:
    assert {"single", "ha", "namespaced"} <= set(OVERLAYS)


def test_every_rendered_object_is_valid_for_kubernetes_1_32(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    name, docs = rendered
    assert len(docs) >= 8
    for doc in docs:
        # strict: an unknown or misspelt field fails too (a typo in a probe would otherwise be ignored)
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_secret_example_is_valid_and_not_part_of_any_overlay(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    example = yaml.safe_load((KUSTOMIZE_ROOT / "base" / "secret.example.yaml").read_text(encoding="utf-8"))
    kubernetes_validate.validate(example, KUBERNETES_VERSION, strict=True)
    assert {"ACTION_SECRET", "REDIS_URL"} <= set(example["stringData"])
    _, docs = rendered
    assert not [d for d in docs if d["kind"] == "Secret"]  # real credentials never come from the repo
    assert one(docs, "Deployment")["spec"]["template"]["spec"]["containers"][0]["envFrom"][-1] == {
        "secretRef": {"name": example["metadata"]["name"]}
    }


def test_a_validator_that_accepts_everything_would_have_been_caught() -> None:
    bad = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"}, "spec": {"replicas": "two"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def test_liveness_asks_only_the_event_loop_and_readiness_asks_redis_and_platforms(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    c = container(docs)
    port = int(manifest_env(docs)["HEALTH_PORT"])
    (named,) = [p for p in c["ports"] if p["containerPort"] == port]
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c[probe]["httpGet"]
        assert get["path"] == path and get["port"] in (named["name"], port), probe
    # the readiness check gives up before the kubelet does, so a hung Redis reads as "not ready", not a timeout
    from bot.ops.health import READY_CHECK_TIMEOUT

    assert c["readinessProbe"]["timeoutSeconds"] > READY_CHECK_TIMEOUT
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    grace = float(manifest_env(docs)["SHUTDOWN_GRACE_SECONDS"])
    assert pod["terminationGracePeriodSeconds"] > grace  # turns drain before the kubelet's SIGKILL


def test_the_pod_meets_the_restricted_pod_security_standard(rendered: tuple[str, list[dict[str, Any]]]) -> None:
    _, docs = rendered
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    sc = container(docs)["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert not pod.get("hostNetwork") and not pod.get("hostPID")
    ns = one(docs, "Namespace")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def _mounts(docs: list[dict[str, Any]]) -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    """mountPath -> (volumeMount, volume)."""
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    return {m["mountPath"]: (m, volumes[m["name"]]) for m in container(docs)["volumeMounts"]}


def test_policy_files_name_the_mounted_policy_config_map_and_it_loads(
    rendered: tuple[str, list[dict[str, Any]]], tmp_path: Any
) -> None:
    _, docs = rendered
    files = json.loads(manifest_env(docs)["POLICY_FILES"])
    assert files, "POLICY_FILES is empty: the bot would fall back to the console-only default"
    mounts = _mounts(docs)
    for path in files:
        directory, _, key = path.rpartition("/")
        mount, volume = mounts[directory]
        assert mount.get("readOnly") is True
        data = one(docs, "ConfigMap", volume["configMap"]["name"])["data"]
        local = tmp_path / key
        local.write_text(data[key], encoding="utf-8")
        assert load_policy([local]) is not None  # a policy the bot accepts, not an empty placeholder


def test_the_shipped_policy_is_the_repositorys_default_policy() -> None:
    copy = KUSTOMIZE_ROOT / "base" / "policies" / "policy.yaml"
    assert copy.read_text(encoding="utf-8") == (REPO_ROOT / "policies" / "default.yaml").read_text(encoding="utf-8")


def test_audit_goes_to_stdout_and_any_audit_file_is_on_a_writable_volume(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    name, docs = rendered
    env = manifest_env(docs)
    assert env["AUDIT_STDOUT"] == "true"
    path = env.get("AUDIT_LOG_PATH", "")
    writable = {p for p, (m, _v) in _mounts(docs).items() if not m.get("readOnly")}
    if name == "single":
        assert path, "the single overlay keeps an audit file"
    if path:
        assert path.startswith("/"), "a relative path would land on the read-only root filesystem"
        assert any(path.startswith(p.rstrip("/") + "/") for p in writable), (path, writable)
        assert not path.startswith("/tmp/")  # the emptyDir is for scratch, not for records kept


def test_the_ha_overlay_runs_two_replicas_spread_over_nodes_with_a_disruption_budget() -> None:
    docs = render("ha")
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] >= 2
    spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} >= {"kubernetes.io/hostname"}
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    pdb = one(docs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] >= 1
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert all(c["labelSelector"]["matchLabels"].items() <= labels.items() for c in spread)


def test_the_single_overlay_runs_one_replica() -> None:
    assert one(render("single"), "Deployment")["spec"]["replicas"] == 1


def test_the_network_policy_allows_only_dns_https_the_api_server_and_redis(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    policy = one(docs, "NetworkPolicy")
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    labels = one(docs, "Deployment")["spec"]["template"]["metadata"]["labels"]
    assert policy["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    ports = {(p["protocol"], p["port"]) for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 443), ("TCP", 6443), ("TCP", 6379), ("TCP", 26379)}
    assert all(rule.get("ports") for rule in policy["spec"]["egress"])  # no rule opens every port
    ingress = {p["port"] for rule in policy["spec"]["ingress"] for p in rule["ports"]}
    assert ingress == {int(manifest_env(docs)["HEALTH_PORT"])}


def test_the_image_is_multi_stage_compiled_non_root_and_starts_kubeduty_run() -> None:
    image = Dockerfile.parse()
    assert len(image.stages) >= 2
    assert any("compileall" in run for run in image.runs)
    assert image.user is not None and image.user.split(":")[0] not in ("0", "root")
    assert image.entrypoint == ["kubeduty"] and image.cmd == ["run"]
    assert image.labels["org.opencontainers.image.version"] == VERSION


def test_every_overlay_runs_the_image_of_this_version_with_its_own_entrypoint(
    rendered: tuple[str, list[dict[str, Any]]],
) -> None:
    _, docs = rendered
    c = container(docs)
    assert c["image"] == f"kubeduty:{VERSION}"
    assert effective_command(Dockerfile.parse(), c) == ["kubeduty", "run"]


def test_the_old_manifest_with_args_run_would_have_been_caught() -> None:
    # the bug this replaces: `args: [run]` on an image with CMD ["kubeduty", "run"] and no ENTRYPOINT ran `run`
    old = Dockerfile(
        stages=["python:3.11-slim"], entrypoint=None, cmd=["kubeduty", "run"], user="10001", runs=[], labels={}
    )
    assert effective_command(old, {"args": ["run"]}) == ["run"]
    assert effective_command(Dockerfile.parse(), {"command": ["sh"], "args": ["-c", "x"]}) == ["sh", "-c", "x"]


# --- RBAC: derived from the calls the tools make -------------------------------------------------------------

_VERBS = {"list": "list", "read": "get", "patch": "patch", "delete": "delete", "create": "create", "replace": "update"}
_RESOURCES = {
    "namespace": "namespaces",
    "node": "nodes",
    "pod": "pods",
    "pod_log": "pods/log",
    "event": "events",
    "service": "services",
    "deployment": "deployments",
    "deployment_scale": "deployments/scale",
    "replica_set": "replicasets",
    "stateful_set": "statefulsets",
    "stateful_set_scale": "statefulsets/scale",
    "daemon_set": "daemonsets",
    "config_map": "configmaps",
}


def code_permissions() -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) for every Kubernetes client call in tools/k8s (ctx.core.X / ctx.apps.X)."""
    found: set[tuple[str, str, str]] = set()
    calls = re.compile(r"ctx\.(core|apps|version)\.(\w+?)_without_preload_content")
    for path in (REPO_ROOT / "tools" / "k8s").glob("*.py"):
        for api, method in calls.findall(path.read_text(encoding="utf-8")):
            if api == "version":
                continue  # /version is readable by every authenticated account (system:public-info-viewer)
            m = re.fullmatch(
                r"(list|read|patch|delete|create|replace)_(namespaced_)?(\w+?)(_for_all_namespaces)?", method
            )
            assert m, f"unknown client call {method}: add it to the RBAC derivation"
            group = "" if api == "core" else "apps"
            found.add((group, _RESOURCES[m.group(3)], _VERBS[m.group(1)]))
    return found


def granted(rules: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def test_the_cluster_role_grants_exactly_what_the_tools_call() -> None:
    needed = code_permissions()
    assert ("", "pods", "delete") in needed and ("apps", "deployments/scale", "patch") in needed  # derivation works
    role = one(render("ha"), "ClusterRole", "kubeduty")
    grants = granted(role["rules"])
    assert grants == needed, {"missing": needed - grants, "extra": grants - needed}
    assert not {g for g in grants if g[2] in ("watch", "*") or g[1] in ("configmaps", "daemonsets", "secrets", "*")}


def test_the_namespaced_variant_grants_the_namespaced_calls_in_a_role_and_nothing_cluster_wide() -> None:
    docs = render("namespaced")
    assert not [d for d in docs if d["kind"] in ("ClusterRole", "ClusterRoleBinding")]
    role = one(docs, "Role")
    binding = one(docs, "RoleBinding")
    assert binding["metadata"]["namespace"] == role["metadata"]["namespace"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    sa = one(docs, "ServiceAccount")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": sa["metadata"]["namespace"]}
    ]
    cluster_scoped = {"namespaces", "nodes"}
    needed = {p for p in code_permissions() if p[1] not in cluster_scoped}
    assert granted(role["rules"]) == needed


def test_the_deploy_readme_documents_every_redis_url_form_the_store_accepts() -> None:
    from bot.store import connect

    text = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for scheme in sorted(connect.SINGLE_SCHEMES | connect.SENTINEL_SCHEMES | connect.CLUSTER_SCHEMES):
        if scheme != "unix":
            assert f"{scheme}://" in text, scheme
