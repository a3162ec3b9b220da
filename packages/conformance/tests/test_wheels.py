"""`covey.conformance.wheels`: real `uv` commands, a real virtual environment, a real wheel."""

from __future__ import annotations

import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from covey.conformance.wheels import (
    CommandError,
    build_wheel,
    clean_env,
    find_uv,
    fresh_venv,
    normalize_name,
)


def test_normalize_name() -> None:
    assert normalize_name("Google_GenAI") == "google-genai"
    assert normalize_name("zope.interface") == "zope-interface"
    assert normalize_name("covey--spec") == "covey-spec"


def test_clean_env_hides_the_workspace_and_chosen_prefixes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIRTUAL_ENV", "/work/.venv")
    monkeypatch.setenv("VIRTUAL_ENV_PROMPT", "covey")
    monkeypatch.setenv("PYTHONPATH", "/work/packages")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("OLLAMA_BASE_URL", "http://x")
    monkeypatch.setenv("KEEP_ME", "1")
    env = clean_env(unset_prefixes=("OPENAI_", "OLLAMA_"))
    assert not {"VIRTUAL_ENV", "VIRTUAL_ENV_PROMPT", "PYTHONPATH"} & env.keys()
    assert not {"OPENAI_API_KEY", "OLLAMA_BASE_URL"} & env.keys()
    assert env["KEEP_ME"] == "1"
    assert env["UV_SYSTEM_CERTS"] == "1"
    assert clean_env()["OPENAI_API_KEY"] == "sk-secret"  # only the prefixes asked for go


def test_find_uv_says_how_to_get_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Path(find_uv()).name.startswith("uv")
    monkeypatch.delenv("UV", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CommandError, match="pip install uv"):
        find_uv()


def test_a_fresh_venv_is_empty_and_runs_code_outside_the_workspace(tmp_path: Path) -> None:
    venv = fresh_venv(tmp_path / "venv", unset_prefixes=("COVEY_TEST_",))
    assert venv.python.is_file()
    assert "COVEY_TEST_" not in "".join(venv.env)
    assert venv.distributions() == set()
    prefix = venv.run(
        """
        import sys
        print(sys.prefix)
        """
    )
    assert Path(prefix.strip()).resolve() == venv.path
    report = venv.run_json("print('warming up'); import json; print(json.dumps({'a': [1]}))")
    assert report == {"a": [1]}
    with pytest.raises(CommandError, match="ModuleNotFoundError: No module named 'covey'"):
        venv.run("import covey.spec")
    with pytest.raises(CommandError, match="printed nothing"):
        venv.run_json("pass")


def test_a_failed_command_raises_with_its_output(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_uv = tmp_path / "uv"
    fake_uv.write_text("#!/bin/sh\necho 'no venv for you' >&2\nexit 3\n")
    fake_uv.chmod(0o755)
    monkeypatch.setenv("UV", str(fake_uv))
    with pytest.raises(CommandError, match=r"(?s)venv .* failed \(3\):.*no venv for you"):
        fresh_venv(tmp_path / "deeper" / "venv")


def _tiny_package(root: Path, name: str = "covey-demo-tiny") -> Path:
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [project]
            name = "{name}"
            version = "0.0.1"
            requires-python = ">=3.11"

            [build-system]
            requires = ["hatchling>=1.26"]
            build-backend = "hatchling.build"

            [tool.hatch.build.targets.wheel]
            packages = ["src/covey_demo_tiny"]
            """
        )
    )
    module = root / "src" / "covey_demo_tiny"
    module.mkdir(parents=True)
    (module / "__init__.py").write_text("ANSWER = 42\n")
    return root


@pytest.mark.slow
def test_build_install_and_run_a_wheel(tmp_path: Path) -> None:
    """Needs the package index (for hatchling) unless uv's cache has it."""
    package = _tiny_package(tmp_path / "src-tree")
    dist = tmp_path / "dist"
    dist.mkdir()
    (dist / "unrelated-1.0-py3-none-any.whl").write_bytes(b"")  # other wheels may be there
    wheel = build_wheel(package, dist)
    assert wheel.parent == dist.resolve()
    assert wheel.name.startswith("covey_demo_tiny-0.0.1-")
    assert "covey_demo_tiny/__init__.py" in zipfile.ZipFile(wheel).namelist()

    venv = fresh_venv(tmp_path / "venv")
    venv.install(wheel)
    assert venv.distributions() == {"covey-demo-tiny"}
    assert venv.run("import covey_demo_tiny; print(covey_demo_tiny.ANSWER)").strip() == "42"
    assert sys.prefix != venv.run("import sys; print(sys.prefix)").strip()


def test_a_failed_build_raises_with_uv_output(tmp_path: Path) -> None:
    package = _tiny_package(tmp_path / "broken")
    (package / "pyproject.toml").write_text(
        '[project]\nname = "covey-demo-broken"\nversion = "0.0.1"\n\n'
        '[build-system]\nrequires = []\nbuild-backend = "no_such_backend"\n'
    )
    with pytest.raises(
        CommandError, match=r"(?s)uv build --wheel .* failed \(\d+\):.*no_such_backend"
    ):
        build_wheel(package, tmp_path / "dist")
