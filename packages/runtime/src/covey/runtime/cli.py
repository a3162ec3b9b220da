"""The `covey` command: serve, run, chat, plugins, migrate, knowledge, memories, schedules,
approvals, eval, costs, mcp, new.

```text
covey serve [--config covey.toml] [--host 127.0.0.1] [--port 8000] [--workers N]
covey run ID "prompt" [--session ID] [--user U] [--json]  # ID: an agent's, team's, workflow's
covey chat ID [--session ID] [--user U]
covey plugins [--json]
covey migrate
covey knowledge ingest KB PATH... | search KB "query" [-k N --mode M --json] | ls KB
covey memories ls [--user U --topic T --json] | add "text" --user U [--topic T] | rm ID...
covey schedules ls | add NAME TARGET (--cron EXPR | --every S) --input TEXT | runs ID | pause|resume|rm ID...
covey eval SUITE.yaml [--agent ID] [--judge MODEL] [--json] [--no-save]  # 1: a threshold failed
covey approvals ls [--status S --run ID --json] | approve ID [--note T] | reject ID  # over HTTP
covey costs [--tenant T --user U --session S | --run ID] [--json]   # priced by genai-prices
covey new tool-package NAME [--into DIR]          # a covey-tools-NAME package from a template
covey mcp serve [--expose agent:NAME ...] [--user U]  # an MCP server over stdio
```

Every command reads `covey.toml` (`--config`, else `$COVEY_CONFIG`, else `./covey.toml`) and
`COVEY_*` variables. `--user` (and `--tenant`) run as that user: what the agent learns about
its user (`learning=`) needs one; before exiting, `run` and `chat` wait up to `learning_grace`
seconds for the learning still running.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Generator, Sequence
from contextlib import ExitStack, contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any, TextIO, TypeVar

import anyio

from covey.runtime.config import RuntimeSettings, load_settings
from covey.spec.errors import ConfigurationError, CoveyError

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal

__all__ = ["main"]

T = TypeVar("T")

EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_PAUSED = 3
EXIT_INTERRUPTED = 130

_RUN_EXIT_CODES = f"""exit status:
  0    the run completed (its output is printed)
  {EXIT_FAILED}    the run failed or was cancelled (the error goes to stderr; with --json, the run)
  {EXIT_CONFIG}    configuration error: bad covey.toml or COVEY_* value, unknown id, store
  {EXIT_PAUSED}    the run paused for a human: approval, input or an external tool result (the
       pending requirements go to stderr; with --json they are the run's "requirements")
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="covey",
        description="Serve and run Covey agents, teams and workflows.",
        allow_abbrev=False,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def config_option(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--config",
            metavar="PATH",
            help="covey.toml to read (default: $COVEY_CONFIG, else ./covey.toml if present)",
        )

    serve = commands.add_parser("serve", help="start the HTTP service", allow_abbrev=False)
    config_option(serve)
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default 8000)")
    serve.add_argument("--workers", type=int, help="worker processes (default 1)")

    run = commands.add_parser(
        "run",
        help="run an agent, team or workflow once and print its answer",
        epilog=_RUN_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    config_option(run)
    run.add_argument("agent", metavar="ID", help="the agent's, team's or workflow's name")
    run.add_argument("prompt", help="what to ask")
    run.add_argument("--session", metavar="ID", help="continue this session")
    _user_options(run)
    run.add_argument("--json", action="store_true", help="print the run as JSON")

    chat = commands.add_parser("chat", help="talk to an agent, team or workflow in the terminal")
    config_option(chat)
    chat.add_argument("agent", metavar="ID", help="the agent's, team's or workflow's name")
    chat.add_argument("--session", metavar="ID", help="continue this session")
    _user_options(chat)

    plugins = commands.add_parser("plugins", help="list installed plugins")
    plugins.add_argument("--json", action="store_true", help="print as JSON")

    migrate = commands.add_parser("migrate", help="apply the store's schema migrations")
    config_option(migrate)

    from covey.runtime.cli_knowledge import add_knowledge_parser

    add_knowledge_parser(commands, config_option)

    from covey.runtime.cli_memories import add_memories_parser

    add_memories_parser(commands, config_option)

    from covey.runtime.cli_mcp import add_mcp_parser

    add_mcp_parser(commands, config_option)
    from covey.runtime.cli_schedules import add_schedules_parser

    add_schedules_parser(commands, config_option)
    from covey.runtime.cli_evals import add_eval_parser

    add_eval_parser(commands, config_option)
    from covey.runtime.cli_approvals import add_approvals_parser

    add_approvals_parser(commands)
    from covey.runtime.cli_costs import add_costs_parser

    add_costs_parser(commands, config_option)

    from covey.runtime.cli_new import add_new_parser

    add_new_parser(commands)
    return parser


def _user_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--user", help="run as this user (what the agent learns is about them; default: none)"
    )
    parser.add_argument("--tenant", default="default", help="the user's tenant (default: default)")


