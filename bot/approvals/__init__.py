"""The safety layer: policy-checked reads, previewed and approved mutations that run exactly once, audit."""

from bot.approvals.factory import build_gate
from bot.approvals.gate import PolicyGate, ToolRunner
from bot.approvals.port import Caller, Gate, ReadOnlyGate, Verdict

__all__ = ["Caller", "Gate", "PolicyGate", "ReadOnlyGate", "ToolRunner", "Verdict", "build_gate"]
