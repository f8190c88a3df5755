"""Authentication, RBAC and impersonation as a real API server does them, seen through kubectl and raw HTTP."""

from __future__ import annotations

import json
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.sandbox.conftest import KUBECTL, KubectlRun, http
from tools.sandbox import SandboxHandle
from tools.sandbox.tls import CertificateAuthority, KeyPair


def kubectl_as(
    sandbox: SandboxHandle, tmp_path: Path, *, token: str | None = None, client: KeyPair | None = None
) -> Callable[..., subprocess.CompletedProcess[str]]:
    path = tmp_path / f"kc-{token or 'cert'}"
    sandbox.write_kubeconfig(path, token=token, client=client)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([KUBECTL, "--kubeconfig", str(path), *args], capture_output=True, text=True, timeout=60)

    return run


def test_an_unknown_token_gets_401_unauthorized(sandbox: SandboxHandle, tmp_path: Path) -> None:
    out = kubectl_as(sandbox, tmp_path, token="not-a-token")("get", "pods", "-n", "dev")
    assert out.returncode == 1 and "You must be logged in to the server" in out.stderr
    code, body = http(sandbox, sandbox.url + "/api/v1/namespaces/dev/pods", token="not-a-token")
    assert code == 401
    assert json.loads(body) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }


def test_a_forbidden_request_gets_the_real_servers_403_body(sandbox: SandboxHandle) -> None:
    code, body = http(sandbox, sandbox.url + "/api/v1/namespaces/production/pods/x", token="bob-token")
    assert code == 403
    status = json.loads(body)
    assert status["reason"] == "Forbidden" and status["code"] == 403
    assert status["message"] == (
        'pods "x" is forbidden: User "bob" cannot get resource "pods" in API group "" in the namespace "production"'
    )
    assert status["details"] == {"name": "x", "kind": "pods"}
    code, body = http(sandbox, sandbox.url + "/api/v1/nodes", token="bob-token")
    assert json.loads(body)["message"] == (
        'nodes is forbidden: User "bob" cannot list resource "nodes" in API group "" at the cluster scope'
    )
    code, body = http(sandbox, sandbox.url + "/api/v1/namespaces/dev/pods", token=None)
    assert code == 403 and 'User "system:anonymous" cannot list resource "pods"' in json.loads(body)["message"]


def test_scaling_without_the_right_is_refused_with_the_subresource_named(kubectl: KubectlRun) -> None:
    out = kubectl("scale", "deployment/frontend", "-n", "dev", "--replicas=2", "--as", "bob", check=False)
    assert out.returncode == 1
    assert (
        'deployments.apps "frontend" is forbidden: User "bob" cannot patch resource "deployments/scale" '
        'in API group "apps" in the namespace "dev"'
    ) in out.stderr
    assert "bob" in kubectl("auth", "whoami", "--as", "bob").stdout


def test_can_i_answers_yes_and_no_with_kubectls_exit_codes(kubectl: KubectlRun) -> None:
    yes = kubectl("auth", "can-i", "get", "pods", "-n", "dev", "--as", "bob")
    assert yes.stdout.strip() == "yes"
    no = kubectl("auth", "can-i", "patch", "deployments/scale", "-n", "dev", "--as", "bob", check=False)
    assert (no.returncode, no.stdout.strip()) == (1, "no")
    elsewhere = kubectl("auth", "can-i", "get", "pods", "-n", "production", "--as", "bob", check=False)
    assert elsewhere.stdout.strip() == "no"
    alice = kubectl(
        "auth", "can-i", "patch", "deployments/scale", "-n", "dev", "--as", "alice", "--as-group", "dev-team"
    )
    assert alice.stdout.strip() == "yes"
    assert kubectl("auth", "can-i", "*", "*").stdout.strip() == "yes"  # the default identity is cluster-admin


def test_can_i_list_prints_the_rules_that_apply_in_the_namespace(kubectl: KubectlRun) -> None:
    rows = kubectl("auth", "can-i", "--list", "-n", "dev", "--as", "bob").stdout.splitlines()
    pods = next(r for r in rows if r.split()[0] == "pods")
    assert pods.split()[-3:] == ["[get", "list", "watch]"]
    assert any(r.split()[0] == "selfsubjectaccessreviews.authorization.k8s.io" for r in rows)
    assert not any(r.split()[0] == "secrets" for r in rows)  # view does not read secrets
    prod = kubectl("auth", "can-i", "--list", "-n", "production", "--as", "bob").stdout.splitlines()
    assert not any(r.split()[0] == "pods" for r in prod)


def test_whoami_shows_the_token_user_and_the_certificate_user(
    kubectl: KubectlRun, sandbox: SandboxHandle, tmp_path: Path
) -> None:
    admin = kubectl("auth", "whoami", "-o", "json").stdout
    assert json.loads(admin)["status"]["userInfo"] == {
        "username": "sandbox-admin",
        "groups": ["system:masters", "system:authenticated"],
    }
    carol = kubectl_as(sandbox, tmp_path, client=sandbox.client_certificate("carol", ("viewers",)))
    info = json.loads(carol("auth", "whoami", "-o", "json").stdout)["status"]["userInfo"]
    assert info == {"username": "carol", "groups": ["viewers", "system:authenticated"]}
    assert "web" in carol("get", "deployments", "-n", "production").stdout
    refused = carol("delete", "pod", "redis-0", "-n", "dev")
    assert 'User "carol" cannot delete resource "pods"' in refused.stderr


