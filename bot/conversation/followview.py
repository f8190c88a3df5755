"""The live log card: its window of newest lines (sized to the card on the wire), its state, Stop / Follow again.

Pure: the hub (`bot.conversation.follow`) decides when a card goes out; this says what it shows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bot.core.actions import Action, run_tool_action
from bot.core.cards import Button, ButtonStyle, Card, Code, Markdown, Note, Tone
from bot.core.i18n import Lang, tr
from bot.render import paging

if TYPE_CHECKING:
    from bot.conversation.follow import Target


def live_card(
    follow_id: str,
    t: Target,
    title: str,
    lang: Lang,
    budget: paging.Budget,
    *,
    live: bool,
    shown: list[str],
    seconds: int,
    reason: str | None,
) -> Card:
    if live:
        state = tr(lang, "正在跟踪，约 {s} 秒后自动停止。", "Following; stops by itself in about {s} s.", s=seconds)
    else:
        state = stopped_text(lang, reason or "stopped")
    head = Markdown(
        tr(lang, "`{ns}/{pod}` 容器 `{c}`", "`{ns}/{pod}` container `{c}`", ns=t.namespace, pod=t.pod, c=t.container)
    )

    def build(a: int, b: int) -> Card:
        blocks: list[Any] = [head]
        if b > a:
            blocks.append(Code("\n".join(shown[a:b])))
        elif live:
            blocks.append(Markdown(tr(lang, "（等待新的日志…）", "(waiting for new lines…)")))
        blocks.append(Note(state, Tone.INFO if live else Tone.WARNING))
        buttons: tuple[Button, ...]
        if live:
            buttons = (Button(tr(lang, "停止", "Stop"), Action("unfollow", {"f": follow_id}), ButtonStyle.DANGER),)
        else:
            buttons = (
                Button(tr(lang, "再次跟踪", "Follow again"), Action("follow", t.args()), ButtonStyle.PRIMARY),
                Button(tr(lang, "查看日志", "Logs"), run_tool_action("pod_logs", t.args())),
            )
        return Card(title=title, blocks=tuple(blocks), buttons=buttons, tone=Tone.INFO, meta={"lang": lang.value})

    if budget.unlimited:
        return build(0, len(shown))
    return build(*paging.window_back(len(shown), lambda a, b: paging.fits(build(a, b), budget)))


def stopped_text(lang: Lang, reason: str) -> str:
    texts = {
        "time": (
            "已停止跟踪：到达时限。需要的话再点「再次跟踪」。",
            "Stopped following: time is up. Press Follow again for more.",
        ),
        "stopped": ("已停止跟踪（手动停止）。", "Stopped following (stopped by hand)."),
        "ended": (
            "已停止跟踪：日志流结束了（容器退出或 Pod 已不在）。",
            "Stopped following: the log stream ended (the container exited or the pod is gone).",
        ),
        "failed": (
            "已停止跟踪：日志流中断了，请稍后再试。",
            "Stopped following: the log stream broke off; please try again shortly.",
        ),
        "shutdown": ("已停止跟踪：机器人正在停止或重启。", "Stopped following: the bot is stopping or restarting."),
    }
    zh, en = texts.get(reason, texts["stopped"])
    return tr(lang, zh, en)


def refused_text(lang: Lang, why: str) -> str:
    if why == "busy":
        return tr(
            lang,
            "现在跟踪的日志太多了，请先停止一个再试。",
            "Too many logs are being followed right now; stop one and try again.",
        )
    return tr(lang, "这里不支持实时跟踪日志。", "Following logs live is not available here.")
