"""Bounding tool output before it enters the model's context."""

from __future__ import annotations

import json

from bot.agent.budget import OutputBudget, compact, render_data, render_outcome
from bot.tooling.types import ToolOutcome


def test_json_is_compacted_but_false_and_zero_survive() -> None:
    data: dict[str, object] = {"a": None, "b": "", "c": [], "d": {}, "e": False, "f": 0, "g": [{"x": None, "y": 1}]}
    assert compact(data) == {"e": False, "f": 0, "g": [{"y": 1}]}
    assert render_data(data, 1000) == '{"e":false,"f":0,"g":[{"y":1}]}'


def test_a_long_list_keeps_its_head_and_says_how_many_items_are_missing() -> None:
    items = [{"name": f"pod-{i:04d}", "status": "Running"} for i in range(1000)]
    text = render_data({"items": items, "total": 1000}, 2000)
    data = json.loads(text)
    assert len(text) <= 2000
    assert data["items"][0]["name"] == "pod-0000" and data["total"] == 1000
    shown = len(data["items"])
    assert data["_truncated"] == f"{1000 - shown} more items not shown; narrow the query"


def test_text_without_a_list_to_shorten_is_cut_with_a_marker_counting_the_rest() -> None:
    outcome = ToolOutcome(ok=True, text="x" * 10_000)
    rendered = render_outcome("external.tool", outcome, 1_000)
    assert len(rendered) <= 1_000
    assert rendered.endswith("more chars; narrow the query]")
    kept, marker = rendered.rsplit(" [truncated: ", 1)
    full = render_outcome("external.tool", outcome, 100_000)
    assert full.startswith(kept) and len(kept) + int(marker.split(" ")[0]) == len(full)


def test_an_error_carries_the_upstream_message_and_a_hint_not_to_guess() -> None:
    outcome = ToolOutcome(ok=False, error_code="not_found", error='pods "cart-1" not found')
    data = json.loads(render_outcome("get_pod", outcome, 4_000))
    assert data["error_code"] == "not_found" and data["error"] == 'pods "cart-1" not found'
    assert "Do not guess" in data["hint"]


def test_the_turn_budget_is_shared_among_the_calls_of_a_step_and_runs_out() -> None:
    budget = OutputBudget(per_result=4_000, total=6_000)
    big = ToolOutcome(ok=True, text="y" * 50_000)
    first = budget.take("a", big, calls_left=3)
    second = budget.take("b", big, calls_left=2)
    third = budget.take("c", big, calls_left=1)
    assert len(first) <= 2_000 and len(second) <= 2_000 and len(third) <= 2_000
    assert budget.used <= 6_000
    starved = budget.take("d", big, calls_left=1)
    assert len(starved) <= 600 and "narrow the query" in starved  # still says what happened


def test_a_diagnosis_too_big_for_its_share_keeps_its_findings_and_loses_the_bulk() -> None:
    data = {
        "namespace": "shop",
        "name": "cart",
        "pods": [{"name": f"cart-{i}", "status": "CrashLoopBackOff", "message": "m" * 200} for i in range(50)],
        "events": [{"reason": "BackOff", "message": "e" * 200} for _ in range(50)],
        "findings": [{"kind": "Pod", "name": "cart-0", "problem": "OOMKilled", "detail": "limit 128Mi"}],
        "logs": {"cart-0/app": ["x" * 300 for _ in range(40)]},
        "healthy": False,
    }
    text = render_data(data, 3_000)
    assert len(text) <= 3_000 and text.endswith("more chars; narrow the query]")
    assert '"problem":"OOMKilled"' in text and '"healthy":false' in text
    assert "50 pods not shown; narrow the query" in text and "50 events not shown; narrow the query" in text
