"""Every Redis key name is built here, and nowhere else.

Keys that are used together carry the same hash tag (`{...}`), so on Redis Cluster they live in one slot and a
script or lock touching both never gets CROSSSLOT: a conversation's state and its lock share `{c:<hash>}`; an
approval's record is `{a:<id>}`. The tag is a hash of the name, so no user-controlled `{` or `}` can move a key.
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

    def seen(self, event_id: str) -> str:
        return f"{self.prefix}:seen:{_h(event_id)}"

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

    def handover_lease(self, slot: str) -> str:
        """Which replica sends the shift report of `slot` (first to take it)."""
        return f"{self.prefix}:handover:{{ho:{_h(slot)}}}"
