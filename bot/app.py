"""Composition root: builds everything from settings. Filled in by the conversation work."""

from __future__ import annotations


def run_demo() -> int:
    raise NotImplementedError


def run_console() -> int:
    raise NotImplementedError


def run_platforms() -> int:
    raise NotImplementedError
