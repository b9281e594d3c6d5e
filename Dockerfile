# llm-gateway: the ext_proc service (`llm-gateway serve`, the default command) and, with
# another command, the fake provider (`llm-gateway fake-provider`). Envoy runs from its
# own image. Build from the repository root:
#   docker build -t llm-gateway .
# BASE_IMAGE: any Debian-based image with Python 3.11+ and its venv module. With a
# `wheelhouse/` folder in the build context the build installs from it, offline.
ARG BASE_IMAGE=python:3.11.14-slim-bookworm

FROM ${BASE_IMAGE} AS dependencies
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /build
# The dependencies at the pinned versions, in a stage that changes only with the pins.
# (The wheelhouse, when there is one, lands here too, one wheel per file.) Then, as
# scripts/install.sh does: xds-protos ships an older copy of opentelemetry-proto's
# modules, whichever is written last wins, and the OTLP exporter needs its own.
COPY deploy/constraints.txt wheelhous[e] /build/
RUN set -eu; \
    offline=""; \
    if ls /build/*.whl >/dev/null 2>&1; then offline="--no-index --find-links /build"; fi; \
    python3 -m venv /opt/llm-gateway; \
    /opt/llm-gateway/bin/pip install $offline --requirement constraints.txt; \
    if ! /opt/llm-gateway/bin/python -c 'from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope' 2>/dev/null; then \
        /opt/llm-gateway/bin/pip install $offline --no-deps --force-reinstall --constraint constraints.txt opentelemetry-proto; \
    fi

FROM dependencies AS wheel
COPY pyproject.toml README.md LICENSE /build/src/
COPY extproc /build/src/extproc
RUN set -eu; \
    offline=""; \
    if ls /build/*.whl >/dev/null 2>&1; then offline="--no-index --find-links /build"; fi; \
    /opt/llm-gateway/bin/pip wheel $offline --no-deps --wheel-dir /dist /build/src

FROM ${BASE_IMAGE}
# A fixed, unprivileged user; /etc/llm-gateway holds the rendered envoy.yaml (a volume in compose).
RUN set -eu; \
    echo 'llm-gateway:x:10001:10001:llm-gateway:/var/lib/llm-gateway:/usr/sbin/nologin' >> /etc/passwd; \
    echo 'llm-gateway:x:10001:' >> /etc/group; \
    mkdir -p /var/lib/llm-gateway /etc/llm-gateway; \
    chown 10001:10001 /var/lib/llm-gateway /etc/llm-gateway
# Two layers: the dependencies (large, reused until the pins change), then the package
# from its wheel (small); `pip check` proves the pins satisfy the package.
COPY --from=dependencies /opt/llm-gateway /opt/llm-gateway
COPY --from=wheel /dist /tmp/dist
RUN /opt/llm-gateway/bin/pip install --quiet --no-deps --disable-pip-version-check /tmp/dist/llm_gateway-*.whl \
    && /opt/llm-gateway/bin/pip check --disable-pip-version-check \
    && rm -rf /tmp/dist
ENV PATH=/opt/llm-gateway/bin:$PATH \
    HOME=/var/lib/llm-gateway \
    PYTHONUNBUFFERED=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS=True
WORKDIR /var/lib/llm-gateway
USER 10001:10001
# 9002: ext_proc gRPC (and gRPC health); 9464: GET /metrics with --metrics-port 9464.
EXPOSE 9002 9464
# SIGTERM drains: NOT_SERVING first, serving on until Envoy's health checks have noticed
# (up to --drain-seconds), then up to 5 s for streams in flight. Give it 30 s to stop.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --timeout=10s --start-period=90s --retries=3 \
    CMD ["llm-gateway", "healthcheck", "--config", "/etc/llm-gateway/envoy.yaml"]
ENTRYPOINT ["llm-gateway"]
CMD ["serve", "--host", "0.0.0.0", "--port", "9002", "--metrics-port", "9464", "--config", "/etc/llm-gateway/envoy.yaml", "--preflight"]
