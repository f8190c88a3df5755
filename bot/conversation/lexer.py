"""Words of a message, found in time linear in its length: normalisation, name-like tokens with their
neighbours, ordinals and the control words of `grammar.CONTROL`.

No regular expression here has a repetition followed by something it could give back to, so none can take
super-linear time (a 65,000-character word is one pass); and `MAX_PARSE_CHARS` bounds the input anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.conversation.grammar import CONTROL, CONTROL_FILLER, CONTROL_NOT_ANYMORE, STOP

MAX_PARSE_CHARS = 4000  # longer than any request; the engine answers "too long" before parsing
MAX_NAME_CHARS = 253  # a Kubernetes name is at most this long: a longer token is not a name
_PUNCT = str.maketrans({c: " " for c in "，。？！：；、,?!;:“”\"'（）()[]【】「」<>《》…~～"})
# ASCII runs and non-ASCII runs are disjoint classes, each greedy with nothing after it: linear
_TOKENS = re.compile(r"[!-~]+|[^\x00-\x7f\s]+")
_NAME_CHARS = re.compile(r"[a-z0-9.\-]+")
_EDGE = ".-"

ORDINALS_EN = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
}
_ZH_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_CONTROL_OF = {w: kind for kind, words in CONTROL.items() for w in words}


def normalize(text: str) -> str:
    return " ".join(text[: MAX_PARSE_CHARS * 2].translate(_PUNCT).lower().replace("’", "'").split())


def is_name(tok: str) -> bool:
    """A Kubernetes-style name: lower-case letters, digits, '.', '-', starting and ending alphanumeric."""
    return (
        0 < len(tok) <= MAX_NAME_CHARS
        and tok[0] not in _EDGE
        and tok[-1] not in _EDGE
        and _NAME_CHARS.fullmatch(tok) is not None
    )


@dataclass(frozen=True, slots=True)
class Tok:
    text: str
    ascii: bool


def tokens(t: str) -> list[Tok]:
    """Normalised text -> ASCII and non-ASCII runs ("看下dev的pod" -> 看下 / dev / 的 / pod)."""
    return [Tok(m.group(0), m.group(0).isascii()) for m in _TOKENS.finditer(t)]


def name_tokens(text: str) -> list[str]:
    """Candidate resource names in the text, in order, without keywords or bare numbers."""
    out: list[str] = []
    for tok in tokens(normalize(text)):
        w = tok.text.strip(_EDGE + "#")
        if not tok.ascii or not is_name(w) or w in STOP or w.isdigit() or w in out:
            continue
        out.append(w)
    return out


_ZH_ORDINAL = re.compile(r"第\s?([一二两三四五六七八九十]|\d{1,3})")
_LAST = re.compile(r"最后一个|(?<![a-z0-9_\-])last(?: one)?(?![a-z0-9_\-])")
_EN_ORDINAL = re.compile(r"(?<![a-z0-9_\-])(" + "|".join(ORDINALS_EN) + r")(?![a-z0-9_\-])")
_NUMBERED = re.compile(r"(?:#|no\.? ?|number ?)(\d{1,3})")


def ordinal(text: str) -> int | None:
    """1-based position the user points at: "第二个", "the second one", "#2", "最后一个" (-1)."""
    t = normalize(text)
    m = _ZH_ORDINAL.search(t)
    if m:
        v = m.group(1)
        return int(v) if v.isdigit() else _ZH_DIGITS[v]
    if _LAST.search(t):
        return -1
    m = _EN_ORDINAL.search(t)
    if m:
        return ORDINALS_EN[m.group(1)]
    m = _NUMBERED.fullmatch(t)
    if m:
        return int(m.group(1))
    return None


def _control_word(chunk: str) -> str | None:
    for _ in range(3):  # "那就先不用了吧": peel a few particles, never loop on the input
        if chunk in _CONTROL_OF:
            return _CONTROL_OF[chunk]
        if CONTROL_NOT_ANYMORE.match(chunk):
            return "no"
        stripped = CONTROL_FILLER.sub("", chunk).strip()
        if stripped == chunk or not stripped:
            break
        chunk = stripped
    return _CONTROL_OF.get(chunk) or _segmented(chunk)


_ZH_CONTROL = sorted((w for w in _CONTROL_OF if not w.isascii()), key=len, reverse=True)


def _segmented(chunk: str) -> str | None:
    """ "确认执行" / "好的执行吧": Chinese control words written together, all of one kind (longest first)."""
    if chunk.isascii() or len(chunk) > 12:
        return None
    kinds: set[str] = set()
    i = 0
    while i < len(chunk):
        w = next((w for w in _ZH_CONTROL if chunk.startswith(w, i)), None)
        if w is None:
            rest = CONTROL_FILLER.sub("", chunk[i:])
            if rest:
                return None
            break
        kinds.add(_CONTROL_OF[w])
        i += len(w)
    return kinds.pop() if len(kinds) == 1 else None


def control(text: str) -> str | None:
    """ "yes" | "no" | "back" | "more" when the whole message is control words ("算了，不看了", "好的，执行吧",
    "go ahead"), else None: a message with anything else in it is a request or an answer."""
    t = normalize(text)
    if not t or len(t) > 40:
        return None
    whole = _control_word(t)
    if whole is not None:
        return whole
    kinds = set()
    # clause by clause ("nah, forget it"), each clause whole or word by word
    for clause in _CLAUSES.split(text[:80]):
        c = normalize(clause)
        if not c or c in _POLITE:
            continue
        kind = _control_word(c)
        if kind is None:
            for chunk in c.split():
                if chunk in _POLITE:
                    continue
                kind = _control_word(chunk)
                if kind is None:
                    return None
                kinds.add(kind)
        else:
            kinds.add(kind)
    return kinds.pop() if len(kinds) == 1 else None


_CLAUSES = re.compile(r"[,，。;；!！?？、]")
_POLITE = frozenset(("please", "pls", "thanks", "谢谢", "thank", "you", "thank you"))
