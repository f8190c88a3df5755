"""Platform-neutral card view models (re-exported by `bot.render.model`).

Handlers build these; `bot.render` turns them into console text, DingTalk cards or Feishu card JSON. Pure data.

Trust: every string here is data and is escaped for the platform it is rendered on (`bot.render.escape`), so a
cluster name, a log line, an event message or the LLM's answer can never become a link, a mention or a tag. The
one exception is the light markdown of `Markdown`, `Note` and `Card.footer` (`**bold**`, `` `code` ``, `- `
items): it is parsed and re-emitted, everything else in those texts escaped. Links have no type at
all: no card needs them, so none can be smuggled in; mentions exist only as the typed `Mention` block, rendered
by each platform from validated ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.actions import Action


class Tone(StrEnum):
    INFO = "info"
    SUCCESS = "success"
    WARNING = "warning"
    DANGER = "danger"


class ButtonStyle(StrEnum):
    DEFAULT = "default"
    PRIMARY = "primary"
    DANGER = "danger"


@dataclass(frozen=True, slots=True)
class Markdown:
    """Light markdown from our templates: **bold**, `code`, line breaks, `- ` lists. Any other markup in the text
    (and so in values interpolated into it) is shown as typed, never rendered."""

    text: str


@dataclass(frozen=True, slots=True)
class Fields:
    """Key/value pairs shown as a compact grid."""

    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Table:
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    truncated: str | None = None  # e.g. "showing 20 of 153"; renderers show it visibly


@dataclass(frozen=True, slots=True)
class Code:
    """Preformatted text (logs, YAML)."""

    text: str
    truncated: str | None = None


@dataclass(frozen=True, slots=True)
class Note:
    """A tip or warning line."""

    text: str
    tone: Tone = Tone.INFO


@dataclass(frozen=True, slots=True)
class Mention:
    """People to notify: REAL @-mentions, rendered by each platform from validated ids (Feishu `<at id=...>` in the
    card, DingTalk the delivery's at list), never from text. `people` are (`platform:user_id`, display name) pairs;
    a platform mentions only its own people. `everyone` is @all. `urgent` asks for the platform's strongest
    reminder on top (Feishu urgent_app, DingTalk DING) when the card is first sent, never on updates (done by the
    alert outbox, `bot.alerts.outbox`).
    `text` is light markdown shown after the mentions."""

    people: tuple[tuple[str, str], ...] = ()
    everyone: bool = False
    urgent: bool = False
    text: str = ""


@dataclass(frozen=True, slots=True)
class Chart:
    """Numeric series (oldest first) drawn as a small PNG where the platform shows images, as text sparklines in
    the console or when the image could not be made. `image` is set by the channel after uploading (a platform
    image key / media id), never by handlers. Series: (label, values, unit)."""

    title: str
    series: tuple[tuple[str, tuple[float, ...], str], ...]
    image: str | None = None
    # False when the card shows the same series as text already (a Code block of sparklines): then a chart whose
    # image could not be made shows nothing rather than the same lines twice
    text_fallback: bool = True


Block = Markdown | Fields | Table | Code | Note | Mention | Chart


@dataclass(frozen=True, slots=True)
class Button:
    label: str
    action: Action
    style: ButtonStyle = ButtonStyle.DEFAULT
    # `platform:user_id`s this button is meant for (the approvers of a change). Platforms with per-user card data
    # (DingTalk `privateData`) show it only to them; others show it to everyone. Never a permission: the handler
    # checks the clicker again.
    audience: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Card:
    title: str
    blocks: tuple[Block, ...] = ()
    buttons: tuple[Button, ...] = ()
    tone: Tone = Tone.INFO
    footer: str | None = None
    # Free-text entry offered with the buttons (e.g. "or type a namespace"); platforms that have an input box show it.
    input_hint: str | None = None
    meta: dict[str, str] = field(default_factory=dict)


TRUNCATED_ZH = "…（已截断）"
TRUNCATED_EN = "… (truncated)"


def bound_text(text: str, limit: int, marker: str = TRUNCATED_EN) -> tuple[str, bool]:
    """Cut `text` to at most `limit` characters including a visible marker. Returns (text, was_cut)."""
    if len(text) <= limit:
        return text, False
    keep = max(0, limit - len(marker) - 1)
    return text[:keep].rstrip() + "\n" + marker, True


def bound_tail(text: str, limit: int, marker: str = TRUNCATED_EN) -> tuple[str, bool]:
    """Like `bound_text` but keeps the END (for logs: the newest lines matter most)."""
    if len(text) <= limit:
        return text, False
    keep = max(0, limit - len(marker) - 1)
    cut = text[-keep:] if keep else ""
    nl = cut.find("\n")
    if 0 <= nl < len(cut) - 1:
        cut = cut[nl + 1 :]  # start at a whole line
    return marker + "\n" + cut, True
