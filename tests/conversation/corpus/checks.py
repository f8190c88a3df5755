"""The checks of a turn (the assertion vocabulary of README.md) and how a card reads to a user."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.render.model import Card, Code, Fields, Markdown, Note, Table
from bot.tooling.types import ToolCall
from tests.conversation.corpus.world import MAIN, World, known_names
from tests.conversation.corpus.zh_check import english_problems

KINDS = ("confirm", "plan", "choice", "answer", "refusal", "notice")

_REFUSAL = re.compile(
    r"不支持|不能|无法|做不到|没法|不提供|不会帮|不允许|超出|只能|can't|cannot|can not|not supported|don't support|"
    r"do not support|unable|not able|won't|only (?:read|help|do)",
    re.I,
)
_NOT_UNDERSTOOD = re.compile(
    r"没听懂|没理解|不明白|看不懂|didn't get|did not get|don't understand|not understand", re.I
)


def card_text(card: Card) -> str:
    parts: list[str] = [card.title, card.footer or "", card.input_hint or ""]
    for b in card.blocks:
        if isinstance(b, Markdown | Note):
            parts.append(b.text)
        elif isinstance(b, Code):
            parts += [b.text, b.truncated or ""]
        elif isinstance(b, Fields):
            parts += [f"{k}: {v}" for k, v in b.items]
        elif isinstance(b, Table):
            parts += [" | ".join(b.columns)] + [" | ".join(r) for r in b.rows] + [b.truncated or ""]
    parts += [f"[{btn.label}]" for btn in card.buttons]
    return "\n".join(p for p in parts if p)


def _own_words(card: Card) -> str:
    """The bot's own words on a card (not cluster data): title, markdown, notes."""
    return "\n".join([card.title] + [b.text for b in card.blocks if isinstance(b, Markdown | Note)])


def kind_of(card: Card) -> str:
    """What a user sees the card as. confirm: a change waiting for Confirm; plan: read steps waiting for a go;
    choice: a question with options; refusal: it says it cannot do that; notice: it did not understand;
    answer: anything else (a result, a switch done, a cancellation acknowledged)."""
    ops = {b.action.op for b in card.buttons}
    if any(op.endswith("confirm") for op in ops):
        return "confirm"
    if ops & {"pick", "opts"} or (card.buttons and card.title.rstrip().endswith(("？", "?"))):
        return "choice"
    if any(b.action.args.get("pl") for b in card.buttons if isinstance(b.action.args, dict)):
        return "plan"
    words = _own_words(card)
    if ("计划" in card.title or "plan" in card.title.lower()) and any(
        b.label in ("取消", "Cancel") for b in card.buttons
    ):
        return "plan"
    if _NOT_UNDERSTOOD.search(words) or re.search(r"帮助|\bhelp\b", card.title, re.I):
        return "notice"  # the generic "I didn't get it" or the whole help, as an answer to a request
    if _REFUSAL.search(words):
        return "refusal"
    return "answer"


@dataclass
class TurnResult:
    index: int
    user: str
    cards: list[Card]
    toasts: list[str]
    calls: list[ToolCall]
    problems: list[str]
    parse_seconds: float  # time in the bot minus time inside tool calls
    messages: int = 1  # deliveries in this turn (an answer to a question or a plan's go counts too)

    @property
    def text(self) -> str:
        return "\n".join([card_text(c) for c in self.cards] + self.toasts)


def short_args(args: dict[str, Any]) -> str:
    return "(" + ", ".join(f"{k}={v}" for k, v in args.items()) + ")"


