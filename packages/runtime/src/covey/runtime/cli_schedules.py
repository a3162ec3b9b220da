"""`covey schedules`: list, add, pause, resume and delete schedules, and show their firings.

```text
covey schedules ls [--json] [--tenant T] [--user U]
covey schedules add NAME TARGET (--cron EXPR [--timezone TZ] | --every SECONDS) --input TEXT
                    [--kind agent|team|workflow] [--user U] [--tenant T] [--paused]
covey schedules runs ID [--limit N] [--json]
covey schedules pause|resume|rm ID... [--tenant T] [--user U]
```

They work in this process on the store of `covey.toml`, the one the servers use, as an
operator of the tenant (with `--user`, as that user: a schedule added so runs as them). The
servers fire what is stored; nothing here fires a run. Edits use the servers' compare-and-set,
so they never undo a firing a server is making.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from covey.runtime.config import RuntimeSettings
from covey.spec.errors import ConfigurationError, InvalidInputError

__all__ = ["add_schedules_parser", "schedules_command"]

EXIT_FAILED = 1


def add_schedules_parser(
    commands: Any, config_option: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add `covey schedules ls|add|runs|pause|resume|rm` to the `covey` parser."""
    schedules = commands.add_parser(
        "schedules", help="list, add, pause, resume and delete schedules", allow_abbrev=False
    )
    actions = schedules.add_subparsers(dest="action", required=True, metavar="ACTION")

    def common(sub: argparse.ArgumentParser) -> None:
        config_option(sub)
        sub.add_argument("--tenant", default="default", help="the tenant (default: default)")
        sub.add_argument("--user", help="as this user (default: the whole tenant)")

    listing = actions.add_parser("ls", help="list schedules by id")
    common(listing)
    listing.add_argument("--json", action="store_true", help="print as JSON")

    add = actions.add_parser("add", help="run an agent, team or workflow on a timetable")
    common(add)
    add.add_argument("name", help="a name for people")
    add.add_argument("target", help="the agent, team or workflow to run")
    add.add_argument("--kind", default="agent", choices=["agent", "team", "workflow"])
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--cron", help="5 fields, or 6 with seconds first")
    when.add_argument("--every", type=float, help="an interval in seconds")
    add.add_argument("--timezone", default="UTC", help="the IANA zone of --cron (default: UTC)")
    add.add_argument("--input", required=True, help="every run's input")
    add.add_argument("--paused", action="store_true", help="add it paused")

    runs = actions.add_parser("runs", help="a schedule's most recent firings, newest first")
    common(runs)
    runs.add_argument("id", help="the schedule's id")
    runs.add_argument("--limit", type=int, default=20, help="at most this many (1-100)")
    runs.add_argument("--json", action="store_true", help="print as JSON")

    for action, text in (("pause", "pause"), ("resume", "resume"), ("rm", "delete")):
        sub = actions.add_parser(action, help=f"{text} schedules by id")
        common(sub)
        sub.add_argument("ids", metavar="ID", nargs="+", help="a schedule's id")


async def schedules_command(settings: RuntimeSettings, args: argparse.Namespace) -> int:
    """Run `covey schedules ACTION`; returns the exit status.

    Raises:
        ConfigurationError: the store is unusable, or an argument is not valid (the message
            says which and why).
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
        if args.action == "ls":
            return await _list(store, scope, args.json, sys.stdout)
        if args.action == "add":
            return await _add(settings, store, scope, args, sys.stdout)
        if args.action == "runs":
            return await _runs(store, scope, args, sys.stdout)
        return await _change(store, scope, args.action, args.ids, sys.stdout, sys.stderr)


def _message(exc: BaseException) -> str:
    """An API problem's detail (not `HTTPException`'s "400: ..." form), or the error's text."""
    detail = getattr(exc, "detail", None)
    return detail if isinstance(detail, str) else str(exc)


def _refused(exc: BaseException) -> ConfigurationError:
    return ConfigurationError(f"not a valid schedule: {_message(exc)}")


