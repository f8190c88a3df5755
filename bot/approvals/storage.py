"""The slice of `bot.store.Store` the safety layer uses, as a protocol: approvals depend on the store's
behaviour, not on its module (which imports redis; the layering forbids that here, even indirectly)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from bot.store.keys import Keys


class RecordStore(Protocol):
    keys: Keys

    async def create_record(self, key: str, fields: Mapping[str, str], ttl: int) -> bool: ...

    async def get_record(self, key: str) -> dict[str, str] | None: ...

    async def update_record(self, key: str, fields: Mapping[str, str]) -> None: ...

    async def transition(
        self, key: str, expect: str, new: str, *, ttl: int, fields: Mapping[str, str] | None = None
    ) -> bool | None: ...

    async def ttl(self, key: str) -> int: ...

    async def set_json(self, key: str, value: Any, ttl: int) -> None: ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, *keys: str) -> int: ...

    async def append_stream(self, key: str, entry: Mapping[str, str], *, maxlen: int, ttl: int) -> str: ...

    async def append_stream_batch(
        self, key: str, entries: Sequence[Mapping[str, str]], *, maxlen: int, ttl: int
    ) -> None: ...

    async def read_stream_tail(self, key: str, count: int) -> list[dict[str, str]]: ...
