"""Object helpers for the sandbox's controllers: quantities, labels, owner references, spec validation, defaults
and the scripted-behaviour annotations.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

from tools.sandbox.selectors import selector_from_match_labels

if TYPE_CHECKING:
    from tools.sandbox.cluster import Cluster

Obj = dict[str, Any]

BEHAVIOUR = "sandbox.kubeduty.io/behaviour"  # healthy | crashloop | imagepull | oomkilled | pending
BAD_IMAGE = "sandbox.kubeduty.io/bad-image"  # with imagepull: only this image fails to pull
NEEDS_MEMORY = "sandbox.kubeduty.io/needs-memory"  # with oomkilled: a memory limit >= this heals it
LOG_PROFILE = "sandbox.kubeduty.io/log-profile"  # which scripted log lines the containers print
REVISION = "deployment.kubernetes.io/revision"
_BAD_IMAGE_HINTS = ("typo", "does-not-exist", "doesnotexist", "nonexistent", "notfound")
_HASH_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUANTITY = re.compile(r"^([0-9.]+)([a-zA-Z]*)$")
_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
    "m": 0.001,
}
MAX_EVENTS_PER_NAMESPACE = 2000


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse(text: str | None) -> datetime | None:
    from tools.sandbox.cluster import parse_ts

    return parse_ts(text)


def quantity(text: Any) -> float:
    m = _QUANTITY.match(str(text or "0"))
    if not m or m.group(2) not in _UNITS:
        return 0.0
    return float(m.group(1)) * _UNITS[m.group(2)]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _pruned(value: Any) -> Any:
    """Drop nulls and empty maps/lists, so `creationTimestamp: null` from kubectl does not change the hash."""
    if isinstance(value, dict):
        out = {k: _pruned(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def template_hash(template: Obj, n: int = 10) -> str:
    canonical = json.dumps(_pruned(template), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return "".join(_HASH_CHARS[b % len(_HASH_CHARS)] for b in digest[:n])


def _annotations(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def _labels(obj: Obj) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("labels") or {})


def _controller_uid(obj: Obj) -> str | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None


def _owner_ref(owner: Obj) -> Obj:
    return {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _validate_pod_spec(spec: Any, prefix: str) -> list[tuple[str, str]]:
    causes: list[tuple[str, str]] = []
    if not isinstance(spec, dict):
        return [(prefix, "Required value")]
    containers = spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return [(f"{prefix}.containers", "Required value")]
    seen: set[str] = set()
    for i, c in enumerate(containers):
        if not isinstance(c, dict):
            causes.append((f"{prefix}.containers[{i}]", "Invalid value: must be an object"))
            continue
        name = c.get("name")
        if not name:
            causes.append((f"{prefix}.containers[{i}].name", "Required value"))
        elif not isinstance(name, str) or not _LABEL.match(name) or len(name) > 63:
            causes.append(
                (
                    f"{prefix}.containers[{i}].name",
                    f"Invalid value: \"{name}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'",
                )
            )
        elif name in seen:
            causes.append((f"{prefix}.containers[{i}].name", f'Duplicate value: "{name}"'))
        else:
            seen.add(name)
        if not c.get("image"):
            causes.append((f"{prefix}.containers[{i}].image", "Required value"))
        for j, env in enumerate(c.get("env") or []):
            if not isinstance(env, dict) or not env.get("name"):
                causes.append((f"{prefix}.containers[{i}].env[{j}].name", "Required value"))
    return causes


def _matches_selector(selector: Obj, labels: dict[str, str]) -> bool:
    return selector_from_match_labels(selector)({"metadata": {"labels": labels}})


def validate_spec(kind: str, obj: Obj) -> list[tuple[str, str]]:
    spec = obj.get("spec")
    if kind == "Pod":
        return _validate_pod_spec(spec, "spec")
    if kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        if not isinstance(spec, dict):
            return [("spec", "Required value")]
        causes: list[tuple[str, str]] = []
        replicas = spec.get("replicas", 1)
        if kind != "DaemonSet" and (not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0):
            causes.append(("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0"))
        selector = spec.get("selector")
        if not isinstance(selector, dict) or not (selector.get("matchLabels") or selector.get("matchExpressions")):
            causes.append(("spec.selector", "Required value"))
        template = spec.get("template")
        if not isinstance(template, dict):
            causes.append(("spec.template", "Required value"))
            return causes
        labels = _labels(template)
        if isinstance(selector, dict) and causes == [] and not _matches_selector(selector, labels):
            causes.append(
                (
                    "spec.template.metadata.labels",
                    f"Invalid value: {json.dumps(labels)}: `selector` does not match template `labels`",
                )
            )
        causes.extend(_validate_pod_spec(template.get("spec"), "spec.template.spec"))
        return causes
    if kind == "ConfigMap":
        return [
            (f"data[{k}]", "Invalid value: must be a string")
            for k, v in (obj.get("data") or {}).items()
            if not isinstance(v, str)
        ]
    if kind == "Event" and not isinstance(obj.get("involvedObject"), dict):
        return [("involvedObject", "Required value")]
    return []


def immutable_changes(kind: str, current: Obj, new: Obj) -> list[tuple[str, str]]:
    if kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        old_sel = (current.get("spec") or {}).get("selector")
        new_sel = (new.get("spec") or {}).get("selector")
        if old_sel != new_sel:
            return [("spec.selector", f"Invalid value: {json.dumps(new_sel)}: field is immutable")]
    if kind == "Pod":

        def strip(spec: Obj) -> Obj:
            s = copy.deepcopy(spec)
            for c in s.get("containers") or []:
                c.pop("image", None)
            for k in ("activeDeadlineSeconds", "tolerations", "terminationGracePeriodSeconds"):
                s.pop(k, None)
            return s

        if strip(current.get("spec") or {}) != strip(new.get("spec") or {}):
            return [
                (
                    "spec",
                    "Forbidden: pod updates may not change fields other than `spec.containers[*].image`, "
                    "`spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only "
                    "additions to existing tolerations), `spec.terminationGracePeriodSeconds` (allow it to be set "
                    "to 1 if it was previously negative)",
                )
            ]
    if kind == "Service":
        old_ip = (current.get("spec") or {}).get("clusterIP")
        new_ip = (new.get("spec") or {}).get("clusterIP")
        if old_ip and new_ip and old_ip != new_ip:
            return [("spec.clusterIP", f'Invalid value: "{new_ip}": field is immutable')]
    return []


def _default_pod_spec(spec: Obj) -> None:
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for c in spec.get("containers") or []:
        if not isinstance(c, dict):
            continue
        image = str(c.get("image") or "")
        tag = image.rsplit("/", 1)[-1]
        latest = ":" not in tag or tag.endswith(":latest")
        c.setdefault("imagePullPolicy", "Always" if latest and "@" not in image else "IfNotPresent")
        c.setdefault("terminationMessagePath", "/dev/termination-log")
        c.setdefault("terminationMessagePolicy", "File")
        c.setdefault("resources", {})
        for p in c.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")


def apply_defaults(cluster: Cluster, kind: str, obj: Obj) -> None:
    spec = obj.get("spec")
    meta = obj["metadata"]
    if kind == "Namespace":
        obj.setdefault("spec", {}).setdefault("finalizers", ["kubernetes"])
        obj.setdefault("status", {}).setdefault("phase", "Active")
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta.get("name", "")
    elif kind == "Pod" and isinstance(spec, dict):
        _default_pod_spec(spec)
    elif kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet") and isinstance(spec, dict):
        if kind != "DaemonSet":
            spec.setdefault("replicas", 1)
        spec.setdefault("revisionHistoryLimit", 10)
        if kind == "Deployment":
            spec.setdefault(
                "strategy", {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}
            )
            spec.setdefault("progressDeadlineSeconds", 600)
        elif kind == "StatefulSet":
            spec.setdefault("podManagementPolicy", "OrderedReady")
            spec.setdefault("updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}})
            spec.setdefault("persistentVolumeClaimRetentionPolicy", {"whenDeleted": "Retain", "whenScaled": "Retain"})
        elif kind == "DaemonSet":
            spec.setdefault(
                "updateStrategy", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
            )
        template = spec.get("template")
        if isinstance(template, dict):
            template.setdefault("metadata", {})
            if isinstance(template.get("spec"), dict):
                _default_pod_spec(template["spec"])
    elif kind == "Service":
        spec = obj.setdefault("spec", {})
        spec.setdefault("type", "ClusterIP")
        if not spec.get("clusterIP"):
            n = int(_sha(f"{meta.get('namespace')}/{meta.get('name')}")[:6], 16)
            spec["clusterIP"] = f"10.96.{n % 250}.{(n >> 8) % 250 + 2}"
        spec.setdefault("clusterIPs", [spec["clusterIP"]])
        spec.setdefault("sessionAffinity", "None")
        spec.setdefault("ipFamilies", ["IPv4"])
        spec.setdefault("ipFamilyPolicy", "SingleStack")
        spec.setdefault("internalTrafficPolicy", "Cluster")
        for p in spec.get("ports") or []:
            if isinstance(p, dict):
                p.setdefault("protocol", "TCP")
                p.setdefault("targetPort", p.get("port"))
        obj.setdefault("status", {"loadBalancer": {}})
    elif kind == "Secret":
        obj.setdefault("type", "Opaque")
        string_data = obj.pop("stringData", None)
        if isinstance(string_data, dict):
            data = obj.setdefault("data", {})
            for k, v in string_data.items():
                data[k] = base64.b64encode(str(v).encode()).decode()


def image_id(image: str) -> str:
    repo = image.split("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo[: len(repo) - len(last)] + last.split(":", 1)[0]
    if "/" not in repo:
        repo = f"docker.io/library/{repo}"
    elif "." not in repo.split("/", 1)[0] and ":" not in repo.split("/", 1)[0]:
        repo = f"docker.io/{repo}"
    return f"{repo}@sha256:{_sha(image)}"


def image_is_bad(image: str, annotations: dict[str, str]) -> bool:
    if any(h in image for h in _BAD_IMAGE_HINTS):
        return True
    if annotations.get(BEHAVIOUR) == "imagepull":
        bad = annotations.get(BAD_IMAGE)
        return bad is None or bad == image
    return False


def _memory_limit(container: Obj) -> float:
    res = container.get("resources") or {}
    return quantity((res.get("limits") or {}).get("memory"))


def _memory_request(spec: Obj) -> float:
    total = 0.0
    for c in spec.get("containers") or []:
        res = c.get("resources") or {}
        total += quantity((res.get("requests") or {}).get("memory") or (res.get("limits") or {}).get("memory"))
    return total


def _qos(spec: Obj) -> str:
    any_set = False
    guaranteed = True
    for c in spec.get("containers") or []:
        res = c.get("resources") or {}
        req, lim = res.get("requests") or {}, res.get("limits") or {}
        if req or lim:
            any_set = True
        for r in ("cpu", "memory"):
            if r not in lim or req.get(r, lim.get(r)) != lim.get(r):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def _container(pod: Obj, name: str) -> Obj:
    return next((c for c in pod["spec"].get("containers") or [] if c.get("name") == name), {})


def _put_if_changed(cluster: Cluster, plural: str, current: Obj, new: Obj) -> Obj:
    if new != current:
        return cluster.store(plural, new)
    return current


def _revision(obj: Obj) -> int:
    try:
        return int(_annotations(obj).get(REVISION, "0"))
    except ValueError:
        return 0


def _pod_ready(pod: Obj) -> bool:
    for c in (pod.get("status") or {}).get("conditions") or []:
        if c.get("type") == "Ready":
            return bool(c.get("status") == "True")
    return False


def _revision_hash(obj: Obj) -> str:
    return f"{obj['metadata']['name']}-{template_hash(obj['spec']['template'])}"
