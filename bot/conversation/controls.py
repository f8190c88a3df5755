"""The control grammar available at every step: typed yes/no to the pending plan or confirmation card,
back, more, switching cluster/namespace in words, and clear refusals. Declared in `grammar`; handled here."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from bot.approvals import cards as approval_cards
from bot.conversation.flowcards import chosen_card
from bot.conversation.grammar import NAMESPACE_ALIASES, REFUSAL_BY_KEY
from bot.conversation.intent import Intent, Kind
from bot.conversation.resolve import cluster_named
from bot.conversation.texts import cancelled_card, help_card, notice_card
from bot.conversation.turn import Turn, Watch
from bot.core.actions import Action
from bot.core.i18n import Lang, tr
from bot.core.responder import CardStream, Responder, open_stream
from bot.render.model import Button, Card, Markdown, Tone

if TYPE_CHECKING:
    from bot.conversation.engine import Engine

log = logging.getLogger(__name__)


def remember_pending(turn: Turn, watch: Watch, tool: str) -> None:
    """After a proposal: the confirmation card's Confirm/Cancel become what a typed "yes"/"no" presses."""
    for card, ref in reversed(watch.sent):
        ops = {b.action.op: b.action for b in card.buttons}
        if approval_cards.CONFIRM in ops:
            yes = ops[approval_cards.CONFIRM]
            no = ops.get(approval_cards.CANCEL)
            turn.state.pending = {
                "yes": {"op": yes.op, "args": dict(yes.args)},
                "no": {"op": no.op, "args": dict(no.args)} if no else None,
                "ref": ref,
                "tool": tool,
            }
            return


def remember_plan(turn: Turn, action: Action, tool: str | None = None) -> None:
    turn.state.pending = {"yes": {"op": action.op, "args": dict(action.args)}, "no": None, "ref": None, "tool": tool}


async def on_control(engine: Engine, turn: Turn, intent: Intent) -> None:
    """YES / CANCEL / BACK / MORE, whatever is pending."""
    st, lang = turn.state, turn.lang
    pending, st.pending = st.pending, None
    if intent.kind is Kind.YES:
        if pending and isinstance(pending.get("yes"), dict):
            await _press(engine, turn, pending["yes"], pending.get("ref"))
            return
        if st.flow is not None and st.flow.slot is not None:
            turn.notes.append(tr(lang, "请先回答这个问题：", "Please answer this first:"))
            await engine.reask(turn, st.flow, st.flow.slot)
            return
        await engine.send(
            turn,
            notice_card(
                lang,
                tr(lang, "没有待确认的操作", "Nothing to confirm"),
                tr(
                    lang,
                    "现在没有等你确认的计划或改动。直接说你想看什么，例如「dev 里有哪些 pod」。",
                    'There is no plan or change waiting for you. Just say what you need, e.g. "pods in dev".',
                ),
            ),
        )
    elif intent.kind is Kind.CANCEL:
        st.flow = None
        if pending and isinstance(pending.get("no"), dict):
            await _press(engine, turn, pending["no"], pending.get("ref"))
            return
        await engine.send(turn, cancelled_card(lang))
    elif intent.kind is Kind.BACK:
        flow = st.flow
        if flow is not None and flow.answered:
            slot = flow.answered.pop()
            flow.args.pop(slot, None)
            await engine.ask(turn, flow, slot, full=True)
            return
        st.flow = None
        await engine.send(turn, help_card(lang, tr(lang, "已回到开始。", "Back to the start.")))
    elif intent.kind is Kind.MORE:
        flow = st.flow
        if flow is not None and flow.slot is not None:
            await engine.more(turn, flow, flow.slot)
            return
        await engine.send(
            turn,
            notice_card(
                lang,
                tr(lang, "没有更多了", "Nothing more"),
                tr(lang, "现在没有可以翻页的选项。", "There is no list of choices to page through right now."),
            ),
        )


async def _press(engine: Engine, turn: Turn, action: dict[str, Any], ref: Any) -> None:
    """A typed yes/no does exactly what pressing that button does, through the same checks."""
    act = Action(str(action.get("op")), dict(action.get("args") or {}))
    if act.op in engine.gate.action_ops:
        await engine.gate.on_action(turn.caller, act, turn.responder, turn.lang, ref if isinstance(ref, str) else None)
        return
    await engine.dispatch_action(turn, act.op, dict(act.args))


