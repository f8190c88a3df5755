"""The store: the only code that imports redis. Conversation state, caches, dedupe, approvals, audit."""

from bot.store.keys import Keys
from bot.store.store import LockTimeout, Store, open_store

__all__ = ["Keys", "LockTimeout", "Store", "open_store"]
