"""A real browser against a server with auth off: Debian's Chromium driven by Playwright.

A page from another origin (another loopback address, as any site the developer opens would be)
tries to start a run and to approve a paused one: a `text/plain` fetch (no CORS preflight), a
form POST and a WebSocket. None of it may run anything. A page from an origin listed in
`cors_origins` does the same and succeeds. Chromium comes from `scripts/system_deps.sh`
(`apt-get install chromium`); without it these tests fail, they never skip.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><html><body><iframe name='sink'></iframe></body></html>"
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class PageServer:
    """Serves an empty page on `address`: the origin a browser page comes from."""

    def __init__(self, address: str) -> None:
        self.server = ThreadingHTTPServer((address, 0), _Page)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: the browser tests need Debian's Chromium. Install it with "
            "`bash scripts/system_deps.sh` (apt-get install chromium); never `playwright install`."
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


ATTACK = """async ({target, runId}) => {
  const results = {};
  const body = JSON.stringify({input: "/tmp/from-evil"});
  // 1. fetch with a simple content type: no CORS preflight, the request goes out.
  try {
    await fetch(target + "/v1/agents/approver/runs",
                {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body});
    await fetch(target + "/v1/runs/" + runId + "/resume",
                {method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"},
                 body: JSON.stringify({approvals: {d1: true}})});
    results.fetch = "sent";
  } catch (e) { results.fetch = "failed: " + e; }
  // 2. a form POST, text/plain, whose body is JSON.
  await new Promise((resolve) => {
    const frame = document.querySelector("iframe");
    frame.onload = resolve;
    const form = document.createElement("form");
    form.method = "POST";
    form.enctype = "text/plain";
    form.target = "sink";
    form.action = target + "/v1/agents/approver/runs";
    const field = document.createElement("input");
    field.name = '{"input": "/tmp/form", "pad": "';
    field.value = '"}';
    form.appendChild(field);
    document.body.appendChild(form);
    form.submit();
  });
  results.form = "submitted";
  // 3. a WebSocket: start a run, and approve the paused one.
  results.socket = await new Promise((resolve) => {
    const ws = new WebSocket(target.replace("http", "ws") + "/v1/agents/approver/ws");
    const seen = [];
    ws.onopen = () => {
      ws.send(JSON.stringify({input: "/tmp/socket"}));
      ws.send(JSON.stringify({type: "resume", run_id: runId, approvals: {d1: true}}));
    };
    ws.onmessage = (m) => seen.push(JSON.parse(m.data).type);
    ws.onclose = (e) => resolve({opened: seen.length > 0, code: e.code, seen});
    setTimeout(() => { ws.close(); resolve({opened: true, timeout: true, seen}); }, 10000);
  });
  return results;
}"""

TRUSTED = """async ({target, runId}) => {
  const results = {};
  const response = await fetch(target + "/v1/agents/echo/runs", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({input: "from a trusted page"})});
  results.run = await response.json();
  results.socket = await new Promise((resolve) => {
    const ws = new WebSocket(target.replace("http", "ws") + "/v1/agents/approver/ws");
    ws.onopen = () => ws.send(JSON.stringify({input: "/tmp/trusted"}));
    ws.onmessage = (m) => {
      const event = JSON.parse(m.data);
      if (event.type === "run.paused") {
        ws.send(JSON.stringify({type: "resume", run_id: event.run_id, approvals: {d1: true}}));
      } else if (event.type === "run.completed") {
        ws.close();
        resolve(event.result.output);
      }
    };
    ws.onclose = (e) => resolve("closed " + e.code);
  });
  const resumed = await fetch(target + "/v1/runs/" + runId + "/resume", {
    method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({approvals: {d1: true}})});
  results.resumed = await resumed.json();
  return results;
}"""


def pause(api: httpx.Client) -> str:
    run = api.post("/v1/agents/approver/runs", json={"input": "/tmp/precious"}).json()
    assert run["status"] == "paused"
    return run["run_id"]


def test_a_page_from_another_origin_can_neither_run_nor_approve(serve, page: Any) -> None:
    server, api = serve()
    run_id = pause(api)
    with PageServer("127.0.0.2") as attacker:
        page.goto(attacker.origin + "/")
        results = page.evaluate(ATTACK, {"target": server.url, "runId": run_id})
    assert results["fetch"] == "sent"
    assert results["form"] == "submitted"
    socket = results["socket"]
    assert socket["opened"] is False, socket
    # Only the paused run the developer started exists, and it still waits for them.
    sessions = api.get("/v1/sessions").json()["items"]
    assert len(sessions) == 1
    runs = api.get(f"/v1/sessions/{sessions[0]['session_id']}/runs").json()["items"]
    assert [(r["run_id"], r["status"]) for r in runs] == [(run_id, "paused")]
    assert runs[0]["tool_calls"] == []


def test_a_page_from_a_listed_origin_can_run_and_approve(serve, page: Any) -> None:
    with PageServer("127.0.0.3") as trusted:
        server, api = serve(cors_origins=[trusted.origin])
        run_id = pause(api)
        page.goto(trusted.origin + "/")
        results = page.evaluate(TRUSTED, {"target": server.url, "runId": run_id})
    assert results["run"]["output"] == "echo: from a trusted page"
    assert results["socket"] == "result: deleted /tmp/trusted"
    assert results["resumed"]["output"] == "result: deleted /tmp/precious"
