"""Configuration (covey.toml + COVEY_* variables), the exposure check, and the `covey` CLI."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from runtime_helpers import TESTS, ProcessServer, write_config

from covey.runtime import load_settings
from covey.runtime.cli import main
from covey.runtime.server import check_exposure, is_loopback
from covey.spec.errors import ConfigurationError


def test_file_then_environment_then_overrides(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(
        tmp_path / "covey.toml", agents="app.agents:registry", port=9000, cors_origins=["https://a"]
    )
    settings = load_settings(config)
    assert settings.agents == "app.agents:registry"
    assert settings.port == 9000
    assert settings.cors_origins == ["https://a"]
    assert settings.store == "sqlite:///.covey/covey.db"
    monkeypatch.setenv("COVEY_PORT", "9100")
    monkeypatch.setenv("COVEY_CORS_ORIGINS", "https://b, https://c")
    settings = load_settings(config)
    assert settings.port == 9100
    assert settings.cors_origins == ["https://b", "https://c"]
    assert load_settings(config, overrides={"port": 9200}).port == 9200
    monkeypatch.setenv("COVEY_CONFIG", str(config))
    assert load_settings().agents == "app.agents:registry"


def test_a_covey_toml_in_the_working_directory_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails if `covey serve` (or any command) ignores `./covey.toml`, or it beats the others."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COVEY_CONFIG", raising=False)
    assert load_settings().config_file is None
    local = write_config(tmp_path / "covey.toml", port=9001)
    settings = load_settings()
    assert (settings.config_file, settings.port) == (local, 9001)
    other = write_config(tmp_path / "other.toml", port=9002)
    monkeypatch.setenv("COVEY_CONFIG", str(other))
    assert load_settings().port == 9002  # $COVEY_CONFIG wins over ./covey.toml
    assert load_settings(local).port == 9001  # and --config over both


def test_serve_logs_its_config_file_and_warns_loudly_when_serving_no_agents(
    tmp_path: Path,
) -> None:
    """Fails if `covey serve` starts without saying which config it read, or serves nothing
    without a warning in its log."""
    bare = ProcessServer(None, {"COVEY_STORE": "memory://"}, cwd=tmp_path).start()
    assert httpx.get(f"{bare.url}/v1/agents").json()["items"] == []
    bare.stop()
    log = bare.log.read_text()
    assert f"no config file (no --config, COVEY_CONFIG unset, no covey.toml in {tmp_path})" in log
    assert "WARNING" in log
    assert "SERVING NO AGENTS" in log
    assert 'agents = "module:attribute"' in log

    config = _config(tmp_path, store="memory://")
    served = ProcessServer(None, cwd=tmp_path).start()
    names = [a["agent_id"] for a in httpx.get(f"{served.url}/v1/agents").json()["items"]]
    served.stop()
    log = served.log.read_text()
    assert f"config file {config}" in log
    assert "SERVING NO AGENTS" not in log
    assert "echo" in names


def test_bad_config_names_the_key_and_the_fix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigurationError, match="unknown key\\(s\\) prot"):
        load_settings(write_config(tmp_path / "a.toml", prot=1))
    with pytest.raises(ConfigurationError, match=r"key 'port' in .*b.toml.*integer"):
        load_settings(write_config(tmp_path / "b.toml", port="eighty"))
    monkeypatch.setenv("COVEY_WORKERS", "0")
    with pytest.raises(ConfigurationError, match="COVEY_WORKERS"):
        load_settings()
    monkeypatch.delenv("COVEY_WORKERS")
    with pytest.raises(ConfigurationError, match="expected 'module:attribute'"):
        load_settings(overrides={"agents": "no_colon"})
    with pytest.raises(ConfigurationError, match="store URL"):
        load_settings(overrides={"store": "covey.db"})
    with pytest.raises(ConfigurationError, match="needs exactly one of jwt_secret"):
        load_settings(overrides={"auth": "jwt"})
    with pytest.raises(ConfigurationError, match="shorter than 32 bytes") as info:
        load_settings(overrides={"auth": "jwt", "jwt_secret": "short-secret"})
    assert "short-secret" not in str(info.value)
    with pytest.raises(ConfigurationError, match="must not be written in a file"):
        load_settings(write_config(tmp_path / "c.toml", jwt_secret="x" * 40))
    with pytest.raises(ConfigurationError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")
    (tmp_path / "d.toml").write_text("port = = 1")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        load_settings(tmp_path / "d.toml")


def test_no_auth_means_loopback_only() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")
    check_exposure(load_settings(overrides={"host": "127.0.0.1"}))
    with pytest.raises(ConfigurationError, match=r"Refusing to listen on '0\.0\.0\.0'"):
        check_exposure(load_settings(overrides={"host": "0.0.0.0"}))
    check_exposure(
        load_settings(overrides={"host": "0.0.0.0", "auth": "jwt", "jwt_secret": "k" * 40})
    )


def test_serve_refuses_to_expose_an_unauthenticated_server(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["serve", "--host", "0.0.0.0", "--port", "1"]) == 2
    assert "Refusing to listen" in capsys.readouterr().err


def test_a_bad_registry_fails_at_start(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(
        tmp_path / "covey.toml", agents="nowhere_module:registry", store="memory://"
    )
    assert main(["serve", "--config", str(config)]) == 2
    assert "cannot import module 'nowhere_module'" in capsys.readouterr().err


def _config(tmp_path: Path, **values: object) -> Path:
    return write_config(
        tmp_path / "covey.toml",
        agents="runtime_agents:registry",
        python_path=[str(TESTS)],
        **values,
    )


def test_run_prints_the_answer_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _config(tmp_path, store="memory://")
    assert main(["run", "echo", "hello there", "--config", str(config)]) == 0
    assert capsys.readouterr().out.strip() == "echo: hello there"
    assert main(["run", "forecast", "Paris?", "--json", "--config", str(config)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["output"] == {"city": "Paris", "celsius": 21}
    assert main(["run", "approver", "/x", "--config", str(config)]) == 3
    assert "approval needed for delete_file" in capsys.readouterr().err
    assert main(["run", "nobody", "x", "--config", str(config)]) == 2


def test_run_json_exits_3_on_a_paused_run_with_its_requirements(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fails if `covey run --json` reports a paused run as a failure (it exited 1)."""
    config = _config(tmp_path, store="memory://")
    assert main(["run", "approver", "/x", "--json", "--config", str(config)]) == 3
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "paused"
    [requirement] = out["requirements"]
    assert (requirement["kind"], requirement["tool_name"]) == ("approval", "delete_file")
    assert requirement["args"] == {"path": "/x"}


