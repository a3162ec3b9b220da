"""The workspace's packages, derived from the naming rule (DESIGN §1); nobody keeps a list.

`packages/<kind>-<name>/` ⇄ distribution `covey-<kind>-<name>` ⇄ import `covey.<kind>.<name>` ⇄
entry point `<name>` in group `covey.<kind>`. Packages without a kind: `packages/core` ⇄
`covey-core` ⇄ `covey.core`.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Package:
    folder: Path
    kind: str | None
    name: str
    pyproject: dict[str, Any]

    @property
    def distribution(self) -> str:
        return f"covey-{self.folder.name}"

    @property
    def import_path(self) -> str:
        return f"covey.{self.kind}.{self.name}" if self.kind else f"covey.{self.name}"

    @property
    def source_dir(self) -> Path:
        return self.folder / "src" / Path(*self.import_path.split("."))

    @property
    def entry_point_group(self) -> str | None:
        return f"covey.{self.kind}" if self.kind else None


def packages() -> list[Package]:
    """Every distribution under `packages/`, sorted by folder name."""
    found: list[Package] = []
    for folder in sorted((ROOT / "packages").iterdir()):
        pyproject = folder / "pyproject.toml"
        if not pyproject.is_file():
            continue
        kind, _, name = folder.name.partition("-")
        data = tomllib.loads(pyproject.read_text())
        if name:
            found.append(Package(folder, kind, name, data))
        else:
            found.append(Package(folder, None, kind, data))
    return found
