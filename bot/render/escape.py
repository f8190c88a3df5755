"""Escaping at the renderer: one function per platform, so text we did not write can never become markup.

Trust model (see `bot.core.cards`): every string in a card is DATA except the tiny "light markdown" subset our
own templates use in `Markdown`/`Note`/footer text (`**bold**`, `` `code` ``, `- ` list items, line breaks).
`light()` parses that subset and re-emits it for the platform with everything else escaped, so a pod name, an
event message, a log line or the LLM's answer interpolated into a template can add bold or code at most: never
a link, an image, a mention, a font tag, a heading or a code fence. Links and mentions are not part of the
subset at all: no card of ours needs them, so there is nothing an attacker could borrow.

Rules and sources (issue #11):
- Feishu card JSON 2.0 `markdown`: Markdown plus HTML-like tags (`<at id=all>`, `<font>`, `<link>`, `<a>`,
  `<text_tag>`, `<number_tag>`, `<local_datetime>`, `<person>`), `[x](url)`, `![x](img_key)`, emphasis, `~~`,
  headings, `>` quotes, lists, tables, fences (open.feishu.cn "Rich Text Component" JSON 2.0; larksuite/cli
  skills/lark-im/references/card/components/markdown.md). HTML entities are decoded, so special characters are
  written as entities: `& < >` as `&amp; &lt; &gt;`, markdown punctuation as numeric references.
- DingTalk markdown (robot `sampleMarkdown`, card markdown component): headings, `>` quotes, `**bold**`,
  `*italic*`, `[x](url)`, `![](url)`, lists, `<font color>` (open.dingtalk.com robot message types; the
  frostmourne / dingtalk-robot references). CommonMark backslash escapes for ASCII punctuation, entities for
  `& < >`.
- Code blocks: a fence the content cannot close. Runs of three or more backticks in the content are broken
  with a zero-width space, so a plain ``` fence stays open on every renderer (CommonMark closes a fence only
  with a run at least as long; renderers that do not know longer fences still cannot be closed). `<` followed
  by a tag-like character also gets a zero-width space so a renderer that looks for tags inside code cannot.
- Plain-text channels (Feishu `text` messages support `<at user_id=...>`): `plain_im()` breaks tags the same way.
- Console: terminal control sequences (ESC/CSI/OSC, C0/C1 controls, DEL) and bidi overrides are shown as
  visible escapes (`\\x1b`, `<U+202E>`) instead of being sent to the terminal.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

ZWSP = "\u200b"

# --- Feishu --------------------------------------------------------------------------------------------------

_FEISHU_CHARS = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "*": "&#42;",
    "_": "&#95;",
    "~": "&#126;",
    "`": "&#96;",
    "[": "&#91;",
    "]": "&#93;",
    "\\": "&#92;",
    "$": "&#36;",
    "|": "&#124;",
}
_FEISHU_TABLE = str.maketrans(_FEISHU_CHARS)

# Characters that start a block only at the beginning of a line (heading, list, quote, setext underline, ordered
# list `1.`): escaped there, left alone mid-line so names like `cart-service` stay readable and small.
_LINE_START = re.compile(r"^([ \t]*)([#+\-=>]|\d+[.)])", re.MULTILINE)
_URL = re.compile(r"(?i)([a-z][a-z0-9+.\-]*):(?=//)")


def _feishu_line_start(m: re.Match[str]) -> str:
    head = m.group(2)
    return m.group(1) + head[:-1] + f"&#{ord(head[-1])};"


def feishu_text(text: str) -> str:
    """Untrusted text -> Feishu card markdown that shows exactly that text, with no markup."""
    out = text.translate(_FEISHU_TABLE)
    out = _LINE_START.sub(_feishu_line_start, out)
    # a bare URL is auto-linked; the scheme's colon as an entity keeps it text
    return _URL.sub(r"\1&#58;", out)


# --- DingTalk ------------------------------------------------------------------------------------------------

_DINGTALK_CHARS = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "\\": "\\\\",
    "*": "\\*",
    "_": "\\_",
    "~": "\\~",
    "`": "\\`",
    "[": "\\[",
    "]": "\\]",
    "|": "\\|",
    "$": "\\$",
}
_DINGTALK_TABLE = str.maketrans(_DINGTALK_CHARS)


def _dingtalk_line_start(m: re.Match[str]) -> str:
    head = m.group(2)
    return m.group(1) + head[:-1] + "\\" + head[-1]


_DINGTALK_LINE_START = re.compile(r"^([ \t]*)([#+\-=]|\d+[.)])", re.MULTILINE)


def dingtalk_text(text: str) -> str:
    """Untrusted text -> DingTalk markdown that shows exactly that text, with no markup."""
    out = text.translate(_DINGTALK_TABLE)
    out = _DINGTALK_LINE_START.sub(_dingtalk_line_start, out)
    return _URL.sub(r"\1\\:", out)


# --- code blocks and plain-text messages ---------------------------------------------------------------------

_BACKTICK_RUN = re.compile(r"`{3,}")
_TILDE_RUN = re.compile(r"~{3,}")
_TAG_OPEN = re.compile(r"<(?=[A-Za-z/!?])")


def _break_run(m: re.Match[str]) -> str:
    return ZWSP.join(m.group(0))


def code_block(text: str) -> str:
    """`text` as a fenced code block that nothing in it can close or turn into a tag."""
    body = _BACKTICK_RUN.sub(_break_run, text)
    body = _TILDE_RUN.sub(_break_run, body)
    body = _TAG_OPEN.sub("<" + ZWSP, body)
    return f"```\n{body}\n```"


def plain_im(text: str) -> str:
    """Text for an IM plain-text message (Feishu `text` understands `<at user_id=...>`): tags broken, invisibly."""
    return _TAG_OPEN.sub("<" + ZWSP, text)


# --- the light-markdown subset of our own templates ----------------------------------------------------------

# What may stay inline code: markdown is literal inside a code span (CommonMark), so only what a less strict
# renderer might still read there is kept out: tags, entities, strike-through, `${}` variables, link and image
# openers, URLs. Such a span is shown as escaped plain text instead.
_CODE_SAFE = re.compile(r"[^`<>&~$\n]+")
_CODE_UNSAFE = ("://", "](", "![")


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one platform writes plain text, bold and inline code."""

    text: Callable[[str], str]
    bold: Callable[[str], str]
    code: Callable[[str], str]


