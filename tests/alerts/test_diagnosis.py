"""Diagnosis joined with the cluster: the sandbox's workloads read through the real built-in tools, its /metrics
scraped by a real Prometheus; ranked causes, their evidence, confidence and runbooks; without Prometheus the
cluster alone, said honestly on the card."""

from __future__ import annotations

import pytest

from bot.alerts.causes import FINDINGS
from bot.alerts.diagnosis import Diagnoser, RunbookBook
from bot.core.cards import Card, Fields, Markdown, Note
from bot.core.i18n import Lang
from bot.render.text import render_card
from bot.tooling.gateway import ToolGateway
from tests.alerts.diagnosis_world import EVENT, World, gateway_fixture, incident, world_fixture  # noqa: F401
from tests.conversation.corpus.zh_check import english_problems
from tools.prom import PromClient
from tools.runbooks import load_runbooks

pytestmark = pytest.mark.timeout(300)  # the module's Prometheus needs a few scrapes first on a loaded machine
NAMES = frozenset({"production", "dev", "orders", "payment-api", "frontend", "INC-DIAG"})


def diagnoser(world: World, gateway: ToolGateway | None, *, metrics: bool = True) -> Diagnoser:
    prom = PromClient(world.prom.url) if metrics and world.prom is not None else None
    return Diagnoser(prom=prom, book=RunbookBook(), gateway=gateway)


def text(card: Card) -> str:
    return render_card(card)


def run_labels(card: Card) -> list[str]:
    return [b.label for b in card.buttons]


async def test_an_oom_ranks_the_memory_limit_first_with_its_events_series_log_and_the_raise_memory_runbook(
    world: World, gateway: ToolGateway
) -> None:
    d = diagnoser(world, gateway)
    inc = incident("KubePodOOMKilled", "production", deployment="orders", container="orders", pod="orders-x-y")
    ev = await d.evidence(inc, EVENT, Lang.ZH)
    from bot.alerts.causes import rank

    causes = rank(ev, Lang.ZH)
    assert causes[0].finding == "OOMKilled" and causes[0].score >= 90, [(c.finding, c.score) for c in causes]
    card, top = await d.diagnose(inc, EVENT, Lang.ZH)
    body = text(card)
    assert "内存上限过低" in body and "97%" in body, body
    assert "OOMKilled 容器 1 个" in body, "the series: the last termination reason"
    assert "退出码 137" in body, "the cluster's finding: the container's last termination"
    assert "memory usage" in body, "the log line of the previous container"
    assert any(isinstance(b, Fields) for b in card.blocks), "the key figures from Prometheus"
    assert run_labels(card)[0] == "执行预案：内存不足：调高内存上限"
    assert "对应预案：内存不足：调高内存上限" in body, "the cause points to its runbook"
    assert top is not None and top.startswith("内存上限过低")
    assert english_problems(card, known_names=NAMES) == []


async def test_a_crash_loop_is_explained_by_the_panic_line_of_the_previous_container(
    world: World, gateway: ToolGateway
) -> None:
    d = diagnoser(world, gateway)
    inc = incident("KubePodCrashLooping", "dev", deployment="payment-api", pod="payment-api-x-y")
    card, top = await d.diagnose(inc, EVENT, Lang.EN)
    body = text(card)
    first = body.split("Likely causes", 1)[1].split("\n")[1]
    assert "CrashLoopBackOff" in first and "confidence high" in first, body
    assert "panic: dial tcp 10.0.3.7:5432: connect: connection refused" in body, "the crash's own log line"
    assert "previous instance" in body
    assert run_labels(card)[0] == "Run: Crash loop: rolling restart"
    assert top is not None and "CrashLoopBackOff" in top
    zh, _ = await d.diagnose(inc, EVENT, Lang.ZH)
    assert "上一次实例" in text(zh) and english_problems(zh, known_names=NAMES) == []


async def test_an_image_pull_error_is_found_from_the_events_alone_and_proposes_the_image_rollback(
    world: World, gateway: ToolGateway
) -> None:
    d = diagnoser(world, gateway, metrics=False)
    pod = next(
        p["metadata"]["name"]
        for p in world.sandbox.cluster.list_objects("Pod")
        if p["metadata"]["namespace"] == "dev" and p["metadata"]["name"].startswith("frontend-")
    )
    # the shipped rule labels only namespace/pod/container: the deployment is derived from the pod's name
    inc = incident("KubePodImagePullBackOff", "dev", pod=pod, container="frontend")
    card, _ = await d.diagnose(inc, EVENT, Lang.ZH)
    body = text(card)
    causes = body.split("可能原因", 1)[1]
    assert causes.index("镜像拉取失败") < causes.index("最近一次发布"), body
    assert "Failed to pull image" in body and "frontend:v2.3.1-typo" in body, "the event is the evidence"
    assert "镜像变更：`registry.example.com/frontend:v2.3.0` → `registry.example.com/frontend:v2.3.1-typo`" in body
    assert "无指标" in body, "no Prometheus: the card says so"
    assert run_labels(card)[0] == "执行预案：镜像拉取失败：回滚镜像"
    assert english_problems(card, known_names=NAMES) == []