def _who(args: argparse.Namespace) -> dict[str, Any]:
    """`user_id` and `tenant_id` of a run from `--user` and `--tenant`, checked."""
    from covey.spec.errors import InvalidInputError
    from covey.spec.store import Scope

    try:
        Scope(args.tenant, args.user)
    except InvalidInputError as exc:
        raise ConfigurationError(f"--tenant/--user: {exc}") from None
    return {"user_id": args.user, "tenant_id": args.tenant}


async def _learned(settings: RuntimeSettings) -> None:
    """Wait for the background learning of the runs of this command (`learning_grace`)."""
    from covey.core.learning import pending_learning, wait_for_learning

    if pending_learning():
        await wait_for_learning(within=settings.learning_grace)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the `covey` command; returns the exit status."""
    args = _parser().parse_args(argv)
    try:
        if args.command == "serve":
            from covey.runtime.server import serve

            settings = load_settings(
                args.config,
                overrides={"host": args.host, "port": args.port, "workers": args.workers},
            )
            serve(settings)
            return 0
        if args.command == "plugins":
            return _plugins(sys.stdout, as_json=args.json)
        if args.command == "new":
            from covey.runtime.cli_new import new_command

            return new_command(args)
        if args.command == "approvals":
            from covey.runtime.cli_approvals import approvals_command

            return approvals_command(args)
        settings = load_settings(args.config)
        if args.command == "migrate":
            return anyio.run(_migrate, settings)
        if args.command == "run":
            return anyio.run(
                _run, settings, args.agent, args.prompt, args.session, args.json, _who(args)
            )
        if args.command == "chat":
            return _chat(settings, args.agent, args.session, _who(args))
        if args.command == "knowledge":
            from covey.runtime.cli_knowledge import knowledge_command

            return anyio.run(knowledge_command, settings, args)
        if args.command == "memories":
            from covey.runtime.cli_memories import memories_command

            return anyio.run(memories_command, settings, args)
        if args.command == "mcp":
            from covey.runtime.cli_mcp import mcp_command

            return anyio.run(mcp_command, settings, args)
        if args.command == "schedules":
            from covey.runtime.cli_schedules import schedules_command

            return anyio.run(schedules_command, settings, args)
        if args.command == "eval":
            from covey.runtime.cli_evals import eval_command

            return anyio.run(eval_command, settings, args)
        if args.command == "costs":
            from covey.runtime.cli_costs import costs_command

            return anyio.run(costs_command, settings, args)
    except ConfigurationError as exc:
        print(f"covey: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except KeyboardInterrupt:
        print(file=sys.stderr)  # end the line the interrupted answer or prompt left open
        return EXIT_INTERRUPTED
    return EXIT_CONFIG  # pragma: no cover - argparse requires a command


def _plugins(out: TextIO, *, as_json: bool) -> int:
    from covey.spec.plugins import describe

    rows = [
        {
            "kind": info.kind,
            "name": info.name,
            "distribution": info.distribution,
            "version": info.version,
            "target": info.value,
        }
        for infos in describe().values()
        for info in infos
    ]
    if as_json:
        out.write(json.dumps(rows, indent=2) + "\n")
        return 0
    if not rows:
        out.write("No Covey plugins installed.\n")
        return 0
    header = ("kind", "name", "distribution", "version")
    widths = [
        max(len(str(r[h])) for r in [dict(zip(header, header, strict=True)), *rows]) for h in header
    ]
    out.write("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip() + "\n")
    for row in rows:
        cells = [str(row[h]).ljust(w) for h, w in zip(header, widths, strict=True)]
        out.write("  ".join(cells).rstrip() + "\n")
    return 0


async def _migrate(settings: RuntimeSettings) -> int:
    from covey.runtime.app import open_store, redact_url

    store = open_store(settings.store, base_dir=settings.base_dir)
    async with store:
        migrate = getattr(store, "migrate", None)
        if migrate is None:
            print(
                f"The store {redact_url(settings.store)} ({type(store).__name__}) needs no "
                "migrations."
            )
            return 0
        await migrate()
    print(f"Migrated {redact_url(settings.store)}.")
    return 0


def _setup(settings: RuntimeSettings, agent_name: str) -> tuple[Any, Any]:
    from covey.runtime.app import open_store
    from covey.runtime.registry import load_registry

    registry = load_registry(settings.agents, python_path=settings.import_paths)
    agent = registry.find(agent_name)
    if agent is None:
        served = "; ".join(
            f"{kind}s: {', '.join(registry.names(kind)) or 'none'}"
            for kind in ("agent", "team", "workflow")
        )
        raise ConfigurationError(
            f"No agent, team or workflow {agent_name!r} in the registry ({served})"
        )
    if registry.notice:
        print(f"[{registry.notice}]", file=sys.stderr)
    return agent, open_store(settings.store, base_dir=settings.base_dir)


async def _stream(agent: Any, events: Any, out: TextIO) -> Any:
    """Print a run's text as it streams; tool calls go to stderr. Returns the final result.

    A team's or workflow's stream carries its member and step runs' events too: their starts,
    ends and tool calls go to stderr, marked with their name; only the run's own text is
    printed, and its text output is printed at the end when none of it was streamed (a
    workflow's, a routed member's answer).
    """
    from covey.runtime.live import FINAL_EVENTS
    from covey.spec import events as ev

    result: Any = None
    top: str | None = None
    streamed = False
    async for event in events:
        top = top or event.run_id
        child = event.run_id != top
        mark = f"[{event.agent_name or 'run'}] " if child else ""
        if isinstance(event, ev.TextDelta):
            if not child:
                streamed = True
                out.write(event.delta)
                out.flush()
        elif isinstance(event, ev.ToolCallStarted):
            print(f"\n{mark}[tool] {event.tool_name}({json.dumps(event.args)})", file=sys.stderr)
        elif isinstance(event, ev.ToolCallFailed):
            print(f"{mark}[tool failed] {event.tool_name}: {event.error}", file=sys.stderr)
        elif child and isinstance(event, ev.RunStarted):
            print(f"\n{mark}started", file=sys.stderr)
        elif isinstance(event, FINAL_EVENTS):
            if child:
                print(f"{mark}{event.result.status.value}", file=sys.stderr)
                continue
            result = event.result
            if not streamed and isinstance(result.output, str) and result.output:
                out.write(result.output)
                out.flush()
    return result


def _exit_status(result: Any) -> int:
    """0 completed, 3 paused, 1 anything else (failed, cancelled): see `covey run --help`."""
    from covey.spec import RunStatus

    if result.status is RunStatus.COMPLETED:
        return 0
    return EXIT_PAUSED if result.status is RunStatus.PAUSED else EXIT_FAILED


def _print_end(result: Any, out: TextIO) -> int:
    from covey.spec import RunStatus

    status = result.status
    if status is RunStatus.COMPLETED:
        if not isinstance(result.output, str):
            from pydantic_core import to_json

            out.write(to_json(result.output, indent=2).decode())
        out.write("\n")
        return 0
    if status is RunStatus.PAUSED:
        out.write("\n")
        for requirement in result.requirements:
            print(
                f"[paused] {requirement.kind} needed for {requirement.tool_name}"
                f"({json.dumps(requirement.args)}) — tool call {requirement.tool_call_id}",
                file=sys.stderr,
            )
        print(
            f"[paused] resume run {result.run_id} with POST /v1/runs/{{id}}/resume", file=sys.stderr
        )
        return EXIT_PAUSED
    detail = f": {result.error.message}" if result.error else ""
    print(f"\n[run {status.value}{detail}]", file=sys.stderr)
    return EXIT_FAILED


async def _prepare_store(settings: RuntimeSettings, store: Any) -> None:
    if settings.auto_migrate:
        migrate = getattr(store, "migrate", None)
        if migrate is not None:
            await migrate()


async def _run(
    settings: RuntimeSettings,
    agent_name: str,
    prompt: str,
    session: str | None,
    as_json: bool,
    who: dict[str, Any],
) -> int:
    from covey.runtime.dto import RunOut

    agent, store = _setup(settings, agent_name)
    async with store:
        await _prepare_store(settings, store)
        try:
            if as_json:
                result = await agent.run(prompt, session_id=session, store=store, **who)
                print(RunOut.from_result(result).model_dump_json(indent=2))
                return _exit_status(result)
            events = agent.run_stream(prompt, session_id=session, store=store, **who)
            result = await _stream(agent, events, sys.stdout)
            return _print_end(result, sys.stdout)
        finally:
            await _learned(settings)


def _ask(question: str) -> str | None:
    """A line typed by the user, or `None` at end of input. Runs in the main thread, so Ctrl-C
    raises `KeyboardInterrupt` here at once."""
    try:
        return input(question)
    except EOFError:
        return None


def _in_loop(portal: BlockingPortal, func: Callable[[], Awaitable[T]]) -> T:
    """Run `func()` on the portal's event loop and wait for it. Ctrl-C cancels it, waits for it
    to finish its cleanup (the run is recorded as cancelled), then raises `KeyboardInterrupt`."""
    finished = threading.Event()

    async def guarded() -> T:
        try:
            return await func()
        finally:
            finished.set()

    future = portal.start_task_soon(guarded)
    try:
        return future.result()
    except KeyboardInterrupt:
        future.cancel()
        finished.wait()
        raise


def _decisions(result: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]] | None:
    """Ask the user for each pending requirement; `None` when one cannot be met here."""
    approvals: dict[str, Any] = {}
    inputs: dict[str, dict[str, Any]] = {}
    for requirement in result.requirements:
        if requirement.kind == "approval":
            answer = _ask(
                f"\nAllow {requirement.tool_name}({json.dumps(requirement.args)})? [y/N] "
            )
            approvals[requirement.tool_call_id] = (answer or "").lower() in ("y", "yes")
        elif requirement.kind == "input":
            inputs[requirement.tool_call_id] = {
                name: _ask(f"{requirement.tool_name} needs {name}: ")
                for name in requirement.input_fields
            }
        else:
            print(f"[external tool {requirement.tool_name} cannot run here]", file=sys.stderr)
            return None
    return approvals, inputs


async def _say(agent: Any, line: str, session_id: str, store: Any, who: dict[str, Any]) -> Any:
    return await _stream(
        agent, agent.run_stream(line, session_id=session_id, store=store, **who), sys.stdout
    )


async def _decide(
    agent: Any,
    run_id: str,
    approvals: dict[str, Any],
    inputs: dict[str, dict[str, Any]],
    store: Any,
    who: dict[str, Any],
) -> Any:
    events = agent.resume_stream(run_id, approvals=approvals, inputs=inputs, store=store, **who)
    return await _stream(agent, events, sys.stdout)


@contextmanager
def _loop_thread() -> Generator[BlockingPortal]:
    """An event loop in another thread that never takes Ctrl-C.

    A signal goes to any thread that does not block it; taken by the loop's thread, it would not
    interrupt the main thread's read of the terminal. Threads inherit the mask of the thread that
    starts them, so the loop's thread and its workers are started with SIGINT blocked.
    """
    from anyio.from_thread import start_blocking_portal

    with ExitStack() as stack:
        mask = getattr(signal, "pthread_sigmask", None)  # POSIX only
        previous = mask(signal.SIG_BLOCK, {signal.SIGINT}) if mask is not None else None
        try:
            portal = stack.enter_context(start_blocking_portal())
        finally:
            if mask is not None and previous is not None:
                mask(signal.SIG_SETMASK, previous)
        yield portal


def _chat(
    settings: RuntimeSettings, agent_name: str, session: str | None, who: dict[str, Any]
) -> int:
    """The conversation: the terminal is read in the main thread, the agent runs on an event
    loop in another, so Ctrl-C stops a prompt or an answer at once."""
    from covey.spec.store import new_id

    agent, store = _setup(settings, agent_name)
    session_id = session or new_id()
    print(
        f"Chatting with {agent_name} (session {session_id}). "
        "Empty line or Ctrl-D quits; Ctrl-C stops at once."
    )
    with _loop_thread() as portal, portal.wrap_async_context_manager(store):
        _in_loop(portal, lambda: _prepare_store(settings, store))
        status = _converse(portal, agent, session_id, store, who)
        _in_loop(portal, lambda: _learned(settings))  # not after Ctrl-C: that stops at once
        return status


def _converse(
    portal: BlockingPortal, agent: Any, session_id: str, store: Any, who: dict[str, Any]
) -> int:
    from covey.spec import RunStatus

    while True:
        line = _ask("> ")
        if line is None or not line.strip():
            return 0
        try:
            result = _in_loop(portal, partial(_say, agent, line, session_id, store, who))
            while result is not None and result.status is RunStatus.PAUSED:
                decided = _decisions(result)
                if decided is None:
                    return EXIT_PAUSED
                result = _in_loop(
                    portal, partial(_decide, agent, result.run_id, *decided, store, who)
                )
            if result is not None:
                _print_end(result, sys.stdout)
        except CoveyError as exc:
            print(f"[error] {exc}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
