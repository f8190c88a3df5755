"""One driving interface over both emulated platforms, so each scenario is written once and run on both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from tests.channels.emulators import dingtalk_cards
from tests.channels.emulators.dingtalk import MESSAGE_TOPIC, DingTalkEmulator, SentCard
from tests.channels.emulators.feishu import FeishuEmulator, FeishuMessage


@dataclass(frozen=True)
class View:
    """A card (or text) the bot posted, as the chat shows it now."""

    ref: str
    chat: str
    text: str
    labels: tuple[str, ...]
    versions: int
    raw: Any


def _forge(payload: str) -> str:
    body, mac = payload.split(".")
    return body + "." + ("A" if mac[0] != "A" else "B") + mac[1:]


class Chat(Protocol):
    platform: str
    group: str

    def dm(self, user: str) -> str: ...
    async def wait_connected(self, connections: int = 1) -> None: ...
    async def say(
        self, text: str, *, group: bool = True, at_bot: bool = True, user: str = "alice", msg_id: str | None = None
    ) -> None: ...
    async def say_twice(self, text: str, msg_id: str) -> None: ...
    def views(self) -> list[View]: ...
    def seen_by(self, view: View, user: str) -> View: ...
    def notices(self) -> list[str]: ...
    async def click(self, view: View, label: str, *, user: str = "alice", forge: bool = False) -> dict[str, Any]: ...
    async def drop(self) -> None: ...
    async def quiet(self, seconds: float = 0.5) -> None: ...


class DingTalkChat:
    platform = "dingtalk"
    group = "cid-group-1"

    def __init__(self, gw: DingTalkEmulator) -> None:
        self.gw = gw

    def dm(self, user: str) -> str:
        return f"staff-{user}"  # 1:1 cards are addressed to the user

    async def wait_connected(self, connections: int = 1) -> None:
        await self.gw.wait_connected(connections)

    def _data(self, text: str, group: bool, at_bot: bool, user: str, msg_id: str | None) -> dict[str, Any]:
        conversation = self.group if group else f"cid-dm-{user}"
        return self.gw.message_data(
            text,
            group=group,
            at_bot=at_bot,
            conversation_id=conversation,
            user_id=f"staff-{user}",
            nick=user.title(),
            msg_id=msg_id,
        )

    async def say(
        self, text: str, *, group: bool = True, at_bot: bool = True, user: str = "alice", msg_id: str | None = None
    ) -> None:
        data = self._data(text, group, at_bot, user, msg_id)
        ack = await self.gw.push(MESSAGE_TOPIC, data, message_id=f"frame-{data['msgId']}")
        assert ack["code"] == 200

    async def say_twice(self, text: str, msg_id: str) -> None:
        data = self._data(text, True, True, "alice", msg_id)
        for _ in range(2):  # DingTalk redelivers a frame it thinks was not acked: same frame, same msgId
            assert (await self.gw.push(MESSAGE_TOPIC, data, message_id=f"frame-{msg_id}"))["code"] == 200

    def _view(self, card: SentCard) -> View:
        return View(
            card.out_track_id,
            card.conversation_id or card.user_id or "",
            card.text,
            tuple(b["label"]["text"] for b in card.buttons()),
            len(card.versions),
            card,
        )

    def views(self) -> list[View]:
        return [self._view(c) for c in self.gw.sent_cards()]

    def seen_by(self, view: View, user: str) -> View:
        """The card as one person sees it: their `privateData` (e.g. an approver's button) laid over the card."""
        return self._view(dingtalk_cards.seen_by(self.gw, view.raw, f"staff-{user}"))

    def notices(self) -> list[str]:
        return [str(t["text"]) for t in self.gw.texts]

    async def click(self, view: View, label: str, *, user: str = "alice", forge: bool = False) -> dict[str, Any]:
        card: SentCard = view.raw
        params = dict(card.button(label)["params"])
        if forge:
            params["p"] = _forge(params["p"])
        return await self.gw.click(card, label, user_id=f"staff-{user}", params=params)

    async def drop(self) -> None:
        await self.gw.drop_connection()

    async def quiet(self, seconds: float = 0.5) -> None:
        await self.gw.quiet(seconds)


class FeishuChat:
    platform = "feishu"
    group = "oc_group_1"

    def __init__(self, gw: FeishuEmulator) -> None:
        self.gw = gw
        self.toasts: list[str] = []

    def dm(self, user: str) -> str:
        return f"oc_dm_{user}"

    async def wait_connected(self, connections: int = 1) -> None:
        await self.gw.wait_connected(connections)

    def _event(self, text: str, group: bool, at_bot: bool, user: str, msg_id: str | None) -> dict[str, Any]:
        chat = self.group if group else self.dm(user)
        return self.gw.message_event(
            text, group=group, at_bot=at_bot, chat_id=chat, user=f"ou_{user}", message_id=msg_id
        )

    async def say(
        self, text: str, *, group: bool = True, at_bot: bool = True, user: str = "alice", msg_id: str | None = None
    ) -> None:
        ack = await self.gw.push(self._event(text, group, at_bot, user, msg_id))
        assert ack["code"] == 200

    async def say_twice(self, text: str, msg_id: str) -> None:
        event = self._event(text, True, True, "alice", msg_id)
        for _ in range(2):
            assert (await self.gw.push(event, frame_id=f"frame-{msg_id}"))["code"] == 200

    def _view(self, msg: FeishuMessage) -> View:
        return View(
            msg.message_id,
            msg.chat_id,
            msg.text,
            tuple(b["text"]["content"] for b in msg.buttons()),
            len(msg.versions),
            msg,
        )

    def views(self) -> list[View]:
        return [self._view(m) for m in self.gw.sent() if m.msg_type == "interactive"]

    def seen_by(self, view: View, user: str) -> View:
        return view  # a Feishu card is the same for everyone in the chat

    def notices(self) -> list[str]:
        return [m.text for m in self.gw.sent() if m.msg_type == "text"] + self.toasts

    async def click(self, view: View, label: str, *, user: str = "alice", forge: bool = False) -> dict[str, Any]:
        msg: FeishuMessage = view.raw
        value = dict(msg.button(label)["behaviors"][0]["value"])
        if forge:
            value["p"] = _forge(value["p"])
        answer = await self.gw.click(msg, label, user=f"ou_{user}", value=value)
        if answer.get("toast"):
            self.toasts.append(str(answer["toast"]["content"]))
        return answer

    async def drop(self) -> None:
        await self.gw.drop_connection()

    async def quiet(self, seconds: float = 0.5) -> None:
        await self.gw.quiet(seconds)
