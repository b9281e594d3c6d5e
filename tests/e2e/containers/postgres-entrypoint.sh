#!/bin/sh
# First start: a UTF-8 cluster (as the official image makes; a SQL_ASCII one hands text back
# to clients as bytes) whose POSTGRES_USER (a superuser, so the gateway may create the vector
# extension) logs in with POSTGRES_PASSWORD from other containers. Then postgres.
set -eu
data=/var/lib/postgresql/data
if [ ! -s "$data/PG_VERSION" ]; then
    printf '%s\n' "$POSTGRES_PASSWORD" > /tmp/pwfile
    initdb --pgdata="$data" --username="$POSTGRES_USER" --pwfile=/tmp/pwfile --encoding=UTF8 --no-locale \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f /tmp/pwfile
    echo "host all all 0.0.0.0/0 scram-sha-256" >> "$data/pg_hba.conf"
    echo "CREATE DATABASE \"$POSTGRES_DB\";" | postgres --single -D "$data" postgres >/dev/null
fi
exec postgres -D "$data" -c listen_addresses='*' -c unix_socket_directories=/tmp
