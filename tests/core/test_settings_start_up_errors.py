"""POLICY_FILES takes a JSON list, one path or comma-separated paths; a bad setting is one line and exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import load_settings

KUBEDUTY = str(Path(sys.executable).with_name("kubeduty"))


@pytest.mark.parametrize(
    ("raw", "paths"),
    [
        ("/etc/kubeduty/policy.yaml", ["/etc/kubeduty/policy.yaml"]),
        ("a.yaml, b.yaml", ["a.yaml", "b.yaml"]),
        ('["a.yaml", "b.yaml"]', ["a.yaml", "b.yaml"]),
        ("", []),
    ],
)
def test_policy_files_accepts_a_json_list_a_single_path_or_comma_separated_paths(
    monkeypatch: pytest.MonkeyPatch, raw: str, paths: list[str]
) -> None:
    monkeypatch.setenv("KUBEDUTY_ENV_FILE", os.devnull)
    monkeypatch.setenv("POLICY_FILES", raw)
    assert load_settings().policy_files == paths


@pytest.mark.parametrize("verb", [["run"], ["chat"], ["demo"]])
@pytest.mark.parametrize(("name", "value"), [("POLICY_FILES", "[not json"), ("FOLLOW_MAX", "many")])
def test_a_bad_setting_at_start_up_is_one_friendly_line_and_exit_2(verb: list[str], name: str, value: str) -> None:
    env = {**os.environ, "KUBEDUTY_ENV_FILE": os.devnull, name: value}
    proc = subprocess.run([KUBEDUTY, *verb], input=b"", capture_output=True, timeout=120, env=env, check=False)
    err = proc.stderr.decode()
    assert proc.returncode == 2, err
    assert "Traceback" not in err + proc.stdout.decode()
    assert f"setting {name} is invalid" in err and len(err.strip().splitlines()) == 1, err
