"""Real Prometheus and Alertmanager for the tests: the Debian packages `prometheus` and
`prometheus-alertmanager`, which `make test` installs where it can (tests.support.debian), else a clear error.

Each server starts on a free loopback port with a generated config; readiness is polled generously (shared
2-core CI). `python -m tests.support.prom` says whether the binaries are there.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

BINARIES = {
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "amtool": "prometheus-alertmanager",
}
READY_TIMEOUT = 90.0


class PromUnavailable(RuntimeError):
    pass


def missing() -> list[str]:
    return [name for name in BINARIES if shutil.which(name) is None]


def ensure_installed(*, quiet: bool = False) -> None:
    """`make test` installs the packages first (tests.support.debian); here a missing one is one clear error."""
    todo = missing()
    if todo:
        packages = " ".join(sorted({BINARIES[b] for b in todo}))
        raise PromUnavailable(
            f"missing {', '.join(todo)}: run `python -m tests.support.debian` (as root, it installs the Debian "
            f"packages) or `apt-get install -y {packages}`"
        )
    if not quiet:
        print("prometheus, alertmanager ok: " + ", ".join(str(shutil.which(b)) for b in BINARIES))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    workdir: Path
    log: Path
    extra: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def logs(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def _start(name: str, argv: list[str], url: str, workdir: Path) -> Server:
    log = workdir / f"{name}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=workdir)
    server = Server(name, url, proc, workdir, log)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if _ready(f"{url}/-/ready"):
            return server
        if proc.poll() is not None:
            break
        time.sleep(0.25)
    text = server.logs()
    server.stop()
    raise PromUnavailable(f"{name} did not become ready at {url}:\n{text}")


def start_prometheus(config_yaml: str, rule_files: dict[str, str]) -> Server:
    ensure_installed(quiet=True)
    workdir = Path(tempfile.mkdtemp(prefix="kubeduty-prom-"))
    for fname, text in rule_files.items():
        (workdir / fname).write_text(text, encoding="utf-8")
    (workdir / "prometheus.yml").write_text(config_yaml, encoding="utf-8")
    port = free_port()
    argv = [
        str(shutil.which("prometheus")),
        f"--config.file={workdir / 'prometheus.yml'}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--web.enable-lifecycle",
        "--log.level=warn",
    ]
    return _start("prometheus", argv, f"http://127.0.0.1:{port}", workdir)


def start_alertmanager(config_yaml: str) -> Server:
    ensure_installed(quiet=True)
    workdir = Path(tempfile.mkdtemp(prefix="kubeduty-am-"))
    (workdir / "alertmanager.yml").write_text(config_yaml, encoding="utf-8")
    port = free_port()
    argv = [
        str(shutil.which("prometheus-alertmanager")),
        f"--config.file={workdir / 'alertmanager.yml'}",
        f"--storage.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # no gossip: one instance, no port to collide on
        "--log.level=warn",
    ]
    return _start("alertmanager", argv, f"http://127.0.0.1:{port}", workdir)


def main() -> None:
    try:
        ensure_installed()
    except PromUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc


if __name__ == "__main__":
    main()
