"""The container's exact command line (Dockerfile ENTRYPOINT/CMD combined with the manifest's command/args as
Kubernetes does), run with the manifest's environment and mounts adapted to loopback, against the sandbox API
server and the DingTalk gateway emulator: it starts, becomes ready, answers and audits where the manifest says."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bot.approvals.audit import ENTRY_SCHEMA
from tests.channels.emulators.dingtalk import DingTalkEmulator
from tests.deploy.manifests import KUSTOMIZE_ROOT, Dockerfile, container, effective_command, manifest_env, one, render
from tests.ops.process import kubeduty_run

VENV_BIN = Path(sys.executable).parent  # what the image's PATH puts first (/app/.venv/bin)


@pytest.fixture
def dingtalk_gateway(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    emu = DingTalkEmulator()
    emu.start()
    yield emu
    emu.stop()


def _mount_locally(docs: list[dict[str, Any]], root: Path) -> dict[str, Path]:
    """Each volumeMount becomes a directory under `root`; ConfigMap volumes get their files, as the kubelet does."""
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mapped: dict[str, Path] = {}
    for mount in container(docs)["volumeMounts"]:
        local = root / mount["mountPath"].lstrip("/")
        local.mkdir(parents=True, exist_ok=True)
        volume = volumes[mount["name"]]
        if "configMap" in volume:
            for key, text in (one(docs, "ConfigMap", volume["configMap"]["name"]).get("data") or {}).items():
                (local / key).write_text(text, encoding="utf-8")
        mapped[mount["mountPath"]] = local
    return mapped


def _relocate(value: str, mapped: dict[str, Path]) -> str:
    for mount_path, local in sorted(mapped.items(), key=lambda kv: -len(kv[0])):
        if value.startswith(mount_path.rstrip("/") + "/"):
            return str(local / value[len(mount_path.rstrip("/")) + 1 :])
    return value


def _json_lines(path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()]


async def test_the_single_overlay_container_command_starts_becomes_ready_answers_and_audits(
    redis_url: str, sandbox: Any, dingtalk_gateway: DingTalkEmulator, tmp_path: Path
) -> None:
    docs = render("single")
    c = container(docs)
    command = effective_command(Dockerfile.parse(), c)
    assert command == ["kubeduty", "run"]
    secret = yaml.safe_load((KUSTOMIZE_ROOT / "base" / "secret.example.yaml").read_text(encoding="utf-8"))
    env = manifest_env(docs, secret["stringData"])
    mapped = _mount_locally(docs, tmp_path / "root")

    # Adapted to loopback: the same settings, pointing at the test's Redis, sandbox, emulator and mount points.
    env["POLICY_FILES"] = json.dumps([_relocate(p, mapped) for p in json.loads(env["POLICY_FILES"])])
    env["AUDIT_LOG_PATH"] = _relocate(env["AUDIT_LOG_PATH"], mapped)
    assert env["AUDIT_LOG_PATH"].startswith(str(tmp_path))  # the manifest's audit file is on a mounted volume
    env |= {
        "REDIS_URL": redis_url,
        "KUBECONFIG": str(sandbox.kubeconfig_path),  # in the pod: the service account (in-cluster config)
        "DINGTALK_CLIENT_ID": dingtalk_gateway.client_id,
        "DINGTALK_CLIENT_SECRET": dingtalk_gateway.client_secret,
        "DINGTALK_OPENAPI_ENDPOINT": dingtalk_gateway.url,
        "DINGTALK_CARD_TEMPLATE_ID": dingtalk_gateway.template_id,
        "KEY_PREFIX": f"kdtest-deploy-{os.getpid()}",
    }
    env.pop("HEALTH_PORT")  # a free port instead of 8080
    full = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path / "root" / "tmp"),
        "KUBEDUTY_ENV_FILE": os.devnull,
        "NO_PROXY": "127.0.0.1,localhost",
        "PYTHONDONTWRITEBYTECODE": "1",
    } | env
    argv = [shutil.which(command[0], path=full["PATH"]) or command[0], *command[1:]]
    workdir = tmp_path / "root" / "app"
    workdir.mkdir(parents=True)
    async with kubeduty_run(full, tmp_path / "run.log", command=argv, cwd=workdir) as bot:
        assert (await bot.wait_answer("/healthz"))[0] == 200
        ready = await bot.wait_status("/readyz", 200)
        assert ready["platforms"]["dingtalk"]["connected"] is True
        # the shipped policy allows only the console: a real chat is refused politely, and that is audited
        await dingtalk_gateway.say("/pods dev")
        # a first message in a chat gets the welcome card, then the refusal
        cards = await dingtalk_gateway.wait_cards(2, within=60)
        assert any("not enabled for you in this chat" in c.text for c in cards), [c.text[:120] for c in cards]
    assert await bot.stop() == 0, bot.output()[-3000:]
    rows = _json_lines(env["AUDIT_LOG_PATH"])
    assert rows and rows[-1]["platform"] == "dingtalk"
    for row in rows:
        jsonschema.validate(row, ENTRY_SCHEMA)
    stdout_rows = [json.loads(x) for x in bot.output().splitlines() if x.startswith('{"v":')]
    assert stdout_rows == rows  # AUDIT_STDOUT=true: the same entries on stdout for the log pipeline
