"""The conversation engine: routing, guided slot filling, the rule parser, caching of choices."""

from bot.conversation.engine import Engine

__all__ = ["Engine"]
