"""`kubeduty run` as a real process: connects to both emulated platforms, answers, stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from tests.channels.emulators.dingtalk import DingTalkEmulator
from tests.channels.emulators.feishu import FeishuEmulator

POLICY = Path(__file__).parent / "data" / "policy.yaml"


async def test_kubeduty_run_serves_both_platforms_and_exits_zero_on_sigterm(
    redis_url: str, sandbox: Any, dingtalk_gateway: DingTalkEmulator, feishu_gateway: FeishuEmulator, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "KUBEDUTY_ENV_FILE": os.devnull,
        "NO_PROXY": "127.0.0.1,localhost",
        "DINGTALK_CLIENT_ID": dingtalk_gateway.client_id,
        "DINGTALK_CLIENT_SECRET": dingtalk_gateway.client_secret,
        "DINGTALK_OPENAPI_ENDPOINT": dingtalk_gateway.url,
        "DINGTALK_CARD_TEMPLATE_ID": dingtalk_gateway.template_id,
        "FEISHU_APP_ID": feishu_gateway.app_id,
        "FEISHU_APP_SECRET": feishu_gateway.app_secret,
        "FEISHU_DOMAIN": feishu_gateway.url,
        "REDIS_URL": redis_url,
        "ACTION_SECRET": uuid.uuid4().hex * 2,  # `kubeduty run` refuses the public demo secret
        "KEY_PREFIX": f"kdtest-{uuid.uuid4().hex[:10]}",
        "KUBECONFIG": str(sandbox.kubeconfig_path),
        "KUBE_CONTEXT": "sandbox",
        "POLICY_FILES": json.dumps([str(POLICY)]),
        "AUDIT_LOG_PATH": str(tmp_path / "audit.jsonl"),
        "LLM_API_KEY": "",
    }
    log_path = tmp_path / "run.log"
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot.cli", "run", env=env, stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path
        )
        try:
            # A fresh interpreter importing both SDKs: on a loaded machine that alone can take a while.
            await dingtalk_gateway.wait_connected(within=60)
            await feishu_gateway.wait_connected(within=60)
            await dingtalk_gateway.say("/help")
            await feishu_gateway.say("/help")
            await dingtalk_gateway.wait_cards(1)
            await feishu_gateway.wait_sent(1)
        finally:
            stopping = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()
            print(f"stopped {time.monotonic() - stopping:.2f}s after SIGTERM")
    output = log_path.read_text(errors="replace")
    assert proc.returncode == 0, output[-3000:]
    assert "dingtalk: connected" in output and "feishu: connected" in output
