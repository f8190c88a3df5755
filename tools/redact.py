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

_KEY_WORDS = r"password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?"

# (pattern, replacement): applied in order. Replacements keep the non-secret part via groups.
_RULES: list[tuple[re.Pattern[str], str | Callable[[re.Match[str]], str]]] = [
    # PEM private key blocks (RSA/EC/OPENSSH/...), possibly cut off at the end of the text.
    (
        re.compile(
            r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----.*?(?:-----END \1PRIVATE KEY-----|\Z)",
            re.DOTALL,
        ),
        lambda m: f"-----BEGIN {m.group(1)}PRIVATE KEY-----{MASK}-----END {m.group(1)}PRIVATE KEY-----",
    ),
    # user:password@ in URLs (postgres://, https://, redis://, amqp:// ...)
    (re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]+):([^\s@/]+)@"), rf"\1:{MASK}@"),
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
            rf"(?i)(\b[A-Za-z0-9_.\-]*?(?:{_KEY_WORDS})\"?'?\s*[:=]\s*\"?'?)([^\s\"',;&}}]+)",
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
]

# Env var / annotation NAMES whose plain value is a credential whatever it looks like.
_SECRET_NAME = re.compile(rf"(?i)({_KEY_WORDS}|dsn|connection[_-]?string)")


def mask_text(text: str) -> str:
    """Mask every credential-looking part of `text`; text with none comes back unchanged."""
    if not text:
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


def mask_obj(obj: Any) -> Any:
    """Walk dicts/lists/strings (JSON-like data) and mask every string; dict values by their key too."""
    if isinstance(obj, str):
        return mask_text(obj)
    if isinstance(obj, dict):
        out: dict[Any, Any] = {}
        for k, v in obj.items():
            out[k] = mask_value(str(k), v) if isinstance(v, str) else mask_obj(v)
        return out
    if isinstance(obj, list):
        return [mask_obj(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(mask_obj(v) for v in obj)
    return obj


M = TypeVar("M", bound=BaseModel)


def redact_model(model: M) -> M:
    """A copy of a result model with every string masked (validated again into the same type)."""
    data = model.model_dump(mode="python")
    return type(model).model_validate(mask_obj(data))
