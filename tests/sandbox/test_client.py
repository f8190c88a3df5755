"""The official kubernetes client (strict pydantic models, sync and asyncio) against the sandbox over HTTP."""

# The generated models type every field Optional; asserting on them here is the point, so no None-guards.
# mypy: disable-error-code="union-attr,index,operator,type-var,arg-type"

from __future__ import annotations

import json
import socket
import threading

import pytest
import urllib3
from kubernetes import client, watch
from kubernetes.aio import client as aclient
from kubernetes.aio import watch as awatch
from kubernetes.client.exceptions import ApiException

from tests.sandbox.conftest import Apis
from tools.sandbox import SandboxHandle

SMP = "application/strategic-merge-patch+json"


def _status(exc: ApiException) -> dict:
    return dict(json.loads(exc.body))


def test_every_seeded_object_parses_with_the_strict_client(apis: Apis) -> None:
    pods = apis.core.list_pod_for_all_namespaces()
    assert len(pods.items) == 19
    assert {n.metadata.name for n in apis.core.list_node().items} == {"node-1", "node-2", "node-3"}
    for ns in ("default", "dev", "production", "kube-system"):
        apis.core.list_namespaced_event(ns)
        apis.core.list_namespaced_service(ns)
        apis.core.list_namespaced_config_map(ns)
        apis.core.list_namespaced_secret(ns)
    assert len(apis.apps.list_deployment_for_all_namespaces().items) == 10
    assert len(apis.apps.list_replica_set_for_all_namespaces().items) == 11
    assert [s.metadata.name for s in apis.apps.list_stateful_set_for_all_namespaces().items] == ["redis"]
    ds = apis.apps.read_namespaced_daemon_set("kube-proxy", "kube-system")
    assert ds.status.number_ready == 3


def test_crashloop_pod_has_the_status_a_real_kubelet_reports(apis: Apis) -> None:
    pod = apis.core.list_namespaced_pod("dev", label_selector="app=payment-api").items[0]
    cs = pod.status.container_statuses[0]
    assert cs.state.waiting.reason == "CrashLoopBackOff"
    assert cs.last_state.terminated.exit_code == 1 and cs.last_state.terminated.reason == "Error"
    assert cs.restart_count > 0 and cs.ready is False
    previous = apis.core.read_namespaced_pod_log(pod.metadata.name, "dev", previous=True)
    assert "connection refused" in previous and "panic:" in previous


def test_oom_and_pending_pods_say_why(apis: Apis) -> None:
    orders = apis.core.list_namespaced_pod("production", label_selector="app=orders").items[0]
    term = orders.status.container_statuses[0].last_state.terminated
    assert (term.reason, term.exit_code) == ("OOMKilled", 137)
    worker = apis.core.list_namespaced_pod("production", label_selector="app=report-worker").items[0]
    assert worker.status.phase == "Pending"
    sched = next(c for c in worker.status.conditions if c.type == "PodScheduled")
    assert sched.status == "False" and sched.reason == "Unschedulable"
    assert "Insufficient memory" in sched.message
    events = apis.core.list_namespaced_event(
        "production", field_selector=f"involvedObject.name={worker.metadata.name},reason=FailedScheduling"
    ).items
    assert len(events) == 1 and events[0].message.startswith("0/3 nodes are available: 3 Insufficient memory.")


def test_image_pull_failure_emits_not_found_events(apis: Apis) -> None:
    pod = apis.core.list_namespaced_pod("dev", label_selector="app=frontend").items[0]
    assert pod.spec.containers[0].image == "registry.example.com/frontend:v2.3.1-typo"
    events = apis.core.list_namespaced_event(
        "dev", field_selector=f"involvedObject.name={pod.metadata.name},type=Warning"
    )
    messages = [e.message for e in events.items]
    assert any(
        m.startswith('Failed to pull image "registry.example.com/frontend:v2.3.1-typo"') and m.endswith("not found")
        for m in messages
    )
    assert "Error: ErrImagePull" in messages


