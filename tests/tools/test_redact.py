"""Redaction: credential-looking values are masked, the context around them stays readable, normal text is untouched."""

from __future__ import annotations

import pytest

from tools.k8s.models import EnvVarInfo, LogResult
from tools.redact import MASK, mask_obj, mask_text, mask_value, redact_model

JWT = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJvcmRlcnMiLCJpYXQiOjE3MDAwMDAwMDB9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
GHP = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"

# (text, secret that must disappear, context that must survive)
MASKED = [
    (
        "DATABASE_URL=postgres://orders:S3cr3t-Passw0rd@db.production:5432/orders",
        "S3cr3t-Passw0rd",
        "postgres://orders:****@db.production:5432/orders",
    ),
    ("connecting to redis://default:pa55word@redis:6379/0", "pa55word", "redis://default:****@redis:6379/0"),
    ("https://admin:letmein@git.example.com/repo.git", "letmein", "https://admin:****@git.example.com"),
    ("login ok password=hunter2 user=bob", "hunter2", "password=****"),
    ("passwd: hunter2", "hunter2", "passwd: ****"),
    ("DB_PASSWORD=correct-horse-battery", "correct-horse-battery", "DB_PASSWORD=****"),
    ('{"password": "s3cr3t!", "user": "x"}', "s3cr3t!", '"password": "****"'),
    ("client_secret=abcdef123456 scope=read", "abcdef123456", "client_secret=****"),
    ("secret=abc&next=/home", "abc&", "secret=****&next=/home"),
    ("token=tok_12345abcdef", "tok_12345abcdef", "token=****"),
    ("api_key=AbC123xyz987", "AbC123xyz987", "api_key=****"),
    ("X-Api-Key: 0123456789abcdef", "0123456789abcdef", "X-Api-Key: ****"),
    (f"Authorization: Bearer {JWT}", JWT, "Authorization: Bearer ****"),
    ("authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA==", "authorization: Basic ****"),
    (f"got token {JWT} from idp", JWT, "got token"),
    (f"curl -H 'Authorization: bearer {GHP}'", GHP, "Authorization: bearer ****"),
    (f"git clone https://{GHP}@github.com/x/y", GHP, "github.com/x/y"),
    (f"GITHUB_TOKEN {GHP}", GHP, "GITHUB_TOKEN"),
    ("key id AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE", "key id **** used"),
    (f"AWS_SECRET_ACCESS_KEY={AWS_SECRET}", AWS_SECRET, "AWS_SECRET_ACCESS_KEY=****"),
    (f'aws_secret_access_key = "{AWS_SECRET}"', AWS_SECRET, "aws_secret_access_key"),
    ("slack xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "xoxb-123456789012", "slack ****"),
    ("hook https://hooks.slack.com/services/T000/B000/XXXXXXXX", "T000/B000/XXXXXXXX", "hooks.slack.com/services/****"),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx\nabc\n-----END RSA PRIVATE KEY-----",
        "MIIEowIBAAKCAQEAx",
        "BEGIN RSA PRIVATE KEY",
    ),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk", "b3BlbnNzaC1rZXk", "BEGIN OPENSSH PRIVATE KEY"),
    ("openai sk-proj-abcdefghijklmnopqrstuvwxyz012345", "abcdefghijklmnopqrstuvwxyz012345", "openai ****"),
    ("google AIzaSyA1234567890abcdefghijklmnopqrstuv", "AIzaSyA1234567890abcdefghijklmnopqrstuv", "google ****"),
]

UNTOUCHED = [
    "Back-off restarting failed container payment-api in pod payment-api-7d9f8-abcde_dev(1234)",
    "0/3 nodes are available: 3 Insufficient memory. preemption: 0/3 nodes are available",
    'Failed to pull image "registry.example.com/frontend:v2.3.1-typo": not found',
    "cart-service v2.0.0-canary: new pricing engine enabled",
    "panic: dial tcp 10.0.3.7:5432: connect: connection refused",
    "GET /api/v1/orders?page=2 200 13ms",
    "tests passed: 5, failed: 0",
    "max_tokens: 1024 temperature: 0.2",
    "the password field is required",
    "https://example.com/path?q=1",
    "user@example.com signed in",
    "secretKeyRef db-credentials/password",
    "sha256:4a5b6c7d8e9f00112233445566778899aabbccddeeff00112233445566778899",
    "消息: 订单已创建 order_id=42",
    "",
]


@pytest.mark.parametrize(("text", "secret", "context"), MASKED)
def test_a_credential_is_masked_and_its_context_stays_readable(text: str, secret: str, context: str) -> None:
    out = mask_text(text)
    assert secret not in out
    assert MASK in out
    assert context in out


@pytest.mark.parametrize("text", UNTOUCHED)
def test_normal_text_comes_back_unchanged(text: str) -> None:
    assert mask_text(text) == text


def test_masking_twice_changes_nothing_more() -> None:
    for text, _, _ in MASKED:
        once = mask_text(text)
        assert mask_text(once) == once


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("DB_PASSWORD", "plain-value", MASK),
        ("API_TOKEN", "abc", MASK),
        ("STRIPE_SECRET", "whatever", MASK),
        ("DATABASE_URL", "postgres://orders:S3cr3t-Passw0rd@db:5432/orders", "postgres://orders:****@db:5432/orders"),
        ("PASSWORD_FILE", "/run/secrets/db", "/run/secrets/db"),
        ("TOKEN_TTL", "3600", "3600"),
        ("LOG_LEVEL", "debug", "debug"),
        ("example.com/api-token", GHP, MASK),
    ],
)
def test_a_value_is_masked_by_its_name_or_its_shape(name: str, value: str, expected: str) -> None:
    assert mask_value(name, value) == expected


def test_walking_json_masks_nested_strings_and_values_under_secret_keys() -> None:
    data = {"a": ["password=hunter2", {"token": "plain"}], "n": 3, "ok": "fine"}
    assert mask_obj(data) == {"a": ["password=****", {"token": MASK}], "n": 3, "ok": "fine"}


def test_a_result_model_is_redacted_into_the_same_type() -> None:
    logs = LogResult(namespace="p", pod="x", container="c", lines=["ok", f"Authorization: Bearer {JWT}"])
    out = redact_model(logs)
    assert isinstance(out, LogResult)
    assert out.lines == ["ok", "Authorization: Bearer ****"]
    env = EnvVarInfo(name="DB", source="secretKeyRef db-credentials/password")
    assert redact_model(env) == env
