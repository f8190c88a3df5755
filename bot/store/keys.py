"""Every Redis key name is built here, and nowhere else.

Keys that are used together carry the same hash tag (`{...}`), so on Redis Cluster they live in one slot and a
script or lock touching both never gets CROSSSLOT: a conversation's state and its lock share `{c:<hash>}` (and
so does the dedupe marker of an event in that conversation); an approval's record is `{a:<id>}`. The tag is a
hash of the name, so no user-controlled `{` or `}` can move a key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def conversation_tag(state_key: str) -> str:
    return "{c:" + _h(state_key) + "}"


def approval_tag(approval_id: str) -> str:
    return "{a:" + _h(approval_id) + "}"


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "kd"

    def state(self, state_key: str) -> str:
        return f"{self.prefix}:state:{conversation_tag(state_key)}"

    def conv_lock(self, state_key: str) -> str:
        return f"{self.prefix}:lock:{conversation_tag(state_key)}"

    def seen(self, event_id: str, state_key: str | None = None) -> str:
        """Dedupe marker of an inbound event; with the conversation's `state_key` it shares that conversation's
        tag, so one script can check it, take the lock and load the state (one slot on Cluster)."""
        if state_key is None:
            return f"{self.prefix}:seen:{_h(event_id)}"
        return f"{self.prefix}:seen:{conversation_tag(state_key)}:{_h(event_id)}"

    def cache(self, kind: str, scope: str) -> str:
        return f"{self.prefix}:cache:{kind}:{_h(scope)}"

    def cache_pattern(self) -> str:
        return f"{self.prefix}:cache:*"

    def approval(self, approval_id: str) -> str:
        return f"{self.prefix}:approval:{approval_tag(approval_id)}"

    def running(self, approval_id: str) -> str:
        """Heartbeat of the replica running an approved change (same slot as the approval)."""
        return f"{self.prefix}:running:{approval_tag(approval_id)}"

    def audit_stream(self) -> str:
        return f"{self.prefix}:audit"

    def card_ref(self, ref: str) -> str:
        return f"{self.prefix}:cardref:{_h(ref)}"

    def custom(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    # --- alerts and incidents (bot.alerts): a group's pointer, lock and delivery marks share `{al:<hash>}` ---
    def alert_group(self, group_key: str) -> str:
        return f"{self.prefix}:alert:{{al:{_h(group_key)}}}:current"

    def alert_lock(self, group_key: str) -> str:
        return f"{self.prefix}:alert:{{al:{_h(group_key)}}}:lock"

    def alert_delivery(self, group_key: str, digest: str) -> str:
        return f"{self.prefix}:alert:{{al:{_h(group_key)}}}:dl:{digest}"

    def incident(self, incident_id: str) -> str:
        return f"{self.prefix}:incident:{{in:{_h(incident_id)}}}"

    def incident_index(self) -> str:
        return f"{self.prefix}:incidents:{{ix}}"

    def alert_chat(self, chat_key: str) -> str:
        """A chat's card budget and storm digest; its lock shares the tag."""
        return f"{self.prefix}:alertchat:{{ac:{_h(chat_key)}}}"

    def alert_chat_lock(self, chat_key: str) -> str:
        return f"{self.prefix}:alertchat:{{ac:{_h(chat_key)}}}:lock"

    # --- live log follow and paged results (bot.conversation.follow / logpages) ---
    def follow_lease(self, card: str) -> str:
        """Which replica updates a live log card (one writer per card)."""
        return f"{self.prefix}:follow:{{lf:{_h(card)}}}:lease"

    def follow_stop(self, follow_id: str) -> str:
        """A Stop pressed on a live log card, for whichever replica runs it."""
        return f"{self.prefix}:follow:{{fs:{_h(follow_id)}}}:stop"

    def page_snapshot(self, snapshot_id: str) -> str:
        """The lines a paged logs card pages through (Older/Newer show the same snapshot)."""
        return f"{self.prefix}:pages:{{pg:{_h(snapshot_id)}}}"

    def handover_lease(self, slot: str) -> str:
        """Which replica sends the shift report of `slot` (first to take it)."""
        return f"{self.prefix}:handover:{{ho:{_h(slot)}}}"
