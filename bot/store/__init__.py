"""The store: the only code that imports redis. Conversation state, caches, dedupe, approvals, audit."""

from bot.store.connect import BadRedisUrl, ClientOptions
from bot.store.keys import Keys
from bot.store.session import Seen, Session
from bot.store.store import LockTimeout, Store, StoreUnavailable, open_store

__all__ = [
    "BadRedisUrl",
    "ClientOptions",
    "Keys",
    "LockTimeout",
    "Seen",
    "Session",
    "Store",
    "StoreUnavailable",
    "open_store",
]