def pick_name(word: str, names: list[str]) -> str | None:
    """The one known name a word means: itself, or the only name it is a dash-separated part of
    ("staging" -> `sandbox-staging`)."""
    if word in names:
        return word
    parts = [n for n in names if word in n.replace("_", "-").replace(".", "-").split("-")]
    return parts[0] if len(parts) == 1 else None


async def on_switch(engine: Engine, turn: Turn, intent: Intent) -> None:
    """ "切到 staging 集群" / "换到 production": a cluster (then the NEW cluster's overview) or a namespace."""
    name, kind, lang = intent.value or "", intent.tool, turn.lang
    if kind != "namespace":
        clusters = await engine.known(turn, "cluster") or []
        cluster = cluster_named(name, clusters)
        if cluster is not None or kind == "cluster":
            if await engine.use_cluster(turn, cluster or name):
                await engine.start(turn, Intent(Kind.TOOL, "cluster_overview"))
            return
    namespaces = await engine.known(turn, "namespace") or []
    ns = pick_name(NAMESPACE_ALIASES.get(name, name), namespaces)  # "切到线上": production, if it exists
    if ns is None and kind is None:
        # neither a cluster nor a namespace: say so, with both lists' closest names, rather than guess
        turn.notes.append(
            tr(
                lang,
                "没有名为 `{n}` 的集群或命名空间。",
                "There is no cluster or namespace named `{n}`.",
                n=name[:80],
            )
        )
        await engine.start(turn, Intent(Kind.TOOL, "list_clusters"))
        return
    await engine.use_ns(turn, ns or name)


def refusal_card(lang: Lang, key: str) -> Card:
    """What the bot will not do here, why, and what it can do instead; with the ways in as buttons."""
    from bot.conversation.texts import quick_buttons

    r = REFUSAL_BY_KEY[key]
    body = tr(lang, r.why_zh, r.why_en) + "\n\n" + tr(lang, r.instead_zh, r.instead_en)
    buttons: tuple[Button, ...] = quick_buttons(lang)
    return Card(
        title=tr(lang, "这个我做不了", "I can't do that here"),
        blocks=(Markdown(body),),
        buttons=buttons,
        tone=Tone.WARNING,
    )


CHOICE_TTL = 24 * 3600  # a question card answered within a day of being asked knows it was answered


async def close_choice(engine: Engine, turn: Turn, args: dict[str, Any], ref: str) -> bool:
    """A pick from a question card: the card is replaced in place by the choice, its buttons gone. A second pick
    (or a "More") from the same card (a double click, a stale client, a card still showing its buttons) is refused
    with a short notice in the card's language (the turn's, taken from the click). False: do nothing more."""
    lang = turn.lang
    marker = engine.store.keys.seen(f"choice|{ref}")
    if args.get("s") is not None and "v" not in args:
        # "More" on a question card: fine until its choice is made, then the same notice as a second pick
        first = not await engine.store.exists(marker)
    else:
        first = await engine.store.first_seen(marker, CHOICE_TTL)
    if not first:
        await turn.responder.toast(
            tr(
                lang,
                "这张卡片已经选过了，请看最新的卡片。",
                "A choice was already made on this card; see the newest one.",
            )
        )
        return False
    if "v" not in args:
        return True
    info = engine.tools.info(str(args.get("t", "")))
    try:
        await turn.responder.update(ref, chosen_card(lang, info, str(args.get("s", "")), str(args.get("v", ""))))
    except Exception:  # the old card staying as it was must not lose the answer the user chose
        log.warning("replacing a question card with its choice failed", exc_info=True)
    return True


class InPlace:
    """The responder for a page of choices ("More" / "Previous" / "List all"): the first card replaces the
    clicked one, so paging does not leave a trail of cards with live buttons. Where the platform refuses the
    edit (Feishu's cap on edits of one message), and for any later card, a new card is sent."""

    def __init__(self, inner: Responder, ref: str) -> None:
        self._inner = inner
        self._ref: str | None = ref

    async def send(self, card: Card) -> str | None:
        ref, self._ref = self._ref, None
        if ref is not None:
            try:
                await self._inner.update(ref, card)
                return ref
            except Exception:  # the page still gets shown, as a new card
                log.info("page of choices could not replace card %s; sending a new one", ref, exc_info=True)
        return await self._inner.send(card)

    async def update(self, ref: str, card: Card) -> None:
        await self._inner.update(ref, card)

    async def toast(self, text: str) -> None:
        await self._inner.toast(text)

    async def stream(self, title: str, *, lang: Lang) -> CardStream:
        return await open_stream(self._inner, title, lang=lang)
