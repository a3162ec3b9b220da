"""The built wheel installs alone (with covey-spec only): covey-learn needs no covey-core."""

from __future__ import annotations

from pathlib import Path

import pytest

from covey.conformance.wheels import build_wheel, fresh_venv

PACKAGE = Path(__file__).resolve().parent.parent

SMOKE = """
import covey.learn
from covey.learn import MemoryOperations, looks_like_secret
print(sorted(MemoryOperations.model_json_schema()["properties"]), looks_like_secret("AKIAIOSFODNN7EXAMPLE"))
"""


@pytest.mark.slow
def test_wheel_installs_alone(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    wheels = [build_wheel(PACKAGE, dist), build_wheel(PACKAGE.parent / "spec", dist)]
    assert wheels[0].name == "covey_learn-0.1.0-py3-none-any.whl"
    venv = fresh_venv(tmp_path / "venv")
    venv.install(*wheels)
    assert venv.run(SMOKE).strip().splitlines()[-1] == "['operations'] True"
    covey = {n for n in venv.distributions() if n.startswith("covey-")}
    assert covey == {"covey-learn", "covey-spec"}
