"""`covey mcp serve`: the MCP server over stdio, for desktop MCP clients that start a command.

```text
covey mcp serve [--config covey.toml] [--expose agent:NAME ...] [--user U] [--tenant T]
```

It serves what `mcp_expose` in `covey.toml` names (or the `--expose` entries, which replace it)
on the configured store, in this process: runs are stored like the server's, under `--tenant`
and `--user` (the local user is the caller; there is no token on a pipe). Stdout is the
protocol, so every log line goes to stderr.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from typing import Any

from covey.runtime.auth import SCOPES, Principal
from covey.runtime.config import RuntimeSettings
from covey.runtime.runnables import Kind, Runnable
from covey.spec import RunResult
from covey.spec.errors import ConfigurationError, InvalidInputError

__all__ = ["add_mcp_parser", "mcp_command"]


def add_mcp_parser(commands: Any, config_option: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `covey mcp serve` to the `covey` parser's subcommands."""
    mcp = commands.add_parser("mcp", help="serve agents and tools as an MCP server")
    actions = mcp.add_subparsers(dest="action", required=True, metavar="ACTION")
    serve = actions.add_parser("serve", help="serve over stdio (for MCP clients that start it)")
    config_option(serve)
    serve.add_argument(
        "--expose",
        action="append",
        default=None,
        metavar="ENTRY",
        help="agent:NAME, team:NAME, workflow:NAME or tool:AGENT.TOOL (repeatable; replaces "
        "mcp_expose)",
    )
    serve.add_argument("--user", help="the user runs are stored under (default: none)")
    serve.add_argument("--tenant", default="default", help="the tenant (default: default)")


async def mcp_command(settings: RuntimeSettings, args: argparse.Namespace) -> int:
    """Run `covey mcp serve` until stdin closes; returns the exit status.

    Raises:
        ConfigurationError: nothing is exposed, an entry names nothing served, or the store is
            unusable.
    """
    from mcp.server.stdio import stdio_server

    from covey.runtime.app import open_store
    from covey.runtime.mcp_server import CoveyMcp, parse_exposure
    from covey.runtime.registry import load_registry
    from covey.runtime.toolsets import held_toolsets
    from covey.spec.store import Scope

    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    try:
        Scope(args.tenant, args.user)
    except InvalidInputError as exc:
        raise ConfigurationError(f"--tenant/--user: {exc}") from None
    entries = args.expose if args.expose is not None else settings.mcp_expose
    if not entries:
        raise ConfigurationError(
            "nothing to serve: set mcp_expose in covey.toml or pass --expose agent:NAME"
        )
    registry = load_registry(
        settings.agents, python_path=[settings.base_dir / p for p in settings.python_path]
    )
    exposed = parse_exposure(entries, registry)
    caller = Principal(user_id=args.user, tenant_id=args.tenant, scopes=frozenset(SCOPES[:-1]))
    store = open_store(settings.store, base_dir=settings.base_dir)

    async def run(
        kind: Kind,
        runnable: Runnable,
        text: str | dict[str, Any],
        session: str | None,
        who: Principal,
    ) -> RunResult[Any]:
        runner: Any = runnable
        return await runner.run(
            text,
            store=store,
            session_id=session,
            user_id=who.user_id,
            tenant_id=who.tenant_id,
        )

    async with store, held_toolsets([*registry, *registry.items("team")]):
        if settings.auto_migrate:
            migrate = getattr(store, "migrate", None)
            if migrate is not None:
                await migrate()
        mcp = CoveyMcp(exposed, run=run)
        await mcp.prepare()
        server = mcp.server(lambda ctx: caller)
        async with stdio_server() as (read, write):
            await server.run(read, write, server.create_initialization_options())
    return 0
