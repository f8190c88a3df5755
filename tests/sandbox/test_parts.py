"""The pure parts: patches, selectors, logs options, raw HTTP details kubectl relies on."""

from __future__ import annotations

import json

import pytest

from tests.sandbox.conftest import http
from tools.sandbox import SandboxHandle
from tools.sandbox.patch import PatchError, json_patch, merge_patch, strategic_merge_patch
from tools.sandbox.resources import BY_PLURAL
from tools.sandbox.selectors import SelectorError, parse_field_selector, parse_label_selector


def test_strategic_merge_merges_containers_and_env_by_name_and_deletes_with_null() -> None:
    doc = {
        "spec": {
            "containers": [
                {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]},
                {"name": "b", "image": "b:1"},
            ],
            "nodeSelector": {"disk": "ssd"},
        }
    }
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "a", "env": [{"name": "Y", "value": "3"}, {"name": "X", "$patch": "delete"}]}],
            "nodeSelector": None,
        }
    }
    out = strategic_merge_patch(doc, patch)
    assert out == {
        "spec": {
            "containers": [
                {"name": "a", "image": "a:1", "env": [{"name": "Y", "value": "3"}]},
                {"name": "b", "image": "b:1"},
            ]
        }
    }


def test_merge_patch_replaces_lists_and_json_patch_follows_rfc6902() -> None:
    assert merge_patch({"a": [1, 2], "b": {"c": 1}}, {"a": [3], "b": {"c": None}}) == {"a": [3], "b": {}}
    doc = {"metadata": {"labels": {"x": "1"}}, "items": [1, 2]}
    out = json_patch(
        doc,
        [
            {"op": "add", "path": "/metadata/labels/y", "value": "2"},
            {"op": "replace", "path": "/items/0", "value": 9},
            {"op": "remove", "path": "/metadata/labels/x"},
            {"op": "add", "path": "/items/-", "value": 3},
            {"op": "test", "path": "/items/1", "value": 2},
        ],
    )
    assert out == {"metadata": {"labels": {"y": "2"}}, "items": [9, 2, 3]}
    assert doc["items"] == [1, 2]  # the input is not touched
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": "replace", "path": "/nope", "value": 1}])
    with pytest.raises(PatchError):
        json_patch(doc, [{"op": "test", "path": "/items/0", "value": 5}])


def test_selectors_parse_like_the_api_server() -> None:
    pred = parse_label_selector("env in (prod, staging),tier!=db,!legacy")
    assert pred is not None
    assert pred({"metadata": {"labels": {"env": "prod", "tier": "web"}}})
    assert not pred({"metadata": {"labels": {"env": "prod", "legacy": "1"}}})
    assert not pred({"metadata": {"labels": {"env": "dev"}}})
    with pytest.raises(SelectorError):
        parse_label_selector("app in prod")
    with pytest.raises(SelectorError):
        parse_field_selector("status.nope=1", BY_PLURAL["pods"])
    field = parse_field_selector("involvedObject.kind=Pod,type!=Normal", BY_PLURAL["events"])
    assert field is not None
    assert field({"involvedObject": {"kind": "Pod"}, "type": "Warning"})
    assert not field({"involvedObject": {"kind": "Pod"}, "type": "Normal"})