def test_secret_looking_seed_data_is_there_for_the_masking_work(apis: Apis) -> None:
    secret = apis.core.read_namespaced_secret("db-credentials", "production")
    assert set(secret.data) >= {"password", "username"}
    orders = apis.apps.read_namespaced_deployment("orders", "production")
    env = {e.name: e for e in orders.spec.template.spec.containers[0].env}
    assert env["DATABASE_URL"].value == "postgres://orders:S3cr3t-Passw0rd@db.production:5432/orders"
    assert env["DB_PASSWORD"].value_from.secret_key_ref.name == "db-credentials"
    web = apis.apps.read_namespaced_deployment("web", "production")
    token = web.metadata.annotations["example.com/api-token"]
    assert token.startswith("ghp_") and len(token) == 40
    checkout = apis.core.list_namespaced_pod("production", label_selector="app=checkout").items[0]
    text = apis.core.read_namespaced_pod_log(checkout.metadata.name, "production")
    assert (
        "password=hunter2" in text and "Authorization: Bearer eyJhbGciOi" in text and "AWS_SECRET_ACCESS_KEY=" in text
    )


def test_not_found_already_exists_and_invalid_are_shaped_like_the_real_server(apis: Apis) -> None:
    with pytest.raises(ApiException) as nf:
        apis.core.read_namespaced_pod("nope", "dev")
    assert nf.value.status == 404
    assert _status(nf.value) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'pods "nope" not found',
        "reason": "NotFound",
        "details": {"name": "nope", "kind": "pods"},
        "code": 404,
    }
    with pytest.raises(ApiException) as nf_apps:
        apis.apps.read_namespaced_deployment("nope", "dev")
    assert _status(nf_apps.value)["message"] == 'deployments.apps "nope" not found'
    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x"), data={"k": "v"})
    apis.core.create_namespaced_config_map("dev", cm)
    with pytest.raises(ApiException) as exists:
        apis.core.create_namespaced_config_map("dev", cm)
    assert exists.value.status == 409
    assert _status(exists.value)["reason"] == "AlreadyExists"
    assert _status(exists.value)["message"] == 'configmaps "x" already exists'
    bad = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="Bad_Name"), data={})
    with pytest.raises(ApiException) as inv:
        apis.core.create_namespaced_config_map("dev", bad)
    body = _status(inv.value)
    assert inv.value.status == 422 and body["reason"] == "Invalid"
    assert body["message"].startswith('ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"')
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    with pytest.raises(ApiException) as missing_ns:
        apis.core.list_namespaced_pod("no-such-namespace")
    assert _status(missing_ns.value)["message"] == 'namespaces "no-such-namespace" not found'


def test_a_stale_resource_version_is_a_conflict(apis: Apis) -> None:
    cm = apis.core.create_namespaced_config_map(
        "dev", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c"), data={"a": "1"})
    )
    cm.data = {"a": "2"}
    apis.core.replace_namespaced_config_map("c", "dev", cm)
    cm.data = {"a": "3"}
    with pytest.raises(ApiException) as exc:
        apis.core.replace_namespaced_config_map("c", "dev", cm)
    assert exc.value.status == 409 and _status(exc.value)["reason"] == "Conflict"
    assert apis.core.read_namespaced_config_map("c", "dev").data == {"a": "2"}


def test_pagination_walks_every_pod_once(apis: Apis) -> None:
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = apis.core.list_pod_for_all_namespaces(limit=4, _continue=token)
        pages += 1
        seen.extend(f"{p.metadata.namespace}/{p.metadata.name}" for p in page.items)
        token = page.metadata._continue
        if not token:
            break
        assert page.metadata.remaining_item_count == 19 - len(seen)
    assert pages == 5 and len(seen) == 19 and len(set(seen)) == 19
    assert seen == sorted(seen)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("app=cart-service", {"cart-service-v1", "cart-service-v2"}),
        ("app==cart-service,version!=v1", {"cart-service-v2"}),
        ("app in (redis, frontend)", {"redis", "frontend"}),
        ("app notin (cart-service,redis,frontend)", {"payment-api"}),
        ("version", {"cart-service-v1", "cart-service-v2"}),
        ("!version,app", {"payment-api", "frontend", "redis"}),
        # `!=` and `notin` also match objects that lack the key, as the real API server does.
        ("version!=v1", {"cart-service-v2", "payment-api", "frontend", "redis"}),
        ("version notin (v1,v2)", {"payment-api", "frontend", "redis"}),
    ],
)
def test_label_selectors(apis: Apis, selector: str, expected: set[str]) -> None:
    pods = apis.core.list_namespaced_pod("dev", label_selector=selector).items
    owners = {("redis" if p.metadata.name == "redis-0" else p.metadata.name.rsplit("-", 2)[0]) for p in pods}
    assert owners == expected


