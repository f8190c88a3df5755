"""Fixtures for the ops tests: platform emulators, and a `kubeduty run` process driven over its probe port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.channels.emulators.dingtalk import DingTalkEmulator


@pytest.fixture(autouse=True)
def _loopback_without_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def dingtalk_gateway() -> Iterator[DingTalkEmulator]:
    emu = DingTalkEmulator()
    emu.start()
    yield emu
    emu.stop()
