"""The shape of covey-core: the engine never imports the definitions, imports stay lazy, and
an agent's construction builds nothing."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import covey.core.run

RUN = Path(covey.core.run.__file__).parent


def test_the_engine_never_imports_agent_or_team() -> None:
    offenders: list[str] = []
    for path in sorted(RUN.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            offenders += [
                f"{path.name}: {n}"
                for n in names
                if n.startswith(("covey.core.agent", "covey.core.team"))
            ]
    assert offenders == []


def test_source_files_stay_small() -> None:
    core = RUN.parent
    big = [
        f"{p.relative_to(core)}: {n}"
        for p in sorted(core.rglob("*.py"))
        if (n := len(p.read_text().splitlines())) > 620
    ]
    assert big == []


def test_importing_covey_core_loads_no_engine_and_agents_build_nothing() -> None:
    code = (
        "import sys\n"
        "import covey.core\n"
        "assert 'covey.core.run.engine' not in sys.modules, 'engine imported eagerly'\n"
        "assert 'covey.core.agent' not in sys.modules, 'agent imported eagerly'\n"
        "from covey.core import Agent\n"
        "Agent(model='test:x', tools=[print])\n"
        "assert 'covey.core.run.engine' not in sys.modules, 'construction loaded the engine'\n"
        "assert 'covey.core.run.plan' not in sys.modules, 'construction built a plan'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
