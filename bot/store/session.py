"""A conversation turn in two Redis round trips: one script to begin (dedupe, lock, load), one to end (save,
unlock).

The per-message work used to be nine round trips (SET seen, SET lock, GET state, ..., SET state, EVALSHA release).
Each costs a syscall pair and a wake-up of the event loop, which on a loaded machine is most of a cached turn's
CPU. The keys of one turn share the conversation's hash tag (`Keys.seen(event, state_key)`, `conv_lock`,
`state`), so both scripts run on one Cluster slot.

Semantics kept from the separate commands:
- dedupe first: a redelivered event (marker held by another token) is reported as a duplicate and takes no lock;
  our own marker (a retry of ours, after a lost answer or a Redis outage) counts as ours;
- the lock is SET NX PX with our token, polled (a waiter holds no connection), released only by its holder;
- the state is loaded only once the lock is held; the save and the release go together, after the turn.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

# KEYS[1] lock, KEYS[2] state, KEYS[3] dedupe marker (optional).
# ARGV[1] lock token, ARGV[2] lock ttl (ms), ARGV[3] marker token, ARGV[4] marker ttl (s).
# Returns {0}: a duplicate; {1}: the lock is held by someone else; {2[, state]}: locked, state loaded.
BEGIN = """
if KEYS[3] then
  if not redis.call('SET', KEYS[3], ARGV[3], 'NX', 'EX', ARGV[4]) then
    if redis.call('GET', KEYS[3]) ~= ARGV[3] then return {0} end
  end
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {1} end
end
local state = redis.call('GET', KEYS[2])
if not state then return {2} end
return {2, state}
"""

# KEYS[1] lock, KEYS[2] state. ARGV[1] lock token, ARGV[2] state JSON ('' = nothing to save), ARGV[3] ttl (s).
# Safe to repeat (a retry after a lost answer writes the same state and finds the lock already released).
END = """
if ARGV[2] ~= '' then redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3]) end
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 1
"""

DUPLICATE, BUSY, LOCKED = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Seen:
    """The dedupe marker to claim with the lock: its key, our token (stable across retries of this event) and
    how long redeliveries are recognised."""

    key: str
    token: str
    ttl: int


@dataclass
class Session:
    """What `Store.session` hands the turn: whether the event was a duplicate, the stored state (decoded JSON or
    None), and `save` to have the state written in the same round trip that releases the lock."""

    duplicate: bool = False
    raw: Any | None = None
    token: str = field(default_factory=lambda: uuid.uuid4().hex)
    pending: str = ""
    ttl: int = 0

    def save(self, value: Any, ttl: int) -> None:
        if ttl <= 0:
            raise ValueError("every key needs a positive TTL")
        self.pending = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        self.ttl = max(1, int(ttl))


def begin_args(session: Session, lock_px: int, seen: Seen | None) -> list[str]:
    if seen is None:
        return [session.token, str(lock_px)]
    return [session.token, str(lock_px), seen.token, str(max(1, int(seen.ttl)))]


def decode(reply: Any) -> tuple[int, Any | None]:
    """(code, state): an unreadable stored state reads as None (the turn starts afresh, as for a bad shape)."""
    code = int(reply[0])
    if code != LOCKED or len(reply) < 2 or reply[1] is None:
        return code, None
    raw = reply[1]
    try:
        return code, json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except ValueError:
        log.warning("dropping a conversation state that is not JSON")
        return code, None
