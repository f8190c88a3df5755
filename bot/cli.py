"""The `kubeduty` command. Each verb imports its implementation lazily so `--version` and `--help` stay fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from bot import __version__

app = typer.Typer(no_args_is_help=True, add_completion=False, help="KubeDuty: a Kubernetes on-duty copilot.")
sandbox_app = typer.Typer(no_args_is_help=True, help="The sandbox Kubernetes API server (demo and tests).")
mcp_app = typer.Typer(no_args_is_help=True, help="Serve the K8s tools over MCP.")
policy_app = typer.Typer(no_args_is_help=True, help="Check and explain policy files.")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(mcp_app, name="mcp")
app.add_typer(policy_app, name="policy")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"kubeduty {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    pass


@app.command()
def demo() -> None:
    """Start the sandbox cluster and chat with the bot in this terminal (no credentials needed)."""
    from bot.app import run_demo

    raise typer.Exit(run_demo())


@app.command()
def chat() -> None:
    """Chat with the bot in this terminal, against the current kubeconfig context."""
    from bot.app import run_console

    raise typer.Exit(run_console())


@app.command()
def run() -> None:
    """Production: connect to every platform (DingTalk, Feishu) that has credentials configured."""
    from bot.app import run_platforms

    raise typer.Exit(run_platforms())


@sandbox_app.command("serve")
def sandbox_serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 = any free port)")] = 8443,
    kubeconfig_out: Annotated[Path | None, typer.Option(help="Write a kubeconfig for this server here")] = None,
    seed: Annotated[str, typer.Option(help="demo | scale")] = "demo",
    namespaces: Annotated[int, typer.Option(help="scale seed: namespaces")] = 10,
    pods: Annotated[int, typer.Option(help="scale seed: pods per namespace")] = 1000,
) -> None:
    """Run the sandbox cluster alone, so kubectl and other tools can use it."""
    from tools.sandbox.serve import serve

    raise typer.Exit(serve(port=port, kubeconfig_out=kubeconfig_out, seed=seed, namespaces=namespaces, pods=pods))


@mcp_app.command("serve")
def mcp_serve(
    transport: Annotated[str, typer.Option(help="stdio | http")] = "stdio",
    host: Annotated[str, typer.Option(help="http: address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="http: port")] = 8765,
    read_only: Annotated[bool, typer.Option("--read-only/--allow-mutations", help="Refuse mutating tools")] = True,
) -> None:
    """Expose the built-in Kubernetes tools over MCP."""
    from tools.mcp_server import serve as serve_mcp

    raise typer.Exit(serve_mcp(transport=transport, host=host, port=port, read_only=read_only))


@policy_app.command("check")
def policy_check(
    files: Annotated[list[Path] | None, typer.Argument(help="Policy files; default: configured")] = None,
) -> None:
    """Validate policy files; print each problem with file, line and reason."""
    from bot.policy.cli import check

    raise typer.Exit(check(files or []))


@policy_app.command("explain")
def policy_explain(
    request: Annotated[str, typer.Argument(help="The request, e.g. '/scale dev/cart-service-v1 3'")],
    user: Annotated[str, typer.Option(help="platform:user_id, e.g. feishu:ou_123")],
    chat: Annotated[str, typer.Option(help="platform:chat_id, e.g. feishu:oc_456")],
    files: Annotated[list[Path] | None, typer.Option("--file", help="Policy files; default: configured")] = None,
) -> None:
    """Print the decision for a request and the rule that made it."""
    from bot.policy.cli import explain

    raise typer.Exit(explain(request=request, user=user, chat=chat, files=files or []))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