def test_field_selectors_and_a_bad_one(apis: Apis) -> None:
    pending = apis.core.list_pod_for_all_namespaces(field_selector="status.phase=Pending").items
    assert {p.metadata.name.rsplit("-", 2)[0] for p in pending} == {"frontend", "report-worker"}
    on_node = apis.core.list_pod_for_all_namespaces(field_selector="spec.nodeName=node-1").items
    assert on_node and all(p.spec.node_name == "node-1" for p in on_node)
    named = apis.core.list_namespaced_pod("dev", field_selector="metadata.name=redis-0,metadata.namespace=dev").items
    assert [p.metadata.name for p in named] == ["redis-0"]
    with pytest.raises(ApiException) as exc:
        apis.core.list_namespaced_pod("dev", field_selector="spec.bogus=1")
    assert exc.value.status == 400 and "field label not supported" in _status(exc.value)["message"]


def test_dry_run_validates_and_returns_but_changes_nothing(apis: Apis, sandbox: SandboxHandle) -> None:
    before = sandbox.cluster.resource_version
    cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="dry"), data={"a": "1"})
    out = apis.core.create_namespaced_config_map("dev", cm, dry_run="All")
    assert out.metadata.name == "dry" and out.metadata.uid
    assert sandbox.cluster.get("configmap", "dev", "dry") is None
    patched = apis.apps.patch_namespaced_deployment("web", "production", {"spec": {"replicas": 7}}, dry_run="All")
    assert patched.spec.replicas == 7
    deleted = apis.core.delete_namespaced_pod("redis-0", "dev", dry_run="All")
    assert deleted.metadata.name == "redis-0"
    apis.apps.patch_namespaced_deployment_scale("web", "production", {"spec": {"replicas": 0}}, dry_run="All")
    with pytest.raises(ApiException) as exc:
        apis.core.create_namespaced_config_map(
            "dev", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="BAD")), dry_run="All"
        )
    assert exc.value.status == 422
    assert sandbox.cluster.resource_version == before
    assert apis.apps.read_namespaced_deployment("web", "production").spec.replicas == 3
    assert len(apis.core.list_namespaced_pod("production", label_selector="app=web").items) == 3


def test_scale_subresource_and_patch_flavours(apis: Apis) -> None:
    scale = apis.apps.patch_namespaced_deployment_scale("checkout", "production", {"spec": {"replicas": 4}})
    assert scale.spec.replicas == 4
    assert len(apis.core.list_namespaced_pod("production", label_selector="app=checkout").items) == 4
    apis.apps.patch_namespaced_deployment(
        "checkout",
        "production",
        {"metadata": {"labels": {"team": "payments"}}},
        _content_type="application/merge-patch+json",
    )
    apis.apps.patch_namespaced_deployment(
        "checkout", "production", [{"op": "replace", "path": "/spec/replicas", "value": 1}]
    )
    d = apis.apps.read_namespaced_deployment("checkout", "production")
    assert d.metadata.labels["team"] == "payments" and d.spec.replicas == 1
    assert (
        d.status.replicas == 1
        and d.status.ready_replicas == 1
        and d.status.observed_generation == d.metadata.generation
    )
    # Strategic merge merges containers by name instead of replacing the list.
    apis.apps.patch_namespaced_deployment(
        "web",
        "production",
        {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "registry.example.com/web:v5.3.0"}]}}}},
    )
    web = apis.apps.read_namespaced_deployment("web", "production")
    images = [c.image for c in web.spec.template.spec.containers]
    assert images == ["registry.example.com/web:v5.3.0", "nginx:1.27.3"]
    assert web.metadata.annotations["deployment.kubernetes.io/revision"] == "2"


