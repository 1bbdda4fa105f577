#!/bin/sh
# A small stand-in for the official postgres image's docker-entrypoint.sh,
# for images assembled by tests/e2e/build-pg-image.sh (no registry needed).
# Honoured: POSTGRES_PASSWORD / POSTGRES_PASSWORD_FILE, POSTGRES_USER,
# POSTGRES_DB, POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD, PGDATA,
# /docker-entrypoint-initdb.d/*.sql|*.sh, and extra `postgres` arguments
# (e.g. `-c ssl=on`). Like the official image it first starts a temporary
# server that listens on the Unix socket only, so TCP clients see "connection
# refused" until the real server is up.
set -eu

if [ "${1:-postgres}" != postgres ] && [ "${1#-}" = "$1" ]; then
    exec "$@"                      # e.g. `psql ...`, `pg_isready`, `sh`
fi
[ "${1:-}" = postgres ] && shift

: "${PGDATA:=/var/lib/postgresql/data}"
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$PGDATA" /run/postgresql
    chown -R postgres:postgres "$PGDATA" /run/postgresql
    chmod 700 "$PGDATA"
    # busybox's gosu: start-stop-daemon without -b execs in place (stays PID 1)
    # and passes everything after -- untouched (su would parse `-c ...`).
    exec start-stop-daemon -S -c postgres:postgres -x "$0" -- postgres "$@"
fi

if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
    POSTGRES_PASSWORD=$(cat "$POSTGRES_PASSWORD_FILE")
fi
: "${POSTGRES_USER:=postgres}"
: "${POSTGRES_DB:=$POSTGRES_USER}"
: "${POSTGRES_HOST_AUTH_METHOD:=scram-sha-256}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    if [ -z "${POSTGRES_PASSWORD:-}" ] && [ "$POSTGRES_HOST_AUTH_METHOD" != trust ]; then
        echo "entrypoint: POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE is required" >&2
        exit 1
    fi
    pwfile=$(mktemp)
    printf '%s\n' "${POSTGRES_PASSWORD:-}" >"$pwfile"
    # shellcheck disable=SC2086
    initdb -D "$PGDATA" -U "$POSTGRES_USER" --pwfile="$pwfile" \
        --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD" \
        --encoding=UTF8 --locale=C ${POSTGRES_INITDB_ARGS:-} >/dev/null
    rm -f "$pwfile"
    printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

    pg_ctl -D "$PGDATA" -w -o "-c listen_addresses='' -c unix_socket_directories=/run/postgresql" start >/dev/null
    if [ "$POSTGRES_DB" != postgres ]; then
        psql -v ON_ERROR_STOP=1 -h /run/postgresql -U "$POSTGRES_USER" -d postgres -q \
            -c "CREATE DATABASE \"$POSTGRES_DB\"" >/dev/null
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sql) echo "entrypoint: running $f"
                   psql -v ON_ERROR_STOP=1 -h /run/postgresql -U "$POSTGRES_USER" -d "$POSTGRES_DB" -q -f "$f" ;;
            *.sh)  echo "entrypoint: sourcing $f"; . "$f" ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "entrypoint: PostgreSQL init process complete; ready for start up."
fi

exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/run/postgresql "$@"
