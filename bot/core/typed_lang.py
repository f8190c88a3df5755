"""Which language a typed line puts the conversation in: the one rule every channel and the engine share.

A slash command ("/pods dev"), a number or a button label says nothing about the user's language (the command
words are ASCII in both languages), so it keeps the language the conversation already has; only natural-language
text moves it. A conversation's very first line, with no language yet, is read as it is.
"""

from __future__ import annotations

from bot.core.i18n import Lang, detect_lang


def says_nothing(text: str) -> bool:
    """True for lines whose words cannot tell Chinese from English users: slash commands and bare numbers."""
    t = text.strip()
    return not t or t.startswith("/") or t.isdigit()


def typed_lang(text: str, current: Lang | None = None) -> Lang:
    """The language after the user typed `text`, given the conversation's `current` one (None if unknown)."""
    if current is not None and says_nothing(text) and detect_lang(text, Lang.EN) is Lang.EN:
        return current  # "/pods 订单" is still Chinese
    # nothing known yet (a chat's very first line): the words are all there is, "/pods dev" reads English
    return detect_lang(text, current or Lang.ZH)
