"""`make bench`: every measurement, printed as tables. Nothing here is asserted.

Each section is a module in bench/ exposing `run() -> list[tuple[str, ...]]` rows plus a
`HEADER`; sections whose packages are not installed are reported as such.

`python bench/run.py [--full] [SECTION ...]`: `--full` (or `COVEY_BENCH_FULL=1`) makes every
serving row 60 s long (the memory-flat check) and adds the 100k-chunk knowledge tier; naming
sections runs only those, e.g.
`python bench/run.py bench_runtime`. Agno is installed into `bench/.peers/agno` on first use.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

SECTIONS = [
    "bench_imports",
    "bench_core",
    "bench_models",
    "bench_teams",
    "bench_workflows",
    "bench_store",
    "bench_runtime",
    "bench_postgres",
    "bench_knowledge",
    "bench_mcp",
    "bench_memory",
    "bench_tracing",
    "bench_guardrails",
    "bench_metrics",
    "bench_console",
]


def print_table(title: str, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n## {title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


def main(argv: list[str]) -> int:
    if "--full" in argv:
        os.environ["COVEY_BENCH_FULL"] = "1"  # read by the sections when they are imported
    chosen = [a for a in argv if not a.startswith("-")] or SECTIONS
    unknown = sorted(set(chosen) - set(SECTIONS))
    if unknown:
        print(f"unknown sections {unknown}; choose from {SECTIONS}", file=sys.stderr)
        return 2
    for name in chosen:
        if not (Path(__file__).parent / f"{name}.py").exists():
            continue
        module = importlib.import_module(name)
        print_table(module.TITLE, module.HEADER, module.run())
        if getattr(module, "NOTE", ""):
            print(f"({module.NOTE})")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
