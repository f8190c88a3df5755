"""Laxness removed (strict field validation, protected namespaces, 404 details, $setElementOrder, a clear 415,
`explain`, server-side apply, exec) and the kinds added (jobs, cronjobs, HPAs, ingresses, PVCs, endpoints,
endpoint slices, controller revisions), seen through kubectl and raw HTTP."""

from __future__ import annotations

import json

import yaml

from tests.sandbox.conftest import KubectlRun, http
from tools.sandbox import SandboxHandle
from tools.sandbox.patch import strategic_merge_patch

TYPO = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "typo", "namespace": "dev"},
    "spec": {
        "replica": 2,
        "selector": {"matchLabels": {"app": "typo"}},
        "template": {
            "metadata": {"labels": {"app": "typo"}},
            "spec": {"containers": [{"name": "app", "image": "nginx:1.27", "imagee": "x"}]},
        },
    },
}


def test_an_applied_typo_is_refused_with_the_strict_decoding_message(
    kubectl: KubectlRun, sandbox: SandboxHandle
) -> None:
    out = kubectl("apply", "-f", "-", stdin=json.dumps(TYPO), check=False)
    assert out.returncode == 1
    assert (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: '
        'unknown field "spec.replica", unknown field "spec.template.spec.containers[0].imagee"'
    ) in out.stderr
    assert sandbox.cluster.get("deployment", "dev", "typo") is None
    warn = http(
        sandbox,
        sandbox.url + "/apis/apps/v1/namespaces/dev/deployments?fieldValidation=Warn",
        data=json.dumps(TYPO).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    assert warn[0] == 201  # Warn (the API default) accepts it and names the fields in Warning headers


def test_system_namespaces_cannot_be_deleted(kubectl: KubectlRun, sandbox: SandboxHandle) -> None:
    for ns in ("default", "kube-system"):
        out = kubectl("delete", "namespace", ns, check=False)
        assert f'namespaces "{ns}" is forbidden: this namespace may not be deleted' in out.stderr
        assert sandbox.cluster.get("namespace", None, ns) is not None
    assert 'namespace "dev" deleted' in kubectl("delete", "namespace", "dev").stdout


def test_not_found_answers_carry_details(sandbox: SandboxHandle) -> None:
    code, body = http(sandbox, sandbox.url + "/api/v1/namespaces/dev/pods/ghost")
    assert code == 404 and json.loads(body)["details"] == {"name": "ghost", "kind": "pods"}
    code, body = http(sandbox, sandbox.url + "/apis/apps/v1/namespaces/dev/deployments/ghost")
    assert json.loads(body)["details"] == {"name": "ghost", "kind": "deployments", "group": "apps"}
    code, body = http(sandbox, sandbox.url + "/api/v1/namespaces/dev/widgets")
    assert code == 404 and json.loads(body)["details"] == {}


def test_set_element_order_orders_the_merged_list() -> None:
    target = {"containers": [{"name": "a", "image": "1"}, {"name": "b", "image": "1"}]}
    patch = {
        "$setElementOrder/containers": [{"name": "b"}, {"name": "c"}, {"name": "a"}],
        "containers": [{"name": "c", "image": "2"}, {"name": "a", "image": "2"}],
    }
    merged = strategic_merge_patch(target, patch)
    assert merged == {
        "containers": [{"name": "b", "image": "1"}, {"name": "c", "image": "2"}, {"name": "a", "image": "2"}]
    }


def test_protobuf_only_commands_get_a_415_that_says_json_only(kubectl: KubectlRun) -> None:
    out = kubectl("create", "namespace", "made-by-generator", check=False)
    assert out.returncode == 1 and "speaks JSON only" in out.stderr


def test_explain_shows_the_real_schema_of_served_kinds(kubectl: KubectlRun) -> None:
    assert "Number of desired pods" in kubectl("explain", "deployment.spec.replicas").stdout
    assert "Subjects holds references" in kubectl("explain", "rolebinding.subjects").stdout
    assert "schedule" in kubectl("explain", "cronjob.spec").stdout


def test_server_side_apply_creates_then_merges(kubectl: KubectlRun, sandbox: SandboxHandle) -> None:
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ssa", "namespace": "dev"}, "data": {"a": "1"}}
    assert "serverside-applied" in kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(cm)).stdout
    cm["data"] = {"b": "2"}
    kubectl("apply", "--server-side", "-f", "-", stdin=yaml.safe_dump(cm))
    stored = sandbox.cluster.get("configmap", "dev", "ssa")
    assert stored is not None and stored["data"] == {"a": "1", "b": "2"}  # merged (one simplified field manager)
    code, body = http(
        sandbox,
        sandbox.url + "/api/v1/namespaces/dev/configmaps/ssa",
        data=yaml.safe_dump(cm).encode(),
        method="PATCH",
        headers={"Content-Type": "application/apply-patch+yaml"},
    )
    assert code == 422 and "fieldManager: Required value" in json.loads(body)["message"]


