"""Ranked causes from the evidence: pure rules, no LLM, no I/O.

Each cause carries the finding name runbooks match on (`match.findings` in tools/runbooks/*.yaml), a confidence
(0-100, from how many independent signals agree: a cluster finding, an event, a log line, a series) and the
evidence lines that support it, in the reader's language. Event messages and log lines are quoted as they are
(they are the cluster's words, not ours); every other word is ours, in zh or en.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from bot.alerts.evidence import ROLLOUT_WINDOW, Evidence
from bot.core.i18n import Lang, tr
from tools.k8s.models import Finding, PodSummary, RolloutInfo, WorkloadHealth
from tools.prom import sparkline

# The finding names a diagnosis can produce: runbooks may only match on these (a test keeps them in sync).
FINDINGS = frozenset(
    {
        "OOMKilled",
        "MemoryNearLimit",
        "RecentRollout",
        "CrashLoopBackOff",
        "ImagePullBackOff",
        "CreateContainerConfigError",
        "Unschedulable",
        "Evicted",
        "Unhealthy",
        "HighErrorRate",
        "CPUThrottling",
    }
)
EVIDENCE_CHARS = 300  # one quoted event message or log line
_LOG_SCORE = (
    (3, re.compile(r"\b(panic|fatal|segfault|out of memory|oomkilled|killed)\b", re.I)),
    (2, re.compile(r"\b(error|exception|traceback|refused|denied|unauthori[sz]ed)\b", re.I)),
    (1, re.compile(r"\b(warn\w*|fail\w*|timeout|timed out|memory)\b", re.I)),
)


@dataclass(slots=True)
class Cause:
    finding: str
    score: int  # confidence, 0-100
    zh: str
    en: str
    evidence: list[str] = field(default_factory=list)  # in the reader's language; quotes stay verbatim

    def title(self, lang: Lang) -> str:
        return self.zh if lang is Lang.ZH else self.en


def confidence_label(score: int, lang: Lang) -> str:
    word = tr(lang, "高", "high") if score >= 80 else tr(lang, "中", "medium") if score >= 55 else tr(lang, "低", "low")
    return f"{word} {score}%"


def _num(v: float | None) -> float | None:
    return None if v is None or math.isnan(v) or math.isinf(v) else v


def _quote(text: str, lang: Lang) -> str:
    """The cluster's own words (an event message, a log line) as a code span: data, not our sentence."""
    text = " ".join(text.split()).replace("`", "'")
    if len(text) <= EVIDENCE_CHARS:
        return f"`{text}`"
    return f"`{text[:EVIDENCE_CHARS]}`" + tr(lang, "…（已截断）", " …[truncated]")


def _mib(v: float) -> str:
    return f"{v / 2**20:.0f}Mi"


def best_log_line(logs: dict[str, list[str]]) -> tuple[str, str] | None:
    """The most telling line of the failing containers' logs: a panic over an error over a warning, the newest
    of equals. Returns (container key, line)."""
    best: tuple[int, int, str, str] | None = None
    order = 0
    for key, lines in logs.items():
        for line in lines:
            order += 1
            score = next((s for s, rx in _LOG_SCORE if rx.search(line)), 0)
            if score and (best is None or (score, order) >= best[:2]):
                best = (score, order, key, line)
    return None if best is None else (best[2], best[3])


def _events(h: WorkloadHealth, lang: Lang, *reasons: str, skip: str = "") -> list[str]:
    """Distinct messages of these events, the most detailed first ("Failed to pull image X: ..." over "Error:
    ImagePullBackOff"), leaving out the one already quoted as the finding's detail."""
    seen: list[str] = []
    for e in h.events:
        if e.reason in reasons and e.message and e.message != skip and _quote(e.message, lang) not in seen:
            seen.append(_quote(e.message, lang))
    return sorted(seen, key=len, reverse=True)[:2]


def _finding(h: WorkloadHealth | None, *problems: str, pod: str = "") -> Finding | None:
    """The first finding of these problems; the alert's own pod's when it has one (a deployment's health also
    lists its other pods, e.g. an older revision failing some other way)."""
    if h is None:
        return None
    found = [f for f in h.findings if f.problem in problems]
    return next((f for f in found if pod and f.name == pod), found[0] if found else None)


