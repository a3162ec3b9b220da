"""`covey new tool-package NAME`: the files it writes are a valid, lint-clean, passing package."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from covey.runtime.cli import main
from covey.runtime.cli_new import ToolPackageNames, new_tool_package, render_tool_package
from covey.spec.errors import ConfigurationError

BIN = Path(sys.executable).parent


def run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**{k: v for k, v in os.environ.items() if k != "PYTHONPATH"}, **env},
    )


def files_under(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def test_the_command_writes_the_package_and_says_what_it_is(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["new", "tool-package", "weather-api", "--into", str(tmp_path)]) == 0
    folder = tmp_path / "covey-tools-weather-api"
    assert files_under(folder) == {
        ".gitignore",
        "CHANGELOG.md",
        "README.md",
        "pyproject.toml",
        "src/covey/tools/weather_api/__init__.py",
        "src/covey/tools/weather_api/py.typed",
        "tests/test_toolset.py",
    }
    # PEP 420: the shared namespaces must stay without __init__.py.
    assert not (folder / "src/covey/__init__.py").exists()
    assert not (folder / "src/covey/tools/__init__.py").exists()
    out = capsys.readouterr().out
    assert f"Created {folder}" in out
    assert 'weather_api = "covey.tools.weather_api:from_reference" in covey.tools' in out
    # Nothing but the package is left in the folder (no staging directory).
    assert [p.name for p in tmp_path.iterdir()] == ["covey-tools-weather-api"]


def test_pyproject_follows_the_naming_rule(tmp_path: Path) -> None:
    folder = new_tool_package("weather-api", tmp_path)
    project = tomllib.loads((folder / "pyproject.toml").read_text())
    meta = project["project"]
    assert meta["name"] == "covey-tools-weather-api"
    assert meta["dependencies"] == ["covey-spec>=0.1,<1"]
    assert meta["entry-points"] == {
        "covey.tools": {"weather_api": "covey.tools.weather_api:from_reference"}
    }
    test_extra = meta["optional-dependencies"]["test"]
    assert test_extra[0] == "covey-conformance>=0.1,<1"
    assert {r.split(">")[0] for r in test_extra} == {
        "covey-conformance",
        "pytest",
        "pytest-asyncio",
    }
    assert project["build-system"]["build-backend"] == "hatchling.build"
    assert project["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == ["src/covey"]
    readme = (folder / "README.md").read_text()
    assert readme.startswith("# covey-tools-weather-api\n")
    assert "pip install covey-tools-weather-api" in readme
    assert 'Agent(tools=["weather_api"])' in readme
    assert "WeatherApiToolset" in (folder / "CHANGELOG.md").read_text()
    for text in render_tool_package(ToolPackageNames.from_name("weather-api")).values():
        assert "${" not in text and "__module__" not in text


@pytest.mark.slow
def test_the_rendered_python_is_lint_clean_typed_and_its_tests_pass(tmp_path: Path) -> None:
    folder = new_tool_package("acme_search", tmp_path)
    init = (folder / "src/covey/tools/acme_search/__init__.py").read_text()
    assert "class AcmeSearchToolset(FunctionToolset):" in init
    # Lint and format with the package's own ruff settings, then pyright strict on src/.
    for command in (
        [BIN / "ruff", "check", "--no-cache", "."],
        [BIN / "ruff", "format", "--check", "--no-cache", "."],
        [BIN / "pyright"],
    ):
        done = run([str(c) for c in command], folder)
        assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    # Its own tests, on the source tree (the entry-point test needs an install: the wheel test).
    done = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "not entry_point"],
        folder,
        PYTHONPATH=str(folder / "src"),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 passed, 1 deselected" in done.stdout


@pytest.mark.parametrize(
    "name",
    [
        "Weather",
        "weather api",
        "-weather",
        "weather-",
        "weather--api",
        "9lives",
        "../escape",
        "a/b",
        "wéather",
        "x" * 41,
        "",
        "class",
        "import",
    ],
)
def test_bad_names_are_refused_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    assert main(["new", "tool-package", "--into", str(tmp_path), "--", name]) == 2
    assert "covey new:" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_the_names_of_covey_toolkits_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="taken by Covey's own covey-tools-files"):
        new_tool_package("files", tmp_path)


def test_an_existing_folder_is_never_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "covey-tools-weather"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep me")
    assert main(["new", "tool-package", "weather", "--into", str(tmp_path)]) == 2
    assert "already exists; nothing was written" in capsys.readouterr().err
    assert files_under(folder) == {"mine.txt"}
    # A symlink in its place (even a dangling one) is refused as well.
    (tmp_path / "covey-tools-other").symlink_to(tmp_path / "nowhere")
    with pytest.raises(ConfigurationError, match="already exists"):
        new_tool_package("other", tmp_path)
    assert not (tmp_path / "nowhere").exists()


def test_into_must_be_an_existing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="is not a folder"):
        new_tool_package("weather", tmp_path / "missing")
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigurationError, match="is not a folder"):
        new_tool_package("weather", tmp_path / "file")


def test_a_folder_that_cannot_be_written_is_a_clear_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # /proc refuses new folders even to root (a read-only folder would not stop root).
    assert main(["new", "tool-package", "weather", "--into", "/proc"]) == 2
    assert "covey new: Cannot create /proc/covey-tools-weather" in capsys.readouterr().err


def test_new_without_a_kind_or_with_an_unknown_one_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for argv, says in (
        (["new"], "the following arguments are required: KIND"),
        (["new", "plugin", "x"], "invalid choice: 'plugin' (choose from 'tool-package')"),
        (["new", "tool-package"], "the following arguments are required: NAME"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        err = capsys.readouterr().err
        assert says in err, err
        assert "usage: covey new" in err


def test_names_derive_from_the_one_chosen() -> None:
    names = ToolPackageNames.from_name("weather_api2")
    assert names.module == "weather_api2"
    assert names.distribution == "covey-tools-weather-api2"
    assert names.class_name == "WeatherApi2Toolset"


def test_a_write_that_fails_halfway_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written: list[Path] = []
    write_text = Path.write_text

    def disk_full_on_the_third(self: Path, *args: Any, **kwargs: Any) -> int:
        if len(written) == 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        written.append(self)
        return write_text(self, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", disk_full_on_the_third)
    with pytest.raises(ConfigurationError, match=r"Cannot write .*No space left on device"):
        new_tool_package("weather", tmp_path)
    assert len(written) == 2
    assert list(tmp_path.iterdir()) == []
