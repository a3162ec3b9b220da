"""`make bench`: every measurement, printed as tables. Nothing here is asserted.

Each section is a module in bench/ exposing `run() -> list[tuple[str, ...]]` rows plus a
`HEADER`; sections whose packages are not installed are reported as such.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

SECTIONS = ["bench_imports", "bench_core", "bench_models", "bench_store", "bench_runtime"]


def print_table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n## {title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def main() -> int:
    for name in SECTIONS:
        if not (Path(__file__).parent / f"{name}.py").exists():
            continue
        module = importlib.import_module(name)
        print_table(module.TITLE, module.HEADER, module.run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
