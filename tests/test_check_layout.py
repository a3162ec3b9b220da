"""scripts/check_layout.py on the rules about covey-testing: a plugin reaches it only through an
optional extra, and covey-testing itself depends on covey-spec only."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from check_layout import check  # noqa: E402
from workspace import Package  # noqa: E402


def package(tmp_path: Path, folder: str, project: dict[str, object]) -> Package:
    """A package folder laid out as the rule wants, with `project` as its [project] table."""
    kind, _, name = folder.partition("-")
    kind, name = (kind, name) if name else (None, kind)
    source = tmp_path / folder / "src" / "covey" / (kind or name)
    if kind:
        source = source / name
    source.mkdir(parents=True)
    (source / "__init__.py").write_text("")
    (source / "py.typed").write_text("")
    (tmp_path / folder / "tests").mkdir()
    for required in ("README.md", "CHANGELOG.md"):
        (tmp_path / folder / required).write_text("x\n")
    pyproject = {
        "project": {"name": f"covey-{folder}", "version": "0.1.0", **project},
        "build-system": {"build-backend": "hatchling.build"},
    }
    return Package(tmp_path / folder, kind, name, pyproject)


def test_the_workspace_passes() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/check_layout.py"], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "Layout check passed" in done.stdout


def test_a_plugin_may_bring_covey_testing_through_an_extra_only(tmp_path: Path) -> None:
    with_extra = package(
        tmp_path,
        "models-acme",
        {
            "dependencies": ["covey-spec>=0.1,<1"],
            "optional-dependencies": {"testing": ["covey-testing>=0.1,<1"]},
        },
    )
    assert check(with_extra) == []

    required = package(
        tmp_path, "models-other", {"dependencies": ["covey-spec>=0.1", "covey-testing>=0.1"]}
    )
    assert check(required) == [
        "packages/models-other: a plugin depends on covey-spec only, not on ['covey-testing']"
    ]


@pytest.mark.parametrize("extra", [["covey-core>=0.1"], ["covey-db-sql", "covey-testing"]])
def test_a_plugin_extra_brings_no_other_covey_package(tmp_path: Path, extra: list[str]) -> None:
    plugin = package(
        tmp_path,
        "db-acme",
        {"dependencies": ["covey-spec"], "optional-dependencies": {"full": extra}},
    )
    [error] = check(plugin)
    assert "extra 'full'" in error
    assert "covey-testing" not in error.split("not ")[-1]


def test_covey_testing_depends_on_covey_spec_only(tmp_path: Path) -> None:
    assert check(package(tmp_path, "testing", {"dependencies": ["covey-spec", "anyio"]})) == []
    [error] = check(package(tmp_path / "b", "testing", {"dependencies": ["covey-core"]}))
    assert error == "packages/testing: covey-testing depends on covey-spec only, not ['covey-core']"


def test_the_real_covey_testing_is_checked_as_a_package() -> None:
    pyproject = tomllib.loads((ROOT / "packages/testing/pyproject.toml").read_text())
    real = Package(ROOT / "packages/testing", None, "testing", pyproject)
    assert real.import_path == "covey.testing"
    assert check(real) == []


def test_a_models_plugin_may_register_embedders_only(tmp_path: Path) -> None:
    """covey-models-local ships an embedder and no chat model: `local` in covey.embedders is its
    registration. A name in neither group is still refused."""
    embedders_only = package(
        tmp_path,
        "models-acme",
        {
            "dependencies": ["covey-spec"],
            "entry-points": {"covey.embedders": {"acme": "covey.models.acme:make"}},
        },
    )
    assert check(embedders_only) == []
    misnamed = package(
        tmp_path / "b",
        "models-acme",
        {
            "dependencies": ["covey-spec"],
            "entry-points": {"covey.embedders": {"other": "covey.models.acme:make"}},
        },
    )
    assert check(misnamed) == [
        "packages/models-acme: must register entry point 'acme' in covey.models or covey.embedders"
    ]
    db = package(
        tmp_path / "c",
        "db-acme",
        {
            "dependencies": ["covey-spec"],
            "entry-points": {"covey.embedders": {"acme": "covey.db.acme:make"}},
        },
    )
    assert check(db) == ["packages/db-acme: must register entry point 'acme' in covey.db"]
