"""What `kubeduty run` refuses to start with (production), checked before anything connects.

`kubeduty demo` and `kubeduty chat` never call this: they keep their embedded defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.approvals.audit_sinks import AuditConfigError, check_writable
from bot.settings import Settings

MIN_SECRET_CHARS = 32


@dataclass
class Preflight:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _demo_secret() -> str:
    default = Settings.model_fields["action_secret"].default
    return str(default.get_secret_value())


def check_production(settings: Settings) -> Preflight:
    result = Preflight()
    secret = settings.action_secret.get_secret_value()
    if not secret.strip():
        result.errors.append(
            "ACTION_SECRET is empty: every button would be signed with an empty key. "
            "Set a long random value, the same on every replica (e.g. `openssl rand -hex 32`). "
            "/ ACTION_SECRET 为空：请设置一个足够长的随机值（各副本相同）。"
        )
    elif secret == _demo_secret():
        result.errors.append(
            "ACTION_SECRET is the public demo value: anyone could sign buttons (approve changes). "
            "Set a long random value, the same on every replica (e.g. `openssl rand -hex 32`). "
            "/ ACTION_SECRET 仍是公开的演示值：任何人都能伪造按钮，请设置随机值。"
        )
    elif len(secret) < MIN_SECRET_CHARS:
        result.warnings.append(
            f"ACTION_SECRET is shorter than {MIN_SECRET_CHARS} characters; use a longer random value"
        )
    if not settings.redis_url:
        if settings.allow_in_process_store:
            result.warnings.append(
                "!!! ALLOW_IN_PROCESS_STORE=true: running WITHOUT Redis. Conversations, dedupe, approvals and the "
                "audit stream live in this process only and are lost on restart; never run a second replica like "
                "this. For development only. / 未配置 REDIS_URL，仅限开发使用：状态只在本进程内，重启即丢失。 !!!"
            )
        else:
            result.errors.append(
                "REDIS_URL is not set: replicas would share nothing and a restart would forget every approval. "
                "Set REDIS_URL (redis://, rediss://, redis+sentinel://…, redis+cluster://…; see deploy/README.md), "
                "or for a single development process set ALLOW_IN_PROCESS_STORE=true. "
                "/ 未设置 REDIS_URL：请配置 Redis（开发环境可设 ALLOW_IN_PROCESS_STORE=true）。"
            )
    if settings.audit_log_path:
        try:
            check_writable(settings.audit_log_path)
        except AuditConfigError as exc:
            result.errors.append(str(exc))
    return result
