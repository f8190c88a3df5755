"""Does a card meant for a Chinese reader carry untranslated English? A heuristic, shared by the corpus runner
and tests/conversation/test_zh_cards.py.

What a Chinese card may show in Latin letters: Kubernetes names and values (inside `code` spans, code blocks and
table cells, which are cluster data), resource kinds and K8s jargon people use untranslated (Pod, Deployment,
CrashLoopBackOff ...), product names and units. What it must not show: an English sentence (two or more plain
English words in a row), internal identifiers (`restart_deployment`, `replicas=3`, `tail_lines`), English
labels such as "restarts:" or "risk: medium", "1 pods", or "you".
"""

from __future__ import annotations

import re

from bot.render.model import Card, Code, Fields, Markdown, Note, Table

# Latin words a Chinese on-call engineer reads untranslated. Lower-case; compared case-insensitively.
ALLOWED_WORDS = frozenset(
    """
    k8s kubernetes kubectl kubeduty kubeconfig api apiserver http https url ip dns tcp udp grpc json yaml id rbac
    pod pods deployment deployments statefulset statefulsets daemonset daemonsets replicaset replicasets
    job jobs cronjob cronjobs service services node nodes namespace namespaces configmap configmaps secret secrets
    ingress container containers pvc pv hpa cpu gpu oom oomkilled crashloopbackoff imagepullbackoff errimagepull
    pending running succeeded failed unknown ready notready terminating completed evicted unschedulable
    schedulingdisabled containercreating error warning normal backoff killing pulled pulling created started
    scheduled failedscheduling unhealthy clusterip nodeport loadbalancer headless none
    restartedat rollout dry run mcp llm sre oncall dingtalk feishu lark redis nginx
    mi gi ki m ms s min h d v
    ok tip top
    """.split()
)

# Internal identifiers and English labels that must never reach a Chinese card, whatever the context.
FORBIDDEN = (
    re.compile(r"\b(restart|scale|rollback|delete|cordon|uncordon|list|describe|pod|workload|cluster)_[a-z_]+\b"),
    re.compile(r"\b(replicas|tail_lines|since_seconds|dry_run|name_filter|only_unhealthy|previous)\s*="),
    re.compile(r"\brestarts\s*:", re.I),
    re.compile(r"\blast exit\b", re.I),
    re.compile(r"\brisk\s*:", re.I),
    re.compile(r"(?<![\w-])(low|medium|high)(?![\w-])"),  # a risk level; not part of a name like high-mem
    re.compile(r"\b\d+\s+pods\b"),
    re.compile(r"(?<![\w-])you(?![\w-])", re.I),
    re.compile(r"\bkeeps crashing\b", re.I),
)

_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
_CODE_SPAN = re.compile(r"`[^`]*`")
# Things that are data even outside code spans: names with digits, dashes, dots, slashes, colons.
_DATA_TOKEN = re.compile(r"\S*[0-9_./:=@-]\S*")


def _prose(card: Card) -> list[str]:
    """The card's own words (title, markdown, notes, field labels, buttons, footer, hint), without cluster data:
    code spans, code blocks, table cells and field values are what the cluster said."""
    parts = [card.title, card.footer or "", card.input_hint or ""]
    for block in card.blocks:
        if isinstance(block, Markdown | Note):
            parts.append(block.text)
        elif isinstance(block, Fields):
            parts += [k for k, _ in block.items]
        elif isinstance(block, Table):
            parts += list(block.columns)
            if block.truncated:
                parts.append(block.truncated)
        elif isinstance(block, Code) and block.truncated:
            parts.append(block.truncated)
    parts += [b.label for b in card.buttons]
    return parts


def _everything(card: Card) -> list[str]:
    parts = _prose(card)
    for block in card.blocks:
        if isinstance(block, Fields):
            parts += [v for _, v in block.items]
    return parts


def english_problems(card: Card, *, known_names: frozenset[str] = frozenset()) -> list[str]:
    """Problems found in a card meant for a Chinese reader (empty: fine). `known_names` are names from the
    cluster (namespaces, workloads ...) that may appear as plain words."""
    problems: list[str] = []
    for text in _everything(card):
        # parameter names and tool names are internals even in a `code span`; logs and tables are not searched
        for pattern in FORBIDDEN:
            m = pattern.search(text)
            if m:
                problems.append(f"internal/English {m.group(0)!r} in {text[:80]!r}")
    for text in _prose(card):
        stripped = _DATA_TOKEN.sub(" ", _CODE_SPAN.sub(" ", text))
        run: list[str] = []
        for token in re.split(r"(\s+)", stripped) + [""]:
            if token.isspace():
                continue
            word = token.strip("()[]{},.;:!?\"'（）。，、：；！？「」《》*")
            if word and _WORD.fullmatch(word) and word.lower() not in ALLOWED_WORDS and word not in known_names:
                run.append(word)
                continue
            if len(run) >= 2:
                problems.append(f"English words {' '.join(run)!r} in {text[:80]!r}")
            run = []
    return problems
