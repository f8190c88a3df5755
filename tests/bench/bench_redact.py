"""Redaction cost (a script: `python -m tests.bench.bench_redact [RUNS]`).

Masks 10,000 log lines, every one unique (timestamps, request ids), 1 in 20 carrying a credential, the way
`pod_logs` results are masked (`mask_lines`), and a 2,000-pod `list_pods` result as JSON (`mask_obj`). Prints
the median over RUNS (default 5) in µs per line / ms per listing. Run it with `PYTHONPATH=<another checkout>`
to compare implementations on the same machine.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from tools import redact
from tools.redact import MASK, mask_lines, mask_obj

SECRETS = [
    "connecting with password=hunter2-{i}",
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl{i}",
    "DATABASE_URL=postgres://orders:S3cr3t{i}@db:5432/orders",
    "aws key AKIAIOSFODNN7EXAMPL{d}",
]
ORDINARY = [
    "INFO handled GET /api/v1/orders?page={i} 200 {ms}ms user=u{i} region=eu-west-1 trace={i:032x}",
    "WARN db connect attempt {i}/3 failed: dial tcp 10.0.3.7:5432: connect: connection refused",
    "DEBUG cache miss for cart:{i} (ttl 30s), fetching from pricing-engine v2.0.0-canary",
    "INFO order {i} created for customer c{i} total=42.{ms} EUR",
]


_RUN = iter(range(1_000_000))


def log_lines(n: int) -> list[str]:
    """n lines never seen before (a new run number in each), so no cache can help."""
    run = next(_RUN)
    lines = []
    for i in range(n):
        stamp = f"2026-11-30T02:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z run={run} "
        pool = SECRETS if i % 20 == 0 else ORDINARY
        lines.append(stamp + pool[i % len(pool)].format(i=i, ms=i % 97, d=i % 10))
    return lines


def pod_listing(n: int) -> dict[str, Any]:
    items = [
        {
            "namespace": "scale-000",
            "name": f"app-{i // 10:04d}-7d9f8c6b5-{i:05d}",
            "phase": "Running",
            "status": "Running" if i % 50 else "CrashLoopBackOff",
            "ready": "1/1",
            "restarts": i % 7,
            "age": "3d",
            "node": f"node-{i % 20:02d}",
            "owner": f"Deployment/app-{i // 10:04d}",
            "ip": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
            "message": "",
        }
        for i in range(n)
    ]
    return {"namespace": "scale-000", "total": n, "truncated": False, "items": items}


def median_of(runs: int, fn: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(runs: int) -> None:
    lines = log_lines(10_000)
    masked = mask_lines(lines)
    leaked = [ln for ln in masked if "hunter2" in ln or "S3cr3t" in ln or "AKIA" in ln]
    assert not leaked and sum(MASK in ln for ln in masked) >= 500, "redaction missed a seeded credential"
    per_line = median_of(runs, lambda: mask_lines(log_lines(10_000))) - median_of(runs, lambda: log_lines(10_000))
    listing = pod_listing(2_000)
    clear = getattr(redact, "_mask_short", None)

    def first_time() -> None:
        if clear is not None:
            clear.cache_clear()  # names never masked before: what a first listing costs
        mask_obj(listing)

    cold = median_of(runs, first_time)
    warm = median_of(runs, lambda: mask_obj(listing))
    print(f"redaction, median of {runs} runs (module {redact.__file__}):")
    print(f"  10,000 unique log lines (5% with a credential): {per_line / 10_000 * 1e6:6.2f} µs per line")
    print(f"  2,000-pod listing as JSON (mask_obj): first time {cold * 1000:6.2f} ms, again {warm * 1000:6.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
