"""Every Redis key name is built here, and nowhere else."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


def _h(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Keys:
    prefix: str = "kd"

    def state(self, state_key: str) -> str:
        return f"{self.prefix}:state:{state_key}"

    def conv_lock(self, state_key: str) -> str:
        return f"{self.prefix}:lock:{state_key}"

    def seen(self, event_id: str) -> str:
        return f"{self.prefix}:seen:{_h(event_id)}"

    def cache(self, kind: str, scope: str) -> str:
        return f"{self.prefix}:cache:{kind}:{_h(scope)}"

    def cache_pattern(self) -> str:
        return f"{self.prefix}:cache:*"

    def approval(self, approval_id: str) -> str:
        return f"{self.prefix}:approval:{approval_id}"

    def audit_stream(self) -> str:
        return f"{self.prefix}:audit"

    def card_ref(self, ref: str) -> str:
        return f"{self.prefix}:cardref:{_h(ref)}"

    def custom(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))
