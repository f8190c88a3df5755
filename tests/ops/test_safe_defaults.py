"""`kubeduty run` refuses the demo's conveniences in production, naming the setting; the development switch
allows the in-process store loudly; `kubeduty demo` keeps its embedded defaults."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.ops.preflight import check_production
from bot.settings import Settings
from tests.channels.emulators.dingtalk import DingTalkEmulator
from tests.ops.process import base_env, dingtalk_env, kubeduty_run

PLATFORM = {"FEISHU_APP_ID": "cli_x", "FEISHU_APP_SECRET": "secret"}


def run_cli(env: dict[str, str], *args: str, stdin: str | None = None, cwd: Path | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=cwd,
    )


@pytest.mark.parametrize(
    ("change", "named", "why"),
    [
        ({"ACTION_SECRET": "kubeduty-demo-secret-change-me"}, "ACTION_SECRET", "public demo value"),
        ({"ACTION_SECRET": ""}, "ACTION_SECRET", "empty"),
        ({"REDIS_URL": ""}, "REDIS_URL", "ALLOW_IN_PROCESS_STORE=true"),
    ],
    ids=["demo-secret", "empty-secret", "no-redis"],
)
def test_kubeduty_run_refuses_an_unsafe_setting_and_names_it(
    redis_url: str, tmp_path: Path, change: dict[str, str], named: str, why: str
) -> None:
    env = base_env(REDIS_URL=redis_url, **PLATFORM) | change
    done = run_cli(env, "run", cwd=tmp_path)
    assert done.returncode == 2, done.stderr[-2000:]
    refusals = [line for line in done.stderr.splitlines() if "refusing to start" in line]
    assert len(refusals) == 1 and named in refusals[0] and why in refusals[0]
    assert "Traceback" not in done.stderr


def test_an_unset_action_secret_is_the_demo_one_and_is_refused_too(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ACTION_SECRET", raising=False)
    errors = check_production(Settings(_env_file=None, redis_url=redis_url, audit_log_path="")).errors  # type: ignore[call-arg]
    assert len(errors) == 1 and "ACTION_SECRET" in errors[0] and "demo" in errors[0]
    fine = Settings(_env_file=None, redis_url=redis_url, action_secret="x" * 64, audit_log_path="")  # type: ignore[call-arg]
    assert check_production(fine).errors == []


async def test_the_development_switch_starts_without_redis_with_a_loud_warning_and_answers(
    sandbox: Any, dingtalk_gateway: DingTalkEmulator, tmp_path: Path
) -> None:
    env = base_env(
        REDIS_URL="",
        ALLOW_IN_PROCESS_STORE="true",
        KUBECONFIG=str(sandbox.kubeconfig_path),
        KUBE_CONTEXT="sandbox",
        **dingtalk_env(dingtalk_gateway),
    )
    async with kubeduty_run(env, tmp_path / "run.log") as bot:
        await bot.wait_status("/readyz", 200)
        await dingtalk_gateway.say("/help")
        await dingtalk_gateway.wait_cards(1, within=60)
    assert await bot.stop() == 0
    warnings = [line for line in bot.output().splitlines() if "ALLOW_IN_PROCESS_STORE=true" in line]
    assert len(warnings) == 1 and warnings[0].startswith("WARNING") and "!!!" in warnings[0]


def test_kubeduty_demo_still_runs_on_its_embedded_defaults(tmp_path: Path) -> None:
    env = {k: v for k, v in base_env().items() if k not in ("ACTION_SECRET", "AUDIT_LOG_PATH")}
    done = run_cli(env, "demo", stdin="/help\n", cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "/pods" in done.stdout and "refusing" not in done.stderr