def _args_match(want: dict[str, Any], got: dict[str, Any]) -> bool:
    for key, value in want.items():
        if key.endswith("~"):
            if str(value).lower() not in str(got.get(key[:-1], "")).lower():
                return False
        elif key.endswith("!"):
            if got.get(key[:-1]) == value:
                return False
        elif got.get(key) != value:
            return False
    return True


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def check_turn(
    turn: dict[str, Any],
    result: TurnResult,
    world: World,
    before: dict[str, Any],
    after: dict[str, Any],
    executed: Sequence[ToolCall],
    start_pods: dict[str, list[str]],
    requests: dict[str, int],
) -> list[str]:
    problems: list[str] = []
    if not result.cards and not result.toasts:
        return ["no reply at all"]
    last = result.cards[-1] if result.cards else None
    text = result.text
    calls = result.calls
    called = [c.tool for c in calls]

    if "expect_tool" in turn:
        tool, want = turn["expect_tool"], turn.get("args") or {}
        same = [c for c in calls if c.tool == tool]
        if not same:
            problems.append(f"expected a call of {tool}{short_args(want)}; calls: {called or 'none'}")
        elif not any(_args_match(want, c.args) for c in same):
            problems.append(f"{tool} called with {[c.args for c in same]}, wanted {want}")
    if "expect_any_tool" in turn and not set(as_list(turn["expect_any_tool"])) & set(called):
        problems.append(f"expected one of {turn['expect_any_tool']}; calls: {called or 'none'}")
    for tool in as_list(turn.get("no_tool", [])):
        if tool in called:
            problems.append(f"{tool} must not be called (it was: {[c.args for c in calls if c.tool == tool]})")
    if turn.get("no_calls") and calls:
        problems.append(f"no tool call expected; calls: {called}")
    if "no_call_with" in turn:
        spec = turn["no_call_with"]
        for c in calls:
            if c.tool == spec["tool"] and _args_match(spec.get("args") or {}, c.args):
                problems.append(f"{c.tool} called with {c.args}: a word taken for a name it is not")
    if "pick_only" in turn:
        wanted = [str(w).lower() for w in as_list(turn["pick_only"])]
        picks = [b.label for c in result.cards for b in c.buttons if b.action.op == "pick"]
        stray = [lab for lab in picks if not any(w in lab.lower() for w in wanted)]
        if stray:
            problems.append(f"options {stray} offered; only {turn['pick_only']} fit what was asked")
    if "card_kind" in turn:
        kind = kind_of(last) if last else "notice"
        if kind != turn["card_kind"]:
            problems.append(f"card kind {kind} ({last.title if last else 'no card'!r}), wanted {turn['card_kind']}")
    low = text.lower()
    for s in as_list(turn.get("must_contain", [])):
        if str(s).lower() not in low:
            problems.append(f"missing {s!r}")
    if "must_contain_any" in turn and not any(str(s).lower() in low for s in turn["must_contain_any"]):
        problems.append(f"none of {turn['must_contain_any']} shown")
    for s in as_list(turn.get("must_not_contain", [])):
        if str(s).lower() in low:
            problems.append(f"shows {s!r}, which it must not")
    titles = " / ".join(c.title for c in result.cards)
    for s in as_list(turn.get("title_contains", [])):
        if last is None or str(s).lower() not in last.title.lower():
            problems.append(f"title {last.title if last else None!r} lacks {s!r}")
    for s in as_list(turn.get("title_not_contains", [])):
        if str(s).lower() in titles.lower():
            problems.append(f"a title ({titles!r}) shows {s!r}")
    labels = [b.label for c in result.cards[-1:] for b in c.buttons]
    for s in as_list(turn.get("buttons_include", [])):
        if not any(str(s).lower() in lab.lower() for lab in labels):
            problems.append(f"no button {s!r} in {labels}")
    for s in as_list(turn.get("buttons_exclude", [])):
        if any(str(s).lower() in lab.lower() for lab in labels):
            problems.append(f"a button {s!r} in {labels}, which must not be offered")
    if turn.get("no_mutation"):
        if executed:
            problems.append(f"a change ran: {[(c.tool, c.args) for c in executed]}")
        if after != before:
            changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
            problems.append(f"the sandbox changed: {changed[:5]}")
    if "sandbox" in turn:
        problems += check_sandbox(turn["sandbox"], world, start_pods)
    if "fresh_pods" in turn:
        ns, prefix = str(turn["fresh_pods"]).split("/")
        now = [p["metadata"]["name"] for p in world.main.cluster.list_objects("Pod", ns)]
        now = [p for p in now if p.startswith(prefix)]
        # an honest "X is gone, here is its replacement" is fine; the answer itself must be about a current pod
        used = [str(c.args["pod"]) for c in calls if str(c.args.get("pod", "")).startswith(prefix)]
        if used and used[-1] not in now:
            problems.append(f"answered with pod {used[-1]}, which no longer exists (a stale cache?); now: {now}")
        if last is not None and any(p not in now for p in re.findall(rf"{re.escape(prefix)}-\w+-\w+", last.title)):
            problems.append(f"the answer {last.title!r} is about a pod that no longer exists; now: {now}")
        listed = text + " " + " ".join(used)
        if not any(p in listed for p in now):
            problems.append(f"none of the current {prefix} pods {now} shown or used")
    if "cluster" in turn:
        want = turn["cluster"]
        grew = {name: len(h.cluster.requests) - requests[name] for name, h in world.sandboxes.items()}
        named = {c.args.get("cluster") for c in calls if c.args.get("cluster")}
        if named and named != {want}:
            problems.append(f"calls named clusters {named}, wanted {want}")
        elif not named:
            others = [n for n in grew if n != want and grew[n]]
            if not grew[want] or others:
                problems.append(f"K8s requests per cluster {grew}, wanted only {want}")
    if turn.get("zh_clean"):
        names = known_names(world.main)
        for card in result.cards:
            problems += [f"zh card {card.title!r}: {p}" for p in english_problems(card, known_names=names)]
    return problems


