"""Build every package's wheel and sdist into dist/ with hatchling (through `uv build`)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from workspace import ROOT, packages


def main() -> int:
    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    for package in packages():
        print(f"building {package.distribution}", flush=True)
        subprocess.run(
            ["uv", "build", "--quiet", "--out-dir", str(dist), str(package.folder)], check=True
        )
    wheels = sorted(p.name for p in dist.glob("*.whl"))
    missing = [
        p.distribution
        for p in packages()
        if not any(w.startswith(p.distribution.replace("-", "_") + "-") for w in wheels)
    ]
    if missing:
        print(f"no wheel for: {missing}", file=sys.stderr)
        return 1
    print("\n".join(wheels))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
