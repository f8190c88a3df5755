"""`python -m tests.bench diagnosis`: how long one Diagnose click takes (cluster read + Prometheus queries +
ranking + card), with a real Prometheus scraping the sandbox and without Prometheus, per scenario.
Prints figures; asserts nothing about time."""

from __future__ import annotations

import asyncio
import statistics
import time

from bot.alerts.diagnosis import Diagnoser, RunbookBook
from bot.core.i18n import Lang
from bot.tooling.builtin import BuiltinSource
from bot.tooling.gateway import ToolGateway
from tests.alerts.diagnosis_world import EVENT, incident, start_scraping, wait_for_rates
from tools.k8s.client import KubeClients
from tools.prom import PromClient
from tools.sandbox import start_sandbox_thread

ROUNDS = 15
SCENARIOS = (
    ("oom", "KubePodOOMKilled", "production", {"deployment": "orders", "container": "orders", "pod": "orders-x-y"}),
    ("crashloop", "KubePodCrashLooping", "dev", {"deployment": "payment-api", "pod": "payment-api-x-y"}),
    ("imagepull", "KubePodImagePullBackOff", "dev", {"deployment": "frontend", "pod": "frontend-x-y"}),
)


async def run() -> None:
    sandbox = start_sandbox_thread(seed="demo", port=0)
    prom = start_scraping(sandbox)
    kube = KubeClients(kubeconfig=sandbox.kubeconfig_path, context="sandbox", timeout_seconds=20)
    try:
        await asyncio.to_thread(wait_for_rates, prom)
        gateway = ToolGateway([BuiltinSource(kube)])
        for mode, client in (("prometheus", PromClient(prom.url)), ("no-metrics", None)):
            d = Diagnoser(prom=client, book=RunbookBook(), gateway=gateway)
            for name, alert, ns, labels in SCENARIOS:
                inc = incident(alert, ns, **labels)
                times = []
                for _ in range(ROUNDS):
                    start = time.perf_counter()
                    card, top = await d.diagnose(inc, EVENT, Lang.ZH)
                    times.append((time.perf_counter() - start) * 1000)
                times.sort()
                p95 = times[min(len(times) - 1, int(len(times) * 0.95))]
                print(
                    f"diagnose {name:<10} {mode:<11} median {statistics.median(times):6.1f} ms  p95 {p95:6.1f} ms"
                    f"  causes: {(top or '-')[:40]}"
                )
    finally:
        await kube.close()
        prom.stop()
        sandbox.stop()


def main() -> None:
    asyncio.run(run())


if __name__ == "__main__":
    main()
