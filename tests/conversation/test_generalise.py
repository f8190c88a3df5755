"""Generalisation (issue 10 follow-up): word classes rather than sentences — verb synonyms, cluster aliases,
clause-wise control words, host-level refusals — and the per-message cost (issue 12): the vocabulary a message's
names are resolved against is built once and reused until a listing changes."""

from __future__ import annotations

from typing import Any

import pytest

from bot.conversation import toolbox as toolbox_module
from bot.conversation import understand as understand_module
from bot.conversation.intent import Kind
from bot.conversation.lexer import control
from bot.conversation.parser import parse
from bot.conversation.resolve import cluster_named
from tests.conversation.conftest import Chat

CLUSTERS = frozenset({"sandbox", "sandbox-staging"})


@pytest.mark.parametrize("word", ["staging", "预发", "预发布", "预生产", "测试", "stg", "sandbox-staging"])
def test_a_cluster_alias_names_the_one_cluster_with_that_part(word: str) -> None:
    assert cluster_named(word, CLUSTERS) == "sandbox-staging"


def test_a_cluster_word_that_fits_no_cluster_or_several_names_none() -> None:
    assert cluster_named("sandbox", CLUSTERS) == "sandbox"
    assert cluster_named("生产", CLUSTERS) is None  # no `prod` cluster here: said so, never guessed
    assert cluster_named("staging", {"a-staging", "b-staging"}) is None


@pytest.mark.parametrize(
    ("said", "kind"),
    [
        ("nah, forget it", "no"),
        ("no way, skip it", "no"),
        ("不用了谢谢", "no"),
        ("免了，谢谢", "no"),
        ("好，就这么办", "yes"),
        ("没毛病，搞吧", "yes"),
        ("sounds good, thanks", "yes"),
        ("yes, restart payment-api", None),  # a request with a name in it is never a bare control word
        ("好的，不要", None),  # yes and no at once: neither
    ],
)
def test_control_words_are_read_clause_by_clause(said: str, kind: str | None) -> None:
    assert control(said) == kind


@pytest.mark.parametrize(
    ("said", "tool", "args"),
    [
        ("重新启动一下 production 的 orders", "restart_deployment", {"namespace": "production"}),
        ("帮忙把 dev 的 frontend 重新拉起来", "restart_deployment", {"namespace": "dev"}),
        ("bump payment-api in dev to 4 replicas", "scale_deployment", {"namespace": "dev", "replicas": 4}),
        ("resize frontend in dev to 3 replicas", "scale_deployment", {"namespace": "dev", "replicas": 3}),
    ],
)
def test_verb_synonyms_reach_the_same_tool(said: str, tool: str, args: dict[str, Any]) -> None:
    intent = parse(said)
    assert intent.kind is Kind.TOOL and intent.tool == tool
    assert {k: intent.args.get(k) for k in args} == args


@pytest.mark.parametrize(
    "said",
    [
        "能帮我重启一下 node-2 这台机器吗",
        "把 node-3 这台服务器关机",
        "can you reboot node-1 for me",
        "帮我 attach 到 redis-0",
    ],
)
def test_host_level_and_terminal_requests_are_refused(said: str) -> None:
    assert parse(said).kind is Kind.REFUSE


@pytest.mark.parametrize("said", ["重启 dev 的 node-exporter", "restart node-exporter in dev"])
def test_a_workload_named_like_a_node_is_still_restarted(said: str) -> None:
    intent = parse(said)
    assert intent.kind is Kind.TOOL and intent.tool == "restart_deployment"


def test_a_chinese_cluster_word_is_a_cluster_not_a_namespace() -> None:
    switch = parse("切到预发集群")
    assert switch.kind is Kind.SWITCH and switch.tool == "cluster" and switch.value == "预发"
    nodes = parse("预发集群有几台节点")
    assert nodes.tool == "list_nodes" and nodes.cluster == "预发" and "namespace" not in nodes.args
    assert parse("回到 sandbox 集群").kind is Kind.SWITCH


async def test_a_cluster_said_inline_that_does_not_exist_is_said_so(chat: Chat) -> None:
    # one cluster here (`sandbox`); with two, "staging 集群" resolves to sandbox-staging (corpus: heldout.yaml)
    card = await chat.say("看看 staging 集群的节点")
    assert "没有名为 `staging` 的集群" in chat.text(card)


async def test_the_vocabulary_is_built_once_and_rebuilt_after_a_listing_changes(
    chat: Chat, monkeypatch: pytest.MonkeyPatch
) -> None:
    builds: list[str | None] = []
    real = understand_module._build

    async def counting(*args: Any, **kwargs: Any) -> Any:
        builds.append(args[2])
        return await real(*args, **kwargs)

    monkeypatch.setattr(understand_module, "_build", counting)
    monkeypatch.setattr(toolbox_module, "MEMO_SECONDS", 3600.0)  # no clock in this test: only the generation counts
    await chat.say("dev 的 payment-api 健康吗")
    await chat.say("dev 的 frontend 健康吗")
    assert len(builds) == 1, builds  # the second message reused the first one's vocabulary
    await chat.bot.toolbox.forget("list_pods", {})  # a listing dropped: what was built from it is stale
    await chat.say("dev 的 orders 健康吗")
    assert len(builds) == 2, builds


async def test_an_expired_vocabulary_is_built_again(chat: Chat, monkeypatch: pytest.MonkeyPatch) -> None:
    builds: list[object] = []
    real = understand_module._build

    async def counting(*args: Any, **kwargs: Any) -> Any:
        builds.append(args[2])
        return await real(*args, **kwargs)

    monkeypatch.setattr(understand_module, "_build", counting)
    monkeypatch.setattr(toolbox_module, "MEMO_SECONDS", -1.0)  # already expired when read
    await chat.say("dev 的 payment-api 健康吗")
    await chat.say("dev 的 frontend 健康吗")
    assert len(builds) == 2, builds
