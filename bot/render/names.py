"""People's display names on cards: a subject (`feishu:ou_…`) -> the name its channel learned.

Channels resolve names (Feishu contact API, DingTalk's sender nick, the console's `--user`) and remember them
here, so pure card code can print "Alice" instead of a raw id. A bounded in-process memo: on a replica that
has not seen the person yet the card falls back to the id, never to a wrong name.
"""

from __future__ import annotations

from collections import OrderedDict

MAX_NAMES = 10_000  # people one replica remembers; the least recently seen go first
MAX_NAME_CHARS = 64  # a display name longer than this is cut (names come from users and tenants)

_names: OrderedDict[str, str] = OrderedDict()


def remember(subject: str, name: str) -> None:
    clean = " ".join(name.split())[:MAX_NAME_CHARS]
    if not subject or not clean:
        return
    _names[subject] = clean
    _names.move_to_end(subject)
    while len(_names) > MAX_NAMES:
        _names.popitem(last=False)


def display(subject: str) -> str:
    """The person's name when known, else the subject itself (an honest id beats a guessed name)."""
    return _names.get(subject, subject)


def forget_all() -> None:
    """Tests: start from no known names."""
    _names.clear()
