"""Masking of credential-looking values in text that leaves the cluster (logs, env values, annotations, events).

The context stays readable (`password=****`, `postgres://orders:****@db:5432`), only the secret part is
replaced. Patterns are deliberately greedy on the value side: a masked harmless word costs little, a leaked
token costs a lot.
"""

from __future__ import annotations

import functools
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

# Literal needles (casefolded) whose presence a credential key word needs: `_KEY_WORDS` reduced to the
# substrings every alternative contains.
_KEY_NEEDLES = ("pass", "pwd", "secret", "token", "key", "credential")
_NAME_NEEDLES = (*_KEY_NEEDLES, "dsn", "connection")

Repl = str | Callable[[re.Match[str]], str]

# (needles, pattern, replacement): applied in order to a text whose casefolded form contains one of the rule's
# needles (a superset of what the pattern can match, so skipping a rule never skips a match). Replacements keep
# the non-secret part via groups.
_RULES: list[tuple[tuple[str, ...], re.Pattern[str], Repl]] = [
    # PEM private key blocks (RSA/EC/OPENSSH/...), possibly cut off at the end of the text.
    (
        ("private key",),
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
    (("://",), re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.\-]*://[^\s:/@]*):([^\s@/]+)@"), rf"\1:{MASK}@"),
    # Env-style name/value pairs as YAML or JSON print them (`- name: DB_PASSWORD\n  value: x`,
    # `{"name": "API_TOKEN", "value": "x"}`): the name says it is a secret, the value's own key does not.
    (
        ("value",),
        re.compile(
            rf"(?i)(\bname{_Q}\s*:\s*{_Q}[A-Za-z0-9_.\-]*(?:{_NAME_WORDS})[A-Za-z0-9_.\-]*{_Q}\s*,?\s*"
            rf"{_Q}value{_Q}\s*:\s*{_Q})({_VALUE})"
        ),
        lambda m: m.group(0) if _looks_harmless(m.group(2)) else m.group(1) + MASK,
    ),
    # A quoted value after a credential key may contain spaces: mask up to the closing quote.
    (
        _KEY_NEEDLES,
        re.compile(rf"(?i)(\b[A-Za-z0-9_.\-]*?(?:{_KEY_WORDS})\"?\s*[:=]\s*)(\"[^\"\n]*\"|'[^'\n]*')"),
        lambda m: m.group(1) + m.group(2)[0] + MASK + m.group(2)[0],
    ),
    # Command-line flags with the value after a space: `--password hunter2`, `--db-token abc`
    (_KEY_NEEDLES, re.compile(rf"(?i)(--[A-Za-z0-9\-_]*(?:{_KEY_WORDS})[ \t]+)(?!-)([^\s\"']+)"), rf"\1{MASK}"),
    # Cookies carry session credentials
    (("cookie",), re.compile(r"(?im)\b((?:set-)?cookie\s*:\s*)[^\n]+"), rf"\1{MASK}"),
    # docker config: {"auths": {"registry": {"auth": "base64(user:password)"}}}
    (('"auth"',), re.compile(r'(?i)("auth"\s*:\s*")[^"]+'), rf"\1{MASK}"),
    # Authorization headers: Bearer / Basic / token schemes
    (
        ("authorization",),
        re.compile(r"(?i)\b(authorization\s*[:=]\s*\"?)(bearer|basic|token)\s+[^\s\"',;]+"),
        rf"\1\2 {MASK}",
    ),
    (("bearer",), re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9\-._~+/]{8,}=*"), rf"\1 {MASK}"),
    # AWS secret access key in key=value / key: value form, before the generic rule (the key name differs)
    (
        ("aws",),
        re.compile(r"(?i)\b(aws_?secret_?access_?key|aws_?session_?token)(\"?\s*[:=]\s*\"?)[A-Za-z0-9/+=]{16,}"),
        rf"\1\2{MASK}",
    ),
    # Generic key=value, key: value, "key": "value" pairs whose key names a credential
    (
        _KEY_NEEDLES,
        re.compile(
            rf"(?i)(\b[A-Za-z0-9_.\-]*?(?:{_KEY_WORDS}){_Q}\s*[:=]\s*{_Q})({_VALUE})",
        ),
        lambda m: m.group(1) + (m.group(2) if m.group(2) == MASK else MASK),
    ),
    # JSON Web Tokens (three base64url parts, header starts with eyJ)
    (("eyj",), re.compile(r"\beyJ[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}\.[A-Za-z0-9_\-]{5,}"), MASK),
    # GitHub tokens (classic and fine-grained)
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), re.compile(r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{20,}\b"), MASK),
    (("github_pat_",), re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}\b"), MASK),
    # AWS access key ids
    (
        ("akia", "asia", "agpa", "aida", "aroa", "anpa", "anva", "aipa"),
        re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"),
        MASK,
    ),
    # Slack tokens and webhooks
    (("xox",), re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}"), MASK),
    (
        ("hooks.slack.com",),
        re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+"),
        f"https://hooks.slack.com/services/{MASK}",
    ),
    # Google API keys, Stripe/OpenAI-style secret keys
    (("aiza",), re.compile(r"\bAIza[0-9A-Za-z\-_]{35}\b"), MASK),
    (("k_live_", "k_test_"), re.compile(r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b"), MASK),
    (("sk-",), re.compile(r"\bsk-(?:proj-|or-v1-)?[A-Za-z0-9_\-]{20,}\b"), MASK),
    (("whsec_", "pk_live_", "sk_ant_"), re.compile(r"\b(?:whsec|pk_live|sk_ant)_[A-Za-z0-9]{16,}\b"), MASK),
    # npm, GitLab, Hugging Face tokens
    (("npm_",), re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), MASK),
    (("glpat-",), re.compile(r"\bglpat-[A-Za-z0-9_\-]{20,}"), MASK),
    (("hf_",), re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"), MASK),
    # Feishu/Lark and DingTalk incoming-webhook URLs: the path (or access_token) is the credential
    (
        ("open-apis/bot/v2/hook/",),
        re.compile(r"(https://open\.(?:feishu\.cn|larksuite\.com)/open-apis/bot/v2/hook/)[A-Za-z0-9\-]+"),
        rf"\1{MASK}",
    ),
]

# Every needle once: a text containing none of them is returned at once (most log lines, names, images).
_NEEDLES: tuple[str, ...] = tuple(dict.fromkeys(n for needles, _, _ in _RULES for n in needles))

# Env var / annotation NAMES whose plain value is a credential whatever it looks like.
_SECRET_NAME = re.compile(rf"(?i)({_NAME_WORDS})")


def mask_text(text: str) -> str:
    """Mask every credential-looking part of `text`; text with none comes back unchanged (the same object).

    One casefolded copy and a few substring searches decide which rules can match; only those run. Short texts
    (names, statuses, ages: the bulk of every listing, repeated message after message) are decided once."""
    if not text:
        return text
    masked = _mask_short(text) if len(text) <= _SHORT else _mask(text)
    return text if masked is None else masked


_SHORT = 256  # texts up to this length are cached (at most _SHORT_CACHE of them: a bounded few MiB)
_SHORT_CACHE = 16_384


def _mask(text: str) -> str | None:
    """The masked text, or None when nothing needed masking."""
    folded = text.casefold()
    hits = {n for n in _NEEDLES if n in folded}
    if not hits:
        return None
    out = text
    for needles, pattern, repl in _RULES:
        if hits.isdisjoint(needles):
            continue
        if needles is _KEY_NEEDLES:
            # These patterns try every position with a lazy name and every key word (costly, ~100 µs a line):
            # run them only when a key word is followed by `:`/`=` (or the line has a `--flag`), and start them
            # at the name holding the first key word; no match can begin before it.
            if "--" not in out and _KEY_ASSIGNED.search(out.casefold()) is None:
                continue
            start = _key_name_start(out)
            out = out[:start] + pattern.sub(repl, out[start:])
        else:
            out = pattern.sub(repl, out)
    return None if out == text else out


# A key word then `:` or `=` (quotes and spaces between), in casefolded text: what the key-value rules need.
_KEY_ASSIGNED = re.compile(rf"(?:{_KEY_WORDS}){_Q}\s*[:=]")


_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-")


def _key_name_start(text: str) -> int:
    """Where the name (`[A-Za-z0-9_.-]*`) holding the first key word starts; 0 when unsure."""
    folded = text.casefold()
    if len(folded) != len(text):  # casefolding changed lengths: positions would not match
        return 0
    first = min((i for i in (folded.find(n) for n in _KEY_NEEDLES) if i >= 0), default=0)
    while first > 0 and text[first - 1] in _NAME_CHARS:
        first -= 1
    # `\b` at the cut must mean what it meant in the whole text: the character before is not a word character
    if first > 0 and (text[first - 1].isalnum() or text[first - 1] == "_"):
        return 0
    return first


_mask_short = functools.lru_cache(maxsize=_SHORT_CACHE)(_mask)


@functools.lru_cache(maxsize=4096)
def _secret_name(name: str) -> bool:
    # Names (dict keys, env var names) repeat across thousands of objects: decide each once.
    folded = name.casefold()
    return any(n in folded for n in _NAME_NEEDLES) and _SECRET_NAME.search(name) is not None


def mask_value(name: str, value: str) -> str:
    """A value stored under `name` (env var, annotation key): fully masked when the name says it is a secret,
    else pattern-masked (so `DATABASE_URL=postgres://u:p@h` keeps host and user)."""
    if not value:
        return value
    masked = mask_text(value)
    if masked is not value:
        return masked
    if _secret_name(name) and not _looks_harmless(value):
        return MASK
    return value


def _looks_harmless(value: str) -> bool:
    # Booleans, numbers and file paths under secret-sounding names (PASSWORD_FILE=/run/secrets/x) are not secrets.
    return value.lower() in {"true", "false", "yes", "no", "none", "null"} or value.isdigit() or value.startswith("/")


_PEM_MARK = "PRIVATE KEY-----"
_PEM_OPEN = re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----(?!.*-----END [A-Z0-9 ]*PRIVATE KEY-----)")
_PEM_END = re.compile(r"-----END [A-Z0-9 ]*PRIVATE KEY-----")


def mask_lines(lines: list[Any]) -> list[Any]:
    """Mask each line, and every line of a private key printed over several lines (log lines one by one).
    The same list comes back when nothing needed masking."""
    out: list[Any] | None = None
    inside = False
    for i, line in enumerate(lines):
        if not isinstance(line, str):
            new = mask_obj(line)
        elif inside:
            end = _PEM_END.search(line)
            if end is None:
                new = MASK
            else:
                inside = False
                new = (MASK if end.start() else "") + mask_text(line[end.start() :])
        else:
            # Log lines are nearly all unique (timestamps): masked directly, never cached (they would only push
            # the names and statuses of listings out of the cache).
            masked = _mask(line) if line else None
            new = line if masked is None else masked
            inside = _PEM_MARK in new and _PEM_OPEN.search(new) is not None
        if new is not line and out is None:
            out = lines[:i]
        if out is not None:
            out.append(new)
    return lines if out is None else out


def mask_obj(obj: Any) -> Any:
    """Walk dicts/lists/strings (JSON-like data) and mask every string; dict values by their key too.
    Unchanged parts come back as the same objects, so a clean result costs one walk and no copies."""
    if isinstance(obj, str):
        return mask_text(obj)
    if isinstance(obj, dict):
        out: dict[Any, Any] | None = None
        for k, v in obj.items():
            new = mask_value(str(k), v) if isinstance(v, str) else mask_obj(v)
            if new is not v:
                if out is None:
                    out = dict(obj)
                out[k] = new
        res = obj if out is None else out
        # An env-style {"name": "DB_PASSWORD", "value": "..."}: the name is the key that says "secret".
        name, value = res.get("name"), res.get("value")
        if isinstance(name, str) and isinstance(value, str) and value != MASK:
            new_value = mask_value(name, value)
            if new_value is not value:
                res = dict(res) if res is obj else res
                res["value"] = new_value
        return res
    if isinstance(obj, list):
        return mask_lines(obj)
    if isinstance(obj, tuple):
        items = tuple(mask_obj(v) for v in obj)
        return obj if all(a is b for a, b in zip(items, obj, strict=True)) else items
    return obj


M = TypeVar("M", bound=BaseModel)


def redact_model(model: M) -> M:
    """A result model with every string masked: the same model when nothing needed masking, else a copy
    validated again into the same type."""
    data = model.model_dump(mode="python")
    masked = mask_obj(data)
    return model if masked is data else type(model).model_validate(masked)


def redact_json(model: BaseModel) -> dict[str, Any]:
    """A result model as JSON data with every string masked (one dump, no re-validation): what the bot uses."""
    data: dict[str, Any] = mask_obj(model.model_dump(mode="json"))
    return data
