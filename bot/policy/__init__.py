"""The policy engine: YAML files loaded and schema-checked at start, and a pure `decide`."""

from bot.policy.engine import decide, decide_approval, impersonation_for, normalise, roles_of
from bot.policy.loader import PolicyError, load_policy
from bot.policy.model import CallFacts, Decision, Effect, Impersonation, Policy, Why

__all__ = [
    "CallFacts",
    "Decision",
    "Effect",
    "Impersonation",
    "Policy",
    "PolicyError",
    "Why",
    "decide",
    "decide_approval",
    "impersonation_for",
    "load_policy",
    "normalise",
    "roles_of",
]
