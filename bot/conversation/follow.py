"""Live log follow: `/logs <pod> -f` (or the Follow button of a logs card) keeps ONE card updated with the newest
lines for a bounded time, with a Stop button; it stops on its own with a visible note.

- Policy: a follow starts with the ordinary `pod_logs` read (the gate's read check, redaction); the stream's
  lines are masked like every log line (`tools.k8s.logstream`).
- Sharing: followers of one container share one API stream (in process, `FollowHub._streams`); each follower
  gets the lines that arrive after it joined. The stream closes when its last follower leaves.
- Replicas: a card is updated by one replica only: the follower takes a Redis lease on its card (first one wins,
  bounded by the follow's time); a Stop pressed on another replica reaches the runner through a Redis mark.
- Platform pace: updates are coalesced to one per interval (DingTalk refuses updates of a card faster than
  every 800 ms; Feishu allows about 20 edits of one message, so its interval is longer and after
  `max_edits` the follow continues on a new card, the old one saying so). The window of lines is sized to the
  card on the wire (`bot.render.paging`); the console prints only the lines new since its last print.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.conversation.followview import live_card
from bot.core.cards import Card, Note, Tone
from bot.core.i18n import Lang, tr
from bot.core.responder import Responder
from bot.core.tasks import TaskTracker
from bot.render import paging
from bot.store import Store

log = logging.getLogger(__name__)

QUEUE_LINES = 2000  # lines buffered per follower between two updates; beyond, the oldest go (the card shows the newest)
WINDOW_LINES = 400  # lines a follower keeps for its card (the card shows what fits of them)
DINGTALK_MIN_INTERVAL = 1.0  # DingTalk: >= 800 ms between updates of one card (with room for clock skew)
FEISHU_MIN_INTERVAL = 4.0  # Feishu: ~20 edits per message; a slower pace keeps one card for longer
FINAL_MIN_GAP = 1.0  # seconds kept between the last update and the stopped note (DingTalk: >= 800 ms)
FEISHU_MAX_EDITS = 18  # edits of one Feishu message before the follow continues on a new card (limit ~20)


class LogSource(Protocol):
    def __call__(
        self, *, namespace: str, pod: str, container: str | None, cluster: str | None
    ) -> AsyncGenerator[str, None]: ...


@dataclass(frozen=True, slots=True)
class FollowConfig:
    seconds: float = 180.0  # how long one follow runs
    interval: float = 2.0  # seconds between card updates (raised to each platform's minimum)
    max_followers: int = 20  # live cards in one process


@dataclass(frozen=True, slots=True)
class Target:
    namespace: str
    pod: str
    container: str
    cluster: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.cluster or "", self.namespace, self.pod, self.container)

    def args(self) -> dict[str, Any]:
        out: dict[str, Any] = {"namespace": self.namespace, "pod": self.pod, "container": self.container}
        if self.cluster:
            out["cluster"] = self.cluster
        return out


class _Shared:
    """One API stream of one container, fanned out to every follower's queue."""

    def __init__(self, hub: FollowHub, target: Target) -> None:
        self.hub = hub
        self.target = target
        self.queues: set[asyncio.Queue[str | None]] = set()
        self.ended: str | None = None  # why the stream ended ("ended", "failed")
        self.task: asyncio.Task[None] | None = None

    def join(self) -> asyncio.Queue[str | None]:
        q: asyncio.Queue[str | None] = asyncio.Queue(maxsize=QUEUE_LINES)
        self.queues.add(q)
        if self.task is None:
            self.hub.opened += 1
            self.task = self.hub.tracker.spawn(self._pump(), name=f"log-follow-{self.target.pod}")
        return q

    def leave(self, q: asyncio.Queue[str | None]) -> None:
        self.queues.discard(q)
        if not self.queues:
            self.hub._streams.pop(self.target.key, None)
            if self.task is not None and not self.task.done():
                self.task.cancel()

    def _put(self, item: str | None) -> None:
        for q in list(self.queues):
            if q.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    q.get_nowait()  # a slow card: the oldest line goes, the newest are what it shows
            q.put_nowait(item)

    async def _pump(self) -> None:
        t = self.target
        assert self.hub.source is not None
        try:
            lines = self.hub.source(namespace=t.namespace, pod=t.pod, container=t.container, cluster=t.cluster)
            async with contextlib.aclosing(lines) as stream:
                async for line in stream:
                    self._put(line)
            self.ended = "ended"
        except asyncio.CancelledError:
            raise
        except Exception:  # the stream failed: every follower says so on its card
            log.info("log stream of %s/%s failed", t.namespace, t.pod, exc_info=True)
            self.ended = "failed"
        finally:
            self.hub._streams.pop(t.key, None)
        self._put(None)


