"""SIGKILL a real `kubeduty run` while a confirmed change is being written: the write lands (the TCP proxy in
front of the sandbox API server loses only its answer, so the process is still waiting when it dies). The next
replica that sees the record (here: the click on the same card, handled by a freshly started replica) reads the
Deployment back and reports the change as executed, verified; never "already run" on a guess, never run twice."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from bot.store import Store, open_store
from tests.channels.chats import FeishuChat, View
from tests.channels.emulators.feishu import FeishuEmulator
from tests.support.tcp_proxy import DROP_WRITE_RESPONSES, PASS, TcpProxy
from tools.sandbox import SandboxHandle, start_sandbox_thread

T = TypeVar("T")
POLICY = Path(__file__).resolve().parents[1] / "channels" / "data" / "policy.yaml"


@pytest.fixture(autouse=True)
def _loopback_without_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def sandbox() -> Iterator[SandboxHandle]:
    handle = start_sandbox_thread(seed="demo", port=0, tls=False)  # plain HTTP: the proxy sees the writes
    try:
        yield handle
    finally:
        handle.stop()


@pytest.fixture
def feishu() -> Iterator[FeishuEmulator]:
    emu = FeishuEmulator()
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture
async def proxy(sandbox: SandboxHandle) -> AsyncIterator[TcpProxy]:
    host, port = sandbox.url.removeprefix("http://").rsplit(":", 1)
    p = await TcpProxy(host, int(port)).start()
    yield p
    await p.close()


async def eventually(find: Callable[[], T | None], what: str, within: float = 180.0) -> T:
    deadline = time.monotonic() + within
    while True:
        found = find()
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.1)


class Replica:
    """One `kubeduty run` process."""

    def __init__(self, env: dict[str, str], log: Path, cwd: Path) -> None:
        self.env, self.log_path, self.cwd = env, log, cwd
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log_path.open("ab") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot.cli", "run", env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=self.cwd
            )

    async def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.send_signal(sig)
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")


def run_env(feishu: FeishuEmulator, redis_url: str, kubeconfig: Path, prefix: str, tmp: Path) -> dict[str, str]:
    return {
        **os.environ,
        "KUBEDUTY_ENV_FILE": os.devnull,
        "NO_PROXY": "127.0.0.1,localhost",
        "FEISHU_APP_ID": feishu.app_id,
        "FEISHU_APP_SECRET": feishu.app_secret,
        "FEISHU_DOMAIN": feishu.url,
        "REDIS_URL": redis_url,
        "ACTION_SECRET": "kill-test-" + "x" * 40,  # the same on every replica, as in production
        "KEY_PREFIX": prefix,
        "KUBECONFIG": str(kubeconfig),
        "KUBE_CONTEXT": "sandbox",
        "KUBE_TIMEOUT_SECONDS": "60",  # the write waits this long for its lost answer: we kill it meanwhile
        "POLICY_FILES": json.dumps([str(POLICY)]),
        "AUDIT_LOG_PATH": str(tmp / "audit.jsonl"),
        "LLM_API_KEY": "",
    }


def proxied_kubeconfig(sandbox: SandboxHandle, port: int, tmp: Path) -> Path:
    config = yaml.safe_load(Path(sandbox.kubeconfig_path).read_text())
    config["clusters"][0]["cluster"]["server"] = f"http://127.0.0.1:{port}"
    path = tmp / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


def replicas(sandbox: SandboxHandle) -> int:
    return int(sandbox.cluster.peek("deployments", "dev", "cart-service-v1")["spec"]["replicas"])


async def conversation_locks(store: Store) -> list[Any]:
    return [k async for k in store._r.scan_iter(match=f"{store.keys.prefix}:lock:*")]


async def approval(store: Store) -> dict[str, str] | None:
    keys = [k async for k in store._r.scan_iter(match=f"{store.keys.prefix}:approval:*")]
    return await store.get_record(keys[0]) if len(keys) == 1 else None


@pytest.mark.timeout(900)  # two interpreter starts with both SDKs, plus a 15 s heartbeat expiry, on a busy box
async def test_a_replica_killed_mid_change_leaves_a_record_the_next_replica_settles_by_reading_back(
    sandbox: SandboxHandle, feishu: FeishuEmulator, proxy: TcpProxy, redis_url: str, tmp_path: Path
) -> None:
    kubeconfig = proxied_kubeconfig(sandbox, proxy.port, tmp_path)
    prefix = f"kdkill-{uuid.uuid4().hex[:8]}"
    store = open_store(redis_url, prefix=prefix)
    env = run_env(feishu, redis_url, kubeconfig, prefix, tmp_path)
    first, second = Replica(env, tmp_path / "first.log", tmp_path), Replica(env, tmp_path / "second.log", tmp_path)
    chat = FeishuChat(feishu)
    before = replicas(sandbox)
    try:
        await first.start()
        await feishu.wait_connected(within=300)
        await chat.say(f"/scale cart-service-v1 {before + 2} -n dev")
        confirm: View = await eventually(
            lambda: next((v for v in chat.views() if "Confirm" in v.labels), None), "the confirmation card"
        )

        proxy.set_mode(DROP_WRITE_RESPONSES)
        clicking = asyncio.create_task(chat.click(confirm, "Confirm"))
        await eventually(lambda: True if replicas(sandbox) == before + 2 else None, "the write to land")
        rec = await eventually_async(lambda: approval(store), lambda r: r.get("status") == "executing")
        assert rec["status"] == "executing"
        await first.kill(signal.SIGKILL)  # mid-change: the write landed, its answer never arrived
        clicking.cancel()
        proxy.set_mode(PASS)
        proxy.reset()

        await second.start()
        await feishu.wait_connected(connections=2, within=300)
        # the dead replica's heartbeat expires (15 s); until then a click hears "being run right now"
        running = store.keys.running(rec["id"])
        await eventually_async(lambda: store.exists(running), lambda alive: not alive, within=180)
        # ... and so does the conversation lock it held mid-turn (30 s TTL): a click before that hears "still on
        # your previous message", as a user would, and clicks again
        await eventually_async(lambda: conversation_locks(store), lambda locks: not locks, within=180)
        answer = await chat.click(confirm, "Confirm")
        settled = await eventually(
            lambda: next((v for v in chat.views() if v.ref == confirm.ref and "Confirm" not in v.labels), None),
            "the card settled in place",
        )
        assert "Done" in settled.text and "did not answer" in settled.text, (answer, settled.text)
        assert "already been run" not in json.dumps(answer)
        final = await approval(store)
        assert final is not None and final["status"] == "executed" and final["verified"] == "1"
        assert replicas(sandbox) == before + 2  # once: the second replica read it back, it did not write again
    finally:
        await first.kill()
        await second.kill(signal.SIGTERM)
        await store.delete_pattern(f"{prefix}:*")
        await store.close()
    log = second.output()
    assert "Traceback" not in log, log[-3000:]


async def eventually_async(
    get: Callable[[], Any], good: Callable[[Any], bool], within: float = 180.0, what: str = "the store"
) -> Any:
    deadline = time.monotonic() + within
    while True:
        value = await get()
        if value is not None and good(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: last {value!r}")
        await asyncio.sleep(0.1)
