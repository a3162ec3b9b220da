"""Run the test suite; pytest's exit code 5 (no tests collected) counts as a failure."""

from __future__ import annotations

import subprocess
import sys

NO_TESTS_COLLECTED = 5


def main() -> int:
    code = subprocess.call([sys.executable, "-m", "pytest", *sys.argv[1:]])
    if code == NO_TESTS_COLLECTED:
        print("pytest collected no tests: that is a failure, not a pass.", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    raise SystemExit(main())
