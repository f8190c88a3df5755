"""The rule parser's cost per message (a script: `python -m tests.bench.bench_parser [ROUNDS]`).

The parser runs on the event loop for every message, so it must be cheap and linear in the input. Prints, in
microseconds per message (median, p99 over ROUNDS passes, default 20):
- `parse` alone over every message of the dialogue corpus (tests/conversation/corpus/);
- `parse` + resolving its words against a cluster vocabulary of realistic size (`resolve`, rapidfuzz for
  typos) — what a message costs before any tool call;
- hostile inputs: a 4,000-character one-word message, a 4,000-character mixed one, and a 65,000-character
  word (refused by length before any pattern runs), each once per round.
No Redis, no cluster: pure CPU.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import yaml

from bot.conversation.parser import parse
from bot.conversation.resolve import Vocab, resolve

CORPUS = Path(__file__).resolve().parents[1] / "conversation" / "corpus"


def messages() -> list[str]:
    out: list[str] = []
    for path in sorted(CORPUS.glob("*.yaml")):
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for dialogue in doc.get("dialogues", []):
            out.extend(str(t["say"]) for t in dialogue.get("turns", []) if isinstance(t, dict) and "say" in t)
    return out


def vocab(n_workloads: int = 400) -> Vocab:
    """A mid-size cluster: 20 namespaces, 400 workloads with 2 pods each."""
    namespaces = frozenset(
        {"default", "kube-system", "dev", "staging", "production"} | {f"team-{i}" for i in range(15)}
    )
    where: dict[str, frozenset[str]] = {}
    ns_list = sorted(namespaces)
    for i in range(n_workloads):
        ns = ns_list[i % len(ns_list)]
        name = f"svc-{i}-api" if i % 3 else f"worker-{i}"
        where[name] = frozenset({ns})
        for j in range(2):
            where[f"{name}-5c6b7d8f9-{j:05d}"] = frozenset({ns})
    for name in ("cart-service-v1", "cart-service-v2", "payment-api", "frontend", "orders", "web", "checkout"):
        where[name] = frozenset({"dev"})
    return Vocab(namespaces, frozenset({"sandbox", "sandbox-staging"}), frozenset({"node-1", "node-2"}), where)


def per_message_us(texts: list[str], rounds: int, *, with_vocab: Vocab | None) -> tuple[list[float], list[float]]:
    """Every timing, and each message's best over the rounds (what it costs when the shared CPU is not busy)."""
    costs: list[float] = []
    best = [float("inf")] * len(texts)
    for _ in range(rounds):
        for i, text in enumerate(texts):
            t0 = time.perf_counter()
            intent = parse(text)
            if with_vocab is not None and intent.words:
                resolve(list(intent.words), with_vocab)
            cost = (time.perf_counter() - t0) * 1e6
            costs.append(cost)
            best[i] = min(best[i], cost)
    return costs, best


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def show(label: str, measured: tuple[list[float], list[float]]) -> None:
    costs, best = measured
    print(
        f"{label:<40} n={len(costs):>6}  median {statistics.median(costs):8.1f} µs  p99 {pct(costs, 99):9.1f} µs"
        f"  | best of rounds: median {statistics.median(best):8.1f} µs  max {max(best):8.1f} µs"
    )


def main(argv: list[str]) -> int:
    rounds = int(argv[0]) if argv else 20
    texts = messages()
    print(f"{len(texts)} corpus messages, {rounds} rounds")
    show("parse (corpus messages)", per_message_us(texts, rounds, with_vocab=None))
    v = vocab()
    print(f"vocabulary: {len(v.namespaces)} namespaces, {len(v.where)} workload/pod names")
    show("parse + resolve against the vocabulary", per_message_us(texts, rounds, with_vocab=v))
    hostile = {
        "4,000-char one-word message": "a" * 4000,
        "4,000-char word of a- pairs": "a-" * 2000,
        "4,000-char mixed message": ("看下 dev 的 payment-api 的日志 " * 200)[:4000],
        "65,000-char word (refused by length)": "a" * 65000,
    }
    for label, text in hostile.items():
        show(label, per_message_us([text], rounds, with_vocab=v))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