def test_statefulset_pods_are_ordinal_and_scale(apis: Apis) -> None:
    apis.apps.patch_namespaced_stateful_set_scale("redis", "dev", {"spec": {"replicas": 3}})
    names = sorted(p.metadata.name for p in apis.core.list_namespaced_pod("dev", label_selector="app=redis").items)
    assert names == ["redis-0", "redis-1", "redis-2"]
    apis.apps.patch_namespaced_stateful_set_scale("redis", "dev", {"spec": {"replicas": 1}})
    names = sorted(p.metadata.name for p in apis.core.list_namespaced_pod("dev", label_selector="app=redis").items)
    assert names == ["redis-0"]


def test_a_new_node_gets_a_kube_proxy_pod(apis: Apis, sandbox: SandboxHandle) -> None:
    node = sandbox.cluster.get("node", None, "node-3")
    assert node is not None
    node["metadata"] = {"name": "node-4", "labels": {"kubernetes.io/hostname": "node-4"}}
    apis.core.create_node(node)
    proxies = apis.core.list_namespaced_pod("kube-system", label_selector="k8s-app=kube-proxy").items
    assert sorted(p.spec.node_name for p in proxies) == ["node-1", "node-2", "node-3", "node-4"]


def test_deleting_a_deployment_removes_its_replicasets_and_pods(apis: Apis) -> None:
    apis.apps.delete_namespaced_deployment("payment-api", "dev")
    assert apis.apps.list_namespaced_replica_set("dev", label_selector="app=payment-api").items == []
    assert apis.core.list_namespaced_pod("dev", label_selector="app=payment-api").items == []


def test_watch_streams_changes_after_a_resource_version(apis: Apis, sandbox: SandboxHandle) -> None:
    listing = apis.core.list_namespaced_config_map("dev")
    rv = listing.metadata.resource_version

    def writer() -> None:
        sandbox.cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "w1", "namespace": "dev"},
                "data": {"a": "1"},
            }
        )
        sandbox.cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "w1", "namespace": "dev"},
                "data": {"a": "2"},
            }
        )

    threading.Timer(0.2, writer).start()
    w = watch.Watch()
    seen = []
    for event in w.stream(apis.core.list_namespaced_config_map, "dev", resource_version=rv, timeout_seconds=10):
        seen.append((event["type"], event["object"].metadata.name, event["object"].data))
        if len(seen) == 2:
            w.stop()
    assert seen == [("ADDED", "w1", {"a": "1"}), ("MODIFIED", "w1", {"a": "2"})]


def test_watch_without_resource_version_starts_with_the_current_objects(apis: Apis) -> None:
    w = watch.Watch()
    events = list(
        w.stream(apis.core.list_namespaced_pod, "dev", field_selector="metadata.name=redis-0", timeout_seconds=1)
    )
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("ADDED", "redis-0")]


def test_set_down_answers_503_until_it_is_back(apis: Apis, sandbox: SandboxHandle) -> None:
    sandbox.cluster.set_down(True)
    with pytest.raises(ApiException) as exc:
        apis.core.list_namespace()
    assert exc.value.status == 503
    sandbox.cluster.set_down(False)
    assert len(apis.core.list_namespace().items) == 4


def test_requests_are_counted(apis: Apis, sandbox: SandboxHandle) -> None:
    sandbox.cluster.reset_requests()
    apis.core.list_namespaced_pod("dev")
    apis.apps.read_namespaced_deployment("web", "production")
    assert sandbox.cluster.requests == [
        ("GET", "/api/v1/namespaces/dev/pods"),
        ("GET", "/apis/apps/v1/namespaces/production/deployments/web"),
    ]


