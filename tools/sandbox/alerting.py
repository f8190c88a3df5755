"""The sandbox as its own Prometheus + Alertmanager, for the demo without either installed.

A few rules evaluated over the sandbox's objects, named and labelled as `deploy/prometheus/rules` names them
(so runbooks match the same way), grouped like Alertmanager's `group_by: [alertname, namespace, deployment]`,
and posted to a webhook in Alertmanager's format (version "4": groupKey, status, fingerprints, startsAt/endsAt,
generatorURL) with a bearer token. Timing follows Alertmanager: a new group waits `group_wait`, a changed group
is re-sent after `group_interval`, an unchanged one every `repeat_interval`; resolved alerts are sent once.

Runs in a thread of its own (plain blocking HTTP there, no event loop to block). With a real Prometheus, use it
instead: this is the demo's stand-in, not a rule engine.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tools.sandbox.cluster import Cluster

log = logging.getLogger(__name__)

Obj = dict[str, Any]
ZERO_TIME = "0001-01-01T00:00:00Z"
GROUP_BY = ("alertname", "namespace", "deployment")
_DEPLOYMENT = re.compile(r"^(.+)-[a-z0-9]+-[a-z0-9]+$")  # as the shipped rules' label_replace
GENERATOR = "http://sandbox/alerting"
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Sample:
    """One firing alert as the rules see it now."""

    labels: dict[str, str]
    summary: str
    summary_zh: str = ""  # as the shipped rules carry it (deploy/prometheus/rules)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(sorted(self.labels.items())).encode()).hexdigest()[:16]


def _container_alerts(pod: Obj) -> list[Sample]:
    meta = pod["metadata"]
    ns, name = str(meta.get("namespace", "")), str(meta.get("name", ""))
    m = _DEPLOYMENT.match(name)
    base = {"namespace": ns, "pod": name, **({"deployment": m.group(1)} if m else {})}
    out: list[Sample] = []
    status = pod.get("status") or {}
    for st in status.get("containerStatuses") or []:
        waiting = str(((st.get("state") or {}).get("waiting") or {}).get("reason") or "")
        last = str((((st.get("lastState") or {}).get("terminated")) or {}).get("reason") or "")
        labels = {**base, "container": str(st.get("name", ""))}
        where = f"{ns}/{name} ({labels['container']})"
        if waiting == "CrashLoopBackOff" and last == "OOMKilled":
            out.append(
                Sample(
                    {"alertname": "KubePodOOMKilled", **labels, "severity": "critical"},
                    f"{where} is OOMKilled and restarting",
                    f"{ns}/{name}（{labels['container']}）因内存超限被杀（OOMKilled）并反复重启",
                )
            )
        elif waiting == "CrashLoopBackOff":
            out.append(
                Sample(
                    {"alertname": "KubePodCrashLooping", **labels, "severity": "warning"},
                    f"{where} is crash looping",
                    f"{ns}/{name}（{labels['container']}）反复崩溃重启",
                )
            )
        elif waiting in ("ImagePullBackOff", "ErrImagePull"):
            out.append(
                Sample(
                    {"alertname": "KubePodImagePullBackOff", **labels, "severity": "warning"},
                    f"{ns}/{name} cannot pull its image",
                    f"{ns}/{name} 拉取镜像失败",
                )
            )
    if status.get("phase") == "Pending" and any(
        c.get("type") == "PodScheduled" and c.get("status") == "False" for c in status.get("conditions") or []
    ):
        out.append(
            Sample(
                {"alertname": "KubePodNotScheduled", **base, "severity": "warning"},
                f"{ns}/{name} is Pending",
                f"{ns}/{name} 处于 Pending，无法调度",
            )
        )
    return out


def evaluate(cluster: Cluster, namespaces: set[str] | None = None) -> list[Sample]:
    """The alerts firing now (the rules of deploy/prometheus/rules that the sandbox's objects can show)."""
    with cluster.lock:
        pods = cluster.objects("pods")
    out: list[Sample] = []
    for pod in pods:
        if namespaces is None or pod["metadata"].get("namespace") in namespaces:
            out.extend(_container_alerts(pod))
    return out


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def group_key(labels: dict[str, str]) -> str:
    inner = ", ".join(f'{k}="{labels[k]}"' for k in sorted(GROUP_BY) if k in labels)
    return "{}:{" + inner + "}"


@dataclass
class _Alert:
    sample: Sample
    starts: float
    ends: float | None = None  # resolved at


@dataclass
class _Group:
    key: str
    labels: dict[str, str]
    alerts: dict[str, _Alert] = field(default_factory=dict)
    first_seen: float = 0.0
    sent_at: float | None = None
    sent_digest: str = ""

    def digest(self) -> str:
        return ",".join(sorted(f"{fp}:{'r' if a.ends else 'f'}" for fp, a in self.alerts.items()))


class AlertEmitter:
    """Evaluates the rules every `interval` seconds and posts Alertmanager-format webhooks to `url`."""

    def __init__(
        self,
        cluster: Cluster,
        *,
        url: str,
        token: str,
        interval: float = 1.0,
        group_wait: float = 1.0,
        group_interval: float = 5.0,
        repeat_interval: float = 4 * 3600.0,
        ignore_standing: bool = False,
        namespaces: set[str] | None = None,
        clock: Callable[[], float] = time.time,
        post: Callable[[str, bytes, dict[str, str]], int] | None = None,
    ) -> None:
        self.cluster = cluster
        self.url = url
        self.token = token
        self.interval = interval
        self.group_wait = group_wait
        self.group_interval = group_interval
        self.repeat_interval = repeat_interval
        # the demo pages only for what breaks after it starts: the seed's standing failures are known already
        self.ignore_standing = ignore_standing
        self.namespaces = namespaces
        self.clock = clock
        self._post = post or _http_post
        self._groups: dict[str, _Group] = {}
        self._standing: set[str] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failed = 0

    # ---- one evaluation (tests call it directly)
    def step(self) -> list[Obj]:
        """Evaluate once, post what is due; returns the payloads posted."""
        now = self.clock()
        self.prime()
        samples = evaluate(self.cluster, self.namespaces)
        assert self._standing is not None
        firing = {s.fingerprint: s for s in samples if s.fingerprint not in self._standing}
        self._standing &= {s.fingerprint for s in samples}  # a standing alert that clears pages when it returns
        for fp, s in firing.items():
            key = group_key(s.labels)
            group = self._groups.get(key)
            if group is None:
                labels = {k: s.labels[k] for k in GROUP_BY if k in s.labels}
                group = self._groups[key] = _Group(key, labels, first_seen=now)
            alert = group.alerts.get(fp)
            if alert is None or alert.ends is not None:
                group.alerts[fp] = _Alert(s, now)
        for group in self._groups.values():
            for fp, alert in group.alerts.items():
                if alert.ends is None and fp not in firing:
                    alert.ends = now
        posted = []
        for key, group in list(self._groups.items()):
            if not self._due(group, now):
                continue
            payload = self.payload(group)
            if self._send(payload):
                posted.append(payload)
                group.sent_at, group.sent_digest = now, group.digest()
                if all(a.ends is not None for a in group.alerts.values()):
                    del self._groups[key]  # resolved and told: a new firing starts a new group
                else:
                    group.alerts = {fp: a for fp, a in group.alerts.items() if a.ends is None}
                    group.sent_digest = group.digest()
        return posted

    def _due(self, group: _Group, now: float) -> bool:
        if group.sent_at is None:
            if all(a.ends is not None for a in group.alerts.values()):
                return False  # fired and cleared before it was ever sent: nothing to say
            return now - group.first_seen >= self.group_wait
        if group.digest() != group.sent_digest:
            return now - group.sent_at >= self.group_interval
        return now - group.sent_at >= self.repeat_interval

    def payload(self, group: _Group) -> Obj:
        alerts: list[Obj] = []
        for fp, a in sorted(group.alerts.items()):
            alerts.append(
                {
                    "status": "resolved" if a.ends is not None else "firing",
                    "labels": a.sample.labels,
                    "annotations": {"summary": a.sample.summary, "summary_zh": a.sample.summary_zh},
                    "startsAt": _iso(a.starts),
                    "endsAt": _iso(a.ends) if a.ends is not None else ZERO_TIME,
                    "generatorURL": f"{GENERATOR}?alert={a.sample.labels.get('alertname', '')}",
                    "fingerprint": fp,
                }
            )
        common: dict[str, str] = dict(alerts[0]["labels"])
        for other in alerts[1:]:
            common = {k: v for k, v in common.items() if other["labels"].get(k) == v}
        summaries = {(str(x["annotations"]["summary"]), str(x["annotations"]["summary_zh"])) for x in alerts}
        return {
            "version": "4",
            "groupKey": group.key,
            "truncatedAlerts": 0,
            "status": "firing" if any(x["status"] == "firing" for x in alerts) else "resolved",
            "receiver": "kubeduty",
            "groupLabels": group.labels,
            "commonLabels": common,
            "commonAnnotations": dict(zip(("summary", "summary_zh"), summaries.pop(), strict=True))
            if len(summaries) == 1
            else {},
            "externalURL": GENERATOR,
            "alerts": alerts,
        }

    def _send(self, payload: Obj) -> bool:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        try:
            status = self._post(self.url, body, headers)
        except OSError as exc:  # receiver down: keep the group due, Alertmanager retries too
            log.warning("sandbox alerting: posting to %s failed: %s", self.url, exc)
            self.failed += 1
            return False
        if status >= 300:
            log.warning("sandbox alerting: %s answered %s", self.url, status)
            self.failed += 1
            return status < 500  # a 4xx will not get better by retrying
        self.sent += 1
        return True

    # ---- lifetime
    def prime(self) -> None:
        """Take note of what is broken already (with `ignore_standing`), before anyone can break more."""
        if self._standing is None:
            now = evaluate(self.cluster, self.namespaces)
            self._standing = {s.fingerprint for s in now} if self.ignore_standing else set()

    def start(self) -> AlertEmitter:
        self.prime()
        self._thread = threading.Thread(target=self._run, name="kubeduty-sandbox-alerting", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.step()
            except Exception:  # one bad evaluation must not stop the pager
                log.exception("sandbox alerting: evaluation failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


def _http_post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    host = urllib.parse.urlsplit(url).hostname or ""
    # the bot next door is reached directly, whatever proxy the environment names
    opener = urllib.request.build_opener(*([urllib.request.ProxyHandler({})] if host in _LOOPBACK else []))
    try:
        with opener.open(request, timeout=30) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
