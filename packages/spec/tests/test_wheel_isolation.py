"""The covey-spec wheel installed alone: only pydantic, typing-extensions and anyio come with it,
and importing it loads no provider SDK, database driver or HTTP framework.

Builds the wheel with `uv build`, installs it into a fresh `uv venv` outside the workspace (from
PyPI, so this needs the network) and inspects that environment from its own interpreter, through
`covey.conformance.wheels`. A failed build or install fails the test; it never skips.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

from covey.conformance.wheels import build_wheel, fresh_venv

SPEC_DIR = Path(__file__).resolve().parents[1]

# DESIGN.md §3: spec depends on these and, through them, on nothing else.
ALLOWED_ROOTS = ("pydantic", "typing-extensions", "anyio")

FORBIDDEN_MODULES = (
    "httpx",
    "openai",
    "anthropic",
    "google",
    "sqlalchemy",
    "sqlmodel",
    "asyncpg",
    "psycopg",
    "aiosqlite",
    "lancedb",
    "qdrant_client",
    "litestar",
    "hypothesis",
)

# Runs inside the isolated venv: everything it reports is what a user of the bare wheel sees.
PROBE = r"""
import importlib, importlib.metadata as md, json, pkgutil, re, sys

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

def closure(roots):
    # Requirements of `roots`, recursively, skipping extras; markers are not evaluated, which can
    # only widen the allowed set by a package that is then not installed anyway.
    seen, todo = set(), [norm(r) for r in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:
            continue
        for req in requires:
            if re.search(r"\bextra\s*==", req):
                continue
            todo.append(norm(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req).group(0)))
    return seen

import covey.spec
import covey.spec.plugins
for info in pkgutil.walk_packages(covey.spec.__path__, "covey.spec."):
    importlib.import_module(info.name)

from covey.spec import plugins
from covey.spec.errors import PluginNotFoundError
try:
    plugins.resolve_model("openai:gpt-4.1")
    missing = None
except PluginNotFoundError as exc:
    missing = str(exc)

print(json.dumps({
    "installed": sorted(norm(d.metadata["Name"]) for d in md.distributions()),
    "spec_requires": sorted(
        norm(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r).group(0))
        for r in md.requires("covey-spec") or []
        if not re.search(r"\bextra\s*==", r)
    ),
    "spec_extras": sorted(
        re.search(r"\bextra\s*==\s*['\"]([^'\"]+)", r).group(1)
        + ":" + norm(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", r).group(0))
        for r in md.requires("covey-spec") or []
        if re.search(r"\bextra\s*==", r)
    ),
    "allowed": sorted(closure(ROOTS)),
    "top_level_modules": sorted({m.split(".")[0] for m in sys.modules}),
    "covey_namespace_file": getattr(sys.modules["covey"], "__file__", None),
    "described": {k: [i.name for i in v] for k, v in plugins.describe().items()},
    "missing_model_error": missing,
}))
"""


@pytest.mark.slow
def test_wheel_installs_alone_with_only_its_declared_dependencies(tmp_path: Path) -> None:
    """Fails if covey-spec gains a dependency beyond pydantic/typing-extensions/anyio, ships a
    `covey/__init__.py` (breaking the PEP 420 namespace), or imports something heavy.

    To fix: move the new import behind the function that needs it, or into a plugin package.
    """
    wheel = build_wheel(SPEC_DIR, tmp_path / "dist")
    assert wheel.name.startswith("covey_spec-"), wheel
    names = zipfile.ZipFile(wheel).namelist()
    assert "covey/__init__.py" not in names
    assert "covey/spec/py.typed" in names
    assert "covey/spec/plugins.py" in names
    assert "covey/spec/schema_data.py" in names
    doubles = [n for n in names if n.startswith("covey/spec/testing/")]
    assert not doubles, f"test doubles belong in covey-testing, not the interface: {doubles}"

    venv = fresh_venv(tmp_path / "venv")
    venv.install(wheel)
    report = venv.run_json(PROBE.replace("ROOTS", repr(ALLOWED_ROOTS)))

    assert set(report["spec_requires"]) <= set(ALLOWED_ROOTS), report["spec_requires"]
    # The one optional extra: Hypothesis, for `pattern` strings in covey.spec.schema_data.
    assert report["spec_extras"] == ["testing:hypothesis"], report["spec_extras"]
    allowed = set(report["allowed"]) | {"covey-spec"}
    extra = set(report["installed"]) - allowed
    assert not extra, f"installed beside covey-spec but not required by {ALLOWED_ROOTS}: {extra}"
    assert {"covey-spec", *ALLOWED_ROOTS} <= set(report["installed"])

    loaded = set(report["top_level_modules"]) & set(FORBIDDEN_MODULES)
    assert not loaded, f"import covey.spec loaded {sorted(loaded)}"
    assert report["covey_namespace_file"] is None, "covey must be a namespace package"

    # The registry works in a bare install: nothing registered, and a clear install line.
    assert report["described"] == {
        "models": [],
        "embedders": [],
        "tools": [],
        "vectordb": [],
        "db": [],
        "runtime": [],
    }
    assert "pip install covey-models-openai" in report["missing_model_error"]


def test_import_loads_no_optional_dependency_in_the_workspace() -> None:
    """The same import check in the full workspace environment, where SDKs and drivers may be
    installed (by other packages): importing covey.spec must still not load any of them."""
    code = textwrap.dedent(
        """
        import importlib, json, pkgutil, sys
        import covey.spec
        import covey.spec.plugins
        for info in pkgutil.walk_packages(covey.spec.__path__, "covey.spec."):
            importlib.import_module(info.name)
        print(json.dumps(sorted({m.split(".")[0] for m in sys.modules})))
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    loaded = set(json.loads(proc.stdout)) & set(FORBIDDEN_MODULES)
    assert not loaded, f"import covey.spec loaded {sorted(loaded)}"
