"""The user's language, and picking the right text for it.

Every module keeps its own bilingual strings next to the code (`tr(lang, zh, en)`); this keeps
translations reviewable in place and avoids one shared catalogue that every change touches.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Lang(StrEnum):
    ZH = "zh"
    EN = "en"


_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def detect_lang(text: str, default: Lang = Lang.ZH) -> Lang:
    """Chinese if the text has any CJK ideograph, English if it has ASCII letters, else `default`."""
    if _CJK.search(text):
        return Lang.ZH
    if re.search(r"[A-Za-z]", text):
        return Lang.EN
    return default


def tr(lang: Lang | str, zh: str, en: str, /, **kwargs: object) -> str:
    """Pick the text for `lang` and fill `{placeholders}`."""
    text = zh if str(lang) == Lang.ZH.value else en
    return text.format(**kwargs) if kwargs else text
