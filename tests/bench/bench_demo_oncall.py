"""The on-call loop of `kubeduty demo` timed from the terminal (a script: `python -m tests.bench.bench_demo_oncall
[RUNS]`). Each run starts `kubeduty demo --user alice`, drills an OOM on orders and plays the loop as the
transcript test does, printing per step the time from typing the line to the card it waits for:
drill -> alert card (sandbox rules + webhook + receiver + card), claim, diagnose, runbook preview, bob's
approval -> executed, executed -> verified on the cluster, executed -> resolved report. Never fails."""

from __future__ import annotations

import statistics
import sys
import time

from tests.demo.session import DemoSession

STEPS = (
    ("drill -> alert card", "/drill oom orders", "[P1] 告警：KubePodOOMKilled", ""),
    ("claim -> card updated", "认领", "告警：KubePodOOMKilled", "已认领 · alice"),
    ("diagnose -> diagnosis card", "诊断", "诊断：KubePodOOMKilled", ""),
    ("runbook -> dry-run preview", "执行预案：内存不足：调高内存上限", "确认改动", "512Mi"),
)


def run_once() -> dict[str, float]:
    out: dict[str, float] = {}
    with DemoSession("--user", "alice") as demo:
        demo.card("", after=demo.say("/help"))  # started and answering: start-up is not part of the loop
        for label, line, title, contains in STEPS:
            t0 = time.perf_counter()
            at = demo.say(line)
            demo.card(title, after=at, contains=contains)
            out[label] = time.perf_counter() - t0
        demo.say("/as bob")
        t0 = time.perf_counter()
        at = demo.say("批准并执行")
        demo.card("已执行：调整容器资源", after=at)
        executed = time.perf_counter()
        out["bob approves -> executed"] = executed - t0
        demo.card("KubePodOOMKilled", after=at, contains="修复已验证")  # before or after the resolve
        out["executed -> verified (cluster)"] = time.perf_counter() - executed
        demo.card("已恢复：KubePodOOMKilled", after=at, contains="事件报告")
        out["executed -> resolved report"] = time.perf_counter() - executed
        demo.close()
    return out


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    results = [run_once() for _ in range(runs)]
    print(f"kubeduty demo on-call loop, {runs} runs (seconds): median / max")
    for label in results[0]:
        values = [r[label] for r in results]
        print(f"  {label:<32} {statistics.median(values):7.2f} / {max(values):7.2f}")


if __name__ == "__main__":
    main()
