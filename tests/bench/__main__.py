"""`make bench` / `python -m tests.bench [NAME ...]`: run the benchmarks one after another, each in its own
process (they start their own sandbox, Redis and servers), printing their figures. Not part of `make test`.
Every `bench_*.py` here is found by name: e.g. `python -m tests.bench corpus` prints the dialogue corpus's pass
rate by category and language and the parser's cost per message (tests/conversation/corpus/).
`python -m tests.bench report` runs the issue-12 benchmarks and prints one markdown table (tests/bench/report.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    if argv[:1] == ["report"]:  # the issue-12 benchmarks in one run, one markdown table (tests/bench/report.py)
        from tests.bench.report import main as report

        return report(argv[1:])
    names = argv or sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    failed = []
    for name in names:
        print(f"\n=== bench_{name} ===", flush=True)
        rc = subprocess.call([sys.executable, "-m", f"tests.bench.bench_{name}"])
        if rc:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
