"""Bot cost per message through the real path (a script: `python -m tests.bench.bench_message [N]`).

Path: console line -> ConsoleChannel -> dispatcher (dedupe) -> engine (lock, state) -> policy gate (decision and
audit) -> tool gateway -> built-in tools -> sandbox over HTTPS -> redaction -> card -> text rendering. Real Redis
(started if none answers), the default policy, the audit file, no LLM. The sandbox runs in its own process
(`sandbox_proc`), so this process's CPU time is the bot's alone; the sandbox times its own request handling and
that time is subtracted from the wall latency ("bot wall"), measured, not estimated.

Prints median and p99 over N messages (default 400) of: bot CPU per message, wall latency, bot wall (wall minus
sandbox time), K8s requests per message, for
- `/pods dev` cold (the toolbox cache emptied before each message) and warm (cache as left by the last one:
  the namespace list comes from it; the pods themselves are always read fresh, as the user asked for them);
- the reference dialogue (zh, 4 messages, a new chat each time, listings from the cache): N messages;
- a logs message (`/logs <payment-api pod> -n dev --tail 100`, lines redacted);
then throughput of one process with 1, 8, 64, 256 concurrent conversations (messages/s, errors), for
`/pods dev` and for the dialogue's first message (answered from cached listings).

Redis round trips and commands per message are counted at redis-py's connection (each `send_packed_command` is
one round trip; a pipeline is one), in this process only, so the audit's background batches are included,
spread over the messages they were written during.
"""

from __future__ import annotations

import asyncio
import gc
import io
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import connection as redis_connection

from bot.app import Bot, build_bot, tune_gc
from bot.channels.console import ConsoleChannel
from bot.settings import load_settings
from bot.store import open_store
from bot.tooling.types import ToolCall
from tests.bench.sandbox_proc import SandboxProcess
from tests.support.redis_server import ensure_redis

DIALOGUE = ["hi，帮我看一下 cart-service 的日志", "我不确定，你列出来吧", "应该在 dev", "v2 那个"]
CONCURRENCY = (1, 8, 64, 256)


class RedisCounter:
    """Counts what this process sends to Redis: round trips (one per `send_packed_command`, a pipeline is one)
    and commands (packed one by one or in a pipeline). Installed on redis-py's connection class."""

    round_trips = 0
    commands = 0

    @classmethod
    def install(cls) -> None:
        conn = redis_connection.AbstractConnection
        send, pack, pack_many = conn.send_packed_command, conn.pack_command, conn.pack_commands

        async def counted_send(self: Any, command: Any, check_health: bool = True) -> None:
            cls.round_trips += 1
            await send(self, command, check_health)

        def counted_pack(self: Any, *args: Any) -> Any:
            cls.commands += 1
            return pack(self, *args)

        def counted_pack_many(self: Any, commands: Any) -> Any:
            commands = list(commands)
            cls.commands += len(commands)
            return pack_many(self, commands)

        conn.send_packed_command = counted_send  # type: ignore[method-assign]
        conn.pack_command = counted_pack  # type: ignore[method-assign]
        conn.pack_commands = counted_pack_many  # type: ignore[method-assign]

    @classmethod
    def now(cls) -> tuple[int, int]:
        return cls.round_trips, cls.commands


