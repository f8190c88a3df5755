"""A bad setting at start-up is one friendly line naming it (exit 2), never a traceback.

pydantic-settings fails in two ways: `SettingsError` when an env value cannot be decoded (a list setting given
text that is not JSON) and `ValidationError` (title "Settings") when a decoded value is invalid (a word for a
number). Both happen on the first `load_settings()`, wherever a verb calls it, so `bot.cli` catches them once.
"""

from __future__ import annotations

import re
import sys
from typing import NoReturn

from pydantic import ValidationError
from pydantic_settings import SettingsError

EXIT_CONFIG = 2
_FIELD = re.compile(r'field "([^"]+)"')
MAX_DETAIL = 200  # a pasted secret or a huge value must not flood the terminal


def settings_problem(exc: BaseException) -> str | None:
    """The one line for a settings error, None when `exc` is something else."""
    if isinstance(exc, SettingsError):
        m = _FIELD.search(str(exc))
        name = m.group(1).upper() if m else "?"
        return _line(name, "could not be parsed", "无法解析")
    if isinstance(exc, ValidationError) and exc.title == "Settings":
        errors = exc.errors()
        if not errors:
            return _line("?", "invalid value", "取值无效")
        loc = errors[0]["loc"] or ("?",)
        return _line(str(loc[0]).upper(), str(errors[0]["msg"]), "取值无效")
    return None


def _line(name: str, detail: str, zh: str) -> str:
    if len(detail) > MAX_DETAIL:
        detail = detail[:MAX_DETAIL] + "… (truncated)"
    return f"kubeduty: setting {name} is invalid: {detail} (check the environment or .env) / 配置项 {name} {zh}"


def exit_on_settings_error(exc: BaseException) -> NoReturn:
    """Print the line and exit 2 for a settings error; re-raise anything else unchanged."""
    line = settings_problem(exc)
    if line is None:
        raise exc
    print(line, file=sys.stderr)
    sys.exit(EXIT_CONFIG)
