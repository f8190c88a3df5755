from __future__ import annotations

import re

import pytest

from bot.settings import REPO_ROOT, Settings, load_settings


def test_env_example_lists_every_setting_with_a_comment() -> None:
    lines = (REPO_ROOT / ".env.example").read_text(encoding="utf-8").splitlines()
    for name in Settings.model_fields:
        pattern = re.compile(rf"^#? ?{name.upper()}=")
        index = next((i for i, line in enumerate(lines) if pattern.match(line)), None)
        assert index is not None, f"{name.upper()} missing from .env.example"
        assert lines[index - 1].startswith("# "), f"{name.upper()} has no comment above it"


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_MODEL", "some/model")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    s = load_settings()
    assert s.llm_model == "some/model" and s.redis_url == "redis://127.0.0.1:6379/3"
    assert not s.llm_enabled


def test_the_llm_is_enabled_only_with_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_API_KEY", "sk-test")
    assert load_settings().llm_enabled
