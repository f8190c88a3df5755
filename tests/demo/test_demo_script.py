"""`kubeduty demo` as a user runs it, piped: the English reference dialogue and the demo's two clusters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

KUBEDUTY = str(Path(sys.executable).with_name("kubeduty"))


def demo(script: str) -> str:
    env = {**os.environ, "KUBEDUTY_ENV_FILE": os.devnull}
    proc = subprocess.run(
        [KUBEDUTY, "demo"], input=script.encode(), capture_output=True, timeout=90, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert "Traceback" not in proc.stderr.decode()
    return proc.stdout.decode()


def test_the_piped_english_dialogue_ends_on_the_v2_pod_logs_with_next_steps() -> None:
    out = demo("show me the logs of cart-service\nI'm not sure, list them\nit should be in dev\nthe v2 one\n")
    assert "Which namespace?" in out and "production" in out  # the namespaces were offered
    assert "Which pod?" in out and "cart-service-v1-" in out and "cart-service-v2-" in out
    last = out[out.rindex("┌─") :]
    assert "Pod logs · dev/cart-service-v2-" in last and "cart-service v2.0.0-canary" in last
    assert "Describe pod" in last and "Events" in last and "Previous logs" in last


def test_the_demo_has_two_clusters_and_switching_to_an_unknown_one_is_explained() -> None:
    out = demo("[列出所有集群]\n/use cluster sandbox-staging\n/use cluster nope\n")
    assert "* sandbox " in out and "sandbox-staging" in out
    assert "当前集群：sandbox-staging" in out
    assert "没有名为 `nope` 的集群" in out