def test_run_help_documents_every_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for line in (
        "0 the run completed",
        "1 the run failed or was cancelled",
        "2 configuration error",
        "3 the run paused",
        "130 interrupted",
    ):
        assert line in help_text


def test_chat_streams_and_asks_for_approvals(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = _config(tmp_path, store="memory://")
    monkeypatch.setattr("covey.runtime.cli._ask", _fake_ask(["first", "/tmp/z", "y", ""]))
    assert main(["chat", "echo", "--config", str(config)]) == 0
    assert "echo: first" in capsys.readouterr().out
    monkeypatch.setattr("covey.runtime.cli._ask", _fake_ask(["/tmp/z", "y", ""]))
    assert main(["chat", "approver", "--config", str(config)]) == 0
    assert "result: deleted /tmp/z" in capsys.readouterr().out


@pytest.mark.parametrize("moment", ["mid-answer", "at-the-prompt", "at-an-approval"])
def test_ctrl_c_stops_chat_at_once(tmp_path: Path, moment: str) -> None:
    """Fails if Ctrl-C leaves `covey chat` hanging or prints a traceback: while the model answers
    (it writes a few words, then would think for an hour), at the `> ` prompt, or while it asks
    for an approval (it used to wait for a line in a thread nothing could stop).

    `covey chat` runs in its own process, as in a terminal, its input a pipe kept open. The
    bounded waits only keep a broken build from hanging the suite.
    """
    from slow_agents import FIRST_WORDS

    config = write_config(
        tmp_path / "covey.toml",
        agents="slow_agents:agents",
        python_path=[str(TESTS)],
        store="memory://",
    )
    agent, line, expected = {
        "mid-answer": ("slow", b"hello\n", FIRST_WORDS.encode()),
        "at-the-prompt": ("slow", b"", b"> "),
        "at-an-approval": ("approver", b"/tmp/x\n", b"[y/N] "),
    }[moment]
    chat = subprocess.Popen(
        [sys.executable, "-m", "covey.runtime.cli", "chat", agent, "--config", str(config)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert chat.stdin is not None and chat.stdout is not None and chat.stderr is not None
        chat.stdin.write(line)
        chat.stdin.flush()
        seen = b""
        while expected not in seen:
            ready, _, _ = select.select([chat.stdout], [], [], 120)
            assert ready, f"covey chat did not get there: {seen!r}"
            chunk = os.read(chat.stdout.fileno(), 4096)
            assert chunk, f"covey chat exited: {seen!r} {chat.stderr.read()!r}"
            seen += chunk
        if moment != "mid-answer":
            # A person presses Ctrl-C after the prompt shows, not within microseconds of it:
            # Python's input() on a pipe misses a signal landing between its prompt and its read.
            time.sleep(0.5)
        chat.send_signal(signal.SIGINT)
        code = chat.wait(60)
        errors = chat.stderr.read().decode()
    finally:
        if chat.poll() is None:
            chat.kill()
            chat.wait()
    assert code == 130, errors
    assert "Traceback" not in errors, errors
    assert "Fatal Python error" not in errors, errors


def _fake_ask(answers: list[str]):
    remaining = list(answers)

    def ask(question: str) -> str | None:
        return remaining.pop(0) if remaining else None

    return ask


def test_plugins_and_migrate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "covey-core" in out and "models" in out
    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert {"kind": "models", "name": "test", "distribution": "covey-core"}.items() <= next(
        r for r in rows if r["kind"] == "models" and r["name"] == "test"
    ).items()
    assert [r for r in rows if "fixture" in r["distribution"]] == []
    config = _config(tmp_path, store="memory://")
    assert main(["migrate", "--config", str(config)]) == 0
    assert "needs no migrations" in capsys.readouterr().out


def test_migrate_an_sqlite_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("covey.db.sql")
    config = _config(tmp_path, store=f"sqlite:///{tmp_path / 'sub' / 'c.db'}")
    assert main(["migrate", "--config", str(config)]) == 0
    assert "Migrated sqlite:///" in capsys.readouterr().out
    assert (tmp_path / "sub" / "c.db").is_file()


def test_a_relative_sqlite_store_is_beside_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fails if a relative SQLite path follows the working directory: a service manager and an
    operator's shell in another folder would then open two different databases."""
    app, elsewhere = tmp_path / "app", tmp_path / "elsewhere"
    app.mkdir()
    elsewhere.mkdir()
    config = _config(app, store="sqlite:///.covey/app.db?timeout=5")
    monkeypatch.chdir(elsewhere)
    assert main(["migrate", "--config", str(config)]) == 0
    capsys.readouterr()
    assert (app / ".covey" / "app.db").is_file()
    assert not (elsewhere / ".covey").exists()


def test_a_database_left_in_the_working_directory_is_named_not_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fails if a relative path silently opens a new, empty database beside the config file
    while the data of earlier versions (which read it from the working directory) sits there."""
    app, elsewhere = tmp_path / "app", tmp_path / "elsewhere"
    app.mkdir()
    config = _config(app, store="sqlite:///data/app.db")
    (elsewhere / "data").mkdir(parents=True)
    (elsewhere / "data" / "app.db").write_bytes(b"")
    monkeypatch.chdir(elsewhere)
    assert main(["migrate", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert str(app / "data" / "app.db") in err and str(elsewhere / "data" / "app.db") in err
    assert not (app / "data" / "app.db").exists()
    # Named absolutely, the old database is used as it is.
    absolute = _config(app, store=f"sqlite:///{elsewhere / 'data' / 'app.db'}")
    assert main(["migrate", "--config", str(absolute)]) == 0


def test_the_console_script_is_installed() -> None:
    out = subprocess.run(
        [Path(sys.executable).parent / "covey", "--help"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for command in ("serve", "run", "chat", "plugins", "migrate"):
        assert command in out


def test_importing_the_runtime_loads_no_web_stack_or_provider() -> None:
    code = (
        "import sys, covey.runtime; "
        "bad = [m for m in ('litestar', 'uvicorn', 'openai', 'anthropic', 'jwt') if m in sys.modules]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
