#!/usr/bin/env bash
# Start the demo service (apps/server) on 127.0.0.1. `make demo` runs this after installing.
#   PORT=8001 make demo         the port (else $COVEY_PORT, else covey.toml's 8000)
#   COVEY_DEMO_MODEL=...        the model (else the first provider key set, else TestModel)
set -euo pipefail
cd "$(dirname "$0")/.."
args=(--config apps/server/covey.toml)
if [[ -n "${PORT:-}" ]]; then
  args+=(--port "$PORT")
fi
# $UV may be a command with arguments (`python3 -m uv`), hence unquoted.
# shellcheck disable=SC2086
exec ${UV:-uv} run --frozen covey serve "${args[@]}"