def _get(handle: SandboxHandle, url: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    return http(handle, url, headers=headers)


def test_discovery_has_what_kubectl_needs(sandbox_session: SandboxHandle) -> None:
    code, body = _get(sandbox_session, sandbox_session.url + "/version")
    version = json.loads(body)
    assert code == 200 and (version["major"], version["minor"]) == ("1", "32")
    assert version["gitVersion"].startswith("v1.32.")
    core = json.loads(_get(sandbox_session, sandbox_session.url + "/api/v1")[1])
    assert core["groupVersion"] == "v1"
    names = {r["name"] for r in core["resources"]}
    assert {"pods", "pods/log", "pods/status", "nodes", "events", "namespaces", "secrets"} <= names
    apps = json.loads(_get(sandbox_session, sandbox_session.url + "/apis/apps/v1")[1])
    scale = next(r for r in apps["resources"] if r["name"] == "deployments/scale")
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    assert any(r["name"] == "statefulsets/scale" for r in apps["resources"])
    groups = json.loads(_get(sandbox_session, sandbox_session.url + "/apis")[1])
    assert groups["groups"][0]["name"] == "apps"


def test_logs_options_tail_since_timestamps_and_errors(sandbox_session: SandboxHandle) -> None:
    pods = sandbox_session.cluster.list_objects("pod", "production")
    web = next(p["metadata"]["name"] for p in pods if p["metadata"]["name"].startswith("web-"))
    base = f"{sandbox_session.url}/api/v1/namespaces/production/pods/{web}/log"
    code, body = _get(sandbox_session, base)
    assert code == 400
    assert (
        json.loads(body)["message"]
        == f"a container name must be specified for pod {web}, choose one of: [web nginx-sidecar]"
    )
    code, body = _get(sandbox_session, base + "?container=web&tailLines=2&timestamps=true")
    lines = body.decode().splitlines()
    assert code == 200 and len(lines) == 2
    assert all(line[:30].endswith("Z") and line[19] == "." for line in lines)
    everything = _get(sandbox_session, base + "?container=web")[1].decode().splitlines()
    recent = _get(sandbox_session, base + "?container=web&sinceSeconds=600")[1].decode().splitlines()
    assert 0 < len(recent) < len(everything)
    code, body = _get(sandbox_session, base + "?container=nope")
    assert code == 400 and "is not valid for pod" in json.loads(body)["message"]
    worker = next(p["metadata"]["name"] for p in pods if p["metadata"]["name"].startswith("report-worker-"))
    code, body = _get(sandbox_session, f"{sandbox_session.url}/api/v1/namespaces/production/pods/{worker}/log")
    assert code == 400 and json.loads(body)["message"] == f"pod {worker} does not have a host assigned"


def test_table_rows_carry_partial_object_metadata(sandbox_session: SandboxHandle) -> None:
    code, body = _get(
        sandbox_session,
        sandbox_session.url + "/api/v1/namespaces/dev/pods?limit=2",
        {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"},
    )
    table = json.loads(body)
    assert code == 200 and table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"] if c["priority"] == 0] == [
        "Name",
        "Ready",
        "Status",
        "Restarts",
        "Age",
    ]
    assert len(table["rows"]) == 2 and table["metadata"]["continue"]
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


def test_protobuf_bodies_are_refused_with_a_415_that_says_the_sandbox_speaks_json_only(
    sandbox_session: SandboxHandle,
) -> None:
    code, body = http(
        sandbox_session,
        sandbox_session.url + "/api/v1/namespaces",
        data=b"k8s\x00",
        headers={"Content-Type": "application/vnd.kubernetes.protobuf"},
        method="POST",
    )
    assert code == 415
    assert "speaks JSON only" in json.loads(body)["message"]
    assert len(sandbox_session.cluster.list_objects("namespace")) == 4


def test_a_watch_from_a_compacted_resource_version_gets_410_expired(sandbox: SandboxHandle) -> None:
    code, body = _get(
        sandbox, sandbox.url + "/api/v1/namespaces/dev/pods?watch=true&resourceVersion=1&timeoutSeconds=1"
    )
    first = json.loads(body.decode().splitlines()[0])
    assert code == 200 and first["type"] == "ERROR"
    assert first["object"]["code"] == 410 and first["object"]["reason"] == "Expired"


def test_a_table_watch_sends_rows_with_columns_first(sandbox: SandboxHandle) -> None:
    code, body = _get(
        sandbox,
        sandbox.url + "/api/v1/namespaces/dev/pods?watch=true&timeoutSeconds=1",
        {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"},
    )
    events = [json.loads(line) for line in body.decode().splitlines()]
    assert code == 200 and len(events) == 5
    assert all(e["type"] == "ADDED" and e["object"]["kind"] == "Table" for e in events)
    assert events[0]["object"]["columnDefinitions"] and not events[1]["object"]["columnDefinitions"]
    assert events[0]["object"]["rows"][0]["cells"][0].startswith("cart-service-v1-")