async def _add(
    settings: RuntimeSettings, store: Any, scope: Any, args: argparse.Namespace, out: TextIO
) -> int:
    from pydantic import ValidationError

    from covey.runtime.problems import ApiError
    from covey.runtime.registry import load_registry
    from covey.runtime.schedules import service
    from covey.runtime.schedules.dto import ScheduleIn

    try:
        body = ScheduleIn(
            name=args.name,
            target_kind=args.kind,
            target_id=args.target,
            cron=args.cron,
            interval=args.every,
            timezone=args.timezone,
            input=args.input,
            enabled=not args.paused,
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"not a valid schedule: {problems}") from None
    paths = [settings.base_dir / p for p in settings.python_path]
    registry = load_registry(settings.agents, python_path=paths)
    try:
        saved = await service.create_schedule(store, registry, scope, body)
    except ApiError as exc:
        raise _refused(exc) from None
    out.write(f"{saved.id}  next: {_when(saved.next_run_at)}\n")
    return 0


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"


async def _list(store: Any, scope: Any, as_json: bool, out: TextIO) -> int:
    from covey.runtime.schedules.dto import ScheduleOut

    rows: list[ScheduleOut] = []
    cursor: str | None = None
    while True:
        page = await store.list_schedules(scope, limit=200, cursor=cursor)
        rows.extend(ScheduleOut.from_schedule(s) for s in page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    if as_json:
        out.write(json.dumps([r.model_dump(mode="json") for r in rows], indent=2) + "\n")
        return 0
    if not rows:
        out.write("No schedules.\n")
        return 0
    for r in rows:
        when = f"cron {r.cron!r} {r.timezone}" if r.cron else f"every {r.interval:g}s"
        state = "on " if r.enabled else "off"
        out.write(
            f"{r.schedule_id}  {state}  {r.target_kind}:{r.target_id}  {when}  "
            f"next {_when(r.next_run_at)}  fired {r.fired}  missed {r.missed}  {r.name}\n"
        )
    return 0


async def _runs(store: Any, scope: Any, args: argparse.Namespace, out: TextIO) -> int:
    from covey.runtime.problems import ApiError
    from covey.runtime.schedules import service

    if not 1 <= args.limit <= 100:
        raise ConfigurationError("--limit is 1 to 100")
    try:
        found = await service.get_schedule(store, scope, args.id)
    except (ApiError, InvalidInputError) as exc:
        sys.stderr.write(f"{args.id}: {_message(exc)}\n")
        return EXIT_FAILED
    firings = await service.firings(store, scope, found, args.limit)
    if args.json:
        out.write(json.dumps([f.model_dump(mode="json") for f in firings], indent=2) + "\n")
        return 0
    if not firings:
        out.write("No firings yet.\n")
    for f in firings:
        status = f.status.value if f.status is not None else "-"
        out.write(f"{_when(f.scheduled_for)}  {f.run_id}  {status}\n")
    return 0


async def _change(
    store: Any, scope: Any, action: str, ids: list[str], out: TextIO, err: TextIO
) -> int:
    from covey.runtime.problems import ApiError
    from covey.runtime.registry import Registry
    from covey.runtime.schedules import service
    from covey.runtime.schedules.dto import SchedulePatch

    status = 0
    for schedule_id in ids:
        try:
            if action == "rm":
                await service.get_schedule(store, scope, schedule_id)
                await store.delete_schedule(scope, schedule_id)
                out.write(f"deleted {schedule_id}\n")
                continue
            patch = SchedulePatch(enabled=action == "resume")
            saved = await service.update_schedule(store, Registry([]), scope, schedule_id, patch)
            out.write(f"{action}d {schedule_id}  next: {_when(saved.next_run_at)}\n")
        except (ApiError, InvalidInputError) as exc:
            err.write(f"{schedule_id}: {_message(exc)}\n")
            status = EXIT_FAILED
    return status