def test_impersonation_needs_the_impersonate_verb(sandbox: SandboxHandle, tmp_path: Path) -> None:
    bob = kubectl_as(sandbox, tmp_path, token="bob-token")
    assert bob("get", "pods", "-n", "dev", "--as", "sandbox-admin").returncode == 1
    pods = sandbox.url + "/api/v1/namespaces/dev/pods"
    code, body = http(sandbox, pods, token="bob-token", headers={"Impersonate-User": "sandbox-admin"})
    assert code == 403 and json.loads(body)["message"] == (
        'users "sandbox-admin" is forbidden: User "bob" cannot impersonate resource "users" in API group "" '
        "at the cluster scope"
    )
    as_masters = {"Impersonate-User": "bob", "Impersonate-Group": "system:masters"}
    code, body = http(sandbox, pods, token="bob-token", headers=as_masters)
    assert code == 403 and 'cannot impersonate resource "users"' in json.loads(body)["message"]
    # Granting the verb (as a real RBAC object) makes the same request work.
    sandbox.cluster.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": "impersonate-alice"},
            "rules": [
                {"apiGroups": [""], "resources": ["users"], "verbs": ["impersonate"], "resourceNames": ["alice"]},
                {"apiGroups": [""], "resources": ["groups"], "verbs": ["impersonate"], "resourceNames": ["dev-team"]},
            ],
        }
    )
    sandbox.cluster.apply(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": "bob-impersonates-alice"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "impersonate-alice"},
            "subjects": [{"kind": "User", "name": "bob", "apiGroup": "rbac.authorization.k8s.io"}],
        }
    )
    ok = bob("scale", "deployment/frontend", "-n", "dev", "--replicas=1", "--as", "alice", "--as-group", "dev-team")
    assert ok.returncode == 0, ok.stderr
    code, body = http(sandbox, pods, token="bob-token", headers={"Impersonate-User": "viewer"})
    assert code == 403 and json.loads(body)["message"].startswith('users "viewer" is forbidden')


def test_rbac_objects_are_served_and_a_new_binding_takes_effect_at_once(
    kubectl: KubectlRun, sandbox: SandboxHandle
) -> None:
    crb = json.loads(kubectl("get", "clusterrolebinding", "cluster-admin", "-o", "json").stdout)
    assert crb["apiVersion"] == "rbac.authorization.k8s.io/v1"
    assert crb["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "system:masters"}]
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "one-configmap", "namespace": "dev"},
        "rules": [
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"], "resourceNames": ["frontend-config"]}
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "nobody-one-configmap", "namespace": "dev"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "one-configmap"},
        "subjects": [{"kind": "User", "name": "nobody", "apiGroup": "rbac.authorization.k8s.io"}],
    }
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all([role, binding]))
    get = http(sandbox, sandbox.url + "/api/v1/namespaces/dev/configmaps/frontend-config", token="nobody-token")
    assert get[0] == 200
    listing = http(sandbox, sandbox.url + "/api/v1/namespaces/dev/configmaps", token="nobody-token")
    assert listing[0] == 403  # resourceNames never match a list
    kubectl("delete", "rolebinding", "nobody-one-configmap", "-n", "dev")
    again = http(sandbox, sandbox.url + "/api/v1/namespaces/dev/configmaps/frontend-config", token="nobody-token")
    assert again[0] == 403


def test_a_subject_access_review_answers_for_another_user(sandbox: SandboxHandle) -> None:
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": "alice",
            "groups": ["dev-team"],
            "resourceAttributes": {"namespace": "dev", "verb": "delete", "resource": "pods"},
        },
    }
    url = sandbox.url + "/apis/authorization.k8s.io/v1/subjectaccessreviews"
    code, body = http(
        sandbox, url, data=json.dumps(review).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    assert code == 201 and json.loads(body)["status"]["allowed"] is True
    code, body = http(
        sandbox,
        url,
        data=json.dumps(review).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
        token="bob-token",
    )
    assert code == 403  # only who may create subjectaccessreviews asks about others


def test_a_certificate_from_another_ca_is_refused_at_the_handshake(sandbox: SandboxHandle, tmp_path: Path) -> None:
    stranger = CertificateAuthority("someone-else").client_pair("sandbox-admin", ("system:masters",))
    (tmp_path / "c.crt").write_bytes(stranger.cert_pem)
    (tmp_path / "c.key").write_bytes(stranger.key_pem)
    ctx = sandbox.ssl_context()
    assert ctx is not None
    ctx.load_cert_chain(tmp_path / "c.crt", tmp_path / "c.key")
    with pytest.raises((ssl.SSLError, urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(sandbox.url + "/api/v1/namespaces", timeout=30, context=ctx)
