"""What the rule parser understands, declared as data in one place: intent keywords, control words, switch
phrases and the requests the bot refuses (with why and what it can do instead).

Adding a phrasing = adding a word here. Chinese words match anywhere in the text; English words must stand
alone (not inside `cart-service`). Every pattern built from these tables is an alternation of literals, so
matching is linear in the input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def words_pattern(zh: str = "", en: str = "") -> re.Pattern[str]:
    """One pattern from `|`-separated Chinese and English words. The English boundary is ASCII-only: in
    "删除这个pod" a CJK neighbour (a regex word character) still counts as a boundary."""
    parts = [re.escape(w) for w in zh.split("|") if w]
    en_words = [w.replace(" ", r"\s+") if "\\" not in w else w for w in en.split("|") if w]
    if en_words:
        parts.append(rf"(?<![a-z0-9_\-])(?:{'|'.join(en_words)})(?![a-z0-9_\-])")
    return re.compile("|".join(parts) or r"(?!)")


# ---------------------------------------------------------------- intent keywords (which tool a request wants)
# name -> (Chinese words, English words; English entries may be small regexes without unbounded repetition)
KEYWORDS: dict[str, tuple[str, str]] = {
    "uncordon": ("解除封锁|取消封锁|恢复调度|设为可调度|改为可调度|设成可调度|允许调度", "uncordon"),
    "cordon": ("封锁|禁止调度|停止调度|不可调度|不让调度", "cordon"),
    # one verb, its synonyms: "重新启动一下", "重新拉起", "bounce"
    "restart": ("重启|重新启动|重新拉起|重拉", "restart|rollout restart|bounce|redeploy"),
    "rollback": ("回滚|回退版本|回退到上一个版本", "rollback|roll back|undo"),
    "scale": (
        "扩容|缩容|扩缩容|副本数|扩到|缩到|扩成|缩成|调到|扩展到|加到|减到|调整副本|改成|改为",
        "scale|scale up|scale down|scale out|scale in|bump|resize|set replicas",
    ),
    "delete": ("删除|删掉|干掉|删了|删一下", "delete|kill|remove"),
    "health": (
        "健康|诊断|排查|体检|检查|怎么了|出了什么问题|有什么问题|为什么|为啥|挂了吗|挂没挂|正常吗|还好吗|有没有问题|"
        "活着|内存不够|内存不足|内存溢出|是不是|坏了|坏掉|死了|跑不起来|能用吗|好了吗|恢复了吗",
        r"health|healthy|diagnose|troubleshoot|what'?s wrong|what is wrong|wrong with|why",
    ),
    # "orders 为什么一直重启" asks WHY: a diagnosis, never a restart proposal
    "restart_question": (
        "为什么|为啥|一直重启|反复重启|不停重启|频繁重启|重启了|重启次数|在重启|正在重启|重启中|哪些|有没有",
        r"why|keeps? restarting|restarting|restarted|restart count|which|any",
    ),
    "order": ("把|帮我|给我|请|麻烦", r"please|pls"),
    "logs": ("日志", "logs?"),
    "previous": (
        "上一次|上次|之前的|崩溃前|前一个|挂之前|重启前",
        r"previous|prev|last crash|before it crashed|before the crash",
    ),
    "events": ("事件", "events?"),
    "describe": ("描述|详情|详细信息|环境变量", r"describe|details?|env vars?"),
    "nodes": ("节点|机器", "nodes?"),
    "namespaces": ("命名空间|名字空间", "namespaces?|ns"),
    "deploys": ("部署|工作负载|应用", "deployments?|deploys?|workloads?|apps?"),
    "services": ("服务", "services?|svc"),
    "pods": ("容器组|实例", "pods?"),
    "clusters": ("集群列表|哪些集群|所有集群|有几个集群", "clusters|contexts?|list clusters"),
    "overview": ("状态|概况|总览|概览|怎么样|情况|整体", r"status|overview|summary|how is|how's"),
    "unhealthy": (
        "异常|不健康|有问题|失败|崩溃|报错|出错|起不来|挂了|不正常|坏了|坏掉|死了",
        r"unhealthy|failing|crash\w{0,6}|broken|not running|errors?",
    ),
    # a symptom with a name ("frontend 拉不到镜像", "payment-api 一直 crash"): diagnose that workload
    "symptom": (
        "拉不到|拉取失败|起不来|启动失败|报错|出错|挂了|不正常|异常|崩溃|一直重启|坏了|死了|内存不够|内存不足",
        r"crash\w{0,6}|failing|broken|down|errors?|not starting|not running|oom\w{0,6}|out of memory|dead|alive",
    ),
    "refers": ("它的|它|这个pod|那个pod|该pod", "its|it'?s|it|this pod|that pod"),
    "statefulset": ("", "statefulsets?|sts"),
    "warnings": ("告警|警告", "warnings?"),
    "cluster_word": ("集群", "k8s|kubernetes|cluster"),
    "whole": ("整体|全部|所有|整个|有没有什么|什么东西|哪里|哪儿|东西", r"anything|everything|all|overall|whole"),
    "mine": ("我的服务|我的应用|我们的服务|我的系统", r"my services?|my apps?|our services?"),
}

# Words that are never a resource name in a request (English fillers included: "help me check", "anything").
STOP = frozenset(
    """k8s kubernetes kubectl pod pods log logs the of me show list get in namespace namespaces ns events event
    describe deployment deployments deploy deploys service services svc node nodes cluster clusters status overview
    check health healthy hi hello hey please pls for a an is it its what whats are there which all my and to on at
    from see view look tail lines line previous prev restart rollback roll back scale delete kill cordon uncordon
    with this that one should be not sure them can you i im m s how about any do does up replicas replica state
    let lets have has give tell info information details detail whole current last first second third crash
    crashed crashing unhealthy failing broken running find where here now again pls thanks thank wrong going
    happened happening problem problems issue issues check container containers warning warnings why
    keeps keep restarting top usage errors error down help anything something everything right before after
    just quick quickly could would will might was were been being ok okay fine overall env environment
    apps app workload workloads our we us whether if or so then than too also only some see seen yet still
    doing work working fail failed fails recent recently latest today yesterday currently tell please want
    need needs go gone dead alive live status? into by about under over last please kindly hmm um uh yo
    lines? times time much many more most less few number count total sth stuff thing things one ones""".split()
)

# What people call a namespace in words: used only if such a namespace exists (the engine checks)
NAMESPACE_ALIASES: dict[str, str] = {
    "线上": "production",
    "生产环境": "production",
    "生产": "production",
    "正式环境": "production",
    "开发环境": "dev",
    "测试环境": "staging",
    "预发": "staging",
}

# What people call a cluster in words ("预发集群", "切到测试集群"): the word -> a dash-part of the cluster's name,
# used only when exactly one known cluster has that part (`resolve.cluster_named`)
CLUSTER_ALIASES: dict[str, str] = {
    "预发布": "staging",
    "预发": "staging",
    "预生产": "staging",
    "测试": "staging",
    "stage": "staging",
    "stg": "staging",
    "生产": "prod",
    "线上": "prod",
    "正式": "prod",
    "production": "prod",
}

# ---------------------------------------------------------------- control words (available at every step)
# A message made only of these (per clause) is a control, never a name or a new request.
CONTROL: dict[str, tuple[str, ...]] = {
    "yes": (
        "好的",
        "好",
        "好啊",
        "好吧",
        "执行",
        "执行吧",
        "确认",
        "确定",
        "是",
        "是的",
        "对",
        "对的",
        "可以",
        "行",
        "没问题",
        "继续",
        "开始",
        "运行",
        "同意",
        "批准",
        "就这样",
        "就这么办",
        "就这么做",
        "就这么干",
        "照办",
        "照做",
        "按这个来",
        "没毛病",
        "搞吧",
        "干吧",
        "嗯",
        "嗯嗯",
        "yes",
        "y",
        "yep",
        "yeah",
        "ok",
        "okay",
        "confirm",
        "sure",
        "go",
        "go ahead",
        "do it",
        "run it",
        "proceed",
        "approve",
        "continue",
        "run",
        "execute",
        "sounds good",
        "looks good",
        "lgtm",
        "yup",
        "sure thing",
        "go for it",
        "let's do it",
        "lets do it",
    ),
    "no": (
        "取消",
        "不行",
        "不可以",
        "不对",
        "不是这个",
        "别删",
        "别重启",
        "别动",
        "算了",
        "不用了",
        "先不用了",
        "不要了",
        "不了",
        "不要",
        "否",
        "不",
        "不是",
        "别",
        "别了",
        "停",
        "不看了",
        "不删了",
        "不改了",
        "不扩了",
        "不重启了",
        "不做了",
        "不执行了",
        "不弄了",
        "取消吧",
        "算了吧",
        "不用",
        "不必了",
        "没必要",
        "免了",
        "no",
        "n",
        "nope",
        "cancel",
        "never mind",
        "nevermind",
        "stop",
        "abort",
        "forget it",
        "don't",
        "dont",
        "cancel it",
        "no thanks",
        "nah",
        "no way",
        "not now",
        "skip it",
        "skip",
        "drop it",
        "forget about it",
    ),
    "back": ("返回", "上一步", "回到上一步", "back", "go back", "previous step"),
    "more": (
        "更多",
        "还有吗",
        "还有呢",
        "下一页",
        "下页",
        "再来一些",
        "more",
        "show more",
        "next",
        "next page",
        "more please",
    ),
}
# Said while a change waits for confirmation, the change's own verb is a "yes": "嗯，重启吧", "删吧", "扩吧"
PENDING_VERBS: dict[str, str] = {
    "restart_deployment": "重启|重新启动|restart",
    "delete_pod": "删|delete",
    "scale_deployment": "扩|缩|scale",
    "scale_statefulset": "扩|缩|scale",
    "rollback_deployment": "回滚|rollback|roll back",
    "cordon_node": "封锁|cordon",
    "uncordon_node": "解除|恢复|uncordon",
    "workload_health": "检查|诊断|排查|check|run|go",  # a health plan waiting for its go
}
# Chinese particles and politeness around a control word ("先不用了，取消吧", "好的，执行吧")
CONTROL_FILLER = re.compile(
    r"^(?:那|那就|先|还是|请|麻烦)|(?:吧|了|啊|呀|哈|呢|哦|喔|嘛|谢谢|谢了|多谢|please|pls|thanks)$"
)
# "不看了" / "不删了" / "不查了": "not <verb> any more" is a cancel whatever the verb (at most 3 characters)
CONTROL_NOT_ANYMORE = re.compile(r"^(?:先|暂时)?不[\u4e00-\u9fff]{1,3}了$")

# ---------------------------------------------------------------- switching in words
SWITCH_VERBS = words_pattern(
    "切换到|切换至|切到|切回到|切回|换回|换到|换成|转到|切换|回到|改用",
    r"switch to|switch back to|change to|go to|go back to|back to|use|move to|switch",
)
# What the word after the verb names, when the user says it ("切到 staging 集群", "switch to namespace dev")
SWITCH_KINDS: dict[str, tuple[str, ...]] = {
    "cluster": ("集群", "cluster", "context", "ctx"),
    "namespace": ("命名空间", "名字空间", "namespace", "ns"),  # "环境"/"env" may be either: resolved by name
}


# ---------------------------------------------------------------- refusals: what we don't do, why, and instead
@dataclass(frozen=True)
class Refusal:
    key: str
    pattern: re.Pattern[str]
    why_zh: str
    why_en: str
    instead_zh: str
    instead_en: str


def _either(raw: str, zh: str = "", en: str = "") -> re.Pattern[str]:
    """A refusal's pattern: bounded regexes (at most a few dozen characters between two words) plus words."""
    words = words_pattern(zh, en).pattern
    return re.compile(f"{raw}|{words}" if raw else words)


