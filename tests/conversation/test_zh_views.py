"""The result views translate on their own (issue 10): findings and change previews reach a Chinese card in
Chinese whichever path renders them (conversation or LLM plan), cluster text stays quoted as data, and the
English path keeps the tool's own English."""

from __future__ import annotations

from typing import Any

from bot.core.i18n import Lang
from bot.render.model import Card, Fields, Markdown
from bot.render.views import result_blocks
from bot.render.views_zh import MAX_QUOTED, quoted
from tests.conversation.corpus.zh_check import english_problems
from tools.k8s import models as m


def _card(tool: str, data: dict[str, Any], lang: Lang) -> Card:
    return Card(title="结果", blocks=tuple(result_blocks(tool, data, "", lang)))


def _text(card: Card) -> str:
    return "\n".join(b.text for b in card.blocks if isinstance(b, Markdown))


def _health(*findings: m.Finding) -> dict[str, Any]:
    health = m.WorkloadHealth(
        namespace="dev", name="api", deployments=[], pods=[], events=[], findings=list(findings), healthy=False
    )
    return health.model_dump()


CRASH = m.Finding(
    kind="Pod",
    namespace="dev",
    name="api-1",
    severity="critical",
    problem="CrashLoopBackOff",
    detail="container api keeps crashing, restarts: 37, last exit: Error (code 1)",
    detail_zh="容器 api 反复崩溃，重启次数：37，上次退出：Error（退出码 1）",
    advice_en="Check the previous container's logs.",
    advice_zh="查看上一次容器的日志。",
)
EVENT = m.Finding(
    kind="Pod",
    name="api-2",
    problem="Unschedulable",
    detail="0/3 nodes are available: 3 Insufficient memory. `rm -rf` **bold**",
    advice_zh="降低 requests。",
)


def test_findings_given_raw_to_the_view_read_in_chinese_with_cluster_text_quoted() -> None:
    card = _card("workload_health", _health(CRASH, EVENT), Lang.ZH)
    assert english_problems(card) == []
    text = _text(card)
    assert "容器 api 反复崩溃" in text
    # the event message is the cluster's: one code span, its backticks unable to close it
    assert "`0/3 nodes are available: 3 Insufficient memory. 'rm -rf' **bold**`" in text


def test_findings_in_english_keep_the_analyzers_english_sentence() -> None:
    text = _text(_card("workload_health", _health(CRASH), Lang.EN))
    assert "keeps crashing, restarts: 37" in text
    assert "反复崩溃" not in text


def test_quoted_cluster_text_is_bounded_with_a_visible_marker() -> None:
    span = quoted("x" * (MAX_QUOTED * 3))
    assert len(span) < MAX_QUOTED + 20
    assert span.endswith("（已截断）`")


def _preview(**kw: Any) -> dict[str, Any]:
    return m.ChangePreview(**kw).model_dump()


def test_an_executed_scale_reads_as_done_in_chinese_with_translated_field_labels() -> None:
    data = _preview(
        dry_run=False,
        action="scale",
        kind="Deployment",
        namespace="dev",
        name="api",
        before={"replicas": "1"},
        after={"replicas": "3"},
        summary="scaled deployment dev/api: replicas 1 -> 3",
    )
    card = _card("scale_deployment", data, Lang.ZH)
    assert english_problems(card) == []
    assert "已完成：把 Deployment `dev/api` 的副本数从 1 调整为 3" in _text(card)
    fields = next(b for b in card.blocks if isinstance(b, Fields))
    assert fields.items == (("副本数", "1 → 3"),)


def test_deleting_a_pod_without_controller_warns_in_chinese_that_it_is_not_recreated() -> None:
    data = _preview(
        dry_run=True,
        action="delete",
        kind="Pod",
        namespace="dev",
        name="lonely",
        before={"status": "Running"},
        after={"status": "deleted"},
        summary="[dry run] would delete pod dev/lonely; it has no controller: it will NOT be recreated",
    )
    card = _card("delete_pod", data, Lang.ZH)
    assert english_problems(card) == []
    assert "不会**被重建" in _text(card)
    assert "Running → 已删除" in str(card.blocks)


def test_an_uncordon_that_changes_nothing_says_so_in_chinese() -> None:
    data = _preview(
        dry_run=True,
        action="uncordon",
        kind="Node",
        name="node-1",
        before={"unschedulable": "false"},
        after={"unschedulable": "false"},
        summary="[dry run] would uncordon node node-1: unschedulable false -> false (already so; no change)",
    )
    card = _card("uncordon_node", data, Lang.ZH)
    assert english_problems(card) == []
    assert "已是该状态，无变化" in _text(card)


def test_a_change_preview_in_english_keeps_the_tools_summary() -> None:
    summary = "[dry run] would scale deployment dev/api: replicas 1 -> 3"
    data = _preview(
        dry_run=True,
        action="scale",
        kind="Deployment",
        namespace="dev",
        name="api",
        before={"replicas": "1"},
        after={"replicas": "3"},
        summary=summary,
    )
    assert summary in _text(_card("scale_deployment", data, Lang.EN))
