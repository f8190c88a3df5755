"""Pytest fixtures (plugin module, loaded by tests/conftest.py): the scripted OpenAI-compatible server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.llm_server import ScriptedLLM


@pytest.fixture(scope="session")
def _llm_server_session() -> Iterator[ScriptedLLM]:
    server = ScriptedLLM().start()
    yield server
    server.stop()


@pytest.fixture
def llm_server(_llm_server_session: ScriptedLLM) -> Iterator[ScriptedLLM]:
    """The scripted LLM (`.base_url`, `.script(...)`, `.requests`), emptied before and after each test.

    A test that leaves replies unconsumed or hits an empty script is told so: both mean the planner made a
    different number of requests than the test scripted.
    """
    server = _llm_server_session
    server.reset()
    yield server
    leftover, unscripted = server.pending, server.unscripted
    server.reset()
    assert unscripted == 0, f"the planner made {unscripted} request(s) beyond the script"
    assert leftover == 0, f"{leftover} scripted repl(y/ies) were never requested"
