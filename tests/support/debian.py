"""Installs the Debian packages the tests start for real (run by `make test` before pytest).

Redis Cluster and Sentinel, Prometheus and Alertmanager are started by the tests on loopback ports, so their
binaries must be on the machine. Where one is missing and we are root with apt-get, it is installed; otherwise
the run stops here with one clear line naming the package, instead of failing later inside a fixture.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

# binary -> Debian package that ships it
REQUIRED: dict[str, str] = {
    "redis-server": "redis-server",
    "redis-cli": "redis-tools",
    "redis-sentinel": "redis-sentinel",
    "prometheus": "prometheus",
    "promtool": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
}


# Shipped with the machine image, not by Debian: nothing to install, only a clear word when it is missing.
PRESENT_ONLY: dict[str, str] = {"kubectl": "kubectl 1.32 (the sandbox fidelity and deploy tests run it)"}


def missing_packages() -> list[str]:
    return sorted({pkg for binary, pkg in REQUIRED.items() if shutil.which(binary) is None})


def _apt(*args: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", *args], check=True, env=env, stdout=subprocess.DEVNULL)


def main() -> int:
    absent = [what for binary, what in PRESENT_ONLY.items() if shutil.which(binary) is None]
    if absent:
        print(f"make test needs {', '.join(absent)} on PATH; install it and run `make test` again.", file=sys.stderr)
        return 1
    missing = missing_packages()
    if not missing:
        return 0
    can_install = shutil.which("apt-get") is not None and hasattr(os, "geteuid") and os.geteuid() == 0
    if not can_install:
        print(
            f"make test needs the Debian packages {' '.join(missing)}; install them with "
            f"`sudo apt-get install -y {' '.join(missing)}` and run `make test` again.",
            file=sys.stderr,
        )
        return 1
    print(f"installing Debian packages the tests start: {' '.join(missing)}", flush=True)
    try:
        _apt("update", "-q")
        _apt("install", "-y", "-q", "--no-install-recommends", *missing)
    except (OSError, subprocess.CalledProcessError) as exc:
        print(f"could not install {' '.join(missing)} ({exc}); install them by hand and run again.", file=sys.stderr)
        return 1
    still = missing_packages()
    if still:
        print(f"after apt-get, still missing: {' '.join(still)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