def test_exec_says_there_are_no_real_containers(kubectl: KubectlRun) -> None:
    out = kubectl("exec", "-n", "dev", "redis-0", "--", "ls", check=False)
    assert out.returncode == 1 and "the sandbox has no real containers" in out.stderr
    missing = kubectl("exec", "-n", "dev", "ghost", "--", "ls", check=False)
    assert 'pods "ghost" not found' in missing.stderr


def test_a_job_runs_a_pod_to_completion_and_its_deletion_takes_the_pod(
    kubectl: KubectlRun, sandbox: SandboxHandle
) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "migrate", "namespace": "dev"},
        "spec": {"template": {"spec": {"containers": [{"name": "m", "image": "busybox"}], "restartPolicy": "Never"}}},
    }
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(job))
    pods = json.loads(kubectl("get", "pods", "-n", "dev", "-l", "job-name=migrate", "-o", "json").stdout)["items"]
    assert len(pods) == 1 and pods[0]["status"]["phase"] == "Succeeded"
    status = json.loads(kubectl("get", "job", "migrate", "-n", "dev", "-o", "json").stdout)["status"]
    assert status["succeeded"] == 1 and {c["type"] for c in status["conditions"]} >= {"Complete"}
    kubectl("delete", "job", "migrate", "-n", "dev")
    assert json.loads(kubectl("get", "pods", "-n", "dev", "-l", "job-name=migrate", "-o", "json").stdout)["items"] == []


def test_cronjobs_ingresses_and_claims_round_trip(kubectl: KubectlRun) -> None:
    docs = [
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "nightly", "namespace": "dev"},
            "spec": {
                "schedule": "0 3 * * *",
                "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "n", "image": "busybox"}]}}}},
            },
        },
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": "shop", "namespace": "dev"},
            "spec": {"rules": [{"host": "shop.example.com"}]},
        },
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data", "namespace": "dev"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
        },
    ]
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    names = kubectl("get", "cronjobs,ingresses,pvc", "-n", "dev", "-o", "name").stdout.split()
    assert names == ["cronjob.batch/nightly", "ingress.networking.k8s.io/shop", "persistentvolumeclaim/data"]


def test_an_hpa_reports_its_target_and_status(kubectl: KubectlRun) -> None:
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "cart", "namespace": "dev"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "cart-service-v1"},
            "minReplicas": 2,
            "maxReplicas": 5,
        },
    }
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(hpa))
    status = json.loads(kubectl("get", "hpa", "cart", "-n", "dev", "-o", "json").stdout)["status"]
    assert (status["currentReplicas"], status["desiredReplicas"]) == (1, 2)
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"AbleToScale": "True", "ScalingActive": "True"}


def test_endpoints_and_slices_follow_the_ready_pods_of_a_service(kubectl: KubectlRun, sandbox: SandboxHandle) -> None:
    ep = json.loads(kubectl("get", "endpoints", "cart-service", "-n", "dev", "-o", "json").stdout)
    ips = sorted(a["ip"] for a in ep["subsets"][0]["addresses"])
    pods = [
        p for p in sandbox.cluster.list_objects("pod", "dev") if p["metadata"]["labels"].get("app") == "cart-service"
    ]
    assert ips == sorted(p["status"]["podIP"] for p in pods) and len(ips) == 2
    payment = json.loads(kubectl("get", "endpoints", "payment-api", "-n", "dev", "-o", "json").stdout)
    assert "addresses" not in payment["subsets"][0] and payment["subsets"][0]["notReadyAddresses"]
    slices = kubectl(
        "get", "endpointslices", "-n", "dev", "-l", "kubernetes.io/service-name=cart-service", "-o", "name"
    )
    assert len(slices.stdout.split()) == 1
    kubectl("scale", "deployment/cart-service-v1", "-n", "dev", "--replicas=2")
    ep = json.loads(kubectl("get", "endpoints", "cart-service", "-n", "dev", "-o", "json").stdout)
    assert len(ep["subsets"][0]["addresses"]) == 3


def test_statefulset_rollout_history_lists_its_controller_revisions(kubectl: KubectlRun) -> None:
    kubectl("set", "image", "statefulset/redis", "redis=redis:7.4.1", "-n", "dev")
    history = kubectl("rollout", "history", "statefulset/redis", "-n", "dev").stdout
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
    kubectl("rollout", "undo", "statefulset/redis", "-n", "dev")
    image = kubectl("get", "sts", "redis", "-n", "dev", "-o", "jsonpath={.spec.template.spec.containers[0].image}")
    assert image.stdout != "redis:7.4.1"
