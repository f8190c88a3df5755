"""Masking of credential-looking values in text that leaves the cluster (logs, env values, annotations, events).

The context stays readable (`password=****`, `postgres://orders:****@db:5432`), only the secret part is
replaced. Patterns are deliberately greedy on the value side: a masked harmless word costs little, a leaked
token costs a lot.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel

MASK = "****"

_KEY_WORDS = (
    r"password|passwd|pwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?"
    r"|account[_-]?key|client[_-]?key[_-]?data|sas[_-]?token"
)

# Names (of env vars, annotations) that say their value is a credential.
_NAME_WORDS = rf"{_KEY_WORDS}|dsn|connection[_-]?string"

# An optional quote, possibly escaped (JSON printed inside JSON or YAML: `\\"password\\":\\"x\\"`).
_Q = r"(?:\\?[\"'])?"
# A value: up to a quote, separator or space (a backslash only ends it before a quote).
_VALUE = r"(?:[^\s\"',;&}\\]|\\(?![\"']))+"

# (pattern, replacement): applied in order. Replacements keep the non-secret part via groups.
_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    # PEM private key blocks (RSA/EC/OPENSSH/...), possibly cut off at the end of the text.
    (
        re.compile(
            r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)",
            re.DOTALL,
        ),
        # A block cut off at the end keeps no END marker, so `mask_lines` knows the next lines are still the key.
        lambda m: (
            f"-----BEGIN {m.group(1)}PRIVATE KEY-----{MASK}"
            + (f"-----END {m.group(1)}PRIVATE KEY-----" if "-----END " in m.group(0) else "")
        ),
    ),
    # user:password@ in URLs (postgres://, https://, redis://, amqp:// ...)
    # (the user may be empty: `redis://:password@host`)
    (re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]*):([^\s@/]+)@"), rf"\1:{MASK}@"),
    # Env-style name/value pairs as YAML or JSON print them (`- name: DB_PASSWORD\n  value: x`,
    # `{"name": "API_TOKEN", "value": "x"}`): the name says it is a secret, the value's own key does not.
    (
        re.compile(
            rf"(?i)(\bname{_Q}\s*:\s*{_Q}[A-Za-z0-9_.\-]*(?:{_NAME_WORDS})[A-Za-z0-9_.\-]*{_Q}\s*,?\s*"
            rf"{_Q}value{_Q}\s*:\s*{_Q})({_VALUE})"
        ),
        lambda m: m.group(0) if _looks_harmless(m.group(2)) else m.group(1) + MASK,
    ),
    # A quoted value after a credential key may contain spaces: mask up to the closing quote.
    (
        re.compile(rf"(?i)(\b[A-Za-z0-9_.\-]*?(?:{_KEY_WORDS})\"?\s*[:=]\s*)(\"[^\"\n]*\"|'[^'\n]*')"),
        lambda m: m.group(1) + m.group(2)[0] + MASK + m.group(2)[0],
    ),
    # Command-line flags with the value after a space: `--password hunter2`, `--db-token abc`
    (re.compile(rf"(?i)(--[A-Za-z0-9\-_]*(?:{_KEY_WORDS})[ \t]+)(?!-)([^\s\"']+)"), rf"\1{MASK}"),
    # Cookies carry session credentials
    (re.compile(r"(?im)\b((?:set-)?cookie\s*:\s*)[^\n]+"), rf"\1{MASK}"),
    # docker config: {"auths": {"registry": {"auth": "base64(user:password)"}}}
    (re.compile(r'(?i)("auth"\s*:\s*")[^"]+'), rf"\1{MASK}"),
    # Authorization headers: Bearer / Basic / token schemes
    (re.compile(r"(?i)\b(authorization\s*[:=]\s*\"?)(bearer|basic|token)\s+[^\s\"',;]+"), rf"\1\2 {MASK}"),
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]{8,}=*"), rf"\1 {MASK}"),
    # AWS secret access key in key=value / key: value form, before the generic rule (the key name differs)
    (
        re.compile(r"(?i)\b(aws_?secret_?access_?key|aws_?session_?token)(\"?\s*[:=]\s*\"?)[A-Za-z0-9/+=]{16,}"),
        rf"\1\2{MASK}",
    ),
    # Generic key=value, key: value, "key": "value" pairs whose key names a credential
    (
        re.compile(
            rf"(?i)(\b[A-Za-z0-9_.\-]*?(?:{_KEY_WORDS}){_Q}\s*[:=]\s*{_Q})({_VALUE})",
        ),
        lambda m: m.group(1) + (m.group(2) if m.group(2) == MASK else MASK),
    ),
    # JSON Web Tokens (three base64url parts, header starts with eyJ)
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}"), MASK),
    # GitHub tokens (classic and fine-grained)
    (re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}\b"), MASK),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}\b"), MASK),
    # AWS access key ids
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"), MASK),
    # Slack tokens and webhooks
    (re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"), MASK),
    (re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+"), f"https://hooks.slack.com/services/{MASK}"),
    # Google API keys, Stripe/OpenAI-style secret keys
    (re.compile(r"\bAIza[0-9A-Za-z\-_]{35}\b"), MASK),
    (re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b"), MASK),
    (re.compile(r"\bsk-(?:proj-|or-v1-)?[A-Za-z0-9_\-]{20,}\b"), MASK),
    (re.compile(r"\b(?:whsec|pk_live|sk_ant)_[A-Za-z0-9]{16,}\b"), MASK),
    # npm, GitLab, Hugging Face tokens
    (re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), MASK),
    (re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}"), MASK),
    (re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"), MASK),
    # Feishu/Lark and DingTalk incoming-webhook URLs: the path (or access_token) is the credential
    (
        re.compile(r"(https://open\.(?:feishu\.cn|larksuite\.com)/open-apis/bot/v2/hook/)[A-Za-z0-9\-]+"),
        rf"\1{MASK}",
    ),
]

# Env var / annotation NAMES whose plain value is a credential whatever it looks like.
_SECRET_NAME = re.compile(rf"(?i)({_NAME_WORDS})")


# Something every rule above needs (a superset): text without any of it is returned at once, which keeps
# redaction of big listings (thousands of names, images, timestamps) cheap.
_ANY = re.compile(
    rf"(?i){_NAME_WORDS}|://|private key|authorization|bearer|cookie|\"auth\"|open-apis/bot|eyj"
    r"|gh[pousr]_|github_pat_|akia|asia|agpa|aida|aroa|anpa|anva|aipa|xox|aiza|[sr]k_|sk-|whsec_|pk_live|npm_"
    r"|glpat-|hf_"
)


def mask_text(text: str) -> str:
    """Mask every credential-looking part of `text`; text with none comes back unchanged."""
    if not text or not _ANY.search(text):
        return text
    for pattern, repl in _RULES:
        text = pattern.sub(repl, text)
    return text


def mask_value(name: str, value: str) -> str:
    """A value stored under `name` (env var, annotation key): fully masked when the name says it is a secret,
    else pattern-masked (so `DATABASE_URL=postgres://u:p@h` keeps host and user)."""
    if not value:
        return value
    masked = mask_text(value)
    if masked != value:
        return masked
    if _SECRET_NAME.search(name) and not _looks_harmless(value):
        return MASK
    return value


def _looks_harmless(value: str) -> bool:
    # Booleans, numbers and file paths under secret-sounding names (PASSWORD_FILE=/run/secrets/x) are not secrets.
    return value.lower() in {"true", "false", "yes", "no", "none", "null"} or value.isdigit() or value.startswith("/")


_PEM_OPEN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?!.*-----END [A-Z0-9 ]*PRIVATE KEY-----)")
_PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY-----")


def mask_lines(lines: list[Any]) -> list[Any]:
    """Mask each line, and every line of a private key printed over several lines (log lines one by one)."""
    out: list[Any] = []
    inside = False
    for line in lines:
        if not isinstance(line, str):
            out.append(mask_obj(line))
            continue
        if inside:
            end = _PEM_END.search(line)
            if end is None:
                out.append(MASK)
                continue
            inside = False
            out.append((MASK if end.start() else "") + mask_text(line[end.start() :]))
            continue
        masked = mask_text(line)
        inside = _PEM_OPEN.search(masked) is not None
        out.append(masked)
    return out


def mask_obj(obj: Any) -> Any:
    """Walk dicts/lists/strings (JSON-like data) and mask every string; dict values by their key too."""
    if isinstance(obj, str):
        return mask_text(obj)
    if isinstance(obj, dict):
        out: dict[Any, Any] = {}
        for k, v in obj.items():
            out[k] = mask_value(str(k), v) if isinstance(v, str) else mask_obj(v)
        # An env-style {"name": "DB_PASSWORD", "value": "..."}: the name is the key that says "secret".
        name, value = obj.get("name"), out.get("value")
        if isinstance(name, str) and isinstance(value, str) and value != MASK:
            out["value"] = mask_value(name, value)
        return out
    if isinstance(obj, list):
        return mask_lines(obj)
    if isinstance(obj, tuple):
        return tuple(mask_obj(v) for v in obj)
    return obj


M = TypeVar("M", bound=BaseModel)


def redact_model(model: M) -> M:
    """A copy of a result model with every string masked (validated again into the same type)."""
    data = model.model_dump(mode="python")
    return type(model).model_validate(mask_obj(data))
