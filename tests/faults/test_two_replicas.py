"""Issue 9's done-when scenario: two bot replicas on a Redis Cluster, and on Sentinel with a failover in the
middle, answer every message and execute each confirmed change exactly once (a double click racing across the
two replicas included)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.faults.replicas import in_thread, run_scenario
from tests.support.redis_topology import Cluster, SentinelSetup


@pytest.mark.timeout(300)
async def test_two_replicas_on_sentinel_answer_every_message_across_a_failover_and_run_each_change_once(
    redis_sentinel: SentinelSetup, sandbox: Any, tmp_path: Path
) -> None:
    old = redis_sentinel.master_port()
    out = await run_scenario(redis_sentinel.url, sandbox, tmp_path, fault=lambda: in_thread(redis_sentinel.failover))
    assert redis_sentinel.master_port() != old
    await in_thread(redis_sentinel.wait_replica_synced)
    assert out.unanswered == [] and out.answered == out.sent
    assert list(out.executions.values()) == [1]
    # of the two racing clicks, one ran it and one heard so; neither failed
    outcomes = sorted(len(r.toasts) for r in out.clicks[0])
    assert outcomes == [0, 1], [(r.toasts, [c.title for c in r.cards]) for r in out.clicks[0]]
    assert out.replicas_after == out.replicas_wanted


@pytest.mark.timeout(300)
async def test_two_replicas_on_a_redis_cluster_answer_every_message_and_run_each_change_once(
    redis_cluster: Cluster, sandbox: Any, tmp_path: Path
) -> None:
    async def nothing() -> None:
        return None

    out = await run_scenario(
        redis_cluster.url, sandbox, tmp_path, fault=nothing, changes=("cart-service-v1", "cart-service-v2")
    )
    assert out.unanswered == [] and out.answered == out.sent
    assert sorted(out.executions.values()) == [1, 1]
    assert out.replicas_after == out.replicas_wanted
