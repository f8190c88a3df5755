"""Real Redis topologies for the tests, on free loopback ports: a 3-master Cluster (`redis-cli --cluster
create`) and a Sentinel setup (1 master, 1 replica, 3 sentinels), plus single servers that can be killed and
restarted on the same port. Every wait polls for readiness with a generous deadline (shared 2-core CI).

`python -m tests.support.redis_topology` (run by `make test`) checks the binaries, installs the Debian packages
when it can (root with apt-get), and otherwise fails with one clear line.
"""

from __future__ import annotations

import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis

BINARIES = {"redis-server": "redis-server", "redis-sentinel": "redis-sentinel", "redis-cli": "redis-tools"}
READY_SECONDS = 60.0


class TopologyError(RuntimeError):
    pass


def missing_binaries() -> list[str]:
    return [b for b in BINARIES if shutil.which(b) is None]


def ensure_binaries() -> None:
    """Install the missing Debian packages where possible (tests.support.debian), else raise saying what to do."""
    if not missing_binaries():
        return
    from tests.support import debian

    debian.main()
    todo = missing_binaries()
    if todo:
        packages = " ".join(sorted({BINARIES[b] for b in todo}))
        raise TopologyError(f"missing {', '.join(todo)}: apt-get install -y {packages}, then rerun")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port(*, cluster: bool = False) -> int:
    """A free loopback port; for a cluster node also its bus port (+10000), so the port must be <= 55535."""
    if not cluster:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return int(s.getsockname()[1])
    for _ in range(200):
        port = random.randint(20000, 55000)
        if _bindable(port) and _bindable(port + 10000):
            return port
    raise TopologyError("no free port pair for a cluster node")


def wait_until(what: str, check: Callable[[], bool], timeout: float = READY_SECONDS, step: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(step)
    raise TopologyError(f"timed out waiting for {what}")


def _client(port: int) -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=2, socket_timeout=5, decode_responses=True)


def _ping(port: int) -> bool:
    with _client(port) as c:
        return bool(c.ping())


@dataclass
class Server:
    """One redis-server (or redis-sentinel) process that can be killed and started again on its port."""

    port: int
    workdir: Path
    args: list[str]
    binary: str = "redis-server"
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        exe = shutil.which(self.binary)
        if exe is None:
            raise TopologyError(f"{self.binary} is not installed")
        self.process = subprocess.Popen(
            [exe, *self.args], cwd=self.workdir, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(f"{self.binary} on port {self.port}", lambda: _ping(self.port))

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def _workdir(tag: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"kubeduty-{tag}-"))


def _base_args(port: int) -> list[str]:
    return ["--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"]


def single_server() -> Server:
    port = free_port()
    srv = Server(port, _workdir("redis"), _base_args(port))
    srv.start()
    return srv


@dataclass
class Cluster:
    nodes: list[Server]

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def stop(self) -> None:
        for n in self.nodes:
            n.stop()


