"""Pytest fixtures (plugin module, loaded by tests/conftest.py)."""