_B = r"(?<![a-z0-9_\-])"  # an English word starts here (not inside `cart-service`)
_E = r"(?![a-z0-9_\-])"
_KINDS = r"(?:deployments?|services?|svc|statefulsets?|nodes?|configmaps?|pvcs?|ingress(?:es)?|daemonsets?|jobs?)"

REFUSALS: tuple[Refusal, ...] = (
    Refusal(
        "reboot_node",
        _either(
            r"(?:重启|重新启动|关机|断电)[^，。]{0,24}?(?:节点|机器|服务器|主机|虚拟机)|"
            r"(?:节点|机器|服务器|主机|虚拟机)[^，。]{0,12}?(?:重启|重新启动|关机)|"
            rf"{_B}(?:restart|reboot|power off|shut down|shutdown)\s(?:the\s|this\s|that\s)?(?:node|machine|server|host|vm){_E}",
            "",
            r"reboot|power off|shutdown",
        ),
        "我不能重启或关闭节点（机器）：那是主机层面的操作，不在 Kubernetes API 里，也无法撤销。",
        "I can't reboot or power off a node (machine): that happens on the host, outside the Kubernetes API.",
        "我可以封锁节点（不再调度新 Pod），之后由你们在主机上重启；也可以列出节点，或删除节点上某个异常的 Pod。",
        "I can cordon the node (no new pods scheduled) so you can reboot it on the host; or list the nodes, or "
        "delete one failing pod on it.",
    ),
    Refusal(
        "delete_namespace",
        _either(
            r"(?:删除|删掉|干掉|删了)[^，。]{0,12}?(?:命名空间|名字空间)|(?:命名空间|名字空间)[^，。]{0,12}?(?:删除|删掉|删了)|"
            rf"{_B}(?:delete|remove|drop)\s(?:the\s)?(?:namespace|ns){_E}"
        ),
        "我不能删除命名空间：那会一次删掉里面的全部资源，无法撤销。",
        "I can't delete a namespace: it deletes everything in it at once and cannot be undone.",
        "我只能删除单个 Pod（需要确认）；可以先列出这个命名空间里的内容。",
        "I can only delete a single pod (with confirmation); I can list what the namespace holds.",
    ),
    Refusal(
        "bulk",
        _either(
            r"(?:全部|所有|全都|批量|一起)[^，。]{0,8}?(?:删|重启|干掉)|(?:删|重启|干掉)[^，。]{0,8}?(?:全部|所有|全都)|"
            rf"{_B}(?:delete|restart|kill|remove) (?:all|every|everything){_E}"
        ),
        "我不能一次删除或重启一批对象：批量改动的影响太大，必须一个一个确认。",
        "I can't delete or restart many objects at once: a bulk change is too risky, each one is confirmed alone.",
        "可以先列出异常的 Pod，再逐个删除（每个都需要确认），或者滚动重启一个 Deployment。",
        "I can list the unhealthy pods and delete them one by one (each confirmed), or restart one deployment.",
    ),
    Refusal(
        "delete_other",
        _either(
            r"(?:删除|删掉|干掉|删了)[^，。]{0,30}?(?:(?<![a-z0-9_\-])" + _KINDS + r"(?![a-z0-9_\-])|服务|节点|配置)|"
            rf"{_B}(?:delete|remove)\s(?:the\s)?{_KINDS}{_E}|{_B}(?:delete|remove)\s\S+\s{_KINDS}{_E}"
        ),
        "我只能删除单个 Pod，不能删除 Deployment、Service、节点等其他资源：这些改动要走发布流程。",
        "I can only delete single pods, not deployments, services, nodes or other resources: those belong in your "
        "release process.",
        "可以删除一个 Pod（会由控制器重建）、把 Deployment 缩到 0，或者封锁节点。",
        "I can delete a pod (its controller recreates it), scale a deployment to 0, or cordon a node.",
    ),
    Refusal(
        "exec",
        _either(
            r"(?:进入|进到|登录|登进|连到|连进|打开)[^，。]{0,40}?(?:容器|pod)|(?:容器|pod)[^，。]{0,20}?(?:里执行|里跑|执行命令)",
            "执行命令|跑个命令|跑一下命令|终端",
            "exec|kubectl exec|shell into|attach|attach to|open a shell|get a shell|run a command|run command",
        ),
        "我不能进入容器或在容器里执行命令：那等于给聊天群一个集群里的终端，超出策略能审计的范围。",
        "I can't exec into a container or run commands in it: that would give the chat a shell on the cluster, "
        "beyond what policies can audit.",
        "我可以看日志、描述 Pod（环境变量以引用方式显示）、看事件，或者做健康检查。",
        "I can show logs, describe the pod (env shown as references), show events, or run a health check.",
    ),
    Refusal(
        "port_forward",
        _either("", "端口转发|转发端口|映射端口|端口映射", r"port-forward|port forward|kubectl proxy|proxy"),
        "我不能做端口转发或代理：聊天机器人不应打开通往集群内部的网络通道。",
        "I can't port-forward or proxy: a chat bot must not open a network path into the cluster.",
        "我可以列出服务和它们的端口，或者检查后端 Pod 的健康状况。",
        "I can list the services and their ports, or check the health of the pods behind them.",
    ),
    Refusal(
        "set_env",
        _either(
            r"(?:设置|修改|改|加|添加|设|配置|注入)[^，。]{0,8}?环境变量|环境变量[^，。]{0,8}?(?:改|设|加)|"
            r"(?:日志级别|log ?level)[^，。]{0,8}?(?:改|调|设|换|to)|(?:改|调|设|换|change|set)[^，。]{0,8}?(?:日志级别|log ?level)",
            "改配置|修改配置|改configmap",
            r"set env|set an env|set the env|setenv|set environment|change (?:the )?env|update (?:the )?env|"
            r"edit (?:the )?configmap|patch|kubectl edit|edit",
        ),
        "我不能修改环境变量或配置：这类改动要走你们的发布流程（代码评审、版本记录），不应在聊天里直接改。",
        "I can't change environment variables or configuration: that belongs in your release process (review, "
        "history), not in a chat.",
        "我可以描述 Pod 让你看到当前的环境变量（密钥只显示引用），或者在发布后滚动重启/回滚。",
        "I can describe the pod so you see its current env (secrets only as references), or restart/roll back "
        "after a release.",
    ),
    Refusal(
        "secret",
        _either(
            "",
            "密钥|秘钥|密码|口令|凭证|凭据|证书私钥|令牌",
            r"secrets?|passwords?|credentials?|tokens?|api keys?|private keys?",
        ),
        "我不会读取 Secret 或任何凭证：它们不能出现在聊天记录里。",
        "I never read Secrets or any credentials: they must not end up in a chat log.",
        "我可以告诉你哪个 Pod 通过什么引用用到了它（描述 Pod），但不会显示内容。",
        "I can show which pod references it and how (describe the pod), never its content.",
    ),
    Refusal(
        "ssh",
        _either(
            "", "登录节点|登录到节点|登录服务器|登录机器|登上节点|远程登录", r"ssh|log ?in to (?:the )?node|login to"
        ),
        "我不能登录节点或服务器：我只通过 Kubernetes API 做有限的、可审计的操作。",
        "I can't log in to nodes or servers: I only work through the Kubernetes API, with limited, audited actions.",
        "我可以列出节点和它们的状态，或者在确认后封锁/解除封锁节点。",
        "I can list the nodes and their state, or cordon/uncordon a node after confirmation.",
    ),
    Refusal(
        "apply",
        _either(
            r"(?:建|创建|新建|添加|加|写)[^，。]{0,12}?(?:命名空间|名字空间|服务|(?<![a-z0-9_\-])(?:namespace|deployment|service|"
            r"ingress|pod|configmap|yaml|helm)(?![a-z0-9_\-]))|镜像[^，。]{0,6}?(?:改|换|升级|更新)|"
            r"(?:改|换|升级|更新)[^，。]{0,6}?镜像",
            "应用yaml|部署yaml|发布新版本|yaml",
            r"kubectl apply|apply|kubectl create|create (?:a |an )?(?:namespace|deployment|pod|service|ingress)|"
            r"add (?:a |an )?(?:ingress|service)|helm|set image|update (?:the )?image|deploy (?:a )?new version|"
            r"yaml|manifest",
        ),
        "我不能 apply 清单、创建资源或更换镜像：发布应走你们的 CI/CD，这样才有评审和版本记录。",
        "I can't apply manifests, create resources or change images: releases belong in your CI/CD, with review "
        "and history.",
        "我可以看发布后的状态（Deployment 列表、健康检查），或在出问题时回滚到上一个版本。",
        "I can show how a release is doing (deployments, health check), or roll back to the previous revision.",
    ),
    Refusal(
        "off_topic",
        _either(
            "",
            "天气|笑话|股票|新闻|吃什么|午饭|晚饭|唱首歌|讲个故事|几点了|翻译一下|写首诗|账单|费用|报销|请假",
            r"weather|joke|stock price|news|lunch|dinner|sing|tell me a story|poem|translate|cloud bill|invoice",
        ),
        "这个我做不到：我是 Kubernetes 值班助手，只能回答集群相关的问题。",
        "I can't help with that: I'm a Kubernetes on-duty assistant and only answer questions about the cluster.",
        "可以问我：集群状态、某个服务的日志、哪些 Pod 异常，或者检查某个服务的健康状况。",
        "Ask me about: the cluster's status, a service's logs, which pods are unhealthy, or a health check.",
    ),
    Refusal(
        "oncall_off",  # chosen by the parser for the on-call commands below when bot.alerts did not answer them
        re.compile(r"(?!)"),
        "这里无法查看：告警、事件和指标属于值班功能，没有开启（需要配置告警接收端口 ALERTS_PORT；指标还需要 "
        "PROMETHEUS_URL）。",
        "I can't show that here: alerts, incidents and metrics are the on-call features, not enabled here "
        "(ALERTS_PORT; metrics also need PROMETHEUS_URL).",
        "我可以检查某个服务的健康状况、列出异常的 Pod，或者看事件和日志。",
        "I can check a service's health, list the failing pods, or show events and logs.",
    ),
)
REFUSAL_BY_KEY = {r.key: r for r in REFUSALS}


