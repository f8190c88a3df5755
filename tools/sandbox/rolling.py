"""The RollingUpdate arithmetic of the deployment controller (pkg/controller/deployment/rolling.go), live mode.

One sync of the real controller: the new ReplicaSet grows up to `replicas + maxSurge` pods in all; old ones
shrink only while `replicas - maxUnavailable` pods stay available, counting the new ReplicaSet's unavailable
pods against that budget; within the budget an old ReplicaSet's unhealthy (unavailable) pods go first
(cleanupUnhealthyReplicas), then available ones. The real controller re-syncs after each scale; the sandbox
repeats the sync until nothing changes, since no pod becomes ready within one write.

This is why a rollback to a revision that is itself unhealthy leaves the bad revision's pods in place on a real
cluster too: the new (rolled-back) ReplicaSet's unavailable pods use up the whole budget.
"""

from __future__ import annotations

import math
from typing import Any

from tools.sandbox.specs import _parse

Obj = dict[str, Any]
MAX_SYNCS = 50  # each sync moves at least one replica; a deployment converges well within this


def _resolve(value: Any, desired: int, *, round_up: bool) -> int:
    """An int-or-percent field of rollingUpdate, as intstr.GetScaledValueFromIntOrPercent resolves it."""
    if isinstance(value, int):
        return max(0, value)
    text = str(value).strip()
    if text.endswith("%") and text[:-1].isdigit():
        scaled = int(text[:-1]) * desired / 100
        return int(math.ceil(scaled) if round_up else math.floor(scaled))
    return int(text) if text.isdigit() else 0


def surge_and_unavailable(spec: Obj) -> tuple[int, int]:
    """(maxSurge, maxUnavailable), defaults 25%/25%; both 0 means 1 unavailable (ResolveFenceposts)."""
    desired = int(spec.get("replicas", 1))
    ru = ((spec.get("strategy") or {}).get("rollingUpdate")) or {}
    surge = _resolve(ru.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = _resolve(ru.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, min(unavailable, desired)


def rolling_targets(spec: Obj, new_uid: str, rss: list[Obj], available: dict[str, int]) -> dict[str, int]:
    """Each ReplicaSet's replicas after the controller's syncs. `rss`: the deployment's ReplicaSets (with the
    new one); `available`: each one's ready pods now."""
    desired = int(spec.get("replicas", 1))
    surge, max_unavailable = surge_and_unavailable(spec)
    min_available = desired - max_unavailable
    want = {rs["metadata"]["uid"]: int(rs["spec"].get("replicas", 0)) for rs in rss}
    avail = {uid: min(available.get(uid, 0), n) for uid, n in want.items()}
    old = [rs["metadata"]["uid"] for rs in sorted(rss, key=_created) if rs["metadata"]["uid"] != new_uid]
    for _ in range(MAX_SYNCS):
        before = dict(want)
        # reconcileNewReplicaSet
        n = want[new_uid]
        if n > desired:
            want[new_uid] = desired
        elif n < desired:
            room = desired + surge - sum(want.values())
            if room > 0:
                want[new_uid] = n + min(room, desired - n)
        # reconcileOldReplicaSets
        if any(want[u] for u in old):
            budget = sum(want.values()) - min_available - (want[new_uid] - avail[new_uid])
            if budget > 0:
                for u in old:  # cleanupUnhealthyReplicas: the unavailable pods first
                    unhealthy = want[u] - avail[u]
                    if budget <= 0 or unhealthy <= 0:
                        continue
                    k = min(budget, unhealthy)
                    want[u] -= k
                    budget -= k
                total_down = sum(avail.values()) - min_available
                for u in old:  # scaleDownOldReplicaSetsForRollingUpdate
                    if total_down <= 0:
                        break
                    k = min(want[u], total_down)
                    want[u] -= k
                    avail[u] = min(avail[u], want[u])
                    total_down -= k
        avail = {u: min(a, want[u]) for u, a in avail.items()}
        if want == before:
            break
    return want


def _created(rs: Obj) -> float:
    when = _parse(rs["metadata"].get("creationTimestamp"))
    return when.timestamp() if when else 0.0
