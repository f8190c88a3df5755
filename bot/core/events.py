"""Typed inbound events: what every channel adapter turns its platform's frames into."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from bot.core.i18n import Lang


class Platform(StrEnum):
    CONSOLE = "console"
    DINGTALK = "dingtalk"
    FEISHU = "feishu"


@dataclass(frozen=True, slots=True)
class Sender:
    user_id: str
    name: str = ""

    def subject(self, platform: Platform) -> str:
        """`platform:user_id`, the form policy files name users by."""
        return f"{platform.value}:{self.user_id}"


@dataclass(frozen=True, slots=True)
class Conversation:
    platform: Platform
    chat_id: str
    is_group: bool = False

    @property
    def chat_key(self) -> str:
        return f"{self.platform.value}:{self.chat_id}"


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """A text message addressed to the bot (mentions already stripped by the adapter)."""

    event_id: str
    conversation: Conversation
    sender: Sender
    text: str
    mentioned: bool = True
    lang: Lang | None = None  # None = detect from text
    received_at: float = 0.0


@dataclass(frozen=True, slots=True)
class CardActionEvent:
    """A button press. `payload` is the signed string the button carried; the dispatcher verifies it."""

    event_id: str
    conversation: Conversation
    sender: Sender
    payload: str
    message_ref: str | None = None  # the platform id of the card that was clicked
    form: dict[str, str] = field(default_factory=dict)  # free-text inputs on the card, if any
    received_at: float = 0.0
    lang: Lang | None = None  # the clicked card's own language, when the platform says (notices answer in it)


InboundEvent = MessageEvent | CardActionEvent


def state_key(conversation: Conversation, sender: Sender) -> str:
    """One conversation state per user per chat: two users in one group never share a flow."""
    return f"{conversation.platform.value}:{conversation.chat_id}:{sender.user_id}"
