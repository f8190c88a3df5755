"""Start-up of `kubeduty demo` (a script: `python -m tests.bench.bench_startup [RUNS] [--tree DIR]`).

Each run starts `python -m bot.cli demo` in a new process with `/pods dev` waiting on its stdin (no LLM, no
Redis: the demo's embedded defaults), and prints the time from spawn to the first reply's pod table and the
process's peak RSS (`wait4` rusage). Two rows, interleaved run by run: as installed (the checkout's own modules
without bytecode: this machine sets PYTHONDONTWRITEBYTECODE, as the image does) and with bytecode compiled
(`compileall` of the checkout, the packages and the standard library into a PYTHONPYCACHEPREFIX: what the image
has, deploy/Dockerfile compiling the venv and the stdlib at build). `--tree` starts another checkout (for before /
after comparisons with the same interpreter and packages).
"""

from __future__ import annotations

import compileall
import os
import selectors
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
import warnings
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DEADLINE_SECONDS = 120.0  # a loaded machine is slow; this only stops a hung run


def compile_tree(tree: Path, prefix: Path) -> None:
    """Bytecode for the checkout, every installed package AND the standard library, into `prefix` (nothing
    written elsewhere). With a prefix set Python looks for bytecode only there, so the stdlib's own __pycache__
    is not seen: leaving it out made every run compile ~150 stdlib modules from source (~0.5 s of CPU), which
    the image never does (python:3.11-slim ships its stdlib compiled)."""
    os.environ["PYTHONPYCACHEPREFIX"] = str(prefix)
    sys.pycache_prefix = str(prefix)
    dirs = [
        tree / "bot",
        tree / "tools",
        Path(sysconfig.get_paths()["stdlib"]),
        *(Path(p) for p in sys.path if p.endswith("site-packages")),
    ]
    with warnings.catch_warnings():  # the stdlib's test data has deliberate SyntaxWarnings
        warnings.simplefilter("ignore")
        for d in dirs:
            compileall.compile_dir(str(d), quiet=2, workers=0)
    del os.environ["PYTHONPYCACHEPREFIX"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process so far (/proc): unlike wall time, hardly moved by other load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one_run(tree: Path, pycache: Path | None) -> tuple[float, float, float]:
    """(seconds to the first reply, its CPU seconds, peak RSS in MiB) of one `kubeduty demo` process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLM_", "KUBE", "REDIS"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.pop("PYTHONPYCACHEPREFIX", None)
    if pycache is not None:
        env["PYTHONPYCACHEPREFIX"] = str(pycache)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "demo"],
        cwd=tree,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(b"/pods dev\n")
    proc.stdin.flush()
    seen = b""
    first = None
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    while first is None and time.perf_counter() - start < DEADLINE_SECONDS:
        if not sel.select(timeout=1.0):
            continue
        chunk = os.read(proc.stdout.fileno(), 65536)
        if not chunk:
            break
        seen += chunk
        if b"payment-api" in seen:
            first = time.perf_counter() - start
            cpu = cpu_seconds(proc.pid)
    proc.stdin.close()
    proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if first is None:
        raise RuntimeError(f"no reply from `kubeduty demo` (exit {proc.returncode}): {seen[-500:]!r}")
    return first, cpu, usage.ru_maxrss / 1024


def main(argv: list[str]) -> None:
    tree = REPO_ROOT
    if "--tree" in argv:
        i = argv.index("--tree")
        tree = Path(argv[i + 1]).resolve()
        argv = argv[:i] + argv[i + 2 :]
    keep = None
    if "--pycache" in argv:  # reuse (and fill) a bytecode prefix across runs
        i = argv.index("--pycache")
        keep = Path(argv[i + 1]).resolve()
        argv = argv[:i] + argv[i + 2 :]
    runs = int(argv[0]) if argv else 5
    with tempfile.TemporaryDirectory(prefix="kd-pyc-") as tmp:
        prefix = keep or Path(tmp)
        t0 = time.perf_counter()
        compile_tree(tree, prefix)
        print(f"bytecode compiled into a private prefix in {time.perf_counter() - t0:.1f} s")
        rows: dict[str, list[tuple[float, float, float]]] = {"no bytecode (as installed)": [], "bytecode compiled": []}
        for _ in range(runs):
            rows["no bytecode (as installed)"].append(one_run(tree, None))
            rows["bytecode compiled"].append(one_run(tree, prefix))
    print(f"`kubeduty demo` start-up to the first reply of `/pods dev` ({tree}), {runs} runs each, interleaved:")
    for label, values in rows.items():
        firsts = [v[0] for v in values]
        cpus = [v[1] for v in values]
        rss = [v[2] for v in values]
        print(
            f"  {label:28s} first reply median {statistics.median(firsts):5.2f} s (min {min(firsts):.2f})"
            f"  CPU to it median {statistics.median(cpus):5.2f} s"
            f"  peak RSS median {statistics.median(rss):6.1f} MiB (max {max(rss):.1f})"
        )
    print("  targets: first reply <= 2 s, peak RSS <= 150 MiB")


if __name__ == "__main__":
    main(sys.argv[1:])
