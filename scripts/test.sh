#!/usr/bin/env bash
# Installs what the tests need, runs the lint, type and import checks
# (scripts/lint.sh), then the tests (unit, then end to end through real Envoy).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install.sh test
scripts/lint.sh
export LITELLM_LOCAL_MODEL_COST_MAP=True LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS=True
set +e
.venv/bin/python -m pytest -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    # pytest's "no tests collected": a test run that tested nothing is a failure here.
    echo "test: pytest collected no tests" >&2
    exit 1
fi
exit "$status"
