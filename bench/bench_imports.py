"""Fresh-interpreter import times of Covey packages next to the floor (pydantic + anyio)."""

from __future__ import annotations

import importlib.util

from timing import fresh_import_ms

TITLE = "Import time (median of 7 fresh interpreters)"
HEADER = ("import", "ms", "× floor")

CANDIDATES = ["covey.spec", "covey.core", "covey.runtime"]


def run() -> list[tuple[str, ...]]:
    floor = fresh_import_ms("import pydantic, anyio")
    # `import pydantic` is lazy; any package defining a model also pays for BaseModel.
    basemodel = fresh_import_ms("from pydantic import BaseModel; import anyio")
    rows: list[tuple[str, ...]] = [
        ("pydantic, anyio (floor)", f"{floor:.1f}", "1.00"),
        ("from pydantic import BaseModel; anyio", f"{basemodel:.1f}", f"{basemodel / floor:.2f}"),
    ]
    for module in CANDIDATES:
        if importlib.util.find_spec(module) is None:
            rows.append((module, "not installed", "-"))
            continue
        ms = fresh_import_ms(f"import {module}")
        rows.append((module, f"{ms:.1f}", f"{ms / floor:.2f}"))
    return rows
