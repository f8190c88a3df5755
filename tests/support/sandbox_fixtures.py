"""Pytest fixtures (plugin module, loaded by tests/conftest.py): the sandbox Kubernetes API server.

`sandbox`: a fresh demo cluster per test (cheap: ~50 ms), over real HTTP on 127.0.0.1.
`sandbox_session`: one demo cluster for the whole session, for read-only tests only.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.sandbox import SandboxHandle, start_sandbox_thread


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    handle = start_sandbox_thread(seed="demo", port=0)
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture(scope="session")
def sandbox_session() -> Iterator[SandboxHandle]:
    handle = start_sandbox_thread(seed="demo", port=0)
    try:
        yield handle
    finally:
        handle.stop()
