"""The console's first load: what a browser transfers to show the start screen.

A real runtime on loopback (auth off, three agents) and Debian's Chromium driven by Playwright,
as in the console's tests. A fresh browser context opens `/console/` and waits until the
overview lists the agents; every response of that load is counted: requests, bytes on the
wire (headers + body as sent, gzipped where the browser accepts it) and bytes after decoding.
Then the same context reloads (the browser revalidates: 304s) and opens the chat screen (its
module loads then, not before). Chromium must be installed (`scripts/system_deps.sh`).
"""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path
from typing import Any

TITLE = "console: first load over loopback (Chromium)"
HEADER = ("measurement", "requests", "on the wire", "decoded", "note")

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _serve() -> tuple[Any, str]:
    import socket

    import uvicorn

    from covey.core import Agent
    from covey.core.testing import TestModel
    from covey.runtime import Registry, RuntimeSettings, create_app

    registry = Registry(
        [Agent(name=n, model=TestModel()) for n in ("weather", "refunds", "support")]
    )
    app = create_app(RuntimeSettings(store="memory://"), registry=registry)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    threading.Thread(target=server.run, daemon=True).start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    return server, f"http://127.0.0.1:{port}"


def _load(page: Any, action: Any) -> tuple[int, int, int, float]:
    seen: list[Any] = []

    def record(request: Any) -> None:
        seen.append(request)

    page.on("requestfinished", record)
    started = time.perf_counter()
    action()
    elapsed = (time.perf_counter() - started) * 1000
    page.remove_listener("requestfinished", record)
    wire = decoded = 0
    for request in seen:
        sizes = request.sizes()
        wire += sizes["responseHeadersSize"] + sizes["responseBodySize"]
        response = request.response()
        decoded += len(response.body()) if response is not None and response.status == 200 else 0
    return len(seen), wire, decoded, elapsed


def run() -> list[tuple[str, ...]]:
    if not CHROMIUM.exists():
        return [("skipped", "", "", "", f"{CHROMIUM} missing: bash scripts/system_deps.sh")]
    from playwright.sync_api import sync_playwright

    server, url = _serve()
    rows: list[tuple[str, ...]] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            firsts: list[tuple[int, int, int, float]] = []
            for _ in range(5):
                context = browser.new_context()
                page = context.new_page()

                def first(page: Any = page) -> None:
                    page.goto(f"{url}/console/")
                    page.get_by_role("link", name="weather").first.wait_for()

                firsts.append(_load(page, first))
                if len(firsts) == 5:
                    reload = _load(
                        page,
                        lambda page=page: (
                            page.reload(),
                            page.get_by_role("link", name="weather").first.wait_for(),
                        ),
                    )
                    chat = _load(
                        page,
                        lambda page=page: (
                            page.get_by_role("link", name="Chat").click(),
                            page.get_by_text("Pick an agent, a team or a workflow").wait_for(),
                        ),
                    )
                context.close()
            browser.close()
    finally:
        server.should_exit = True
    count, wire, decoded, _ = firsts[-1]
    ms = statistics.median(f[3] for f in firsts)
    rows.append(
        (
            "first load, fresh browser (start screen listed)",
            str(count),
            f"{wire / 1024:.1f} KiB",
            f"{decoded / 1024:.1f} KiB",
            f"median {ms:.0f} ms to the agents listed, 5 loads",
        )
    )
    rows.append(
        (
            "reload (revalidated, 304s)",
            str(reload[0]),
            f"{reload[1] / 1024:.1f} KiB",
            f"{reload[2] / 1024:.1f} KiB",
            f"{reload[3]:.0f} ms",
        )
    )
    rows.append(
        (
            "then open Chat (its module on demand)",
            str(chat[0]),
            f"{chat[1] / 1024:.1f} KiB",
            f"{chat[2] / 1024:.1f} KiB",
            f"{chat[3]:.0f} ms",
        )
    )
    return rows
