"""`covey approvals`: the approvals inbox of a running server, from a terminal.

```text
covey approvals ls [--status pending|approved|rejected|all] [--run ID] [--json] [--url URL]
covey approvals approve ID [--note TEXT] [--url URL]
covey approvals reject ID [--note TEXT] [--url URL]
```

Unlike `covey memories`, these talk to the server over HTTP (`--url`, else `$COVEY_URL`, else
`http://127.0.0.1:8000`) with the bearer token in `$COVEY_TOKEN` (when auth is on): a decision
resumes its run, and the run must go on where the agents are served, through the same
compare-and-set as every other decider. The token is sent, never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, TextIO

__all__ = ["add_approvals_parser", "approvals_command"]

EXIT_FAILED = 1
DEFAULT_URL = "http://127.0.0.1:8000"
_TIMEOUT = 30.0


def add_approvals_parser(commands: Any) -> None:
    """Add `covey approvals ls|approve|reject` to the `covey` parser's subcommands."""
    approvals = commands.add_parser(
        "approvals", help="list and decide what paused runs wait for", allow_abbrev=False
    )
    actions = approvals.add_subparsers(dest="action", required=True, metavar="ACTION")

    def common(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--url",
            default=os.environ.get("COVEY_URL", DEFAULT_URL),
            help=f"the server (default: $COVEY_URL or {DEFAULT_URL}); token: $COVEY_TOKEN",
        )

    listing = actions.add_parser("ls", help="list approvals, oldest first")
    common(listing)
    listing.add_argument(
        "--status",
        choices=["pending", "approved", "rejected", "all"],
        default="pending",
        help="which (default: pending)",
    )
    listing.add_argument("--run", metavar="ID", help="only this run's")
    listing.add_argument("--json", action="store_true", help="print as JSON")
    for name, verb in (("approve", "approve a tool call"), ("reject", "reject a tool call")):
        decide = actions.add_parser(name, help=verb)
        common(decide)
        decide.add_argument("id", metavar="ID", help="the approval's id (from `ls`)")
        decide.add_argument("--note", help="why (kept with the decision)")


def approvals_command(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run `covey approvals ACTION`; returns the exit status."""
    sink: TextIO = out or sys.stdout
    client = _Client(args.url, os.environ.get("COVEY_TOKEN"))
    try:
        if args.action == "ls":
            return _list(client, args, sink)
        body = {"approved": args.action == "approve", "note": args.note}
        decided = client.call("POST", f"/v1/approvals/{urllib.parse.quote(args.id, safe='')}", body)
    except _FailedError as exc:
        print(f"covey: {exc}", file=sys.stderr)
        return EXIT_FAILED
    waiting: list[Any] = decided.get("waiting_for") or []
    tail = f"; waiting for {', '.join(map(str, waiting))}" if waiting else ""
    sink.write(f"{decided['status']} {decided['approval_id']}: run {decided['run_id']} is ")
    sink.write(f"{decided.get('run_status')}{tail}\n")
    return 0


def _list(client: _Client, args: argparse.Namespace, out: TextIO) -> int:
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query: dict[str, str] = {"limit": "200"}
        if args.status != "all":
            query["status"] = args.status
        if args.run:
            query["run_id"] = args.run
        if cursor:
            query["cursor"] = cursor
        page = client.call("GET", "/v1/approvals?" + urllib.parse.urlencode(query))
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            break
    if args.json:
        out.write(json.dumps(items, indent=2) + "\n")
        return 0
    if not items:
        out.write("No approvals.\n")
        return 0
    for item in items:
        args_text = json.dumps(item["args"], ensure_ascii=False)
        if len(args_text) > 80:
            args_text = args_text[:77] + "..."
        decided = "" if item["status"] == "pending" else f"  {item['status']}"
        by = f" by {item['resolved_by']}" if item.get("resolved_by") else ""
        out.write(
            f"{item['approval_id']}  {item.get('agent_id') or '-':<12}  "
            f"{item['tool_name']}({args_text}){decided}{by}\n"
        )
    return 0


class _FailedError(Exception):
    """The server refused, or could not be reached; the message says which and why."""


class _Client:
    __slots__ = ("_base", "_token")

    def __init__(self, url: str, token: str | None) -> None:
        self._base = url.rstrip("/")
        self._token = token

    def __repr__(self) -> str:  # never the token
        return f"_Client({self._base!r})"

    def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        request = urllib.request.Request(
            self._base + path, data=data, method=method, headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=_TIMEOUT) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise _FailedError(_problem(exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _FailedError(f"cannot reach {self._base}: {reason}") from None


def _problem(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read())
        detail = body.get("detail") or body.get("title")
        slug = str(body.get("type", "")).rpartition(":")[2]
    except (ValueError, AttributeError):
        detail, slug = exc.reason, ""
    return f"{exc.code} {slug}: {detail}" if slug else f"{exc.code}: {detail}"