@dataclass
class _Follower:
    follow_id: str
    target: Target
    responder: Responder
    lang: Lang
    budget: paging.Budget
    title: str
    lines: deque[str]
    lease: str | None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    reason: str | None = None
    edits: int = 0
    cards: int = 1
    updates: int = 0
    last: float = 0.0  # when the card was last sent or updated (the platform's pace counts from there)


class FollowHub:
    """Every live log card of this process; one stream per followed container."""

    def __init__(
        self,
        *,
        source: LogSource | None,
        store: Store,
        tracker: TaskTracker,
        config: FollowConfig | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.store = store
        self.tracker = tracker
        self.config = config or FollowConfig()
        self.clock = clock
        self._streams: dict[tuple[str, str, str, str], _Shared] = {}
        self._followers: dict[str, _Follower] = {}
        self.opened = 0  # API streams opened (tests and benchmarks read it: followers share streams)
        self.update_times: list[float] = []  # when each card update went out (the measured update rate)

    @property
    def active(self) -> int:
        return len(self._followers)

    def streams(self) -> int:
        return len(self._streams)

    def pace(self, platform: str) -> tuple[float, int | None]:
        """Seconds between updates and edits per message for a platform."""
        if platform == paging.FEISHU:
            return max(self.config.interval, FEISHU_MIN_INTERVAL), FEISHU_MAX_EDITS
        if platform == paging.DINGTALK:
            return max(self.config.interval, DINGTALK_MIN_INTERVAL), None
        return self.config.interval, None

    async def start(
        self,
        *,
        responder: Responder,
        lang: Lang,
        budget: paging.Budget,
        target: Target,
        initial: list[str],
        card_key: str,
    ) -> str | None:
        """Post the live card and follow; returns the follow id, or None when this card is followed already
        (by this or another replica). Raises `FollowRefused` when following is not possible now."""
        if self.source is None:
            raise FollowRefused("unavailable")
        if self.active >= self.config.max_followers:
            raise FollowRefused("busy")
        lease = self.store.keys.follow_lease(card_key)
        if not await self.store.first_seen(lease, int(self.config.seconds) + 60):
            return None
        follow_id = uuid.uuid4().hex[:16]
        f = _Follower(
            follow_id=follow_id,
            target=target,
            responder=responder,
            lang=lang,
            budget=budget,
            title=tr(lang, "实时日志：{p}", "Live log: {p}", p=f"{target.namespace}/{target.pod}"),
            lines=deque(initial[-WINDOW_LINES:], maxlen=WINDOW_LINES),
            lease=lease,
        )
        shared = self._streams.get(target.key)
        if shared is None:
            shared = self._streams[target.key] = _Shared(self, target)
        queue = shared.join()
        self._followers[follow_id] = f
        try:
            ref = await responder.send(self._card(f, live=True, shown=list(f.lines)))
            f.last = self.clock()
        except Exception:
            self._followers.pop(follow_id, None)
            shared.leave(queue)
            await self.store.delete(lease)
            raise
        self.tracker.spawn(self._run(f, shared, queue, ref), name=f"log-follower-{follow_id}")
        return follow_id

    async def stop(self, follow_id: str) -> bool:
        """Stop a follow: here if it runs here, and for every replica through the store. True if it ran here."""
        await self.store.set_json(self.store.keys.follow_stop(follow_id), 1, int(self.config.seconds) + 60)
        f = self._followers.get(follow_id)
        if f is None:
            return False
        f.reason = f.reason or "stopped"
        f.stop.set()
        return True

    async def close(self) -> None:
        for f in list(self._followers.values()):
            f.reason = f.reason or "shutdown"
            f.stop.set()

    # ------------------------------------------------------------------ one follower
    async def _run(self, f: _Follower, shared: _Shared, queue: asyncio.Queue[str | None], ref: str | None) -> None:
        interval, max_edits = self.pace(f.budget.platform)
        deadline = self.clock() + self.config.seconds
        printed = len(f.lines)  # the console prints only what is new since its last print
        new = 0
        try:
            while f.reason is None:
                left = deadline - self.clock()
                if left <= 0:
                    f.reason = "time"
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(f.stop.wait(), timeout=min(interval, left))
                if f.reason is not None:
                    break
                while not queue.empty():
                    line = queue.get_nowait()
                    if line is None:
                        f.reason = "failed" if shared.ended == "failed" else "ended"
                        break
                    f.lines.append(line)
                    new += 1
                if await self.store.get_json(self.store.keys.follow_stop(f.follow_id)) is not None:
                    f.reason = "stopped"  # Stop pressed where another replica took the click
                if f.reason is not None or new == 0 or ref is None:
                    continue
                shown = list(f.lines)[-new:] if f.budget.unlimited else list(f.lines)
                printed, new = printed + new, 0
                ref = await self._update(f, ref, self._card(f, live=True, shown=shown, left=left), max_edits)
        except asyncio.CancelledError:
            f.reason = f.reason or "shutdown"
            raise
        except Exception:  # a failure of ours ends this card honestly, never silently
            log.exception("log follower %s failed", f.follow_id)
            f.reason = "failed"
        finally:
            shared.leave(queue)
            while not queue.empty() and not f.budget.unlimited:  # the last lines still make the final card
                line = queue.get_nowait()
                if line is not None:
                    f.lines.append(line)
            if ref is not None:
                shown = [] if f.budget.unlimited else list(f.lines)
                wait = f.last + min(interval, FINAL_MIN_GAP) - self.clock()
                if wait > 0 and f.reason != "shutdown":  # the stopped note, too, keeps the platform's pace
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.sleep(wait)
                try:
                    await f.responder.update(ref, self._card(f, live=False, shown=shown))
                    self.update_times.append(self.clock())
                except Exception:  # the final note could not be shown there: say it in a new card
                    log.info("final live log update refused; sending the note as a new card", exc_info=True)
                    with contextlib.suppress(Exception):
                        await f.responder.send(self._card(f, live=False, shown=[]))
            if f.lease is not None:
                with contextlib.suppress(Exception):
                    await self.store.delete(f.lease)
            self._followers.pop(f.follow_id, None)  # last: "not active" means its card says it stopped

    async def _update(self, f: _Follower, ref: str, card: Card, max_edits: int | None) -> str:
        if max_edits is not None and f.edits >= max_edits - 1:
            # the message has one edit left: it says where the follow went on, and a new card takes over
            moved = Card(
                title=f.title,
                blocks=(
                    *card.blocks[:-1],
                    Note(tr(f.lang, "继续在下一张卡片中跟踪。", "Continued on the next card."), Tone.INFO),
                ),
            )
            with contextlib.suppress(Exception):
                await f.responder.update(ref, moved)
            fresh = await f.responder.send(card)
            f.cards += 1
            f.edits = 0
            self.update_times.append(self.clock())
            f.last = self.clock()
            return fresh or ref
        try:
            await f.responder.update(ref, card)
            f.edits += 1
        except Exception:  # refused (edit cap, rate): the follow goes on in a new card
            log.info("live log update refused; continuing on a new card", exc_info=True)
            fresh = await f.responder.send(card)
            f.cards += 1
            f.edits = 0
            ref = fresh or ref
        f.updates += 1
        self.update_times.append(self.clock())
        f.last = self.clock()
        return ref

    def _card(self, f: _Follower, *, live: bool, shown: list[str], left: float | None = None) -> Card:
        return live_card(
            f.follow_id,
            f.target,
            f.title,
            f.lang,
            f.budget,
            live=live,
            shown=shown,
            seconds=int(left if left is not None else self.config.seconds),
            reason=f.reason,
        )


class FollowRefused(Exception):
    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def kube_source(kube: Any) -> LogSource:
    """The cluster's streaming log read (`tools.k8s.logstream`), as a `LogSource`."""

    def source(*, namespace: str, pod: str, container: str | None, cluster: str | None) -> AsyncGenerator[str, None]:
        from tools.k8s.logstream import follow_log

        return follow_log(kube, namespace=namespace, pod=pod, container=container, cluster=cluster)

    return source
