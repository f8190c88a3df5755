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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
