"""The shipped alerting rules and Alertmanager example pass the real tools' checks; the sandbox's /metrics is
valid exposition format (promtool) and describes its objects as kube-state-metrics and cAdvisor would."""

from __future__ import annotations

import asyncio
import re
import shutil
import ssl
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `python -m tests.support.debian` (Debian prometheus packages)")
    return path


def test_the_shipped_alerting_rules_pass_promtool_check_rules() -> None:
    proc = subprocess.run(
        [_tool("promtool"), "check", "rules", str(DEPLOY / "rules" / "kubeduty.rules.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"SUCCESS: (\d+) rules found", proc.stdout)


def test_the_example_alertmanager_config_passes_amtool() -> None:
    proc = subprocess.run(
        [_tool("amtool"), "check-config", str(DEPLOY / "alertmanager.example.yml")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


async def _scrape(sandbox: Any) -> str:
    ctx = ssl.create_default_context(cafile=str(sandbox.ca_path))
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
        async with http.get(
            f"{sandbox.url}/metrics", ssl=ctx, headers={"Authorization": "Bearer sandbox-token"}
        ) as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain")
            return await resp.text()


def _value(text: str, pattern: str) -> float:
    match = re.search(pattern + r"\S* (\S+)$", text, re.MULTILINE)
    assert match, pattern
    return float(match.group(1))


async def test_the_sandbox_metrics_are_valid_exposition_format_and_show_the_oom_killed_orders(sandbox: Any) -> None:
    text = await _scrape(sandbox)
    proc = await asyncio.create_subprocess_exec(
        _tool("promtool"),
        "check",
        "metrics",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(text.encode()), 120)
    assert proc.returncode == 0, out.decode()

    orders = r'namespace="production",pod="orders-[^"]+",container="orders"'
    assert _value(text, r"kube_pod_container_status_last_terminated_reason\{" + orders + r',reason="OOMKilled"\}') == 1
    assert _value(text, r"kube_pod_container_status_restarts_total\{" + orders + r"\}") >= 1
    limit = _value(text, r"kube_pod_container_resource_limits\{" + orders + r',resource="memory",unit="byte"\}')
    working = _value(text, r"container_memory_working_set_bytes\{" + orders + r"\}")
    assert limit == 256 * 2**20 and 0.9 * limit < working <= limit, "an OOM-killed container sits at its limit"
    assert 'kube_node_status_condition{node="' in text and "kube_deployment_spec_replicas{" in text


async def test_the_request_counters_only_grow_and_errors_follow_the_broken_pods(sandbox: Any) -> None:
    first = await _scrape(sandbox)
    await asyncio.sleep(1.1)
    second = await _scrape(sandbox)
    ok = r'http_requests_total\{namespace="production",service="checkout",code="200"\}'
    assert _value(second, ok) > _value(first, ok)
    errors = r'http_requests_total\{namespace="production",service="orders",code="503"\}'
    assert _value(second, errors) > _value(first, errors) > 0, "orders' pods are not ready: its requests fail"
    healthy_errors = r'http_requests_total\{namespace="production",service="checkout",code="503"\}'
    assert _value(second, healthy_errors) == 0
