"""The on-call loop in `kubeduty demo`, with nothing installed: the sandbox plays Prometheus and Alertmanager.

Alice drills an OOM on checkout (healthy in the seed; orders' standing OOM would mix in), claims and diagnoses
the alert, asks for the OOM runbook; she cannot approve her own production change, Bob can; it runs, the fix
is verified on the cluster (no Prometheus, said so), the alert resolves and the same card becomes the incident
report. The transcript is saved for the on-call note."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.demo.session import KUBEDUTY, DemoSession

# a live demo process walks the whole loop (pods start, crash and recover on the sandbox's clock): on a loaded
# 2-core CI machine that takes longer than the suite's default per-test limit
pytestmark = pytest.mark.timeout(360)


def save(session: DemoSession) -> None:
    """`KUBEDUTY_DEMO_TRANSCRIPT=path` keeps the loop's transcript (quoted in release notes)."""
    target = os.environ.get("KUBEDUTY_DEMO_TRANSCRIPT")
    if not target:
        return
    try:
        Path(target).write_text(session.transcript(), encoding="utf-8")
    except OSError:  # an unwritable path must not fail the loop itself
        pass


def test_alice_drills_an_oom_that_is_alerted_claimed_diagnosed_fixed_with_bobs_approval_verified_and_resolved() -> None:
    with DemoSession("--user", "alice") as demo:
        try:
            # 1. the drill breaks checkout in the sandbox; the sandbox's rules fire; the card reaches the console
            at = demo.say("/drill oom checkout")
            assert "演练开始：production/checkout" in demo.line("演练开始", after=at)
            alert = demo.card("[P1] 告警：KubePodOOMKilled · production/checkout", after=at)
            assert "无人认领" in alert and "[1] 认领" in alert and "[2] 诊断" in alert
            assert "内存不足：调高内存上限" in alert, "the matching runbook is offered on the alert card"

            # 2. claimed by alice, shown on the card
            at = demo.say("认领")
            claimed = demo.card("告警：KubePodOOMKilled", after=at, contains="已认领 · alice")
            assert "认领人   : alice" in claimed and "[1] 认领" not in claimed
            demo.line("你已认领此告警", after=at)

            # 3. the diagnosis without Prometheus says so, ranks the memory limit first, proposes the OOM runbook
            at = demo.say("诊断")
            diagnosis = demo.card("诊断：KubePodOOMKilled · production/checkout", after=at)
            assert "未配置 Prometheus" in diagnosis
            first = re.search(r"1\. (.+)", diagnosis)
            assert first is not None and "内存上限过低" in first.group(1)
            assert "执行预案：内存不足：调高内存上限" in diagnosis

            # 4. the runbook's step goes through the gate: dry-run preview, a second person needed
            at = demo.say("执行预案：内存不足：调高内存上限")
            preview = demo.card("确认改动", after=at, contains="512Mi")
            assert "256Mi" in preview and "批准并执行" in preview and "alice 不能自己批准" in preview

            # 5. alice cannot approve her own change; bob does, and exactly that call runs
            at = demo.say("批准并执行")
            assert "不能批准自己的请求" in demo.line("不能批准", after=at)
            assert "已执行" not in "".join(c.splitlines()[0] for c in demo.cards(at))
            at = demo.say("/as bob")
            assert "bob" in demo.line("现在以 bob 的身份输入", after=at)
            at = demo.say("批准并执行")
            done = demo.card("已执行：调整容器资源", after=at)
            assert "批准 / 确认 : bob" in done and "256Mi → 512Mi" in done

            # 6. verified on the cluster (honestly labelled), resolved: the same card is now the incident report
            report = demo.card("[P1] 已恢复：KubePodOOMKilled · production/checkout", after=at, contains="修复已验证")
            assert "事件报告" in report and "MTTA" in report and "MTTR" in report
            assert "按集群状态验证" in report, "the card says the fix was verified on the cluster, not by metrics"
            assert "原因：内存上限过低" in report
            assert "处理：内存不足：调高内存上限（bob）" in report and "处理人：alice" in report
            for step in (
                "告警触发",
                "已认领 · alice",
                "已诊断",
                "建议执行预案",
                "预案已执行 · bob",
                "修复已验证",
                "已恢复",
            ):
                assert step in report, step
            assert "[1]" not in report, "a resolved card has no buttons left"
        finally:
            save(demo)
        code, err = demo.close()
    assert code == 0, err
    assert "Traceback" not in err
    # one alert card for the group, updated in place (↻), never reposted
    first_prints = [c for c in demo.cards() if "KubePodOOMKilled" in c.splitlines()[0] and "↻" not in c.splitlines()[0]]
    assert len([c for c in first_prints if "诊断：" not in c.splitlines()[0]]) == 1