def _detail(f: Finding, lang: Lang) -> str:
    if lang is Lang.ZH and f.detail_zh:
        return f.detail_zh  # our own sentence, already in Chinese
    if lang is Lang.EN:
        return f.detail if len(f.detail) <= EVIDENCE_CHARS else f.detail[:EVIDENCE_CHARS] + " …[truncated]"
    return _quote(f.detail, lang)


def _pct(v: float) -> str:
    return f"{v * 100:.0f}%"


class _Ranker:
    def __init__(self, ev: Evidence, lang: Lang) -> None:
        self.ev, self.lang = ev, lang
        self.h = ev.cluster.health if ev.cluster is not None else None
        m = ev.metrics
        self.m = {k: _num(v) for k, v in (m.values.items() if m is not None else ())}
        self.out: dict[str, Cause] = {}
        self.errors_shown = False  # the error rate is already evidence of a rollout

    def t(self, zh: str, en: str, **kw: str) -> str:
        return tr(self.lang, zh, en, **kw)

    def add(self, finding: str, score: int, zh: str, en: str, evidence: list[str]) -> Cause:
        cause = Cause(finding, min(99, score), zh, en, [e for e in evidence if e])
        self.out[finding] = cause
        return cause

    def find(self, *problems: str) -> Finding | None:
        return _finding(self.h, *problems, pod=self.ev.target.pod)

    def own(self, f: Finding | None) -> int:
        """A finding on the very pod the alert is about outranks the same kind of finding elsewhere."""
        return 10 if f is not None and self.ev.target.pod and f.name == self.ev.target.pod else 0

    def log_line(self, pod: str = "") -> str:
        """The best log line, of `pod`'s containers when they logged anything (logs are keyed "pod/container")."""
        logs = self.h.logs if self.h is not None else {}
        if pod:
            logs = {k: v for k, v in logs.items() if k.startswith(pod + "/")} or logs
        best = best_log_line(logs) if self.h is not None else None
        if best is None:
            return ""
        container, previous = best[0].removesuffix(" (previous)"), best[0].endswith(" (previous)")
        key = f"`{container}`" + (tr(self.lang, "，上一次实例", ", previous instance") if previous else "")
        return self.t("日志（{k}）：{l}", "log ({k}): {l}", k=key, l=_quote(best[1], self.lang))

    def restarts(self) -> str:
        m = self.ev.metrics
        n = self.m.get("restarts_1h")
        if not n or n < 1:
            return ""
        line = self.t("1 小时内重启 {n} 次", "{n} restarts in 1h", n=f"{n:.0f}")
        if m is not None and len(m.restarts_series) > 1:
            line += f" {sparkline(m.restarts_series)}"
        return line

    # ------------------------------------------------------------------ the rules
    def oom(self) -> None:
        f = self.find("OOMKilled")
        pod = f.name if f is not None else ""
        oom, ratio = self.m.get("oom"), self.m.get("mem_ratio")
        used, limit = self.m.get("mem_bytes"), self.m.get("mem_limit")
        mem = ""
        if ratio is not None:
            extra = f"（{_mib(used)} / {_mib(limit)}）" if used and limit and self.lang is Lang.ZH else ""
            extra = extra or (f" ({_mib(used)} / {_mib(limit)})" if used and limit else "")
            mem = self.t("内存为上限的 {p}", "working set at {p} of the limit", p=_pct(ratio)) + extra
        if f is not None or oom:
            score = 60 + (15 if oom else 0) + (10 if ratio is not None and ratio >= 0.9 else 0) + (10 if f else 0)
            score += (5 if (self.m.get("restarts_1h") or 0) >= 1 else 0) + (5 if f and self.log_line(pod) else 0)
            score += self.own(f)
            self.add(
                "OOMKilled",
                score,
                "内存上限过低：容器因 OOMKilled 被杀",
                "Memory limit too low: the container is OOMKilled",
                [
                    _detail(f, self.lang) if f else "",
                    self.t("OOMKilled 容器 {n} 个", "OOMKilled containers: {n}", n=f"{oom:.0f}") if oom else "",
                    mem,
                    self.log_line(pod) if f else "",
                    self.restarts(),
                ],
            )
        elif ratio is not None and ratio >= 0.9:
            self.add("MemoryNearLimit", 55, "内存接近上限", "Memory close to its limit", [mem])

    def pods(self) -> None:
        h = self.h
        if h is None:
            return
        crash = self.find("CrashLoopBackOff")
        oom = self.find("OOMKilled")
        # an OOM-killed container crash-loops too: the same pod's crash loop is the OOM, another pod's is not
        same_pod = "OOMKilled" in self.out and (oom is None or crash is None or oom.name == crash.name)
        if crash is not None and not same_pod:
            line = self.log_line(crash.name)
            self.add(
                "CrashLoopBackOff",
                70 + (10 if line else 0) + (5 if self.restarts() else 0) + self.own(crash),
                "容器反复崩溃（CrashLoopBackOff）",
                "The container keeps crashing (CrashLoopBackOff)",
                [_detail(crash, self.lang), line, *self._ev_lines("BackOff")[:1], self.restarts()],
            )
        pull = self.find("ImagePullBackOff")
        if pull is not None:
            self.add(
                "ImagePullBackOff",
                90,
                "镜像拉取失败",
                "The image cannot be pulled",
                [_detail(pull, self.lang), *self._ev_lines("Failed", "BackOff", skip=pull)[:2]],
            )
        config = self.find("CreateContainerConfigError", "CreateContainerError", "RunContainerError")
        if config is not None:
            self.add(
                "CreateContainerConfigError",
                85,
                "容器配置错误（引用的 ConfigMap/Secret 或命令有误）",
                "Container configuration error (a missing ConfigMap/Secret or a wrong command)",
                [_detail(config, self.lang), *self._ev_lines("Failed", skip=config)[:1]],
            )
        sched = self.find("Unschedulable", "Pending")
        if sched is not None:
            self.add(
                "Unschedulable",
                80,
                "Pod 无法调度（资源或约束不满足）",
                "Pods cannot be scheduled (resources or constraints)",
                [_detail(sched, self.lang), *self._ev_lines("FailedScheduling", skip=sched)[:1]],
            )
        evicted = self.find("Evicted")
        if evicted is not None:
            self.add("Evicted", 70, "Pod 被驱逐", "Pods were evicted", [_detail(evicted, self.lang)])
        unhealthy = self._ev_lines("Unhealthy")
        if unhealthy and not self.out.keys() & {"CrashLoopBackOff", "OOMKilled", "ImagePullBackOff"}:
            self.add("Unhealthy", 60, "健康检查探针失败", "Health probes fail", unhealthy[:2])

    def _ev_lines(self, *reasons: str, skip: Finding | None = None) -> list[str]:
        if self.h is None:
            return []
        quoted = skip.detail if skip is not None else ""
        return [self.t("事件：{m}", "event: {m}", m=m) for m in _events(self.h, self.lang, *reasons, skip=quoted)]

    def rollout(self) -> None:
        h = self.h
        if h is None:
            return
        newest: dict[str, list[RolloutInfo]] = {}
        for r in h.rollouts:  # newest first per deployment
            newest.setdefault(r.deployment, []).append(r)
        target = self.ev.target.deployment
        # the alert's own deployment first (a name hint can match several: cart-service, cart-service-v2)
        for dep, revs in sorted(newest.items(), key=lambda kv: kv[0] != target):
            cur = revs[0]
            prev = revs[1] if len(revs) > 1 else None
            if cur.revision <= 1 or cur.age_seconds is None:
                continue
            at = self.ev.now - cur.age_seconds
            anchor = self.ev.starts_at or self.ev.now
            if at < anchor - ROLLOUT_WINDOW or at > self.ev.now:
                continue
            self._one_rollout(dep, cur, prev, at, anchor)
            return

    def _one_rollout(self, dep: str, cur: RolloutInfo, prev: RolloutInfo | None, at: float, anchor: float) -> None:
        lang = self.lang
        minutes = max(0, round((anchor - at) / 60))
        lines = [
            self.t(
                "{d} 在告警开始前 {m} 分钟发布了第 {r} 版",
                "{d} rolled out revision {r} {m} min before the alert started",
                d=dep,
                m=str(minutes),
                r=str(cur.revision),
            )
            if at <= anchor
            else self.t(
                "{d} 在告警开始后发布了第 {r} 版",
                "{d} rolled out revision {r} after the alert started",
                d=dep,
                r=str(cur.revision),
            )
        ]
        if prev is not None and prev.images != cur.images:
            lines.append(
                self.t(
                    "镜像变更：{a} → {b}",
                    "image changed: {a} → {b}",
                    a=", ".join(f"`{i}`" for i in prev.images),
                    b=", ".join(f"`{i}`" for i in cur.images),
                )
            )
        if cur.change_cause:
            lines.append(self.t("变更说明：{c}", "change cause: {c}", c=_quote(cur.change_cause, self.lang)))
        score = 40
        before, after = self._errors_around(at)
        if after is not None and after >= 0.05 and (before is None or after >= 2 * before + 0.01):
            score += 40
            self.errors_shown = True
            lines.append(
                self.t(
                    "发布后 5xx 错误率升至 {a}（发布前 {b}）",
                    "5xx error rate rose to {a} right after it (before: {b})",
                    a=_pct(after),
                    b=_pct(before) if before is not None else tr(lang, "无数据", "no data"),
                )
            )
        failing = [p for p in self._pods_of(cur) if not p.healthy]
        if failing:
            score += 15
            lines.append(
                self.t(
                    "新版本的 {n} 个 Pod 不健康（{s}）",
                    "{n} pod(s) of the new revision unhealthy ({s})",
                    n=str(len(failing)),
                    s=", ".join(sorted({p.status for p in failing})),
                )
            )
        if "ImagePullBackOff" in self.out:
            score = min(score, 80)  # the pull error is the precise cause; the rollout is how it came in
        self.add(
            "RecentRollout",
            score,
            "最近一次发布引入了问题",
            "The latest rollout broke it",
            lines,
        )

    def _pods_of(self, r: RolloutInfo) -> list[PodSummary]:
        return [p for p in (self.h.pods if self.h else []) if p.name.startswith(r.replicaset + "-")]

    def _errors_around(self, at: float) -> tuple[float | None, float | None]:
        m = self.ev.metrics
        if m is None or not (m.error_series or self.m.get("err_ratio") is not None):
            return None, None
        before = [v for t, v in m.error_series if t < at and _num(v) is not None]
        after = [v for t, v in m.error_series if t >= at and _num(v) is not None]
        now = self.m.get("err_ratio")  # the instant value: a rollout seconds ago may have no range point yet
        after += [now] if now is not None else []
        return (sum(before) / len(before) if before else None), (max(after) if after else None)

    def service(self) -> None:
        err, rate = self.m.get("err_ratio"), self.m.get("req_rate")
        if err is not None and err > 0.05 and not self.errors_shown:
            line = self.t(
                "5xx 占比 {p}（每秒 {r} 个请求）",
                "{p} of requests answer 5xx ({r} req/s)",
                p=_pct(err),
                r=f"{rate:.1f}" if rate is not None else "?",
            )
            explained = sorted(self.out.values(), key=lambda c: -c.score)
            if explained:  # a symptom of the cause found in the cluster (its pods are not ready): its impact
                explained[0].evidence.append(self.t("影响：{l}", "impact: {l}", l=line))
            else:
                self.add("HighErrorRate", 55, "服务错误率升高", "The service's error rate is up", [line])
        thr = self.m.get("throttling")
        if thr is not None and thr > 0.25:
            self.add(
                "CPUThrottling",
                40,
                "CPU 限流严重",
                "Heavy CPU throttling",
                [self.t("{p} 的周期被限流", "throttled in {p} of periods", p=_pct(thr))],
            )
        if not self.out and (self.m.get("restarts_1h") or 0) >= 1:  # metrics only: no cluster finding to name
            self.add("CrashLoopBackOff", 50, "容器反复重启", "The container keeps restarting", [self.restarts()])


def rank(ev: Evidence, lang: Lang) -> list[Cause]:
    """Causes, most likely first (ties: the order of the rules, the more specific first)."""
    r = _Ranker(ev, lang)
    r.oom()
    r.pods()
    r.rollout()
    r.service()
    return sorted(r.out.values(), key=lambda c: -c.score)
