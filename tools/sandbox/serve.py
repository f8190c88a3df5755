"""`kubeduty sandbox serve`: run the sandbox cluster in the foreground until Ctrl-C or SIGTERM."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from tools.sandbox.handle import start_sandbox_thread


def serve(
    *,
    port: int,
    kubeconfig_out: Path | None,
    seed: str,
    namespaces: int,
    pods: int,
    insecure_http: bool = False,
    users: Path | None = None,
    manifests: Path | None = None,
    freeze_time: bool = False,
    speed: float = 1.0,
    alert_webhook: str | None = None,
    alert_token: str = "",
) -> int:
    try:
        handle = start_sandbox_thread(
            seed=seed,
            port=port,
            namespaces=namespaces,
            pods=pods,
            tls=not insecure_http,
            users_file=users,
            manifests=manifests,
            live=not freeze_time,
            speed=speed,
        )
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        print(f"sandbox: cannot start: {exc}", file=sys.stderr)
        return 1
    emitter = None
    if alert_webhook:  # the sandbox as its own Prometheus + Alertmanager (tools.sandbox.alerting)
        from tools.sandbox.alerting import AlertEmitter

        emitter = AlertEmitter(handle.cluster, url=alert_webhook, token=alert_token).start()
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        kubeconfig = handle.write_kubeconfig(kubeconfig_out) if kubeconfig_out else handle.kubeconfig_path
        clock = "time frozen" if freeze_time else f"time moves (speed {speed:g})"
        print(f"sandbox cluster ({seed}, {clock}) listening on {handle.url}", flush=True)
        print(f"kubeconfig: {kubeconfig}  (kubectl --kubeconfig {kubeconfig} get pods -A)", flush=True)
        while not stop.wait(0.5):
            pass
        print("sandbox: stopping", flush=True)
    finally:
        if emitter is not None:
            emitter.stop()
        handle.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
