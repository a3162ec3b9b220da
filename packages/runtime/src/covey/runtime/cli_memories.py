"""`covey memories`: list, add and delete users' memories in the configured app's store.

```text
covey memories ls [--user U] [--topic T] [--json] [--tenant T]
covey memories add "text" --user U [--topic T]... [--tenant T]
covey memories rm ID... [--user U] [--tenant T]
```

They work in this process on the store of `covey.toml`, the one the server uses, as an operator
of the tenant: without `--user`, `ls` lists every user's memories and `rm` deletes any of the
tenant's; with it, only that user's. A memory always belongs to a user, so `add` needs `--user`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from covey.runtime.config import RuntimeSettings
from covey.spec.errors import ConfigurationError, InvalidInputError, NotFoundError

__all__ = ["add_memories_parser", "memories_command"]

EXIT_FAILED = 1


def add_memories_parser(
    commands: Any, config_option: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add `covey memories ls|add|rm` to the `covey` parser's subcommands."""
    memories = commands.add_parser(
        "memories", help="list, add and delete users' memories", allow_abbrev=False
    )
    actions = memories.add_subparsers(dest="action", required=True, metavar="ACTION")

    def common(sub: argparse.ArgumentParser, user_help: str, *, required: bool = False) -> None:
        config_option(sub)
        sub.add_argument("--tenant", default="default", help="the tenant (default: default)")
        sub.add_argument("--user", required=required, help=user_help)

    listing = actions.add_parser("ls", help="list memories, most recently updated first")
    common(listing, "only this user's (default: every user's)")
    listing.add_argument("--topic", help="only memories with this topic")
    listing.add_argument("--json", action="store_true", help="print as JSON")

    add = actions.add_parser("add", help="remember something about a user")
    common(add, "whose memory it is", required=True)
    add.add_argument("memory", help="the fact, in a sentence or two")
    add.add_argument(
        "--topic", dest="topics", action="append", default=[], help="a topic (repeatable)"
    )

    remove = actions.add_parser("rm", help="delete memories by id")
    common(remove, "only if they are this user's")
    remove.add_argument("ids", metavar="ID", nargs="+", help="a memory's id")


async def memories_command(settings: RuntimeSettings, args: argparse.Namespace) -> int:
    """Run `covey memories ACTION`; returns the exit status.

    Raises:
        ConfigurationError: the store is unusable, or an argument is not a valid id or memory.
    """
    from covey.runtime.app import open_store
    from covey.spec.store import Scope

    try:
        scope = Scope(args.tenant, args.user)
    except InvalidInputError as exc:
        raise ConfigurationError(f"--tenant/--user: {exc}") from None
    store = open_store(settings.store, base_dir=settings.base_dir)
    async with store:
        if settings.auto_migrate:
            migrate = getattr(store, "migrate", None)
            if migrate is not None:
                await migrate()
        if args.action == "add":
            return await _add(store, scope, args, sys.stdout)
        if args.action == "rm":
            return await _remove(store, scope, args.ids, sys.stdout, sys.stderr)
        return await _list(store, scope, args, sys.stdout)


async def _add(store: Any, scope: Any, args: argparse.Namespace, out: TextIO) -> int:
    from pydantic import ValidationError

    from covey.runtime.memory_dto import MemoryIn
    from covey.spec.store import Memory

    try:
        checked = MemoryIn(memory=args.memory, topics=args.topics, user_id=args.user)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"not a valid memory: {problems}") from None
    stored = await store.add_memory(
        scope,
        Memory(user_id=args.user, memory=checked.memory, topics=checked.topics),
    )
    out.write(f"{stored.id}\n")
    return 0


async def _remove(store: Any, scope: Any, ids: list[str], out: TextIO, err: TextIO) -> int:
    status = 0
    for memory_id in ids:
        try:
            await store.delete_memory(scope, memory_id)
        except (NotFoundError, InvalidInputError) as exc:
            err.write(f"{memory_id}: {exc}\n")
            status = EXIT_FAILED
        else:
            out.write(f"deleted {memory_id}\n")
    return status


async def _list(store: Any, scope: Any, args: argparse.Namespace, out: TextIO) -> int:
    rows: list[Any] = []
    cursor: str | None = None
    while True:
        page = await store.list_memories(scope, topic=args.topic, limit=200, cursor=cursor)
        rows.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    if args.json:
        out.write(json.dumps([r.model_dump(mode="json") for r in rows], indent=2) + "\n")
        return 0
    if not rows:
        out.write("No memories.\n")
        return 0
    for row in rows:
        topics = f"  [{', '.join(row.topics)}]" if row.topics else ""
        out.write(f"{row.id}  {row.user_id:<12}  {row.memory}{topics}\n")
    return 0
