"""``icp serve`` (the scoring API) and ``icp token`` (who may call it)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape

from icpkit.cli.common import WorkspaceOption, console, err_console, fail, open_workspace
from icpkit.cli.output import Column, print_table

LOG_LEVELS = ("debug", "info", "warning", "error")

token_app = typer.Typer(
    help="API tokens for icp serve: `icp token create --name NAME`, `list`, `revoke NAME`.",
    no_args_is_help=True,
)


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: serve.host, 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port to listen on (default: serve.port, 8080).")
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(min=1, help="Server processes (default: serve.workers, 1)."),
    ] = None,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error.")
    ] = "info",
    workspace: WorkspaceOption = None,
) -> None:
    """Serve the scoring API (POST /v1/score, GET /v1/icp, /healthz, /metrics, /docs)."""
    level = log_level.lower()
    if level not in LOG_LEVELS:
        fail(f"--log-level {log_level!r}: one of {', '.join(LOG_LEVELS)}", 2)
    ws = open_workspace(workspace)
    ws.require_icp()  # no ICP, nothing to serve: say so before announcing an address
    if not ws.tokens():
        err_console.print(
            "[yellow]warning:[/] no API token yet: every call but /healthz is refused; "
            "create one with: icp token create --name NAME"
        )
    settings = ws.settings.serve
    shown = f"http://{host or settings.host}:{port if port is not None else settings.port}"
    err_console.print(f"serving the ICP of {escape(str(ws.root))} on {shown} (docs: {shown}/docs)")
    ws.serve(host=host, port=port, workers=workers, log_level=level)


@token_app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="What calls with it, e.g. crm-sync.")],
    scope: Annotated[
        str, typer.Option(help="score (score and read) or read (the ICP, versions, metrics).")
    ] = "score",
    workspace: WorkspaceOption = None,
) -> None:
    """Create a token and print it once: it is stored only as a salted hash."""
    ws = open_workspace(workspace)
    info, token = ws.create_token(name, scope)
    err_console.print(
        f"created token {escape(info['name'])!s} ({info['scope']}); copy it now, "
        "it is not shown again:"
    )
    typer.echo(token)


@token_app.command("list")
def list_tokens(workspace: WorkspaceOption = None) -> None:
    """The tokens: name, scope, id, created, revoked (never the token)."""
    ws = open_workspace(workspace)
    tokens = ws.tokens()
    if not tokens:
        console.print("no API tokens; create one with: icp token create --name NAME")
        return
    columns = [
        Column("name"),
        Column("scope"),
        Column("id"),
        Column("created_at", "created"),
        Column("revoked_at", "revoked"),
    ]
    print_table([{**t, "revoked_at": t["revoked_at"] or ""} for t in tokens], columns)


@token_app.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The token's name.")],
    workspace: WorkspaceOption = None,
) -> None:
    """Revoke a token: a running server refuses it from its next request."""
    ws = open_workspace(workspace)
    info = ws.revoke_token(name)
    console.print(f"revoked token {escape(info['name'])} (id {info['id']})")