def start_cluster(masters: int = 3) -> Cluster:
    ensure_binaries()
    nodes: list[Server] = []
    try:
        for _ in range(masters):
            port = free_port(cluster=True)
            wd = _workdir("cluster")
            args = [*_base_args(port), "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"]
            args += ["--cluster-node-timeout", "5000"]
            srv = Server(port, wd, args)
            srv.start()
            nodes.append(srv)
        cli = shutil.which("redis-cli")
        assert cli is not None
        proc = subprocess.run(
            [cli, "--cluster", "create", *(f"127.0.0.1:{n.port}" for n in nodes), "--cluster-replicas", "0"]
            + ["--cluster-yes"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if proc.returncode != 0:
            raise TopologyError(f"redis-cli --cluster create failed: {proc.stdout[-500:]} {proc.stderr[-500:]}")

        def all_ok() -> bool:
            for n in nodes:
                with _client(n.port) as c:
                    info = c.cluster("INFO")
                    if info.get("cluster_state") != "ok" or str(info.get("cluster_known_nodes")) != str(masters):
                        return False
            return True

        wait_until("the cluster to agree it is ok", all_ok)
        return Cluster(nodes)
    except BaseException:
        for n in nodes:
            n.stop()
        raise


@dataclass
class SentinelSetup:
    master: Server
    replica: Server
    sentinels: list[Server]
    name: str = "kdmaster"
    extra: list[Server] = field(default_factory=list)

    @property
    def url(self) -> str:
        return "redis+sentinel://" + ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels) + f"/{self.name}/0"

    def master_port(self) -> int:
        with _client(self.sentinels[0].port) as c:
            host, port = c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.name)
            return int(port)

    def failover(self) -> int:
        """SENTINEL FAILOVER, then wait until every sentinel names the new master and it accepts writes.
        Returns the new master's port."""
        old = self.master_port()
        with _client(self.sentinels[0].port) as c:
            wait_until(
                "the sentinel to accept FAILOVER", lambda: bool(c.execute_command("SENTINEL", "FAILOVER", self.name))
            )

        def moved() -> bool:
            ports = set()
            for s in self.sentinels:
                with _client(s.port) as c:
                    ports.add(int(c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.name)[1]))
            if len(ports) != 1 or old in ports:
                return False
            (new,) = ports
            with _client(new) as c:
                return bool(c.info("replication").get("role") == "master")

        wait_until("the failover to complete", moved, timeout=90)
        return self.master_port()

    def wait_replica_synced(self) -> None:
        def synced() -> bool:
            port = self.master_port()
            with _client(port) as c:
                info = c.info("replication")
                if info.get("connected_slaves") != 1 or info.get("slave0", {}).get("state") != "online":
                    return False
            for s in self.sentinels:
                with _client(s.port) as c:
                    reps = c.execute_command("SENTINEL", "REPLICAS", self.name)
                    if len(reps) != 1 or reps[0].get("master-link-status") != "ok" or "down" in reps[0]["flags"]:
                        return False
                    if len(c.execute_command("SENTINEL", "SENTINELS", self.name)) < len(self.sentinels) - 1:
                        return False
            return True

        wait_until("the replica and sentinels to be in sync", synced, timeout=90)

    def stop(self) -> None:
        for s in [*self.sentinels, self.replica, self.master, *self.extra]:
            s.stop()


def start_sentinel(name: str = "kdmaster", sentinels: int = 3) -> SentinelSetup:
    ensure_binaries()
    started: list[Server] = []
    try:
        mport = free_port()
        master = Server(mport, _workdir("sentinel-master"), _base_args(mport))
        master.start()
        started.append(master)
        rport = free_port()
        replica = Server(
            rport, _workdir("sentinel-replica"), [*_base_args(rport), "--replicaof", "127.0.0.1", str(mport)]
        )
        replica.start()
        started.append(replica)
        sents: list[Server] = []
        for _ in range(sentinels):
            sport = free_port()
            wd = _workdir("sentinel")
            conf = wd / "sentinel.conf"
            conf.write_text(
                "\n".join(
                    [
                        f"port {sport}",
                        "bind 127.0.0.1",
                        "protected-mode no",
                        f"dir {wd}",
                        f"sentinel monitor {name} 127.0.0.1 {mport} 2",
                        f"sentinel down-after-milliseconds {name} 2000",
                        f"sentinel failover-timeout {name} 10000",
                        f"sentinel parallel-syncs {name} 1",
                        "",
                    ]
                )
            )
            srv = Server(sport, wd, [str(conf)], binary="redis-sentinel")
            srv.start()
            started.append(srv)
            sents.append(srv)
        setup = SentinelSetup(master, replica, sents, name)
        setup.wait_replica_synced()
        return setup
    except BaseException:
        for s in started:
            s.stop()
        raise


def main() -> None:
    try:
        ensure_binaries()
    except TopologyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from exc
    print("redis binaries ok: " + ", ".join(BINARIES))


if __name__ == "__main__":
    main()