# ---------------------------------------------------------------- on-call commands (answered by bot.alerts)
# Declared here with the other commands, so help, the parser and slash handling know them; bot.alerts executes
# them when the on-call loop is configured (ALERTS_PORT), else the engine says it is not (refusal `oncall_off`).
@dataclass(frozen=True)
class OnCallCommand:
    command: str  # the canonical slash command bot.alerts answers
    aliases: tuple[str, ...]  # other slash spellings
    usage: str
    help_zh: str
    help_en: str
    # whole-message phrasings (after normalising); a `name` group is the workload, a `ns` group its namespace
    phrases: tuple[re.Pattern[str], ...]


_WORKLOAD = r"(?P<name>[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)"
_IN_NS = r"(?:(?P<ns>[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)\s*(?:的|里的|中的|/)\s*)?"
ONCALL_COMMANDS: tuple[OnCallCommand, ...] = (
    OnCallCommand(
        "/incidents",
        ("/incident", "/事件"),
        "/incidents",
        "进行中和最近的告警事件",
        "open and recent incidents",
        (
            re.compile(
                r"(?:现在|当前|目前|最近)?(?:有哪些|有什么|有没有)(?:告警)?(?:事件|故障)(?:吗|呢)?|"
                r"(?:告警|值班|故障|进行中的|未恢复的)事件(?:列表)?|事件列表|"
                r"(?:show|list|any)?\s*(?:me\s)?(?:the\s)?(?:open\s|recent\s|current\s)?incidents(?:\s(?:please|now))?|"
                r"what incidents are (?:open|there)"
            ),
        ),
    ),
    OnCallCommand(
        "/metrics",
        ("/指标",),
        "/metrics <workload> [-n ns]",
        "工作负载的 CPU、内存、重启、错误率",
        "a workload's CPU, memory, restarts, error rate",
        (
            re.compile(rf"(?:看下|看看|查下|查看)?\s*{_IN_NS}{_WORKLOAD}\s*(?:的)?\s*(?:监控)?指标"),
            re.compile(
                rf"(?:show\s|get\s)?(?:me\s)?(?:the\s)?metrics\s(?:of|for)\s{_WORKLOAD}(?:\s(?:in|-n)\s(?P<ns>[a-z0-9-]{{1,63}}))?"
            ),
            re.compile(rf"{_WORKLOAD}\smetrics"),
        ),
    ),
)
ONCALL_BY_SLASH: dict[str, OnCallCommand] = {name: c for c in ONCALL_COMMANDS for name in (c.command, *c.aliases)}
