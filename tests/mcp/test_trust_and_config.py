"""What the bot believes about tools it did not write, and the MCP servers file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mcp_types as mt
import pytest

from bot.tooling.mcp_config import McpConfigError, McpServerConfig, load_config, parse_config
from bot.tooling.mcp_source import infer_resource_verb, tool_info

SCHEMA = {"type": "object", "properties": {"namespace": {"type": "string"}, "name": {"type": "string"}}}


def tool(name: str, **annotations: Any) -> mt.Tool:
    ann = mt.ToolAnnotations(**annotations) if annotations else None
    return mt.Tool(name=name, description=f"{name} tool", input_schema=SCHEMA, annotations=ann)


def cfg(**kw: Any) -> McpServerConfig:
    return McpServerConfig(name="k8smcp", command="/bin/true", **kw)


def test_a_read_only_hint_alone_does_not_make_an_external_tool_a_read() -> None:
    info, _ = tool_info(
        tool("pods_list", read_only_hint=True), source="k8smcp", prefix="k8smcp_", config=cfg(), trusted=False
    )
    assert (info.name, info.mutates, info.risk) == ("k8smcp_pods_list", True, "high")


def test_an_allow_listed_tool_is_a_read_and_keeps_its_schema_for_slot_filling() -> None:
    config = cfg(read_only_tools=["pods_list_in_namespace"])
    info, warnings = tool_info(
        tool("pods_list_in_namespace", read_only_hint=True),
        source="k8smcp",
        prefix="k8smcp_",
        config=config,
        trusted=False,
    )
    assert (info.mutates, info.risk, info.resource, info.verb) == (False, "read", "pods", "list")
    assert info.required == () and set(info.properties) == {"namespace", "name"}
    assert info.annotations["read_only_hint"] is True
    assert warnings == []


def test_an_unannotated_tool_is_mutating_with_high_risk() -> None:
    info, _ = tool_info(tool("pods_run"), source="k8smcp", prefix="k8smcp_", config=cfg(), trusted=False)
    assert (info.mutates, info.risk, info.resource, info.verb) == (True, "high", "pods", "run")


def test_an_allow_list_the_server_contradicts_is_overruled_and_reported() -> None:
    config = cfg(read_only_tools=["pods_delete"])
    info, warnings = tool_info(
        tool("pods_delete", read_only_hint=False, destructive_hint=True),
        source="k8smcp",
        prefix="k8smcp_",
        config=config,
        trusted=False,
    )
    assert info.mutates is True and info.risk == "high"
    assert len(warnings) == 1 and "pods_delete" in warnings[0]


def test_per_tool_overrides_set_risk_resource_verb_and_titles() -> None:
    config = cfg(
        tools={
            "resources_scale": {"risk": "medium", "resource": "deployments", "title_zh": "扩缩容"},
            "configuration_view": {"mutates": False},
        }
    )
    scale, _ = tool_info(
        tool("resources_scale", destructive_hint=True), source="k8smcp", prefix="k8smcp_", config=config, trusted=False
    )
    assert (scale.mutates, scale.risk, scale.resource, scale.verb, scale.title("zh")) == (
        True,
        "medium",
        "deployments",
        "scale",
        "扩缩容",
    )
    view, _ = tool_info(tool("configuration_view"), source="k8smcp", prefix="k8smcp_", config=config, trusted=False)
    assert (view.mutates, view.risk) == (False, "read")


def test_an_operator_cannot_declare_a_mutating_tool_low_risk_by_calling_it_read() -> None:
    config = cfg(tools={"pods_exec": {"risk": "read"}})
    info, warnings = tool_info(
        tool("pods_exec", read_only_hint=False, destructive_hint=True),
        source="k8smcp",
        prefix="k8smcp_",
        config=config,
        trusted=False,
    )
    assert (info.mutates, info.risk) == (True, "high") and warnings


def test_tool_names_are_made_safe_for_llm_function_names() -> None:
    info, _ = tool_info(tool("get.pod/logs"), source="x", prefix="x_", config=cfg(), trusted=False)
    assert info.name == "x_get_pod_logs"


@pytest.mark.parametrize(
    ("name", "mutates", "expected"),
    [
        ("pods_list", False, ("pods", "list")),
        ("pods_list_in_namespace", False, ("pods", "list")),
        ("pods_log", False, ("pods", "logs")),
        ("pods_delete", True, ("pods", "delete")),
        ("resources_scale", True, ("", "scale")),
        ("namespaces_list", False, ("namespaces", "list")),
        ("events_list", False, ("events", "list")),
        ("nodes_top", False, ("nodes", "top")),
        ("getPodLogs", False, ("pods", "logs")),
        ("restart_deployment", True, ("deployments", "restart")),
        ("helm_install", True, ("helm", "install")),
        ("frobnicate", True, ("", "call")),
        ("frobnicate", False, ("", "get")),
    ],
)
def test_resource_and_verb_are_inferred_from_tool_names(name: str, mutates: bool, expected: tuple[str, str]) -> None:
    assert infer_resource_verb(name, mutates=mutates) == expected


def test_a_config_file_loads_with_commands_relative_to_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "mcp.yaml"
    path.write_text(
        "servers:\n"
        "  - name: k8smcp\n"
        "    command: bin/kubernetes-mcp-server\n"
        "    args: [--read-only]\n"
        "    read_only_tools: [pods_list]\n"
        "    tools: {resources_scale: {risk: medium}}\n"
        "  - name: remote\n"
        "    url: http://127.0.0.1:8080/mcp\n"
        "    prefix: r_\n"
        "    enabled: false\n"
    )
    config = load_config(path)
    local, remote = config.servers
    assert local.command == str(tmp_path / "bin" / "kubernetes-mcp-server")
    assert (local.tool_prefix, local.transport, local.read_only_tools) == ("k8smcp_", "stdio", ["pods_list"])
    assert local.tools["resources_scale"].risk == "medium"
    assert (remote.tool_prefix, remote.transport, remote.enabled) == ("r_", "http", False)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("servers:\n  - name: a\n", "exactly one of `command`"),
        ("servers:\n  - name: a\n    command: x\n    url: http://h/mcp\n", "exactly one of `command`"),
        ("servers:\n  - name: a\n    url: ftp://h\n", "http:// or https://"),
        ("servers:\n  - name: 'bad name'\n    command: x\n", "servers[0] (bad name).name"),
        ("servers:\n  - {name: a, command: x}\n  - {name: a, command: y}\n", "unique"),
        ("servers:\n  - {name: a, command: x, prefix: ''}\n", "non-empty prefix"),
        ("servers:\n  - {name: a, command: x, tools: {t: {risk: extreme}}}\n", "servers[0] (a).tools.t.risk"),
        ("servers: [\n", "not valid YAML"),
        ("- just a list\n", "servers"),
    ],
)
def test_a_bad_config_file_is_refused_with_the_file_and_the_problem(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "mcp.yaml"
    path.write_text(text)
    with pytest.raises(McpConfigError) as err:
        load_config(path)
    assert fragment in str(err.value)
    assert str(path) in str(err.value)


def test_a_missing_config_file_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    with pytest.raises(McpConfigError, match="cannot read the MCP servers file"):
        load_config(tmp_path / "nope.yaml")


def test_an_empty_document_means_no_servers(tmp_path: Path) -> None:
    assert parse_config(None, base=tmp_path).servers == []


def test_the_example_config_in_deploy_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "deploy" / "mcp-servers.example.yaml"
    config = load_config(example)
    assert [s.name for s in config.servers][0] == "k8smcp"
    assert "pods_list_in_namespace" in config.servers[0].read_only_tools
    assert "pods_delete" not in config.servers[0].read_only_tools
