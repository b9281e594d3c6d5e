#!/usr/bin/env bash
# The checks that run before the tests: ruff (lint), the import contracts
# (import-linter: layers, protobuf, LiteLLM and store boundaries) and mypy.
# All configured in pyproject.toml. Fails on the first violation.
set -euo pipefail
cd "$(dirname "$0")/.."
# The venv scripts/install.sh made (another with LLM_GATEWAY_VENV=/path/to/venv).
bin="${LLM_GATEWAY_VENV:-.venv}/bin"
echo "lint: ruff" >&2
"$bin/ruff" check --no-cache .
echo "lint: import contracts" >&2
"$bin/lint-imports" --no-cache
echo "lint: mypy" >&2
"$bin/mypy"
