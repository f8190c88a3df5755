"""Feishu / Lark (long connection) channel."""

from bot.channels.feishu.adapter import FeishuAdapter, FeishuResponder

__all__ = ["FeishuAdapter", "FeishuResponder"]
