"""The only module that reads the environment and `.env`.

Everything else receives a `Settings` instance (or the values it needs) as an argument.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir(name: str) -> Path:
    """Where `cards/` or `policies/` live: beside the packages in a checkout, or in the wheel's data."""
    local = REPO_ROOT / name
    if local.is_dir():
        return local
    import sysconfig

    return Path(sysconfig.get_paths()["purelib"]) / "kubeduty_data" / name


class Settings(BaseSettings):
    # KUBEDUTY_ENV_FILE lets tests (and packagers) point away from a developer's own `.env`.
    model_config = SettingsConfigDict(
        env_file=os.environ.get("KUBEDUTY_ENV_FILE", ".env"), env_file_encoding="utf-8", extra="ignore"
    )

    # --- store ---
    redis_url: str | None = Field(default=None, description="Redis URL; unset = in-process store (demo only)")
    allow_in_process_store: bool = Field(
        default=False, description="Development only: let `kubeduty run` start without REDIS_URL (one process)"
    )
    key_prefix: str = Field(default="kd", description="Prefix of every Redis key")
    state_ttl_seconds: int = Field(default=24 * 3600, description="TTL of conversation state")
    redis_max_connections: int = Field(
        default=50, description="Redis connections per process (per node on Cluster); more commands wait"
    )
    redis_pool_timeout_seconds: float = Field(default=5.0, description="How long a command waits for a connection")
    redis_socket_timeout_seconds: float = Field(default=5.0, description="Timeout of one Redis command")
    redis_connect_timeout_seconds: float = Field(default=3.0, description="Timeout of connecting to Redis")
    redis_retries: int = Field(default=3, description="Retries (with backoff) of Redis commands safe to repeat")
    store_outage_retry_seconds: float = Field(
        default=120.0, description="How long a message is retried while Redis is unavailable before giving up"
    )
    rate_user_per_minute: int = Field(default=30, description="Messages and clicks per user per minute (burst 10)")
    rate_chat_per_minute: int = Field(default=90, description="Messages and clicks per chat per minute (burst 30)")

    # --- kubernetes ---
    kubeconfig: str | None = Field(default=None, description="Path of the kubeconfig; unset = default loading")
    kube_context: str | None = Field(default=None, description="Default kubeconfig context (cluster)")
    kube_timeout_seconds: float = Field(default=10.0, description="Timeout of one Kubernetes API call")

    # --- LLM (any OpenAI-compatible endpoint) ---
    llm_base_url: str = Field(default="https://openrouter.ai/api/v1", description="OpenAI-compatible base URL")
    llm_api_key: SecretStr | None = Field(default=None, description="API key; unset = no LLM (rule parser)")
    llm_model: str = Field(default="google/gemini-2.5-flash", description="Model name")
    llm_timeout_seconds: float = Field(default=30.0, description="Timeout of one LLM request")
    llm_max_steps: int = Field(default=6, description="Tool-calling steps per request")

    # --- security ---
    action_secret: SecretStr = Field(
        default=SecretStr("kubeduty-demo-secret-change-me"),
        description="HMAC secret signing button payloads; set a long random value in production",
    )
    action_ttl_seconds: int = Field(default=24 * 3600, description="How long a button stays valid")
    follow_seconds: int = Field(default=180, ge=5, le=3600, description="How long a live log card follows (/logs -f)")
    follow_update_seconds: float = Field(
        default=2.0,
        ge=0.5,
        le=60,
        description="Seconds between live log card updates (raised to each platform's minimum)",
    )
    follow_max: int = Field(default=20, ge=1, le=500, description="Live log cards one replica runs at most")
    # NoDecode: the raw text reaches `_paths`, so a plain path works as well as a JSON list
    policy_files: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Policy YAML files: a JSON list, one path, or comma-separated paths; empty = policies/default.yaml",
    )
    audit_log_path: str = Field(
        default="kubeduty-audit.jsonl", description="JSON-lines audit file (rotated); empty = no file"
    )
    audit_log_max_bytes: int = Field(default=50 * 1024 * 1024, description="Rotate the audit file at this size")
    audit_log_backups: int = Field(default=5, description="Rotated audit files kept (audit.jsonl.1 ...)")
    audit_stdout: bool = Field(default=False, description="Also write each audit entry to stdout as a JSON line")
    audit_retention_seconds: int = Field(
        default=90 * 24 * 3600, description="TTL of the Redis stream of decisions and executions"
    )
    audit_stream_maxlen: int = Field(default=100_000, description="Entries kept in the decisions stream")
    audit_read_sample_rate: float = Field(
        default=1.0, description="Share of allowed reads audited (own short stream); 0 = none, denials always"
    )
    audit_read_retention_seconds: int = Field(default=7 * 24 * 3600, description="TTL of the stream of reads")
    approval_ttl_seconds: int = Field(default=15 * 60, description="How long a pending approval stays open")

    # --- MCP ---
    mcp_config: str | None = Field(default=None, description="YAML/JSON file listing external MCP servers")

    # --- DingTalk (Stream mode) ---
    dingtalk_client_id: str | None = Field(default=None, description="DingTalk app AppKey / Client ID")
    dingtalk_client_secret: SecretStr | None = Field(default=None, description="DingTalk app AppSecret")
    dingtalk_openapi_endpoint: str | None = Field(default=None, description="DingTalk OpenAPI base (SDK's own var)")
    dingtalk_card_template_id: str | None = Field(default=None, description="DingTalk interactive card template id")
    dingtalk_ai_card_template_id: str | None = Field(
        default=None, description="DingTalk AI card template id for streamed answers (unset: no streaming)"
    )

    # --- Feishu / Lark (long connection) ---
    feishu_app_id: str | None = Field(default=None, description="Feishu app id")
    feishu_app_secret: SecretStr | None = Field(default=None, description="Feishu app secret")
    feishu_domain: str = Field(default="https://open.feishu.cn", description="https://open.larksuite.com for Lark")

    # --- alerts (Alertmanager webhook receiver, bot.alerts) ---
    alerts_port: int | None = Field(default=None, description="Port of the Alertmanager webhook; unset = no receiver")
    alerts_host: str = Field(default="0.0.0.0", description="Address the webhook binds (Alertmanager reaches the pod)")
    alerts_token: SecretStr | None = Field(default=None, description="Bearer token Alertmanager must send (required)")
    alert_routes_file: str | None = Field(default=None, description="YAML routing alerts to chats by labels")
    alert_chats: list[str] = Field(default_factory=list, description="Chats for every alert when no routing file")
    alert_card_budget: int = Field(default=10, description="New alert cards per chat per minute; then one digest")
    prometheus_url: str | None = Field(default=None, description="Prometheus HTTP API base for diagnosis metrics")
    alertmanager_url: str | None = Field(default=None, description="Alertmanager base URL for silences (API v2)")
    handover_times: list[str] = Field(default_factory=list, description="Shift report times, HH:MM UTC")
    handover_chats: list[str] = Field(default_factory=list, description="Chats that get the shift report")

    # --- misc ---
    log_level: str = Field(default="INFO", description="Logging level")
    health_port: int | None = Field(
        default=None, description="Port for /healthz, /readyz and /metrics; unset = no probe server"
    )
    shutdown_grace_seconds: float = Field(
        default=20.0, description="On SIGTERM, how long in-flight turns may finish before the platforms close"
    )

    @field_validator("policy_files", mode="before")
    @classmethod
    def _paths(cls, value: object) -> object:
        """`["a.yaml","b.yaml"]`, `/etc/kd/policy.yaml` or `a.yaml, b.yaml` (paths never hold commas here)."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except ValueError as exc:
                raise ValueError(f"not a valid JSON list: {exc}") from exc
        return [p.strip() for p in text.split(",") if p.strip()]

    @property
    def llm_enabled(self) -> bool:
        return self.llm_api_key is not None and bool(self.llm_api_key.get_secret_value())


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
