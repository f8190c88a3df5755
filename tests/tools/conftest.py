"""Fixtures of the tools tests."""

from __future__ import annotations

from tests.tools.scripted import kube, server

__all__ = ["kube", "server"]
