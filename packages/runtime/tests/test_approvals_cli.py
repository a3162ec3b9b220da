"""`covey approvals ls|approve|reject` against a server on loopback with JWT auth: lists the
caller's inbox, decides once, reports a refusal with exit status 1, and never prints the
token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from approvals_agents import build
from runtime_helpers import wait_for
from test_auth import SECRET, token

from covey.runtime import open_store
from covey.runtime.cli import main

pytest.importorskip("covey.db.sql", reason="covey-db-sql provides the SQLite store")

ISSUER = {"aud": "covey-api", "iss": "https://issuer"}


def test_list_approve_and_refuse_from_the_cli(
    serve: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    server, api = serve(
        store=open_store(f"sqlite:///{tmp_path / 'covey.db'}"),
        registry=build(),
        auth="jwt",
        jwt_secret=SECRET,
        jwt_audience="covey-api",
        jwt_issuer="https://issuer",
    )
    secret = token("ann", scope="agents:run runs:read runs:write", **ISSUER)
    headers = {"Authorization": f"Bearer {secret}"}
    run = api.post("/v1/agents/approver/runs", json={"input": "/cli"}, headers=headers).json()
    monkeypatch.setenv("COVEY_URL", server.url)
    monkeypatch.delenv("COVEY_TOKEN", raising=False)

    assert main(["approvals", "ls"]) == 1  # no token: refused, and said so
    assert "401" in capsys.readouterr().err

    monkeypatch.setenv("COVEY_TOKEN", secret)
    assert main(["approvals", "ls", "--json"]) == 0
    [item] = json.loads(capsys.readouterr().out)
    assert (item["run_id"], item["tool_name"]) == (run["run_id"], "delete_file")
    assert main(["approvals", "ls"]) == 0
    listed = capsys.readouterr().out
    assert item["approval_id"] in listed and 'delete_file({"path": "/cli"})' in listed

    assert main(["approvals", "approve", item["approval_id"], "--note", "go"]) == 0
    said = capsys.readouterr().out
    assert said.startswith(f"approved {item['approval_id']}: run {run['run_id']} is running")
    done = wait_for(
        lambda: (
            (r := api.get(f"/v1/runs/{run['run_id']}", headers=headers).json())["status"]
            == "completed"
            and r
        )
    )
    assert done["output"] == "result: deleted /cli"

    assert main(["approvals", "reject", item["approval_id"]]) == 1
    captured = capsys.readouterr()
    assert "409 approval-decided" in captured.err
    assert main(["approvals", "ls", "--status", "approved"]) == 0
    captured_ls = capsys.readouterr()
    assert "approved by ann" in captured_ls.out
    for text in (said, listed, captured.out, captured.err, captured_ls.out, captured_ls.err):
        assert secret not in text


def test_an_unreachable_server_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from runtime_helpers import free_port

    monkeypatch.setenv("COVEY_TOKEN", "t0ken-that-must-not-show")
    url = f"http://127.0.0.1:{free_port()}"
    assert main(["approvals", "approve", "apr_x", "--url", url]) == 1
    err = capsys.readouterr().err
    assert f"cannot reach {url}" in err
    assert "t0ken-that-must-not-show" not in err
