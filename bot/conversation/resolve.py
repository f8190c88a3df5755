"""Understanding a request by the cluster's own vocabulary: the words of a message are resolved against the
names the bot knows (namespaces, clusters, workloads, pods, nodes), not by their position.

Pure; the engine fetches the (cached) listings and applies the result. A word that matches nothing known is
never taken as a name silently: it is either a filler ("help", "anything", dropped when another word names
something), or reported with the closest known names ("did you mean").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz, process

from bot.conversation.grammar import CLUSTER_ALIASES

SUGGEST_CUTOFF = 75  # rapidfuzz ratio (0-100): "cart-servce" ~ "cart-service" = 96
SHORT_CUTOFF = 60  # one slip in a short word weighs more: "dve" ~ "dev" = 67
MAX_SUGGESTIONS = 3


@dataclass(frozen=True)
class Vocab:
    """Names the bot knows in one cluster; `where` maps a workload/pod name to the namespaces holding it."""

    namespaces: frozenset[str] = frozenset()
    clusters: frozenset[str] = frozenset()
    nodes: frozenset[str] = frozenset()
    where: dict[str, frozenset[str]] = field(default_factory=dict)

    def objects_like(self, word: str) -> list[str]:
        """Workload/pod names equal to or containing the word ("payment-api" -> its pods too)."""
        return [n for n in self.where if word in n]

    def namespaces_of(self, word: str) -> set[str]:
        out: set[str] = set()
        for n in self.objects_like(word):
            out |= self.where[n]
        return out


@dataclass
class Resolution:
    namespace: str | None = None  # a word that is a known namespace
    cluster: str | None = None
    objects: list[str] = field(default_factory=list)  # words naming known objects (in order)
    nodes: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)  # words naming nothing known
    suggestions: dict[str, list[str]] = field(default_factory=dict)  # unknown word -> close known names


def _generated(part: str) -> bool:
    """A ReplicaSet/pod hash segment ("c2ws8rl9pf", "9t44t"): nobody types it, so no typo is close to it."""
    return 5 <= len(part) <= 10 and any(c.isdigit() for c in part) and any(c.isalpha() for c in part)


def _prefixes(name: str) -> list[str]:
    """ "cart-service-v1-7d9f8-abcde" -> cart, cart-service, cart-service-v1: what people type of a name."""
    parts = name.split("-")
    out: list[str] = []
    for i, part in enumerate(parts):
        if i and _generated(part):
            break
        out.append("-".join(parts[: i + 1]))
    return out


def suggest(word: str, names: list[str] | set[str] | frozenset[str], limit: int = MAX_SUGGESTIONS) -> list[str]:
    """Known names (or their leading parts) close to a typo, best first: "cart-servce" -> ["cart-service"]."""
    if not word or not names:
        return []
    pool: dict[str, None] = {}
    for n in names:
        for p in _prefixes(n):
            if len(p) >= 2:
                pool[p] = None
    hits = process.extract(
        word,
        list(pool),
        scorer=fuzz.ratio,
        score_cutoff=SHORT_CUTOFF if len(word) <= 5 else SUGGEST_CUTOFF,
        limit=limit * 3,
    )
    out: list[str] = []
    for name, _score, _i in sorted(hits, key=lambda h: (-h[1], len(h[0]))):
        if name != word and name not in out:
            out.append(name)
    return out[:limit]


def resolve(words: list[str], vocab: Vocab) -> Resolution:
    """Which known thing each word names."""
    r = Resolution()
    for w in words:
        if w in vocab.namespaces and r.namespace is None:
            r.namespace = w
        elif w in vocab.clusters and r.cluster is None:
            r.cluster = w
        elif w in vocab.nodes or any(w in n for n in vocab.nodes):
            r.nodes.append(w)
        elif vocab.objects_like(w):
            r.objects.append(w)
        else:
            r.unknown.append(w)
    for w in r.unknown:
        close = suggest(w, set(vocab.where) | vocab.namespaces | vocab.nodes)
        if close:
            r.suggestions[w] = close
    return r


def _dash_part(word: str, names: list[str]) -> str | None:
    hits = [n for n in names if word in n.replace("_", "-").replace(".", "-").split("-")]
    return hits[0] if len(hits) == 1 else None


def cluster_named(word: str, clusters: list[str] | set[str] | frozenset[str]) -> str | None:
    """The one known cluster a word means: its name, the only cluster it is a dash-part of ("staging" ->
    `sandbox-staging`), or the only one an alias points at ("预发" / "stg" -> the `…-staging` cluster)."""
    names = sorted(clusters)
    if word in clusters:
        return word
    part = _dash_part(word, names)
    if part is not None:
        return part
    alias = CLUSTER_ALIASES.get(word)
    return _dash_part(alias, names) if alias else None


def names_in(data: Any) -> list[tuple[str, str]]:
    """(name, namespace) of a listing's items (the result models' JSON)."""
    items = data.get("items", []) if isinstance(data, dict) else []
    return [
        (str(i["name"]), str(i.get("namespace") or ""))
        for i in items
        if isinstance(i, dict) and isinstance(i.get("name"), str)
    ]