def test_a_bad_release_drilled_on_checkout_is_rolled_back_with_approval_and_its_crash_loop_alert_resolves() -> None:
    """The sandbox's controller removes the bad revision's pod on the rollback (RollingUpdate, as a real cluster):
    the crash-looping pod goes, the alert resolves and the card becomes the report."""
    with DemoSession("--user", "alice") as demo:
        at = demo.say("/drill badrollout checkout")
        demo.card("告警：KubePodCrashLooping · production/checkout", after=at)
        at = demo.say("诊断")
        diagnosis = demo.card("诊断：KubePodCrashLooping · production/checkout", after=at)
        assert "执行预案：发布异常：回滚到上一版本" in diagnosis
        at = demo.say("执行预案：发布异常：回滚到上一版本")
        demo.card("确认改动", after=at, contains="批准并执行")
        at = demo.say("/as bob")
        at = demo.say("批准并执行")
        demo.card("已执行", after=at)
        report = demo.card("已恢复：KubePodCrashLooping · production/checkout", after=at)
        assert "事件报告" in report
        code, err = demo.close()
    assert code == 0 and "Traceback" not in err, err


def test_a_drill_with_an_unknown_kind_or_workload_gets_a_friendly_answer_and_breaks_nothing() -> None:
    with DemoSession() as demo:
        at = demo.say("/drill flood orders")
        assert "用法：/drill" in demo.line("用法", after=at) and "oom, crashloop" in demo.output[at:]
        at = demo.say("/演练 oom nosuch")
        assert "没有名为 nosuch 的 Deployment" in demo.line("演练没有开始", after=at)
        at = demo.say("/drill oom")
        demo.line("用法", after=at)
        at = demo.say("/drill oom orders -n kube-system")
        assert "命名空间 kube-system 里没有名为 orders 的 Deployment" in demo.line("演练没有开始", after=at)
        code, err = demo.close()
    assert code == 0 and "Traceback" not in err
    assert "告警：" not in demo.output, "nothing fired: nothing was broken"


def test_the_whole_loop_piped_at_once_ends_on_the_incident_report() -> None:
    """A script (`printf ... | kubeduty demo`): input ends right after the approval; the demo lets the runbook
    it just ran verify and resolve before it exits, so the script's output ends on the report."""
    script = "\n".join(
        ["/drill oom checkout", "认领", "诊断", "执行预案：内存不足：调高内存上限", "/as bob", "批准并执行", ""]
    )
    env = {**os.environ, "KUBEDUTY_ENV_FILE": os.devnull}
    for name in ("PROMETHEUS_URL", "ALERTS_PORT", "ALERTS_TOKEN", "REDIS_URL"):
        env.pop(name, None)
    proc = subprocess.run(
        [KUBEDUTY, "demo", "--user", "alice"], input=script.encode(), capture_output=True, timeout=300, env=env
    )
    out, err = proc.stdout.decode(), proc.stderr.decode()
    assert proc.returncode == 0 and "Traceback" not in err, err
    last = out[out.rindex("┌─") :]
    assert "已恢复：KubePodOOMKilled" in last.splitlines()[0] and "事件报告" in last and "修复已验证" in last


DEV_ONLY_POLICY = """
version: 1
chat_groups: {allowed: ["console:*"]}
roles:
  dev-viewer:
    rules: [{name: read-dev, verbs: ["*", "!audit"], risks: [read], namespaces: [dev]}]
bindings:
  - {name: dev-readers, role: dev-viewer, subjects: ["*"], chats: ["group:allowed"]}
"""


def test_a_drill_in_a_namespace_the_user_may_not_read_is_refused_before_anything_breaks(tmp_path: Path) -> None:
    policy = tmp_path / "dev-only.yaml"
    policy.write_text(DEV_ONLY_POLICY)
    os.environ["POLICY_FILES"], saved = json.dumps([str(policy)]), os.environ.get("POLICY_FILES")
    try:
        demo = DemoSession("--user", "alice")
    finally:
        if saved is None:
            del os.environ["POLICY_FILES"]
        else:
            os.environ["POLICY_FILES"] = saved
    with demo:
        at = demo.say("/drill oom orders")
        assert "你没有权限查看命名空间 production" in demo.line("演练没有开始", after=at)
        code, err = demo.close()
    assert code == 0 and "Traceback" not in err
    assert "演练开始" not in demo.output and "告警：" not in demo.output, "nothing was broken, nothing fired"
