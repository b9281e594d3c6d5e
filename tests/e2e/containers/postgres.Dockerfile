# PostgreSQL 16 with pgvector for the compose e2e test: the pgserver wheel's binaries (the
# same the other tests use), from the test's wheelhouse. Reads POSTGRES_USER,
# POSTGRES_PASSWORD and POSTGRES_DB as the pgvector/pgvector image does.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY wheelhouse/pgserver-*.whl /tmp/
COPY postgres-entrypoint.sh /usr/local/bin/postgres-entrypoint
RUN set -eu; \
    python3 -m venv /opt/pgserver; \
    /opt/pgserver/bin/pip install --quiet --no-index --no-deps /tmp/pgserver-*.whl; \
    rm /tmp/pgserver-*.whl; \
    for tool in postgres initdb pg_isready psql; do \
        ln -s /opt/pgserver/lib/python3*/site-packages/pgserver/pginstall/bin/$tool /usr/local/bin/$tool; \
    done; \
    echo 'postgres:x:999:999::/var/lib/postgresql:/usr/sbin/nologin' >> /etc/passwd; \
    echo 'postgres:x:999:' >> /etc/group; \
    mkdir -p /var/lib/postgresql/data; \
    chown -R 999:999 /var/lib/postgresql; \
    chmod 0755 /usr/local/bin/postgres-entrypoint
USER 999:999
EXPOSE 5432
ENTRYPOINT ["postgres-entrypoint"]
