"""The engine side of `resolve`: fetch what the bot knows of the cluster (cached listings) and place the words
of a parsed request by it: a namespace, a cluster, the object the tool is about, or "did you mean".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.conversation.intent import Intent
from bot.conversation.resolve import Resolution, Vocab, cluster_named, names_in, resolve, suggest
from bot.conversation.slots import meaning
from bot.conversation.turn import Turn
from bot.core.i18n import tr
from bot.tooling.types import ToolCall, ToolInfo

if TYPE_CHECKING:
    from bot.conversation.toolbox import Toolbox

# The parameter a tool's object word goes to, in the order they are looked for.
OBJECT_PARAMS = ("pod", "deployment", "statefulset", "node", "name", "object_name", "name_filter")


@dataclass
class Understood:
    args: dict[str, Any]
    hints: dict[str, str]
    vocab: Vocab | None = None
    notes: list[str] = field(default_factory=list)
    # a word that names nothing known but is close to known names: (word, names, slot) -> "did you mean"
    suggest: tuple[str, list[str], str] | None = None


async def _listing(tools: Toolbox, turn: Turn, tool: str, args: dict[str, Any]) -> Any:
    out = await tools.read(turn.caller, ToolCall(tool, args), turn.lang, cached=True)
    return out.data if out.ok else None


async def vocabulary(tools: Toolbox, turn: Turn, cluster: str | None, *, objects: bool, nodes: bool) -> Vocab | None:
    """Names known in the cluster, from the same cached listings the choice buttons use; None if unreadable.
    Built once per caller (what they may read), cluster and kind, and reused for a few seconds (`Toolbox.memo_get`)."""
    key = ("vocab", turn.caller, cluster, objects, nodes)
    hit = tools.memo_get(key)
    if isinstance(hit, Vocab):
        return hit
    vocab = await _build(tools, turn, cluster, objects=objects, nodes=nodes)
    if vocab is not None:  # an unreadable cluster is asked again next time
        tools.memo_put(key, vocab)
    return vocab


async def _build(tools: Toolbox, turn: Turn, cluster: str | None, *, objects: bool, nodes: bool) -> Vocab | None:
    base: dict[str, Any] = {"cluster": cluster} if cluster else {}
    ns_data = await _listing(tools, turn, "list_namespaces", base)
    if ns_data is None:
        return None
    namespaces = frozenset(n for n, _ in names_in(ns_data))
    clusters = frozenset(n for n, _ in names_in(await _listing(tools, turn, "list_clusters", {})))
    where: dict[str, set[str]] = {}
    if objects:
        for tool in ("list_deployments", "list_pods"):
            data = await _listing(tools, turn, tool, base)
            for name, ns in names_in(data):
                where.setdefault(name, set()).add(ns)
            if tool == "list_pods" and isinstance(data, dict):
                for item in data.get("items", []):
                    w = item.get("workload") if isinstance(item, dict) else None
                    if isinstance(w, str) and w:  # a StatefulSet's pods name it too
                        where.setdefault(w, set()).add(str(item.get("namespace") or ""))
    node_names: frozenset[str] = frozenset()
    if nodes:
        node_names = frozenset(n for n, _ in names_in(await _listing(tools, turn, "list_nodes", base)))
    return Vocab(namespaces, clusters, node_names, {k: frozenset(v) for k, v in where.items()})


def object_param(info: ToolInfo, hints: dict[str, str]) -> str | None:
    if hints:
        return next(iter(hints))
    return next((p for p in OBJECT_PARAMS if p in info.properties), None)


async def understand(tools: Toolbox, turn: Turn, intent: Intent, info: ToolInfo) -> Understood:
    """Place the request's words by what the cluster knows. Without a readable vocabulary: as parsed."""
    args, hints = dict(intent.args), dict(intent.hints)
    if intent.slash or not (intent.words or intent.scoped or intent.cluster):
        return Understood(args, hints)
    slot = object_param(info, hints)
    cluster = args.get("cluster") or turn.state.memory.cluster
    said_cluster = bool(intent.cluster and "cluster" in info.properties and not args.get("cluster"))
    named: str | None = None
    if said_cluster and intent.cluster:
        # the cluster's own name first ("staging 集群" -> sandbox-staging): never a call to a cluster that isn't
        known = frozenset(n for n, _ in names_in(await _listing(tools, turn, "list_clusters", {})))
        named = cluster_named(intent.cluster, known)
        cluster = named or cluster
        if named is not None:
            args["cluster"] = named
    node_slot = slot is not None and meaning(info, slot) == "node"
    vocab = await vocabulary(tools, turn, cluster, objects=slot is not None and not node_slot, nodes=node_slot)
    if vocab is None:
        return Understood(args, hints)
    lang = turn.lang
    notes: list[str] = []
    if said_cluster and intent.cluster:
        if named is None:
            notes.append(
                tr(lang, "没有名为 `{c}` 的集群。", "There is no cluster named `{c}`.", c=intent.cluster)
                + did_you_mean(lang, intent.cluster, vocab.clusters)
            )
    words = list(intent.words)
    scope = args.get("namespace")
    if intent.scoped and isinstance(scope, str) and scope not in vocab.namespaces:
        if scope in vocab.clusters or vocab.objects_like(scope):
            words.insert(0, str(args.pop("namespace")))  # "web 的 …" / "in payment-api": X names something else
        # else: kept, and slot filling says the namespace does not exist (with "did you mean")
    r = resolve(words, vocab)
    if r.namespace and "namespace" in info.properties and not args.get("namespace"):
        args["namespace"] = r.namespace
    if r.cluster and "cluster" in info.properties and not args.get("cluster"):
        args["cluster"] = r.cluster
    u = Understood(args, hints, vocab, notes)
    if slot is not None:
        _place_object(u, info, slot, r, bool(r.namespace or r.cluster))
    return u


def _place_object(u: Understood, info: ToolInfo, slot: str, r: Resolution, scoped: bool) -> None:
    hints = u.hints
    chosen = r.nodes if meaning(info, slot) == "node" else r.objects
    if chosen:
        hints[slot] = chosen[0]  # the words that name something win over fillers ("help me check … web")
        return
    if not r.unknown:
        hints.pop(slot, None)  # every word was a namespace or cluster: no object named
        return
    word = r.unknown[0]
    close = r.suggestions.get(word)
    if close:
        u.suggest = (word, close, slot)  # never taken silently: the engine asks "did you mean …?"
    elif scoped:
        hints.pop(slot, None)  # a filler next to a real scope ("production 有哪些 pod")
    else:
        hints[slot] = word  # slot filling says it matches nothing and offers what there is


def did_you_mean(lang: str, word: str, names: Any) -> str:
    """A typo's likely target ("dve" -> `dev`), said after a "not found" note; "" when nothing is close."""
    pool = list(names)
    close = [n for n in pool if n.startswith(word) and n != word][:2] or suggest(word, pool, limit=2)
    if not close:
        return ""
    return tr(lang, "你是不是想找 {c}？", " Did you mean {c}?", c=" / ".join(f"`{c}`" for c in close))