async def test_without_prometheus_the_oom_is_still_diagnosed_from_the_cluster_and_the_card_says_no_metrics(
    world: World, gateway: ToolGateway
) -> None:
    inc = incident("KubePodOOMKilled", "production", deployment="orders", container="orders", pod="orders-x-y")
    for prom, said in ((None, "无指标：未配置 Prometheus"), (PromClient("http://127.0.0.1:9", timeout=3), "暂不可用")):
        d = Diagnoser(prom=prom, book=RunbookBook(), gateway=gateway)
        card, top = await d.diagnose(inc, EVENT, Lang.ZH)
        body = text(card)
        assert said in body and not any(isinstance(b, Fields) for b in card.blocks), body
        assert "内存上限过低" in body and "退出码 137" in body and "memory usage" in body
        assert run_labels(card)[0] == "执行预案：内存不足：调高内存上限"
        assert top is not None and top.startswith("内存上限过低")


async def test_without_the_cluster_the_metrics_alone_still_rank_the_oom_and_say_the_cluster_was_unreadable(
    world: World,
) -> None:
    broken = ToolGateway([])  # no tools: the read fails, the metrics remain
    d = diagnoser(world, broken)
    inc = incident("KubePodOOMKilled", "production", deployment="orders", container="orders", pod="orders-x-y")
    card, _ = await d.diagnose(inc, EVENT, Lang.EN)
    body = text(card)
    assert "The cluster could not be read" in body
    assert "Memory limit too low" in body and "97% of the limit" in body, body


async def test_a_workload_with_nothing_wrong_gets_no_cause_and_no_runbook_button(
    world: World, gateway: ToolGateway
) -> None:
    d = diagnoser(world, gateway)
    inc = incident("SomethingOdd", "production", deployment="checkout", pod="checkout-x-y")
    card, top = await d.diagnose(inc, EVENT, Lang.EN)
    assert top is None and not card.buttons
    assert any(isinstance(b, Note) and "No clear cause" in b.text for b in card.blocks)


async def test_metrics_answers_cpu_memory_restarts_and_error_rate_with_sparklines_in_both_languages(
    world: World,
) -> None:
    d = diagnoser(world, None)
    en = text(await d.metrics_card("orders", "production", Lang.EN))
    for label in ("CPU (cores)", "Memory (MiB)", "Memory of limit (%)", "Restarts", "Requests/s", "5xx errors (%)"):
        assert label in en, en
    assert "query failed" not in en and "no data" not in en.split("Requests/s")[0], en
    zh = text(await d.metrics_card("orders", "production", Lang.ZH))
    assert "内存占上限（%）" in zh and "5xx 错误率（%）" in zh
    unknown = text(await d.metrics_card("no-such-thing", "production", Lang.ZH))
    assert "没有这个工作负载的指标" in unknown
    assert "名称不对" in text(await d.metrics_card('orders"}) or vector(1', None, Lang.ZH))


def test_every_finding_a_runbook_matches_on_is_one_the_diagnosis_produces() -> None:
    books, problems = load_runbooks()
    assert not problems
    declared = {f for b in books for f in b.match.findings}
    assert declared <= FINDINGS, declared - FINDINGS
    covered = {"OOMKilled", "RecentRollout", "CrashLoopBackOff", "ImagePullBackOff"}
    assert covered <= declared, "the main causes each have a runbook"


def test_the_causes_are_bounded_with_a_visible_truncated_marker() -> None:
    from bot.alerts.causes import Cause
    from bot.alerts.diagcard import causes_markdown

    many = [
        Cause(f"F{i}", 90 - i, f"原因 {i}", f"cause {i}", [f"line {j} " + "x" * 200 for j in range(9)])
        for i in range(8)
    ]
    for lang, marker in ((Lang.ZH, "已截断"), (Lang.EN, "truncated")):
        md = causes_markdown(many, {}, lang)
        assert len(md) <= 3_100 and marker in md
    assert isinstance(Markdown(causes_markdown(many[:1], {}, Lang.EN)), Markdown)
