# Redis for the compose e2e test: Debian's redis-server, already in the test's base image
# (it is included when the base is built, so this build needs no network).
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN mkdir -p /data && chown redis:redis /data
USER redis
EXPOSE 6379
# As the official image does, accept connections from other containers without a
# password (Debian's default, protected mode, refuses them); compose's command comes first.
ENTRYPOINT ["sh", "-c", "exec \"$@\" --protected-mode no", "redis-entrypoint"]
CMD ["redis-server", "--dir", "/data"]
