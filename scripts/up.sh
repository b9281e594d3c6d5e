#!/usr/bin/env bash
# Installs llm-gateway and starts it on embedded defaults: Envoy on :8080,
# the ext_proc service, and the fake provider when no provider key is set.
# Extra arguments go to `llm-gateway up` (e.g. --port 8081, --config my.yaml).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh
exec .venv/bin/llm-gateway up "$@"
