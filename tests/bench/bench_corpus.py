"""The dialogue corpus, measured (a script: `python -m tests.bench.bench_corpus [-v] [FILTER ...]`).

Plays every dialogue of tests/conversation/corpus/ (or those whose id contains a FILTER) without failing, and
prints:
1. the pass rate by category, by language, and overall (and for the dialogues of issue 10's failure list);
2. the failing dialogues, each with its first problem (`-v`: with the transcript);
3. the engine's cost per message, excluding the time inside tool calls (K8s) and with no LLM: median, p90, p99.
Real Redis, two sandbox clusters over HTTP, the shipped policy. The strict form is tests/conversation/test_corpus.py.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from collections import defaultdict

from bot.store import open_store
from tests.conversation.corpus.harness import LANGS, DialogueResult, load_corpus, run_dialogue
from tests.conversation.corpus.world import World
from tests.support.redis_server import ensure_redis


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else 0.0


def rate(results: list[DialogueResult]) -> str:
    ok = sum(r.passed for r in results)
    return f"{ok:3d}/{len(results):3d} {100 * ok / len(results):5.1f}%" if results else "   -"


async def main(argv: list[str]) -> int:
    verbose = "-v" in argv
    filters = [a for a in argv if a != "-v"]
    dialogues = [d for d in load_corpus() if not filters or any(f in d.id for f in filters)]
    redis = ensure_redis()
    shared = World()
    results: list[DialogueResult] = []
    started = time.perf_counter()
    try:
        for d in dialogues:
            prefix = f"kdbench-corpus-{uuid.uuid4().hex[:8]}"
            store = open_store(redis.url, prefix=prefix)
            own = World() if d.mutates else None
            try:
                results.append(await run_dialogue(d, own or shared, store))
            finally:
                await store.delete_pattern(f"{prefix}:*")
                await store.close()
                if own is not None:
                    own.close()
                elif shared.dirty:
                    shared.close()
                    shared = World()
    finally:
        shared.close()
        redis.stop()
    wall = time.perf_counter() - started

    by_cat: dict[str, list[DialogueResult]] = defaultdict(list)
    by_lang: dict[str, list[DialogueResult]] = defaultdict(list)
    grid: dict[tuple[str, str], list[DialogueResult]] = defaultdict(list)
    for r in results:
        by_cat[r.dialogue.category].append(r)
        by_lang[r.dialogue.lang].append(r)
        grid[(r.dialogue.category, r.dialogue.lang)].append(r)
    print(f"corpus: {len(results)} dialogues, {sum(len(r.dialogue.turns) for r in results)} scripted turns")
    print(f"\n{'category':<16} {'all':>16}   " + "   ".join(f"{lang:>14}" for lang in LANGS))
    for cat in sorted(by_cat):
        cells = "   ".join(f"{rate(grid[(cat, lang)]):>14}" for lang in LANGS)
        print(f"{cat:<16} {rate(by_cat[cat]):>16}   {cells}")
    print(f"{'ALL':<16} {rate(results):>16}   " + "   ".join(f"{rate(by_lang[lang]):>14}" for lang in LANGS))
    print(f"{'issue-10 list':<16} {rate([r for r in results if r.dialogue.issue]):>16}")

    failing = [r for r in results if not r.passed]
    if failing:
        print(f"\nfailing ({len(failing)}):")
        for r in failing:
            print(f"  {r.dialogue.id}: {r.problems[0][:220]}")
            if verbose:
                print("    " + r.transcript(3000).replace("\n", "\n    "))

    costs = [t.parse_seconds * 1000 / max(1, t.messages) for r in results for t in r.turns]
    if costs:
        print(
            f"\nengine cost per message (ms, excl. time in tool calls, no LLM; {len(costs)} turns, "
            f"{sum(t.messages for r in results for t in r.turns)} messages/presses): "
            f"median {statistics.median(costs):.1f}  p90 {pct(costs, 90):.1f}  p99 {pct(costs, 99):.1f}  "
            f"max {max(costs):.1f}"
        )
    print(f"wall time {wall:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
