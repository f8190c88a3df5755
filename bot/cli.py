"""The `kubeduty` command. Each verb imports its implementation lazily so `--version` and `--help` stay fast."""

from __future__ import annotations

import gc
import sys

from bot.fastpath import fast_path

if __name__ == "__main__" or sys.argv[0].endswith("kubeduty"):  # the program, not an import (tests)
    # Start-up creates ~10^5 tracked objects that live as long as the process (modules, classes, models): the
    # default thresholds run ~250 collections over them that free almost nothing, ~6% of the import CPU.
    # `bot.app.tune_gc` sets the thresholds for running once started.
    gc.set_threshold(100_000, 50, 100)
    try:
        fast_path(sys.argv[1:])  # `demo`, `mcp serve` (stdio) start without typer (bot/fastpath.py); exit if run
    except Exception as exc:  # noqa: BLE001  (re-raised unless a bad setting: one line, exit 2)
        from bot.ops.settings_errors import exit_on_settings_error

        exit_on_settings_error(exc)

from pathlib import Path
from typing import Annotated, Any

import typer

from bot import __version__

app = typer.Typer(no_args_is_help=True, add_completion=False, help="KubeDuty: a Kubernetes on-duty copilot.")
sandbox_app = typer.Typer(no_args_is_help=True, help="The sandbox Kubernetes API server (demo and tests).")
mcp_app = typer.Typer(no_args_is_help=True, help="Serve the K8s tools over MCP.")
policy_app = typer.Typer(no_args_is_help=True, help="Check and explain policy files.")
app.add_typer(sandbox_app, name="sandbox")
app.add_typer(mcp_app, name="mcp")
app.add_typer(policy_app, name="policy")
runbook_app = typer.Typer(no_args_is_help=True, help="Check the on-call runbooks (tools/runbooks).")
app.add_typer(runbook_app, name="runbook")


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


_USER_HELP = "Who is typing (console:NAME in policies); switch mid-session with /as NAME"


@app.command()
def demo(user: Annotated[str | None, typer.Option(help=_USER_HELP)] = None) -> None:
    """Start the sandbox cluster and chat with the bot in this terminal (no credentials needed)."""
    from bot.app import run_demo

    raise typer.Exit(run_demo(user=user))


@app.command()
def chat(user: Annotated[str | None, typer.Option(help=_USER_HELP)] = None) -> None:
    """Chat with the bot in this terminal, against the current kubeconfig context."""
    from bot.app import run_console

    raise typer.Exit(run_console(user=user))


@app.command()
def run() -> None:
    """Production: connect to every platform (DingTalk, Feishu) that has credentials configured."""
    # Not via bot.app: importing the whole bot first would keep /healthz silent for seconds.
    from bot.channels.runner import run_production

    raise typer.Exit(run_production("bot.app"))


@sandbox_app.command("serve")
def sandbox_serve(
    port: Annotated[int, typer.Option(help="Port on 127.0.0.1 (0 = any free port)")] = 8443,
    kubeconfig_out: Annotated[Path | None, typer.Option(help="Write a kubeconfig for this server here")] = None,
    seed: Annotated[str, typer.Option(help="demo | staging | scale | empty")] = "demo",
    namespaces: Annotated[int, typer.Option(help="scale seed: namespaces")] = 10,
    pods: Annotated[int, typer.Option(help="scale seed: pods per namespace")] = 1000,
    insecure_http: Annotated[bool, typer.Option(help="Plain HTTP instead of TLS (tools that cannot do TLS)")] = False,
    users: Annotated[Path | None, typer.Option(help="Users file (token -> user, groups)")] = None,
    manifests: Annotated[Path | None, typer.Option(help="Load these objects (e.g. RBAC) before serving")] = None,
    freeze_time: Annotated[bool, typer.Option(help="Keep statuses still (no restarts, instant rollouts)")] = False,
    speed: Annotated[float, typer.Option(help="Time speed-up for back-offs and start-ups")] = 1.0,
    alert_webhook: Annotated[
        str | None, typer.Option(help="Post Alertmanager-format alerts here (the bot's receiver), no Prometheus needed")
    ] = None,
    alert_token_file: Annotated[
        Path | None, typer.Option(help="File with the receiver's bearer token (else $ALERTS_TOKEN)")
    ] = None,
) -> None:
    """Run the sandbox cluster alone, so kubectl and other tools can use it."""
    import os

    from tools.sandbox.serve import serve

    # the token from a file or the environment, never the command line (other users can read that)
    token = (
        alert_token_file.read_text(encoding="utf-8").strip() if alert_token_file else os.environ.get("ALERTS_TOKEN", "")
    )
    if alert_webhook and not token:
        typer.echo("--alert-webhook needs a token: --alert-token-file or $ALERTS_TOKEN", err=True)
        raise typer.Exit(2)

    raise typer.Exit(
        serve(
            port=port,
            kubeconfig_out=kubeconfig_out,
            seed=seed,
            namespaces=namespaces,
            pods=pods,
            insecure_http=insecure_http,
            users=users,
            manifests=manifests,
            freeze_time=freeze_time,
            speed=speed,
            alert_webhook=alert_webhook,
            alert_token=token,
        )
    )


