"""The README's examples run as printed: the Quick start is two commands, every piped demo line of it answers,
the policy check/explain transcript is what the commands print, and the console features the README names
(`--user` / `/as`, `/incidents`, `/metrics`, `/drill`) answer in the demo with nothing installed."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

from tests.demo.session import KUBEDUTY, DemoSession

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def blocks(text: str, lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", text, re.DOTALL)


def run(args: list[str], stdin: bytes = b"") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBEDUTY_ENV_FILE": os.devnull, "NO_COLOR": "1"}
    for name in ("PROMETHEUS_URL", "ALERTMANAGER_URL", "ALERTS_PORT", "ALERTS_TOKEN", "REDIS_URL"):
        env.pop(name, None)  # as a newcomer runs it
    proc = subprocess.run(args, input=stdin, capture_output=True, timeout=120, env=env, cwd=ROOT, check=False)
    return subprocess.CompletedProcess(args, proc.returncode, proc.stdout.decode(), proc.stderr.decode())


def test_the_quick_start_is_exactly_make_demo_and_make_test() -> None:
    first = blocks(section("Quick start"), "sh")[0]
    commands = [line.split("#")[0].strip() for line in first.splitlines() if line.split("#")[0].strip()]
    assert commands == ["make demo", "make test"]


def test_every_piped_demo_line_in_the_quick_start_gets_an_answer_for_each_message() -> None:
    piped = [line for b in blocks(section("Quick start"), "sh") for line in b.splitlines() if "| .venv/bin/" in line]
    assert len(piped) >= 2, "the Quick start shows the scripted demo"
    for line in piped:
        printf, _, command = line.partition("|")
        script = shlex.split(printf)[1].encode().decode("unicode_escape").encode("latin-1").decode("utf-8")
        proc = run([KUBEDUTY, *shlex.split(command)[1:]], script.encode())
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr
        messages = [m for m in script.splitlines() if m.strip()]
        # the welcome card, then at least one card per message
        assert proc.stdout.count("┌─") >= len(messages) + 1, (line, proc.stdout[-2000:])
        assert proc.stdout.rstrip().endswith("└─")


def test_the_policy_check_and_explain_transcript_is_what_the_commands_print() -> None:
    transcript = blocks(section("Permissions and approvals"), "console")[0]
    commands = [(m.start(), m.group(1)) for m in re.finditer(r"^\$ (.+)$", transcript, re.MULTILINE)]
    assert [c.split()[:3] for _, c in commands] == [["kubeduty", "policy", "check"], ["kubeduty", "policy", "explain"]]
    for i, (at, command) in enumerate(commands):
        end = commands[i + 1][0] if i + 1 < len(commands) else len(transcript)
        printed = transcript[at:end].split("\n", 1)[1].strip()
        proc = run([KUBEDUTY, *shlex.split(command)[1:]])
        assert proc.returncode in (0, 3), proc.stderr  # 3: explain's "needs approval", as the README says
        assert proc.stdout.strip() == printed


def test_alice_asks_a_production_change_and_bob_approves_it_after_slash_as_as_the_commands_table_says() -> None:
    assert "`kubeduty demo --user alice`, then `/as bob`" in README
    with DemoSession("--user", "alice") as demo:
        at = demo.say("/scale production/orders 2")
        card = demo.card("Confirm change", after=at, within=90)
        assert "alice cannot approve" in card and "Approve" in card
        at = demo.say("/as bob")
        demo.line("bob", after=at, within=90)
        at = demo.say("Approve")
        done = demo.card("Done", after=at, contains="bob", within=90)
        assert "alice" in done and "Deployment/orders" in done and "1 → 2" in done


def test_the_on_call_commands_the_readme_names_answer_in_the_demo_with_nothing_installed() -> None:
    section_text = section("On call: alerts in the chat")
    assert "`/incidents`" in section_text and "`/metrics <workload> [-n ns]`" in section_text
    assert "`/drill oom checkout`" in section_text  # the loop it names runs end to end: test_oncall_demo.py
    proc = run([KUBEDUTY, "demo"], b"/incidents\n/metrics orders -n production\n")
    assert proc.returncode == 0 and "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    assert "PROMETHEUS_URL" in proc.stdout  # the demo has no Prometheus: /metrics says so, as the README does
    assert "PROMETHEUS_URL" in section_text[section_text.index("`/metrics") :][:400]
