"""The client side of scripted incidents: `kubeduty sandbox incident oom checkout` and the demo's `/drill`.

It authenticates the way kubectl would, with the kubeconfig `kubeduty sandbox serve --kubeconfig-out` wrote
(the CA, then a token or a client certificate): breaking the cluster is a cluster-admin act, and the sandbox's
RBAC already knows who that is, so no second secret is needed. Blocking (urllib): the demo calls it in a thread.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tools.sandbox.incidents import INCIDENTS_PATH

MAX_ANSWER = 64 * 1024


class DrillFailed(Exception):
    """The sandbox refused or could not be reached; the message says why, in English."""


@dataclass(frozen=True)
class Target:
    server: str
    ca_pem: bytes | None
    token: str | None
    cert_pem: bytes | None
    key_pem: bytes | None


def _data(entry: dict[str, Any], key: str) -> bytes | None:
    if entry.get(f"{key}-data"):
        return base64.b64decode(entry[f"{key}-data"])
    if entry.get(key):
        return Path(entry[key]).expanduser().read_bytes()
    return None


def target_from_kubeconfig(path: Path, context: str | None = None) -> Target:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise DrillFailed(f"cannot read kubeconfig {path}: {exc}") from exc
    name = context or doc.get("current-context")
    ctx = next((c["context"] for c in doc.get("contexts") or [] if c.get("name") == name), None)
    if ctx is None:
        raise DrillFailed(f"kubeconfig {path} has no context {name!r}")
    cluster: dict[str, Any] = next(
        (c["cluster"] for c in doc.get("clusters") or [] if c.get("name") == ctx.get("cluster")), {}
    )
    user: dict[str, Any] = next((u["user"] for u in doc.get("users") or [] if u.get("name") == ctx.get("user")), {})
    token = user.get("token")
    if not token and user.get("tokenFile"):
        token = Path(user["tokenFile"]).read_text(encoding="utf-8").strip()
    return Target(
        server=str(cluster.get("server", "")).rstrip("/"),
        ca_pem=_data(cluster, "certificate-authority"),
        token=token,
        cert_pem=_data(user, "client-certificate"),
        key_pem=_data(user, "client-key"),
    )


def _ssl_context(target: Target, tmp: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=target.ca_pem.decode() if target.ca_pem else None)
    if target.cert_pem and target.key_pem:
        cert, key = tmp / "client.crt", tmp / "client.key"
        cert.write_bytes(target.cert_pem)
        key.write_bytes(target.key_pem)
        os.chmod(key, 0o600)
        ctx.load_cert_chain(cert, key)
    return ctx


def trigger_remote(target: Target, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    """POST the incident; returns the sandbox's answer ({kind, namespace, deployment, detail})."""
    url = target.server + INCIDENTS_PATH
    body = json.dumps({"kind": kind, "name": name, "namespace": namespace or ""}).encode()
    headers = {"Content-Type": "application/json"}
    if target.token and not target.cert_pem:
        headers["Authorization"] = f"Bearer {target.token}"
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    handlers: list[Any] = [urllib.request.ProxyHandler({})]  # the sandbox is local; no proxy in between
    with tempfile.TemporaryDirectory(prefix="kubeduty-drill-") as tmp:
        if url.startswith("https://"):
            handlers.append(urllib.request.HTTPSHandler(context=_ssl_context(target, Path(tmp))))
        opener = urllib.request.build_opener(*handlers)
        try:
            with opener.open(request, timeout=30) as response:
                answer = json.loads(response.read(MAX_ANSWER))
        except urllib.error.HTTPError as exc:
            try:
                doc = json.loads(exc.read(MAX_ANSWER))
            except ValueError:
                doc = None
            reason = doc.get("error") if isinstance(doc, dict) else None
            if exc.code in (401, 403):
                reason = f"not allowed ({exc.code}): the kubeconfig's user must be cluster-admin"
            elif reason is None and exc.code == 404:  # a real API server (or another service): no such endpoint
                reason = f"{target.server} has no incident endpoint (404): is it a `kubeduty sandbox serve`?"
            raise DrillFailed(str(reason or exc.reason)) from exc
        except (OSError, ValueError) as exc:
            raise DrillFailed(f"cannot reach the sandbox at {target.server}: {exc}") from exc
    if not isinstance(answer, dict):
        raise DrillFailed(f"{target.server} answered something that is not a sandbox's: {str(answer)[:100]}")
    return answer


def run_cli(kind: str, name: str, namespace: str | None, kubeconfig: Path | None, context: str | None) -> int:
    """`kubeduty sandbox incident`: prints one line; exit 0, 1 (refused or unreachable) or 2 (no kubeconfig)."""
    path = kubeconfig or (Path(os.environ["KUBECONFIG"].split(os.pathsep)[0]) if os.environ.get("KUBECONFIG") else None)
    if path is None:
        print("sandbox incident: give --kubeconfig (the file `kubeduty sandbox serve --kubeconfig-out` wrote)")
        return 2
    try:
        done = trigger_remote(target_from_kubeconfig(path, context), kind, name, namespace)
    except DrillFailed as exc:
        print(f"sandbox incident: {exc}")
        return 1
    print(f"incident {done.get('kind')} on {done.get('namespace')}/{done.get('deployment')}: {done.get('detail')}")
    return 0