@sandbox_app.command("incident")
def sandbox_incident(
    kind: Annotated[str, typer.Argument(help="oom | crashloop | imagepull | pending | badrollout")],
    name: Annotated[str, typer.Argument(help="The Deployment to break, e.g. orders")],
    namespace: Annotated[
        str | None, typer.Option("--namespace", "-n", help="Its namespace, if the name is not unique")
    ] = None,
    kubeconfig: Annotated[
        Path | None, typer.Option(help="The kubeconfig `sandbox serve` wrote (default $KUBECONFIG)")
    ] = None,
    context: Annotated[str | None, typer.Option(help="Kubeconfig context (default: current)")] = None,
) -> None:
    """Trigger a scripted incident in a running `kubeduty sandbox serve` (as its cluster-admin)."""
    from tools.sandbox.drill_client import run_cli

    raise typer.Exit(run_cli(kind, name, namespace, kubeconfig, context))


@mcp_app.command("serve")
def mcp_serve(
    transport: Annotated[str, typer.Option(help="stdio | http")] = "stdio",
    host: Annotated[str, typer.Option(help="http: address to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="http: port")] = 8765,
    read_only: Annotated[bool, typer.Option("--read-only/--allow-mutations", help="Refuse mutating tools")] = True,
) -> None:
    """Expose the built-in Kubernetes tools over MCP."""
    if transport == "stdio":  # discovery answered before the MCP SDK loads (tools/mcp_front.py)
        from tools.mcp_front import serve_stdio

        raise typer.Exit(serve_stdio(read_only=read_only))
    from tools.mcp_server import serve as serve_mcp

    raise typer.Exit(serve_mcp(transport=transport, host=host, port=port, read_only=read_only))


@policy_app.command("check")
def policy_check(
    files: Annotated[list[Path] | None, typer.Argument(help="Policy files; default: configured")] = None,
) -> None:
    """Validate policy files; print each problem with file, line and reason."""
    from bot.policy.cli import check

    raise typer.Exit(check(files or [], vocabulary=_policy_vocabulary()))


@policy_app.command("explain")
def policy_explain(
    request: Annotated[str, typer.Argument(help="The request, e.g. '/scale dev/cart-service-v1 3'")],
    user: Annotated[str, typer.Option(help="platform:user_id, e.g. feishu:ou_123")],
    chat: Annotated[str, typer.Option(help="platform:chat_id, e.g. feishu:oc_456")],
    files: Annotated[list[Path] | None, typer.Option("--file", help="Policy files; default: configured")] = None,
) -> None:
    """Print the decision for a request and the rule that made it."""
    from bot.policy.cli import explain

    vocabulary = _policy_vocabulary()
    raise typer.Exit(explain(request=request, user=user, chat=chat, files=files or [], vocabulary=vocabulary))


def _policy_vocabulary() -> Any:
    """The names policy files may use, from the configured catalogue and MCP servers (exit 2 if unreadable)."""
    from bot.app import policy_vocabulary
    from bot.settings import load_settings

    try:
        return policy_vocabulary(load_settings())
    except ValueError as exc:  # McpConfigError, a settings error: say which, no traceback
        typer.echo(f"cannot read the configuration the policy names depend on: {exc}", err=True)
        raise typer.Exit(2) from exc


@runbook_app.command("check")
def runbook_check(
    files: Annotated[list[Path] | None, typer.Argument(help="Runbook files; default: the shipped ones")] = None,
) -> None:
    """Validate runbooks; print each problem with file, line and reason (unknown tools, shell steps ...)."""
    from tools.runbooks import check

    raise typer.Exit(check(files or []))


def main() -> None:
    try:
        app()
    except Exception as exc:  # noqa: BLE001  (re-raised unless a bad setting: one line, exit 2)
        from bot.ops.settings_errors import exit_on_settings_error

        exit_on_settings_error(exc)


if __name__ == "__main__":
    main()
