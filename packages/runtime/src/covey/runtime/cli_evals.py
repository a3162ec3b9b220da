"""`covey eval`: run an eval suite against an agent or team of the configured app, for CI.

```text
covey eval SUITE.yaml [--agent ID] [--judge MODEL|module:attr] [--user U] [--tenant T]
                      [--concurrency N] [--json] [--no-save]
```

The agent is one the app serves (`agents` in covey.toml), the runs are ordinary runs in the
app's store, and the report is stored there too (listed by `GET /v1/evals`) unless `--no-save`.
The judge is a model string, or a `module:attribute` of the operator's code (a `ChatModel` or
a `covey.evals.Judge`), found on the app's `python_path`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any, cast

from covey.runtime.config import RuntimeSettings
from covey.spec.errors import ConfigurationError, InvalidInputError

__all__ = ["EXIT_THRESHOLD_FAILED", "add_eval_parser", "eval_command"]

EXIT_THRESHOLD_FAILED = 1

_EXIT_CODES = """exit status:
  0    every threshold of the suite held
  1    a threshold failed (the summary says which, and which cases failed)
  2    configuration error: unreadable or invalid suite, unknown agent, no judge for
       expected answers, bad covey.toml
  130  interrupted (Ctrl-C)
"""


def add_eval_parser(
    commands: Any, config_option: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add `covey eval` to the `covey` parser's subcommands."""
    evaluate = commands.add_parser(
        "eval",
        help="run an eval suite (YAML/JSON) against an agent; exits 1 when a threshold fails",
        epilog=_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    config_option(evaluate)
    evaluate.add_argument("suite", metavar="SUITE", help="the suite file (.yaml, .yml, .json)")
    evaluate.add_argument("--agent", metavar="ID", help="the agent or team (default: the suite's)")
    evaluate.add_argument(
        "--judge", metavar="MODEL", help="the judge: provider:model or module:attribute"
    )
    evaluate.add_argument("--user", help="run as this user (default: none)")
    evaluate.add_argument("--tenant", default="default", help="the tenant (default: default)")
    evaluate.add_argument("--concurrency", type=int, default=4, help="case runs at once")
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.add_argument("--no-save", action="store_true", help="do not store the report")


async def eval_command(settings: RuntimeSettings, args: argparse.Namespace) -> int:
    """Run `covey eval`; returns the exit status.

    Raises:
        ConfigurationError: the suite, agent, judge or store is unusable.
    """
    from covey.core import Runnable

    try:
        from covey.evals import SuiteError, load_suite, run_suite, save_report
        from covey.evals.references import resolve_judge
    except ModuleNotFoundError as exc:
        if exc.name is None or not exc.name.startswith("covey.evals"):
            raise
        raise ConfigurationError(
            "covey eval needs covey-evals: pip install 'covey-runtime[evals]'"
        ) from None

    # The same setup as `covey run` (registry, store, migrations, learning grace).
    from covey.runtime.cli import (
        _learned,  # pyright: ignore[reportPrivateUsage]
        _prepare_store,  # pyright: ignore[reportPrivateUsage]
        _setup,  # pyright: ignore[reportPrivateUsage]
    )
    from covey.spec.store import Scope

    try:
        scope = Scope(args.tenant, args.user)
    except InvalidInputError as exc:
        raise ConfigurationError(f"--tenant/--user: {exc}") from None
    try:
        suite = load_suite(args.suite)
        name = args.agent or suite.agent
        if name is None:
            raise ConfigurationError(f"{args.suite}: name the agent with --agent or `agent:`")
        found, store = _setup(settings, name)  # puts the app's python_path on sys.path
        if not isinstance(found, Runnable):
            raise ConfigurationError(f"{name!r} is a workflow; evals run agents and teams")
        target = cast("Runnable[Any, Any]", found)
        reference = args.judge or suite.judge
        judge = resolve_judge(reference) if reference else None
        async with store:
            await _prepare_store(settings, store)
            try:
                report = await run_suite(
                    suite,
                    target,
                    judge=judge,
                    user_id=args.user,
                    tenant_id=args.tenant,
                    concurrency=args.concurrency,
                    agent_name=name,
                    store=store,
                )
                if not args.no_save:
                    await save_report(store, scope, report)
            finally:
                await _learned(settings)
    except SuiteError as exc:
        raise ConfigurationError(str(exc)) from None
    if args.json:
        print(report.model_dump_json(indent=2))
    else:
        print(report.summary())
        if not args.no_save:
            print(f"  report: {report.id}")
    sys.stdout.flush()
    return 0 if report.passed else EXIT_THRESHOLD_FAILED