def pct(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


@dataclass
class Samples:
    cpu: list[float] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    bot_wall: list[float] = field(default_factory=list)
    tool_cpu: list[float] = field(default_factory=list)
    requests: int = 0
    round_trips: int = 0
    commands: int = 0

    def line(self, label: str) -> str:
        n = len(self.cpu)
        ms = 1000.0
        return (
            f"  {label:34s} n={n:<4d} CPU median {statistics.median(self.cpu) * ms:6.2f} ms p99 {pct(self.cpu, 99) * ms:6.2f}"
            f" | wall median {statistics.median(self.wall) * ms:6.2f} p99 {pct(self.wall, 99) * ms:6.2f}"
            f" | bot wall median {statistics.median(self.bot_wall) * ms:6.2f} p99 {pct(self.bot_wall, 99) * ms:6.2f}"
            f" | K8s req/msg {self.requests / n:.2f}"
            f" | Redis round trips/msg {self.round_trips / n:.2f} ({self.commands / n:.2f} commands)"
            f" | of the CPU, tool calls (gateway, tools, redaction) median {statistics.median(self.tool_cpu) * ms:5.2f}"
        )


class Bench:
    def __init__(self, bot: Bot, sandbox: SandboxProcess) -> None:
        self.bot = bot
        self.sandbox = sandbox
        self.tool_cpu = 0.0
        inner = bot.gateway.call

        async def timed(*args: Any, **kwargs: Any) -> Any:
            # CPU of the tool path alone; messages run one at a time here, so nothing else runs meanwhile
            start = time.process_time()
            try:
                return await inner(*args, **kwargs)
            finally:
                self.tool_cpu += time.process_time() - start

        bot.gateway.call = timed  # type: ignore[method-assign]

    async def one(self, channel: ConsoleChannel, out: io.StringIO, line: str, into: Samples, want: str) -> None:
        out.seek(0)
        out.truncate()
        sb_seconds, sb_requests = self.sandbox.timing()
        tool_cpu = self.tool_cpu
        rt, cmds = RedisCounter.now()
        cpu = time.process_time()
        start = time.perf_counter()
        await channel.handle_line(line.encode() + b"\n")
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
        rt2, cmds2 = RedisCounter.now()
        sb_seconds2, sb_requests2 = self.sandbox.timing()
        if want not in out.getvalue():
            raise RuntimeError(f"unexpected answer to {line!r}: {out.getvalue()[:400]}")
        into.cpu.append(cpu)
        into.tool_cpu.append(self.tool_cpu - tool_cpu)
        into.wall.append(wall)
        into.bot_wall.append(wall - (sb_seconds2 - sb_seconds))
        into.requests += sb_requests2 - sb_requests
        into.round_trips += rt2 - rt
        into.commands += cmds2 - cmds


def channel(bot: Bot, chat: str) -> tuple[ConsoleChannel, io.StringIO]:
    out = io.StringIO()
    return ConsoleChannel(bot, out=out, chat_id=chat, user_id=f"u-{chat}"), out


async def per_message(b: Bench, n: int, logs_pod: str) -> None:
    print(f"Per message, {n} messages each (sandbox time subtracted in 'bot wall'):")
    ch, out = channel(b.bot, "pods")
    await ch.handle_line(b"/pods dev\n")
    cold, warm = Samples(), Samples()
    for i in range(n):  # interleaved cold and warm: the machine's load is shared alike
        await b.bot.toolbox.clear()
        await b.one(ch, out, "/pods dev", cold, "payment-api")
        await b.one(ch, out, "/pods dev", warm, "payment-api")
        if i == 0:
            cold, warm = Samples(), Samples()  # the first pair warms connections
    print(cold.line("/pods dev, cold (cache emptied)"))
    print(warm.line("/pods dev, warm"))

    dialogue = Samples()
    for i in range(n // len(DIALOGUE) + 1):
        ch, out = channel(b.bot, f"dlg-{i}")
        want = ["", "", "", "v2.0.0-canary"]
        run = Samples() if i == 0 else dialogue  # one dialogue to fill the cache
        for text, expect in zip(DIALOGUE, want, strict=True):
            await b.one(ch, out, text, run, expect)
    print(dialogue.line("reference dialogue (zh), per message"))

    logs = Samples()
    ch, out = channel(b.bot, "logs")
    line = f"/logs {logs_pod} -n dev --tail 100"
    await ch.handle_line(line.encode() + b"\n")
    for _ in range(n):
        await b.one(ch, out, line, logs, "payment-api")
    print(logs.line("logs message (100 lines)"))


async def throughput(b: Bench, text: str, want: str, label: str) -> None:
    print(f"Throughput, one process, '{label}':")
    for conc in CONCURRENCY:
        per_conv = max(2, 512 // conc)
        chans = [channel(b.bot, f"tp-{conc}-{i}-{uuid.uuid4().hex[:6]}") for i in range(conc)]
        for ch, _ in chans:  # first message of each chat (welcome card, state) outside the window
            await ch.handle_line(text.encode() + b"\n")
        errors = 0

        async def conversation(ch: ConsoleChannel, out: io.StringIO, count: int) -> None:
            nonlocal errors
            for _ in range(count):
                out.seek(0)
                out.truncate()
                try:
                    await ch.handle_line(text.encode() + b"\n")
                except Exception:  # noqa: BLE001 - counted, not raised: the figure is how many failed
                    errors += 1
                    continue
                if want not in out.getvalue():
                    errors += 1

        _, sb_requests = b.sandbox.timing()
        rt, _ = RedisCounter.now()
        cpu = time.process_time()
        start = time.perf_counter()
        await asyncio.gather(*(conversation(ch, out, per_conv) for ch, out in chans))
        wall = time.perf_counter() - start
        cpu = time.process_time() - cpu
        rt2, _ = RedisCounter.now()
        _, sb_requests2 = b.sandbox.timing()
        total = conc * per_conv
        print(
            f"  {conc:3d} concurrent: {total:5d} msgs in {wall:6.2f} s = {total / wall:7.1f} msg/s"
            f"   bot CPU {cpu / total * 1000:5.2f} ms/msg   K8s req/msg {(sb_requests2 - sb_requests) / total:.2f}"
            f"   Redis round trips/msg {(rt2 - rt) / total:.2f}"
            f"   errors {errors}"
        )


async def main(n: int) -> None:
    RedisCounter.install()
    redis = ensure_redis()
    sandbox = SandboxProcess("demo")
    prefix = f"kdbench-{uuid.uuid4().hex[:8]}"
    store = open_store(redis.url, prefix=prefix)
    audit = tempfile.mkdtemp(prefix="kdbench-audit-")
    settings = load_settings(
        kubeconfig=str(sandbox.kubeconfig_path),
        kube_context="sandbox",
        redis_url=redis.url,
        key_prefix=prefix,
        audit_log_path=f"{audit}/audit.jsonl",
        llm_api_key=None,
    )
    bot = build_bot(settings, store=store)
    await bot.start()
    tune_gc()  # as `kubeduty run` / `demo` do after start-up
    try:
        pods = await bot.gateway.call(ToolCall("list_pods", {"namespace": "dev"}))
        assert pods.ok and pods.data is not None, pods.error
        logs_pod = next(p["name"] for p in pods.data["items"] if p["name"].startswith("payment-api"))
        b = Bench(bot, sandbox)
        print(f"python {sys.version.split()[0]}, gc thresholds {gc.get_threshold()}, real Redis, sandbox process")
        await per_message(b, n, logs_pod)
        await throughput(b, "/pods dev", "payment-api", "/pods dev")
        await throughput(b, DIALOGUE[0], "dev", DIALOGUE[0] + " (cached listings)")
    finally:
        await bot.close()
        await store.delete_pattern(f"{prefix}:*")
        await store.close()
        sandbox.stop()
        redis.stop()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 400))
