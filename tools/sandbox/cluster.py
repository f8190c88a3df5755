"""The in-memory cluster: objects, resource versions, watch fan-out, CRUD with the real server's semantics.

Thread-safe: the HTTP server runs in its own thread and event loop while tests poke the state directly, so
every public method takes one re-entrant lock. Stored objects are never mutated in place: a write stores a
fresh dict, which lets the watch history and the per-object JSON cache share references safely.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import pickle
import random
import re
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from tools.sandbox import controller
from tools.sandbox.errors import (
    LABEL_MSG,
    SUBDOMAIN_MSG,
    ApiError,
    already_exists,
    bad_request,
    conflict,
    invalid,
    not_found,
)
from tools.sandbox.patch import PatchError, apply_patch
from tools.sandbox.resources import BY_PLURAL, RESOURCES, ResourceType, lookup
from tools.sandbox.selectors import Predicate

Obj = dict[str, Any]
WatchCallback = Callable[[str, str, Obj], None]

_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
WATCH_HISTORY = 50_000
REQUEST_LOG_LIMIT = 200_000
# Kinds whose status is only written through the status subresource (or by the controller).
_STATUS_SUBRESOURCE = {r.plural for r in RESOURCES if "status" in r.subresources}
_WORKLOADS = {"deployments", "replicasets", "statefulsets", "daemonsets"}


def ts(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.strptime(text[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _encode_continue(rv: int, key: tuple[str, str]) -> str:
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": f"{key[0]}/{key[1]}"}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[str, str]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        ns, _, name = str(json.loads(raw)["start"]).partition("/")
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise bad_request(f"continue key is not valid: {exc}") from exc
    return ns, name


class Cluster:
    def __init__(self, *, seed: str = "demo", now: datetime | None = None) -> None:
        self.lock = threading.RLock()
        self.seed = seed
        self.rng = random.Random(f"kubeduty-sandbox:{seed}")
        self.started = now or datetime.now(UTC).replace(microsecond=0)
        self._objs: dict[str, dict[str, dict[str, Obj]]] = {r.plural: {} for r in RESOURCES}
        self._enc: dict[str, dict[tuple[str, str], bytes]] = {r.plural: {} for r in RESOURCES}
        self._rv = 1000
        self._history: deque[tuple[int, str, str, Obj]] = deque(maxlen=WATCH_HISTORY)
        self._history_floor = self._rv
        self._watchers: dict[int, WatchCallback] = {}
        self._watch_ids = 0
        self._ip_counter = 0
        self.emit_events = True
        # While seeding, objects are created "in the past" so ages, restarts and events look lived-in.
        self.backdate = 0.0
        self.sched_counter = 0
        self.deferred: set[str] | None = None
        self.down = False
        self.live = False  # time moves (see timeflow.py); frozen by default so tests see a still world
        self.speed = 1.0
        self.on_listening: Callable[[bool], None] | None = None  # set by the server handle
        self.requests: list[tuple[str, str]] = []
        self.request_count = 0

    def clone(self) -> Cluster:
        """An independent copy (objects, counters, RNG state; no watchers, no history): a cheap fresh seed."""
        with self.lock:
            twin = Cluster(seed=self.seed, now=self.started)
            twin._objs = pickle.loads(pickle.dumps(self._objs, protocol=pickle.HIGHEST_PROTOCOL))
            twin._rv = self._rv
            twin._history_floor = self._rv
            twin._ip_counter = self._ip_counter
            twin.sched_counter = self.sched_counter
            twin.rng.setstate(self.rng.getstate())
            return twin

    # ---- helpers for tests and teammates (thread-safe, return copies) ----------------------------------

    def get(self, kind: str, namespace: str | None, name: str) -> Obj | None:
        rtype = self._rtype(kind)
        with self.lock:
            obj = self._objs[rtype.plural].get(namespace or "", {}).get(name)
            return copy.deepcopy(obj) if obj is not None else None

    def list_objects(self, kind: str, namespace: str | None = None) -> list[Obj]:
        rtype = self._rtype(kind)
        with self.lock:
            return [copy.deepcopy(o) for _, o in self._iter(rtype.plural, namespace)]

    def apply(self, obj: Obj) -> Obj:
        """Create or replace an object from a test, as if a client had sent it (controller runs)."""
        rtype = self._rtype(str(obj.get("kind", "")))
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace") if rtype.namespaced else None
        with self.lock:
            if self._objs[rtype.plural].get(ns or "", {}).get(meta.get("name", "")) is None:
                return copy.deepcopy(self.create(rtype, ns, copy.deepcopy(obj)))
            body = copy.deepcopy(obj)
            body.get("metadata", {}).pop("resourceVersion", None)
            return copy.deepcopy(self.replace(rtype, ns, meta["name"], body))

    def delete_object(self, kind: str, namespace: str | None, name: str) -> bool:
        """Delete as a client would: owned objects go too and controllers react (a deleted pod is replaced)."""
        rtype = self._rtype(kind)
        with self.lock:
            try:
                self.delete(rtype, namespace if rtype.namespaced else None, name)
            except ApiError:
                return False
            return True

    def delete_namespace(self, name: str) -> bool:
        with self.lock:
            try:
                self.delete(BY_PLURAL["namespaces"], None, name)
            except ApiError:
                return False
            return True

    def set_down(self, down: bool, *, refuse: bool = False) -> None:
        """While down the server answers every request with 503 ServiceUnavailable and ends open watches.
        With `refuse=True` it stops listening instead (connection refused, open connections dropped) until
        `set_down(False)` listens again on the same port."""
        with self.lock:
            self.down = down
            if down:
                for cb in list(self._watchers.values()):
                    cb("DOWN", "", {})
        # Outside the lock: the server thread may need it to finish a request while the socket closes.
        if self.on_listening is not None and (refuse or not down):
            self.on_listening(not down)

    def set_live(self, live: bool, *, speed: float | None = None) -> None:
        """Let time move (pods start, crash loops restart, rollouts progress) or freeze it where it is.
        `speed` divides the kubelet's durations: speed=60 makes a 5-minute back-off last 5 seconds."""
        with self.lock:
            self.live = live
            if speed is not None:
                if speed <= 0:
                    raise ValueError("speed must be positive")
                self.speed = speed

    def reset_requests(self) -> None:
        with self.lock:
            self.requests.clear()
            self.request_count = 0

    def record_request(self, method: str, path: str) -> None:
        with self.lock:
            self.request_count += 1
            if len(self.requests) >= REQUEST_LOG_LIMIT:
                del self.requests[: REQUEST_LOG_LIMIT // 2]
            self.requests.append((method, path))

    def end_watches(self) -> None:
        """Close every open watch stream (server shutdown)."""
        with self.lock:
            for cb in list(self._watchers.values()):
                cb("DOWN", "", {})

    @property
    def resource_version(self) -> int:
        return self._rv

    # ---- internals ---------------------------------------------------------------------------------------

    @staticmethod
    def _rtype(kind: str) -> ResourceType:
        rtype = lookup(kind)
        if rtype is None:
            raise KeyError(f"unknown kind {kind!r}")
        return rtype

    def now(self) -> datetime:
        """The clock for new objects: wall time, moved back while the seed builds history."""
        return (datetime.now(UTC) - timedelta(seconds=self.backdate)).replace(microsecond=0)

    def wall(self) -> datetime:
        return datetime.now(UTC).replace(microsecond=0)

    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def rand_suffix(self, n: int = 5) -> str:
        return "".join(self.rng.choice(_NAME_CHARS) for _ in range(n))

    def next_ip(self) -> str:
        self._ip_counter += 1
        return f"10.244.{(self._ip_counter // 250) % 250}.{self._ip_counter % 250 + 2}"

    def _iter(self, plural: str, namespace: str | None) -> Iterator[tuple[tuple[str, str], Obj]]:
        by_ns = self._objs[plural]
        spaces = [namespace or ""] if namespace is not None or not BY_PLURAL[plural].namespaced else sorted(by_ns)
        for ns in spaces:
            objs = by_ns.get(ns)
            if not objs:
                continue
            for name in sorted(objs):
                yield (ns, name), objs[name]

    def peek(self, plural: str, namespace: str | None, name: str) -> Obj | None:
        return self._objs[plural].get(namespace or "", {}).get(name)

    def count(self, plural: str, namespace: str | None) -> int:
        return len(self._objs[plural].get(namespace or "", {}))

    def objects(self, plural: str, namespace: str | None = None) -> list[Obj]:
        return [o for _, o in self._iter(plural, namespace)]

    def namespaces_with(self, plural: str) -> list[str]:
        return sorted(ns for ns, objs in self._objs[plural].items() if objs)

    def encoded(self, plural: str, key: tuple[str, str], obj: Obj) -> bytes:
        cache = self._enc[plural]
        raw = cache.get(key)
        if raw is None:
            raw = json.dumps(obj, separators=(",", ":")).encode()
            cache[key] = raw
        return raw

    def _notify(self, etype: str, plural: str, obj: Obj) -> None:
        self._history.append((self._rv, etype, plural, obj))
        if len(self._history) == self._history.maxlen:
            self._history_floor = self._history[0][0] - 1
        for cb in list(self._watchers.values()):
            cb(etype, plural, obj)

    def store(self, plural: str, obj: Obj, *, etype: str | None = None) -> Obj:
        """Store a fresh object with a new resourceVersion and tell the watchers."""
        with self.lock:
            return self._store(plural, obj, etype)

    def _store(self, plural: str, obj: Obj, etype: str | None) -> Obj:
        meta = obj["metadata"]
        ns = meta.get("namespace", "") if BY_PLURAL[plural].namespaced else ""
        bucket = self._objs[plural].setdefault(ns, {})
        existed = meta["name"] in bucket
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        bucket[meta["name"]] = obj
        self._enc[plural].pop((ns, meta["name"]), None)
        self._notify(etype or ("MODIFIED" if existed else "ADDED"), plural, obj)
        return obj

    def remove(self, plural: str, namespace: str | None, name: str) -> Obj | None:
        """Drop one object as is (no cascade, no controller): the low-level primitive under `delete`."""
        with self.lock:
            ns = namespace or ""
            bucket = self._objs[plural].get(ns, {})
            obj = bucket.pop(name, None)
            if obj is None:
                return None
            self._enc[plural].pop((ns, name), None)
            self._rv += 1
            gone = dict(obj)
            gone["metadata"] = {**obj["metadata"], "resourceVersion": str(self._rv)}
            self._notify("DELETED", plural, gone)
            return gone

    # ---- watch -------------------------------------------------------------------------------------------

    def subscribe(self, callback: WatchCallback) -> int:
        with self.lock:
            self._watch_ids += 1
            self._watchers[self._watch_ids] = callback
            return self._watch_ids

    def unsubscribe(self, token: int) -> None:
        with self.lock:
            self._watchers.pop(token, None)

    def history_since(self, rv: int, plural: str) -> list[tuple[str, Obj]]:
        """Events after `rv` for one kind; 410 Gone when the history no longer reaches back that far."""
        if rv < self._history_floor:
            raise ApiError(410, "Expired", f"too old resource version: {rv} ({self._history_floor + 1})")
        return [(etype, obj) for erv, etype, p, obj in self._history if erv > rv and p == plural]

    # ---- reads -------------------------------------------------------------------------------------------

    def read(self, rtype: ResourceType, namespace: str | None, name: str) -> Obj:
        obj = self.peek(rtype.plural, namespace, name)
        if obj is None:
            raise not_found(rtype.plural, name, rtype.group)
        return obj

    def list_raw(
        self,
        rtype: ResourceType,
        namespace: str | None,
        *,
        label: Predicate | None = None,
        field: Predicate | None = None,
        limit: int = 0,
        cont: str | None = None,
    ) -> tuple[list[tuple[tuple[str, str], Obj]], str, str | None, int | None]:
        """Matching (key, object) pairs in (namespace, name) order, the list resourceVersion, the continue
        token and remainingItemCount."""
        if namespace is not None and rtype.namespaced:
            self._require_namespace(namespace)
        start = _decode_continue(cont) if cont else None
        out: list[tuple[tuple[str, str], Obj]] = []
        remaining = 0
        last_key: tuple[str, str] | None = None
        for key, obj in self._iter(rtype.plural, namespace):
            if start is not None and key <= start:
                continue
            if label is not None and not label(obj):
                continue
            if field is not None and not field(obj):
                continue
            if limit and len(out) >= limit:
                remaining += 1
                continue
            out.append((key, obj))
            last_key = key
        token = _encode_continue(self._rv, last_key) if remaining and last_key is not None else None
        return out, str(self._rv), token, (remaining if token else None)

    # ---- validation --------------------------------------------------------------------------------------

    def _require_namespace(self, namespace: str) -> None:
        if self.peek("namespaces", None, namespace) is None:
            raise not_found("namespaces", namespace)

    def _validate(self, rtype: ResourceType, obj: Obj) -> None:
        meta = obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        causes: list[tuple[str, str]] = []
        if not name:
            causes.append(("metadata.name", "Required value: name or generateName is required"))
        elif rtype.label_names and (len(name) > 63 or not _LABEL.match(name)):
            causes.append(("metadata.name", f'Invalid value: "{name}": {LABEL_MSG}'))
        elif rtype.group == "rbac.authorization.k8s.io":
            # RBAC names are path segments ("system:basic-user" is valid), as upstream's ValidatePathSegmentName.
            if name in (".", "..") or "/" in name or "%" in name:
                causes.append(("metadata.name", f"Invalid value: \"{name}\": may not contain '/' or '%'"))
        elif not rtype.label_names and (len(name) > 253 or not _SUBDOMAIN.match(name)):
            causes.append(("metadata.name", f'Invalid value: "{name}": {SUBDOMAIN_MSG}'))
        for key, value in (meta.get("labels") or {}).items():
            if not isinstance(value, str) or len(value) > 63:
                causes.append((f"metadata.labels[{key}]", f'Invalid value: "{value}": must be 63 characters or less'))
        causes.extend(controller.validate_spec(rtype.kind, obj))
        if causes:
            raise invalid(rtype.kind, name, causes, rtype.group)

    def _check_body(self, rtype: ResourceType, namespace: str | None, body: Any) -> Obj:
        if not isinstance(body, dict):
            raise bad_request("the request body must be a JSON object")
        kind = body.get("kind")
        if kind is not None and kind != rtype.kind:
            raise bad_request(f"the kind of the provided object ({kind}) does not match the request ({rtype.kind})")
        meta = body.setdefault("metadata", {})
        if not isinstance(meta, dict):
            raise bad_request("metadata must be an object")
        if rtype.namespaced:
            body_ns = meta.get("namespace")
            if body_ns and body_ns != namespace:
                raise bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        body["kind"] = rtype.kind
        body["apiVersion"] = rtype.api_version
        return body

    # ---- writes ------------------------------------------------------------------------------------------

    def create(self, rtype: ResourceType, namespace: str | None, body: Any, *, dry_run: bool = False) -> Obj:
        obj = self._check_body(rtype, namespace, body)
        if rtype.namespaced:
            assert namespace is not None
            self._require_namespace(namespace)
        meta = obj["metadata"]
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = f"{meta['generateName']}{self.rand_suffix()}"
        self._validate(rtype, obj)
        if self.peek(rtype.plural, namespace, meta["name"]) is not None:
            raise already_exists(rtype.plural, meta["name"], rtype.group)
        meta["uid"] = self.uid()
        meta["creationTimestamp"] = ts(self.now())
        for k in ("resourceVersion", "deletionTimestamp", "managedFields"):
            meta.pop(k, None)
        if rtype.plural in _WORKLOADS:
            meta["generation"] = 1
        controller.apply_defaults(self, rtype.kind, obj)
        if dry_run:
            return obj
        self.store(rtype.plural, obj)
        controller.after_write(self, rtype.plural, obj, created=True)
        return self.read(rtype, namespace, meta["name"])

    def replace(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> Obj:
        current = self.read(rtype, namespace, name)
        obj = self._check_body(rtype, namespace, body)
        meta = obj["metadata"]
        if meta.get("name", name) != name:
            raise bad_request(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        meta["name"] = name
        rv = meta.get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise conflict(rtype.plural, name, rtype.group)
        return self._update(rtype, current, obj, dry_run=dry_run, subresource=subresource)

    def patch(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        content_type: str,
        patch: Any,
        *,
        dry_run: bool = False,
        subresource: str | None = None,
    ) -> Obj:
        current = self.read(rtype, namespace, name)
        try:
            patched = apply_patch(content_type, copy.deepcopy(current), patch)
        except PatchError as exc:
            raise ApiError(422, "Invalid", str(exc)) from exc
        meta = patched.get("metadata")
        if not isinstance(meta, dict):
            raise invalid(rtype.kind, name, [("metadata", "Required value")], rtype.group)
        if meta.get("name") != name:
            raise bad_request("the name of an object cannot be changed by a patch")
        rv = meta.get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise conflict(rtype.plural, name, rtype.group)
        obj = self._check_body(rtype, namespace, patched)
        return self._update(rtype, current, obj, dry_run=dry_run, subresource=subresource)

    def _update(self, rtype: ResourceType, current: Obj, obj: Obj, *, dry_run: bool, subresource: str | None) -> Obj:
        meta = obj["metadata"]
        cur_meta = current["metadata"]
        if subresource == "status":
            # Only the status moves; everything else stays as stored.
            new = copy.deepcopy(current)
            if "status" in obj:
                new["status"] = obj["status"]
            obj = new
            meta = obj["metadata"]
        else:
            for k in ("uid", "creationTimestamp", "generation", "deletionTimestamp"):
                if k in cur_meta:
                    meta[k] = cur_meta[k]
            if rtype.plural in _STATUS_SUBRESOURCE and "status" in current:
                obj["status"] = current["status"]
            elif rtype.plural in _STATUS_SUBRESOURCE:
                obj.pop("status", None)
            controller.apply_defaults(self, rtype.kind, obj)
            self._validate(rtype, obj)
            causes = controller.immutable_changes(rtype.kind, current, obj)
            if causes:
                raise invalid(rtype.kind, meta["name"], causes, rtype.group)
            if rtype.plural in _WORKLOADS and obj.get("spec") != current.get("spec"):
                meta["generation"] = int(cur_meta.get("generation", 1)) + 1
        meta.pop("managedFields", None)
        meta["resourceVersion"] = cur_meta["resourceVersion"]
        if dry_run:
            return obj
        if obj == current:
            return current  # a no-op write keeps the resourceVersion, as the real server does
        self.store(rtype.plural, obj)
        controller.after_write(self, rtype.plural, obj, created=False)
        return self.read(rtype, meta.get("namespace"), meta["name"])

    def delete(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        *,
        dry_run: bool = False,
        propagation: str = "Background",
        preconditions: dict[str, Any] | None = None,
    ) -> Obj:
        current = self.read(rtype, namespace, name)
        pre = preconditions or {}
        if pre.get("uid") and pre["uid"] != current["metadata"].get("uid"):
            raise conflict(rtype.plural, name, rtype.group)
        if pre.get("resourceVersion") and pre["resourceVersion"] != current["metadata"].get("resourceVersion"):
            raise conflict(rtype.plural, name, rtype.group)
        if dry_run:
            return current
        if rtype.plural == "namespaces":
            for r in RESOURCES:
                if r.namespaced:
                    for obj in list(self._objs[r.plural].get(name, {}).values()):
                        self.remove(r.plural, name, obj["metadata"]["name"])
            gone = self.remove("namespaces", None, name)
            assert gone is not None
            result = copy.deepcopy(gone)
            result["metadata"]["deletionTimestamp"] = ts(self.now())
            result.setdefault("status", {})["phase"] = "Terminating"
            return result
        gone = self.remove(rtype.plural, namespace, name)
        assert gone is not None
        controller.after_delete(self, rtype.plural, gone, orphan=propagation == "Orphan")
        return gone

    # ---- scale subresource ---------------------------------------------------------------------------------

    def scale_of(self, rtype: ResourceType, obj: Obj) -> Obj:
        meta = obj["metadata"]
        status = obj.get("status") or {}
        sel = (obj.get("spec") or {}).get("selector") or {}
        selector = ",".join(f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items()))
        return {
            "kind": "Scale",
            "apiVersion": "autoscaling/v1",
            "metadata": {
                "name": meta["name"],
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
                "creationTimestamp": meta.get("creationTimestamp"),
            },
            "spec": {"replicas": int((obj.get("spec") or {}).get("replicas", 0))},
            "status": {"replicas": int(status.get("replicas", 0)), "selector": selector},
        }

    def set_scale(
        self,
        rtype: ResourceType,
        namespace: str | None,
        name: str,
        scale: Obj,
        *,
        dry_run: bool = False,
    ) -> Obj:
        current = self.read(rtype, namespace, name)
        replicas = (scale.get("spec") or {}).get("replicas")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
            raise invalid(
                "Scale",
                name,
                [("spec.replicas", f"Invalid value: {replicas}: must be greater than or equal to 0")],
                "autoscaling",
            )
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        if rv and rv != current["metadata"]["resourceVersion"]:
            raise conflict(rtype.plural, name, rtype.group)
        new = copy.deepcopy(current)
        new["spec"]["replicas"] = replicas
        updated = self._update(rtype, current, new, dry_run=dry_run, subresource=None)
        return self.scale_of(rtype, updated)

    # ---- convenience for the controller and the seed -----------------------------------------------------

    def age(self, seconds: float) -> str:
        return ts(self.started - timedelta(seconds=seconds))