FEISHU = Dialect(text=feishu_text, bold=lambda s: f"**{feishu_text(s)}**", code=lambda s: f"`{s}`")
DINGTALK = Dialect(text=dingtalk_text, bold=lambda s: f"**{dingtalk_text(s)}**", code=lambda s: f"`{s}`")


def _inline(line: str, d: Dialect) -> str:
    """Linear scan for `**bold**` and `` `code` ``; once a closer is missing, later openers cannot close either."""
    out: list[str] = []
    plain_start = 0
    i = 0
    no_bold = no_code = False
    n = len(line)
    while i < n:
        if not no_bold and line.startswith("**", i):
            end = line.find("**", i + 2)
            if end < 0:
                no_bold = True
            elif end > i + 2:
                out.append(d.text(line[plain_start:i]))
                out.append(d.bold(line[i + 2 : end]))
                i = plain_start = end + 2
                continue
        elif not no_code and line[i] == "`":
            end = line.find("`", i + 1)
            if end < 0:
                no_code = True
            elif end > i + 1:
                inner = line[i + 1 : end]
                out.append(d.text(line[plain_start:i]))
                safe = _CODE_SAFE.fullmatch(inner) and not any(u in inner for u in _CODE_UNSAFE)
                out.append(d.code(inner) if safe else d.text(line[i : end + 1]))  # backticks shown, escaped
                i = plain_start = end + 1
                continue
        i += 1
    out.append(d.text(line[plain_start:]))
    return "".join(out)


def light(text: str, d: Dialect) -> str:
    """Our template subset (`**bold**`, `` `code` ``, leading `- ` items, line breaks) -> platform markdown;
    every other character is escaped as data."""
    lines = []
    for line in text.split("\n"):
        if line.startswith("- "):
            lines.append("- " + _inline(line[2:], d))
        else:
            lines.append(_inline(line, d))
    return "\n".join(lines)


# --- console -------------------------------------------------------------------------------------------------

# C0 controls but \n and \t, DEL, C1 controls, bidi embeddings/overrides/isolates, line/paragraph separators.
_CONSOLE_BAD = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ufeff]")


def _visible(m: re.Match[str]) -> str:
    ch = m.group(0)
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"<U+{ord(ch):04X}>"


def console_text(text: str) -> str:
    """Text for a terminal: control sequences and bidi overrides shown as visible escapes, never executed."""
    return _CONSOLE_BAD.sub(_visible, text.replace("\t", "    "))
