"""Helpers for the deploy tests: render overlays with the real kubectl, read the Dockerfile, and combine an image's
ENTRYPOINT/CMD with a container's command/args the way Kubernetes does."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.settings import REPO_ROOT

DEPLOY = REPO_ROOT / "deploy"
KUSTOMIZE_ROOT = DEPLOY / "kubernetes"
OVERLAYS = sorted(p.name for p in (KUSTOMIZE_ROOT / "overlays").iterdir() if (p / "kustomization.yaml").exists())
KUBERNETES_VERSION = "1.32.0"


def kubectl() -> str:
    path = shutil.which("kubectl")
    assert path, "kubectl is needed for the deploy tests (Debian/Ubuntu: apt-get install -y kubectl)"
    return path


def render(overlay: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [kubectl(), "kustomize", str(KUSTOMIZE_ROOT / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = [d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)]
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def manifest_env(docs: list[dict[str, Any]], secret: dict[str, str] | None = None) -> dict[str, str]:
    """The container's environment as Kubernetes builds it: envFrom sources in order, then `env`."""
    c = container(docs)
    env: dict[str, str] = {}
    for source in c.get("envFrom") or []:
        if "configMapRef" in source:
            env.update(one(docs, "ConfigMap", source["configMapRef"]["name"]).get("data") or {})
        elif "secretRef" in source:
            env.update(secret or {})
    for item in c.get("env") or []:
        env[item["name"]] = str(item.get("value", ""))
    return env


@dataclass(frozen=True)
class Dockerfile:
    stages: list[str]  # base image of each FROM
    entrypoint: list[str] | None
    cmd: list[str] | None
    user: str | None
    runs: list[str]
    labels: dict[str, str]

    @classmethod
    def parse(cls, path: Path = DEPLOY / "Dockerfile") -> Dockerfile:
        lines: list[str] = []
        pending = ""
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            if line.endswith("\\"):
                pending += line[:-1] + " "
                continue
            lines.append(pending + line)
            pending = ""
        stages: list[str] = []
        entrypoint = cmd = None
        user = None
        runs: list[str] = []
        labels: dict[str, str] = {}
        for line in lines:
            word, _, rest = line.partition(" ")
            word = word.upper()
            if word == "FROM":
                stages.append(rest.split()[0])
                entrypoint = cmd = None  # a new stage starts from its base image's settings
                user = None
            elif word == "ENTRYPOINT":
                entrypoint = json.loads(rest)  # exec form only: a shell form would swallow SIGTERM
            elif word == "CMD":
                cmd = json.loads(rest)
            elif word == "USER":
                user = rest.strip()
            elif word == "RUN":
                runs.append(rest)
            elif word == "LABEL":
                for part in rest.split():
                    key, _, value = part.partition("=")
                    labels[key] = value.strip('"')
        return cls(stages, entrypoint, cmd, user, runs, labels)


def effective_command(image: Dockerfile, c: dict[str, Any]) -> list[str]:
    """Kubernetes: `command` replaces ENTRYPOINT (and drops CMD); `args` alone replaces CMD."""
    command, args = c.get("command"), c.get("args")
    if command:
        return [*command, *(args or [])]
    if args is not None:
        return [*(image.entrypoint or []), *args]
    return [*(image.entrypoint or []), *(image.cmd or [])]
