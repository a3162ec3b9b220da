#!/usr/bin/env bash
# Start the demo service. Until covey-runtime exists this says so and exits.
set -euo pipefail
cd "$(dirname "$0")/.."
if uv run --frozen python -c "import covey.runtime" 2>/dev/null; then
  exec uv run --frozen covey serve --host 127.0.0.1 --port 8000 --config apps/server/covey.toml
fi
echo "not yet: the runtime (covey-runtime) is not built yet; see the README's package map." >&2
exit 0
