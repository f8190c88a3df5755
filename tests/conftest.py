"""Shared fixtures: real Redis (started if none answers), a unique key prefix per test."""

from __future__ import annotations

import os

# Tests never read a developer's `.env` (it may hold a real LLM key or IM credentials).
os.environ["KUBEDUTY_ENV_FILE"] = os.devnull

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.render import names
from bot.store import Store, open_store
from tests.support.redis_server import RedisHandle, ensure_redis

pytest_plugins = ["tests.support.sandbox_fixtures", "tests.support.llm_fixtures", "tests.support.redis_fixtures"]


@pytest.fixture(autouse=True)
def no_names_remembered() -> None:
    """Display names are remembered per process (`bot.render.names`); each test starts like a fresh process, so
    a name learnt in one test ("Bob") never shows on another test's cards."""
    names.forget_all()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisHandle]:
    handle = ensure_redis()
    yield handle
    handle.stop()


@pytest.fixture
def redis_url(redis_server: RedisHandle) -> str:
    return redis_server.url


@pytest.fixture
async def store(redis_url: str) -> AsyncIterator[Store]:
    """A store on the real Redis with a key prefix of its own, cleaned up afterwards."""
    prefix = f"kdtest-{uuid.uuid4().hex[:10]}"
    st = open_store(redis_url, prefix=prefix)
    yield st
    await st.delete_pattern(f"{prefix}:*")
    await st.close()