def check_sandbox(want: dict[str, Any], world: World, start_pods: dict[str, list[str]]) -> list[str]:
    """`deployment: ns/name` + `replicas: n` | `restarted: true`; `pod_deleted: ns/prefix`;
    `node: name` + `unschedulable: bool`; `cluster:` which sandbox (default `sandbox`)."""
    problems: list[str] = []
    c = world.sandboxes[want.get("cluster", MAIN)].cluster
    if "deployment" in want:
        ns, name = want["deployment"].split("/")
        obj = c.get("Deployment", ns, name)
        if obj is None:
            return [f"deployment {ns}/{name} is gone"]
        if "replicas" in want and obj["spec"].get("replicas") != want["replicas"]:
            problems.append(f"{ns}/{name} has {obj['spec'].get('replicas')} replicas, wanted {want['replicas']}")
        if "image_contains" in want:
            images = [ct.get("image", "") for ct in obj["spec"]["template"]["spec"].get("containers", [])]
            if not any(want["image_contains"] in i for i in images):
                problems.append(f"{ns}/{name} runs {images}, wanted {want['image_contains']}")
        if "restarted" in want:
            notes = obj["spec"]["template"].get("metadata", {}).get("annotations") or {}
            restarted = any("restartedAt" in k for k in notes)
            if restarted != bool(want["restarted"]):
                problems.append(f"{ns}/{name} restarted={restarted}, wanted {want['restarted']}")
    if "pod_deleted" in want:
        ns, prefix = want["pod_deleted"].split("/")
        before = [p for p in start_pods.get(ns, []) if p.startswith(prefix)]
        now = {p["metadata"]["name"] for p in c.list_objects("Pod", ns)}
        if not before:
            problems.append(f"no {prefix}* pod in {ns} at the start")
        elif all(p in now for p in before):
            problems.append(f"every {prefix}* pod of {ns} is still there: {before}")
    if "node" in want:
        node = c.get("Node", None, want["node"])
        got = bool((node or {}).get("spec", {}).get("unschedulable"))
        if node is None or got != bool(want.get("unschedulable", True)):
            problems.append(f"node {want['node']} unschedulable={got}")
    return problems
