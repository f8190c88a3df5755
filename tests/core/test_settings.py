from __future__ import annotations

import re
from pathlib import Path

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
    monkeypatch.delenv("LLM_API_KEY", raising=False)  # whatever the developer's shell holds
    monkeypatch.setenv("LLM_MODEL", "some/model")
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    s = load_settings()
    assert s.llm_model == "some/model" and s.redis_url == "redis://127.0.0.1:6379/3"
    assert not s.llm_enabled


def test_the_llm_is_enabled_only_with_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_API_KEY", "sk-test")
    assert load_settings().llm_enabled


def test_a_dotenv_file_is_read_and_the_environment_wins_over_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("LLM_MODEL=from/dotenv\nLOG_LEVEL=DEBUG\nFEISHU_DOMAIN=https://open.larksuite.com\n")
    for name in ("LLM_MODEL", "LOG_LEVEL", "FEISHU_DOMAIN"):
        monkeypatch.delenv(name, raising=False)
    s = load_settings(_env_file=str(env_file))
    assert (s.llm_model, s.log_level, s.feishu_domain) == ("from/dotenv", "DEBUG", "https://open.larksuite.com")
    monkeypatch.setenv("LOG_LEVEL", "WARNING")
    assert load_settings(_env_file=str(env_file)).log_level == "WARNING"
