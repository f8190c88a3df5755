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


# Realistic credentials an on-call bot meets in logs, env dumps, YAML/JSON and headers (security review).
PEM_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7"
GCP_SA = (
    '{"type": "service_account", "project_id": "shop-prod", "private_key_id": "1a2b3c", '
    f'"private_key": "-----BEGIN PRIVATE KEY-----\\n{PEM_BODY}\\n-----END PRIVATE KEY-----\\n", '
    '"client_email": "ci@shop-prod.iam.gserviceaccount.com"}'
)
AZURE_KEY = "Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg=="
REALISTIC = [
    ("mysql://root:hunter2hunter@mysql:3306/app", "hunter2hunter", "mysql://root:****@mysql:3306/app"),
    ("mongodb+srv://admin:Mong0Pass@c0.mongodb.net/test?w=1", "Mong0Pass", "mongodb+srv://admin:****@c0.mongodb.net"),
    ("redis://:R3disPass@redis:6379/0", "R3disPass", "redis://:****@redis:6379/0"),
    ("amqp://guest:guestpw@rabbit:5672/", "guestpw", "amqp://guest:****@rabbit:5672/"),
    ("PGPASSWORD=pgS3cret psql -h db -U app", "pgS3cret", "PGPASSWORD=**** psql -h db -U app"),
    ("MYSQL_PWD=myS3cret mysqldump app", "myS3cret", "MYSQL_PWD=****"),
    ('password="two words"', "two words", 'password="****"'),
    ("  db_password: 'quotedS3cret'", "quotedS3cret", "db_password: '****'"),
    ("x-api-key: AbCdEf0123456789XyZ", "AbCdEf0123456789XyZ", "x-api-key: ****"),
    (GCP_SA, PEM_BODY, '"client_email": "ci@shop-prod.iam.gserviceaccount.com"'),
    (
        f"DefaultEndpointsProtocol=https;AccountName=shop;AccountKey={AZURE_KEY};EndpointSuffix=core.windows.net",
        AZURE_KEY,
        "AccountName=shop;AccountKey=****;EndpointSuffix=core.windows.net",
    ),
    (
        "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=abcDEF123456789=",
        "abcDEF123456789=",
        "SharedAccessKeyName=Root;SharedAccessKey=****",
    ),
    ("Server=tcp:db;User ID=u;Password=AzSqlS3cret;", "AzSqlS3cret", "User ID=u;Password=****;"),
    ("sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "AbCdEfGhIjKlMnOpQrStUvWxYz", MASK),
    ("stripe sk_live_51HaBcDeFgHiJkLmNoPqRsTu", "51HaBcDeFgHiJkLmNoPqRsTu", "stripe ****"),
    ("webhook whsec_AbCdEfGhIjKlMnOpQrStUv", "AbCdEfGhIjKlMnOpQrStUv", "webhook ****"),
    ("npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", "AbCdEfGhIjKlMnOpQrStUvWxYz", MASK),
    ("glpat-AbCdEfGhIjKlMnOpQrSt", "AbCdEfGhIjKlMnOpQrSt", MASK),
    ("DINGTALK_APP_SECRET=dingSecretValue123456", "dingSecretValue123456", "DINGTALK_APP_SECRET=****"),
    ("FEISHU_APP_SECRET: feishuSecretValue12345", "feishuSecretValue12345", "FEISHU_APP_SECRET: ****"),
    ("appSecret: abcdefghijklmnopqrstuvwxyz123456", "abcdefghijklmnopqrstuvwxyz123456", "appSecret: ****"),
    (
        "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef0123456789abcdef",
        "0123456789abcdef0123456789abcdef",
        "robot/send?access_token=****",
    ),
    (
        "https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c3d-4e5f-6789-abcd-ef0123456789",
        "0a1b2c3d-4e5f-6789-abcd-ef0123456789",
        "open-apis/bot/v2/hook/****",
    ),
    ("client-key-data: LS0tLS1CRUdJTiBSU0EgUFJJVkFURSBLRVktLS0tLQo=", "LS0tLS1CRUdJTiBSU0Eg", "client-key-data: ****"),
    ("exec: app --password S3cretFlag --port 80", "S3cretFlag", "--password **** --port 80"),
    ("passphrase: myPassPhrase1", "myPassPhrase1", "passphrase: ****"),
    ("Cookie: session=abc123def456; theme=dark", "abc123def456", "Cookie: ****"),
    ('{"auths": {"ghcr.io": {"auth": "dXNlcjpnaHBfc2VjcmV0"}}}', "dXNlcjpnaHBfc2VjcmV0", '"auth": "****"'),
    ("- name: DB_PASSWORD\n  value: hunter2plain", "hunter2plain", "name: DB_PASSWORD\n  value: ****"),
    ('{"name":"API_TOKEN","value":"abc123xyz"}', "abc123xyz", '"value":"****"'),
    # JSON inside a JSON string (last-applied-configuration as `kubectl get -o json` prints it)
    (
        r'{"last-applied":"{\"env\":[{\"name\":\"DB_PASSWORD\",\"value\":\"hunter2x\"}]}"}',
        "hunter2x",
        r"\"value\":\"****\"",
    ),
    (r'"{\"password\":\"escapedS3cret\"}"', "escapedS3cret", r"\"password\":\"****\""),
]
ORDINARY_LOG_TEXT = [
    "2026-11-22T03:26:03.123Z INFO request id=3f2b1c4e-8d9a-4b7c-9e1f-0a2b3c4d5e6f took 12ms",
    "image: registry.io/app@sha256:9b2a7c4e5f6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f",
    "commit 1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f9a0b deployed to production",
    "Connected to postgres://db.prod:5432/orders",
    "token bucket refilled: 10 tokens",
    "password reset email sent to user 42",
    "secretName: tls-cert",
    "- name: LOG_LEVEL\n  value: debug",
    "- name: TOKEN_TTL\n  value: 3600",
    "- name: DB_PASSWORD\n  valueFrom:\n    secretKeyRef: {name: db, key: password}",
    "uid=0c8f3a1e-2b4d-4e6f-8a9b-1c2d3e4f5a6b resourceVersion=123456",
]


@pytest.mark.parametrize(("text", "secret", "context"), REALISTIC)
def test_a_realistic_credential_is_masked_and_its_context_stays_readable(text: str, secret: str, context: str) -> None:
    out = mask_text(text)
    assert secret not in out, out
    assert context in out, out
    assert mask_text(out) == out  # idempotent


@pytest.mark.parametrize("text", ORDINARY_LOG_TEXT)
def test_ordinary_log_text_with_ids_digests_and_shas_is_untouched(text: str) -> None:
    assert mask_text(text) == text


def test_a_private_key_printed_over_several_log_lines_is_masked_whole() -> None:
    from tools.k8s.reads import _clip_lines  # how pod_logs splits and masks lines

    text = "\n".join(
        [
            "2026-01-01T00:00:00Z dumping the TLS key",
            "2026-01-01T00:00:00Z -----BEGIN RSA PRIVATE KEY-----",
            PEM_BODY,
            "abcDEFghi+/0123456789abcdef==",
            "-----END RSA PRIVATE KEY-----",
            "2026-01-01T00:00:01Z listening on :8443",
        ]
    )
    logs = redact_model(LogResult(namespace="p", pod="x", container="c", lines=_clip_lines(text)))
    joined = "\n".join(logs.lines)
    assert PEM_BODY not in joined and "abcDEFghi" not in joined
    assert logs.lines[0] == "2026-01-01T00:00:00Z dumping the TLS key"
    assert logs.lines[-1] == "2026-01-01T00:00:01Z listening on :8443"
    assert logs.lines[-2] == "-----END RSA PRIVATE KEY-----"


def test_an_env_list_as_json_masks_values_by_their_name() -> None:
    env = [{"name": "API_TOKEN", "value": "abc123"}, {"name": "MODE", "value": "fast"}, {"name": "N", "value": "1"}]
    assert mask_obj({"env": env}) == {
        "env": [{"name": "API_TOKEN", "value": MASK}, {"name": "MODE", "value": "fast"}, {"name": "N", "value": "1"}]
    }
