"""DingTalk (Stream mode) channel."""

from bot.channels.dingtalk.adapter import DingTalkAdapter, DingTalkResponder

__all__ = ["DingTalkAdapter", "DingTalkResponder"]
