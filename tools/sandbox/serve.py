"""`kubeduty sandbox serve`: filled in by the sandbox work."""

from __future__ import annotations

from pathlib import Path


def serve(*, port: int, kubeconfig_out: Path | None, seed: str, namespaces: int, pods: int) -> int:
    raise NotImplementedError
