"""`covey costs`: what runs cost, from the configured app's store, priced by genai-prices.

```text
covey costs [--tenant T] [--user U] [--session S] [--json]   # a tenant, user or session
covey costs --run ID [--tenant T] [--json]                    # one run, with its member runs
```

It reads the store of `covey.toml` (the server's) in this process, as an operator of the
tenant: without `--user`, every user's runs; with it, that user's. The same numbers as
`GET /v1/costs`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, TextIO

from covey.runtime.config import RuntimeSettings
from covey.spec.errors import ConfigurationError, InvalidInputError

__all__ = ["add_costs_parser", "costs_command"]

EXIT_NOT_FOUND = 1


def add_costs_parser(
    commands: Any, config_option: Callable[[argparse.ArgumentParser], None]
) -> None:
    """Add `covey costs` to the `covey` parser's subcommands."""
    costs = commands.add_parser(
        "costs", help="what runs cost (a tenant, user, session or run)", allow_abbrev=False
    )
    config_option(costs)
    costs.add_argument("--tenant", default="default", help="the tenant (default: default)")
    costs.add_argument("--user", help="only this user's runs (default: every user's)")
    costs.add_argument("--session", metavar="ID", help="only this session's runs")
    costs.add_argument("--run", metavar="ID", help="one run, with its member and step runs")
    costs.add_argument("--json", action="store_true", help="print as JSON")


async def costs_command(settings: RuntimeSettings, args: argparse.Namespace) -> int:
    """Run `covey costs`; returns the exit status.

    Raises:
        ConfigurationError: the store is unusable, or an argument is not a valid id.
    """
    from covey.runtime.app import open_store
    from covey.runtime.costs import CostSummary, price_runs, sum_descendants, sum_runs
    from covey.spec.store import Scope, check_id

    try:
        scope = Scope(args.tenant, args.user)
        for value, name in ((args.session, "--session"), (args.run, "--run")):
            if value is not None:
                check_id(value, name)
    except InvalidInputError as exc:
        raise ConfigurationError(str(exc)) from None
    store = open_store(settings.store, base_dir=settings.base_dir)
    async with store:
        summary = CostSummary()
        truncated = False
        own: float | None = None
        if args.run is not None:
            run = await store.get_run(scope, args.run)
            if run is None:
                sys.stderr.write(f"covey: no run {args.run!r} in tenant {args.tenant!r}\n")
                return EXIT_NOT_FOUND
            await price_runs(summary, [run])
            own = float(summary.cost_usd)
            await sum_descendants(store, scope, summary, run.id)
        else:
            truncated = await sum_runs(store, scope, summary, session_id=args.session)
    _print(summary, args, own, truncated, sys.stdout)
    return 0


def _print(
    summary: Any, args: argparse.Namespace, own: float | None, cut: bool, out: TextIO
) -> None:
    from covey.runtime.costs import prices_version

    models = sorted(summary.by_model.values(), key=lambda e: (-e.cost_usd, e.model))
    if args.json:
        body: dict[str, Any] = {
            "tenant_id": args.tenant,
            "user_id": args.user,
            "session_id": args.session,
            "run_id": args.run,
            "runs": summary.runs,
            "requests": summary.requests,
            "unpriced_requests": summary.unpriced_requests,
            "cost_usd": float(summary.cost_usd),
            "by_model": [
                {
                    "model": e.model,
                    "provider": e.provider,
                    "requests": e.requests,
                    "unpriced_requests": e.unpriced,
                    "input_tokens": e.input_tokens,
                    "output_tokens": e.output_tokens,
                    "cost_usd": float(e.cost_usd),
                }
                for e in models
            ],
            "truncated": cut,
            "prices": prices_version(),
        }
        if own is not None:
            body["own_cost_usd"] = own
        out.write(json.dumps(body, indent=2) + "\n")
        return
    out.write(
        f"{summary.runs} run(s), {summary.requests} model request(s), "
        f"${summary.cost_usd:.6f}"
        + (f" (the run alone: ${own:.6f})" if own is not None else "")
        + (" — cut short at the listing limit" if cut else "")
        + "\n"
    )
    for e in models:
        unpriced = f"  ({e.unpriced} unpriced)" if e.unpriced else ""
        out.write(
            f"  {e.model:<28} {e.provider or '-':<12} {e.requests:>6} req  "
            f"{e.input_tokens:>10} in  {e.output_tokens:>10} out  ${e.cost_usd:.6f}{unpriced}\n"
        )
    out.write(f"prices: {prices_version()}\n")
