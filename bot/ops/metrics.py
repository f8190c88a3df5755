"""Every Prometheus metric of the bot, declared here and nowhere else.

Call sites use the objects directly, e.g. `metrics.events.labels(platform="feishu", outcome="ok").inc()`.
Labels are small closed sets (platform, outcome, tool name, state): never a user, chat or free text, so the
series count stays bounded. The registry is our own, so tests and benchmarks can read it without the
process-global default registry of other libraries.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

# Outcomes of an inbound event: ok | error (the handler failed; the user got an error card) | duplicate
# (a redelivery dropped by id) | unavailable (storage down: the user was told, see redis-ha).
events = Counter(
    "kubeduty_events", "Inbound events by platform and outcome", ["platform", "outcome"], registry=REGISTRY
)
turn_seconds = Histogram(
    "kubeduty_turn_seconds",
    "Time from taking an event to the end of its handling, by platform",
    ["platform"],
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 80),
    registry=REGISTRY,
)
tool_calls = Counter(
    "kubeduty_tool_calls", "Tool calls by tool and outcome (ok | error)", ["tool", "outcome"], registry=REGISTRY
)
k8s_errors = Counter(
    "kubeduty_k8s_errors",
    "Failed tool calls by tool and error code (forbidden, not_found, ...)",
    ["tool", "code"],
    registry=REGISTRY,
)
approvals = Counter(
    "kubeduty_approvals",
    "Change-record transitions by state (propose, confirm, approve, execute, ...)",
    ["state"],
    registry=REGISTRY,
)
redis_errors = Counter(
    "kubeduty_redis_errors", "Redis operations that failed, by operation", ["operation"], registry=REGISTRY
)
llm_calls = Counter("kubeduty_llm_calls", "LLM planner turns by outcome (ok | error)", ["outcome"], registry=REGISTRY)
audit_entries = Counter(
    "kubeduty_audit_entries",
    "Audit entries by kind (decision | read) and what happened (kept | sampled_out)",
    ["kind", "outcome"],
    registry=REGISTRY,
)
audit_sink_errors = Counter(
    "kubeduty_audit_sink_errors", "Audit entries a sink could not write", ["sink"], registry=REGISTRY
)
platform_connected = Gauge(
    "kubeduty_platform_connected", "1 while the platform's connection is up", ["platform"], registry=REGISTRY
)
ready = Gauge("kubeduty_ready", "1 when the last readiness check passed", registry=REGISTRY)


def exposition() -> bytes:
    """The text format `/metrics` serves."""
    return generate_latest(REGISTRY)


def value(name: str, **labels: str) -> float:
    """One sample's current value (0 when absent): for tests and benchmarks."""
    got = REGISTRY.get_sample_value(name, labels)
    return 0.0 if got is None else float(got)
