"""Plays a corpus dialogue against the real bot and checks each turn; used by the strict test and the bench.

The bot is the real one (dispatcher -> engine -> policy gate -> tool gateway -> sandbox over HTTP, real Redis,
no LLM), with the shipped policy (the console user may operate; production needs a second person). Two sandbox
clusters, `sandbox` (current) and `sandbox-staging`, as in `kubeduty demo`. The tool calls are observed through
a recording wrapper around the gateway; the K8s state through the sandboxes themselves.

The assertion vocabulary of a turn is described in README.md here and checked in checks.py.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.app import Bot, build_bot
from bot.core.events import CardActionEvent, Conversation, MessageEvent, Platform, Sender
from bot.render.model import Card
from bot.settings import REPO_ROOT, load_settings
from bot.store import Store
from bot.tooling.builtin import BuiltinSource
from bot.tooling.gateway import ToolGateway
from bot.tooling.types import ToolCall, ToolInfo, ToolOutcome
from tests.conversation.corpus.checks import KINDS, TurnResult, as_list, card_text, check_turn, kind_of, short_args
from tests.conversation.corpus.world import MAIN, World, meanwhile, pods_by_namespace, snapshot
from tools.k8s.client import KubeClients

CORPUS_DIR = Path(__file__).resolve().parent
DEFAULT_POLICY = REPO_ROOT / "policies" / "default.yaml"
TURN_TIMEOUT = 60.0  # seconds; generous: the shared 2-core box may be busy
LANGS = ("zh", "en", "mixed")
TURN_KEYS = frozenset(
    """say press expect_tool args expect_any_tool no_tool no_calls card_kind must_contain must_contain_any
    must_not_contain title_contains title_not_contains buttons_include buttons_exclude no_mutation sandbox
    cluster zh_clean note if_asked through_plan no_call_with pick_only meanwhile fresh_pods""".split()
)
DIALOGUE_KEYS = frozenset({"name", "lang", "turns", "issue", "note", "mutates", "oncall"})

# ---------------------------------------------------------------- the corpus as data


@dataclass(frozen=True)
class Dialogue:
    category: str
    name: str
    lang: str
    turns: tuple[dict[str, Any], ...]
    issue: bool = False  # one of the failures listed in issue 10
    mutates: bool = False  # needs sandboxes of its own (a change may run)
    oncall: bool = False  # the on-call loop configured (ALERTS_PORT): bot.alerts answers in front of the engine

    @property
    def id(self) -> str:
        return f"{self.category}/{self.lang}/{self.name}"


def load_corpus(directory: Path = CORPUS_DIR) -> list[Dialogue]:
    """Every dialogue of every `*.yaml` file (one file per category), checked for shape."""
    out: list[Dialogue] = []
    for path in sorted(directory.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        category = doc["category"]
        for raw in doc["dialogues"]:
            unknown = set(raw) - DIALOGUE_KEYS
            assert not unknown, f"{path.name}: {raw.get('name')}: unknown keys {unknown}"
            assert raw["lang"] in LANGS, f"{path.name}: {raw['name']}: lang {raw['lang']!r}"
            turns = tuple(raw["turns"])
            for turn in turns:
                bad = set(turn) - TURN_KEYS
                assert not bad, f"{path.name}: {raw['name']}: unknown turn keys {bad}"
                assert ("say" in turn) != ("press" in turn), f"{path.name}: {raw['name']}: say or press per turn"
                assert turn.get("card_kind") in (None, *KINDS), f"{path.name}: {raw['name']}: {turn['card_kind']}"
            out.append(
                Dialogue(
                    category=category,
                    name=raw["name"],
                    lang=raw["lang"],
                    turns=turns,
                    issue=bool(raw.get("issue")),
                    mutates=bool(raw.get("mutates")),
                    oncall=bool(raw.get("oncall")),
                )
            )
    ids = [d.id for d in out]
    dupes = {i for i in ids if ids.count(i) > 1}
    assert not dupes, f"duplicate dialogue ids: {dupes}"
    return out


# ---------------------------------------------------------------- observing the bot


@dataclass
class RecordingGateway:
    """The real gateway; every call is recorded (tool, args, whether it was a real change)."""

    inner: ToolGateway
    calls: list[ToolCall] = field(default_factory=list)
    executed: list[ToolCall] = field(default_factory=list)  # mutating calls that were not dry runs
    seconds: float = 0.0  # time spent inside tool calls (K8s), taken out of the parser's cost

    @property
    def sources(self) -> list[Any]:
        return self.inner.sources

    @property
    def errors(self) -> dict[str, str]:
        return self.inner.errors

    async def refresh(self) -> None:
        await self.inner.refresh()

    def tools(self) -> list[ToolInfo]:
        return self.inner.tools()

    def info(self, name: str) -> ToolInfo | None:
        return self.inner.info(name)

    async def call(self, call: ToolCall, **kwargs: Any) -> ToolOutcome:
        self.calls.append(call)
        info = self.inner.info(call.tool)
        if info is not None and info.mutates and not call.args.get("dry_run"):
            self.executed.append(call)
        started = time.perf_counter()
        try:
            return await self.inner.call(call, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started


class Sink:
    """A responder keeping every card (sent or updated) and notice."""

    def __init__(self) -> None:
        self.cards: list[Card] = []
        self.toasts: list[str] = []

    async def send(self, card: Card) -> str | None:
        self.cards.append(card)
        return f"ref-{len(self.cards)}"

    async def update(self, ref: str, card: Card) -> None:
        self.cards.append(card)

    async def toast(self, text: str) -> None:
        self.toasts.append(text)


# ---------------------------------------------------------------- running one dialogue


@dataclass
class DialogueResult:
    dialogue: Dialogue
    turns: list[TurnResult]

    @property
    def problems(self) -> list[str]:
        return [f"turn {t.index + 1} ({t.user!r}): {p}" for t in self.turns for p in t.problems]

    @property
    def passed(self) -> bool:
        return not self.problems

    def transcript(self, limit: int = 6000) -> str:
        out: list[str] = []
        for t in self.turns:
            out.append(f">>> {t.user}")
            out.append("    calls: " + ", ".join(f"{c.tool}{short_args(c.args)}" for c in t.calls))
            for c in t.cards:
                shown = card_text(c)
                shown = shown if len(shown) <= 700 else shown[:700] + "\n… (card truncated)"  # every turn fits
                out.append("    | " + shown.replace("\n", "\n    | "))
            out += [f"    (notice) {x}" for x in t.toasts]
        text = "\n".join(out)
        return text if len(text) <= limit else text[:limit] + "\n… (truncated)"


class CatalogueSource(BuiltinSource):
    """The built-in catalogue, its listing computed once per process: the catalogue is static, and deriving its
    JSON schemas costs ~0.1 s per bot, which a corpus of hundreds of short dialogues would pay each time."""

    _listing: list[ToolInfo] | None = None

    def list_tools_now(self) -> list[ToolInfo]:
        if CatalogueSource._listing is None:
            CatalogueSource._listing = super().list_tools_now()
        return list(CatalogueSource._listing)


async def make_bot(
    world: World, store: Store, *, audit_dir: Path, oncall: bool = False
) -> tuple[Bot, RecordingGateway, KubeClients]:
    # with `oncall`, the alert wrapper is built (its webhook is never opened: the dialogues only talk)
    alerts: dict[str, Any] = {"alerts_port": 0, "alerts_host": "127.0.0.1", "alerts_token": "corpus"} if oncall else {}
    settings = load_settings(
        **alerts,
        kubeconfig=str(world.kubeconfig),
        kube_context=MAIN,
        kube_timeout_seconds=10.0,
        policy_files=[str(DEFAULT_POLICY)],
        audit_log_path=str(audit_dir / f"audit-{uuid.uuid4().hex[:8]}.jsonl"),
    )
    kube = KubeClients(kubeconfig=str(world.kubeconfig), context=MAIN, timeout_seconds=10.0)
    gateway = RecordingGateway(ToolGateway([CatalogueSource(kube)]))
    bot = build_bot(settings, store=store, gateway=gateway, progress_after=600)
    await bot.start()
    return bot, gateway, kube


async def run_dialogue(dialogue: Dialogue, world: World, store: Store) -> DialogueResult:
    """Play every turn; stop at the first turn with a problem (later turns would only report its echo)."""
    bot, gateway, kube = await make_bot(world, store, audit_dir=world.dir, oncall=dialogue.oncall)
    conv = Conversation(Platform.CONSOLE, f"corpus-{uuid.uuid4().hex[:8]}")
    sender = Sender("console-user", "you")  # who `kubeduty demo` says you are: names show on some cards
    sink = Sink()
    results: list[TurnResult] = []
    start_pods = pods_by_namespace(world)
    try:
        for i, turn in enumerate(dialogue.turns):
            n_cards, n_toasts, n_calls = len(sink.cards), len(sink.toasts), len(gateway.calls)
            n_exec = len(gateway.executed)
            if "meanwhile" in turn:
                meanwhile(world, turn["meanwhile"])
            before = snapshot(world)
            requests = {name: len(h.cluster.requests) for name, h in world.sandboxes.items()}
            problems: list[str] = []
            delivered = 1
            user = turn.get("say") or f"[press {turn['press']}]"
            k8s_before = gateway.seconds
            started = time.perf_counter()
            try:
                event: MessageEvent | CardActionEvent
                if "say" in turn:
                    event = MessageEvent(uuid.uuid4().hex, conv, sender, str(turn["say"]))
                else:
                    event = CardActionEvent(
                        uuid.uuid4().hex, conv, sender, press_payload(bot, sink, conv, turn["press"])
                    )
                await asyncio.wait_for(_deliver(bot, event, sink), TURN_TIMEOUT)
                follow = _follow_ups(turn)
                while follow and sink.cards[n_cards:]:
                    kind = kind_of(sink.cards[-1])
                    if kind == "choice" and follow[0][0] == "if_asked":
                        event = MessageEvent(uuid.uuid4().hex, conv, sender, str(follow[0][1]))
                    elif kind == "plan" and follow[0][0] == "through_plan":
                        event = CardActionEvent(uuid.uuid4().hex, conv, sender, go_payload(bot, sink.cards[-1], conv))
                    elif kind == "plan" and len(follow) > 1 and follow[1][0] == "through_plan":
                        follow.pop(0)  # it did not ask: the answer is not needed
                        continue
                    else:
                        break
                    follow.pop(0)
                    delivered += 1
                    await asyncio.wait_for(_deliver(bot, event, sink), TURN_TIMEOUT)
            except AssertionError as exc:
                problems.append(str(exc))
            except TimeoutError:
                problems.append(f"no answer within {TURN_TIMEOUT:.0f} s")
            elapsed = time.perf_counter() - started - (gateway.seconds - k8s_before)
            after = snapshot(world)
            if gateway.executed[n_exec:] or after != before:
                world.dirty = True
            result = TurnResult(
                i,
                user,
                sink.cards[n_cards:],
                sink.toasts[n_toasts:],
                gateway.calls[n_calls:],
                problems,
                elapsed,
                delivered,
            )
            if not problems:
                result.problems += check_turn(
                    turn, result, world, before, after, gateway.executed[n_exec:], start_pods, requests
                )
            results.append(result)
            if result.problems:
                break
    finally:
        await bot.close()
        await kube.close()
    return DialogueResult(dialogue, results)


async def _deliver(bot: Bot, event: MessageEvent | CardActionEvent, sink: Sink) -> None:
    assert await bot.dispatcher.submit(event, sink), "the dispatcher refused the event"
    await bot.dispatcher.drain()


def _follow_ups(turn: dict[str, Any]) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = [("if_asked", a) for a in as_list(turn.get("if_asked", []))]
    if turn.get("through_plan"):
        out.append(("through_plan", True))
    return out


def go_payload(bot: Bot, card: Card, conv: Conversation) -> str:
    """The plan's go button: the first one that is not Cancel."""
    go = [b for b in card.buttons if b.label not in ("取消", "Cancel")]
    assert go, f"a plan without a go button: {[b.label for b in card.buttons]}"
    return bot.codec.encode(go[0].action, conv.chat_key)


def press_payload(bot: Bot, sink: Sink, conv: Conversation, label_part: str) -> str:
    for card in reversed(sink.cards):
        if card.buttons:
            found = [b for b in card.buttons if str(label_part).lower() in b.label.lower()]
            assert found, f"no button with {label_part!r} in {[b.label for b in card.buttons]}"
            return bot.codec.encode(found[0].action, conv.chat_key)
    raise AssertionError(f"no card with buttons to press {label_part!r} on")