def test_delete_namespace_helper_removes_everything_in_it(apis: Apis, sandbox: SandboxHandle) -> None:
    assert sandbox.cluster.delete_namespace("production") is True
    assert sandbox.cluster.get("namespace", None, "production") is None
    assert sandbox.cluster.delete_namespace("production") is False
    with pytest.raises(ApiException) as exc:
        apis.core.list_namespaced_pod("production")
    assert exc.value.status == 404


async def test_the_asyncio_client_lists_reads_logs_and_watches(aio_api: aclient.ApiClient) -> None:
    core = aclient.CoreV1Api(aio_api)
    apps = aclient.AppsV1Api(aio_api)
    pods = await core.list_namespaced_pod("production")
    assert {p.metadata.name.rsplit("-", 2)[0] for p in pods.items} == {"web", "orders", "report-worker", "checkout"}
    web = next(p for p in pods.items if p.metadata.name.startswith("web-"))
    logs = await core.read_namespaced_pod_log(web.metadata.name, "production", container="web", tail_lines=5)
    assert len(logs.splitlines()) == 5
    deploy = await apps.read_namespaced_deployment("orders", "production")
    assert deploy.status.unavailable_replicas == 1
    w = awatch.Watch()
    events = []
    async for event in w.stream(core.list_namespaced_pod, "dev", label_selector="app=redis", timeout_seconds=1):
        events.append(event["object"].metadata.name)
    assert events == ["redis-0"]


def test_delete_object_helper_acts_like_a_client_and_the_controller_replaces_the_pod(
    apis: Apis, sandbox: SandboxHandle
) -> None:
    old = apis.core.list_namespaced_pod("production", label_selector="app=checkout").items[0].metadata.name
    assert sandbox.cluster.delete_object("pod", "production", old) is True
    assert sandbox.cluster.delete_object("pod", "production", old) is False
    names = [p.metadata.name for p in apis.core.list_namespaced_pod("production", label_selector="app=checkout").items]
    assert len(names) == 2 and old not in names


def test_set_down_with_refuse_drops_connections_until_it_listens_again(apis: Apis, sandbox: SandboxHandle) -> None:
    assert len(apis.core.list_namespace().items) == 4  # a keep-alive connection is now open
    sandbox.cluster.set_down(True, refuse=True)
    with pytest.raises(urllib3.exceptions.MaxRetryError) as exc:
        apis.core.list_namespace(_request_timeout=5)
    assert "Connection refused" in str(exc.value)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", sandbox.port), timeout=5).close()
    sandbox.cluster.set_down(False)
    assert len(apis.core.list_namespace().items) == 4


def test_concurrent_writers_and_readers_see_consistent_state(apis: Apis, sandbox: SandboxHandle) -> None:
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        try:
            for i in range(15):
                cm = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=f"w{worker}-{i}"), data={"i": str(i)})
                apis.core.create_namespaced_config_map("dev", cm)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)

    def scaler() -> None:
        try:
            for n in (2, 4, 1, 3):
                nginx = sandbox.cluster.get("deployment", "default", "nginx")
                assert nginx is not None
                nginx["spec"]["replicas"] = n
                sandbox.cluster.apply(nginx)
                apis.core.list_pod_for_all_namespaces()
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)] + [threading.Thread(target=scaler)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    cms = apis.core.list_namespaced_config_map("dev", label_selector="").items
    ours = [c for c in cms if c.metadata.name.startswith("w")]
    assert len(ours) == 90
    assert len({c.metadata.resource_version for c in ours}) == 90
    assert len(apis.core.list_namespaced_pod("default", label_selector="app=nginx").items) == 3


def test_the_pod_status_subresource_reads_and_patches_the_status(apis: Apis) -> None:
    status = apis.core.read_namespaced_pod_status("redis-0", "dev")
    assert status.metadata.name == "redis-0" and status.status.phase == "Running"
    image = status.spec.containers[0].image
    patched = apis.core.patch_namespaced_pod_status("redis-0", "dev", {"status": {"message": "checked by the test"}})
    assert patched.status.message == "checked by the test"
    again = apis.core.read_namespaced_pod("redis-0", "dev")
    assert again.status.message == "checked by the test" and again.status.phase == "Running"
    assert again.spec.containers[0].image == image
