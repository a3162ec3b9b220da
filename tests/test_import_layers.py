"""The layer rule on imports (DESIGN §3), enforced by import-linter with the root pyproject's
contracts: `make test` fails on a violation, not only `make lint`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

# One forbidden import per contract: (module file to add, its import, the contract it breaks).
VIOLATIONS = [
    ("spec/src/covey/spec/_bad.py", "import covey.core", "covey.spec imports no other covey"),
    ("models-openai/src/covey/models/openai/_bad.py", "from covey.core import Agent", "plugins"),
    (
        "models-google/src/covey/models/google/_bad.py",
        "import covey.testing",
        "plugins import covey.te",
    ),
    ("db-sql/src/covey/db/sql/_bad.py", "import covey.models.openai", "no plugin imports another"),
    ("testing/src/covey/testing/_bad.py", "import covey.db.memory", "covey.testing imports"),
    ("core/src/covey/core/_bad.py", "import covey.db.sql", "covey.core imports covey.spec only"),
    ("conformance/src/covey/conformance/_bad.py", "import covey.core", "covey.conformance checks"),
    ("runtime/src/covey/runtime/_bad.py", "import covey.conformance", "covey.runtime never"),
    ("knowledge/src/covey/knowledge/_bad.py", "import covey.core", "covey.knowledge imports"),
    ("learn/src/covey/learn/_bad.py", "import covey.core", "covey.learn imports"),
    ("otel/src/covey/otel/_bad.py", "import covey.runtime", "covey.otel imports"),
    ("evals/src/covey/evals/_bad.py", "import covey.runtime", "covey.evals imports"),
    ("guardrails/src/covey/guardrails/_bad.py", "import covey.core", "covey.guardrails imports"),
]


def lint_imports(pythonpath: list[Path] | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join(str(p) for p in pythonpath)
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
    )


def test_the_workspace_keeps_every_import_contract() -> None:
    """Fix: a module imports across the layers; the output names the import chain."""
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_forbidden_import_breaks_its_contract(tmp_path: Path) -> None:
    """A copy of the sources with one bad import per contract: every contract reports it."""
    for package in (ROOT / "packages").iterdir():
        if (package / "src").is_dir():
            shutil.copytree(package / "src", tmp_path / package.name / "src")
    for path, statement, _contract in VIOLATIONS:
        (tmp_path / path).write_text(statement + "\n")
    # Ahead of the editable installs on sys.path, so the copies are what gets analysed.
    result = lint_imports(sorted(tmp_path.glob("*/src")))
    assert result.returncode != 0
    output = result.stdout
    assert f"Contracts: 0 kept, {len(VIOLATIONS)} broken." in output, output
    broken = [line for line in output.splitlines() if " BROKEN" in line]
    for path, statement, contract in VIOLATIONS:
        assert any(line.startswith(contract) for line in broken), f"{contract!r} kept:\n{output}"
        module = path.split("/src/", 1)[1].removesuffix(".py").replace("/", ".")
        assert module in output, f"{module} ({statement}) not reported:\n{output}"
