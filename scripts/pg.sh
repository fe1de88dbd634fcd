#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests.
#   pg.sh start DIR   initialises a cluster in DIR (created when missing),
#                     starts it on a free 127.0.0.1 port with its unix
#                     socket inside DIR, trust authentication, and a
#                     database silo_test; prints its URL on stdout:
#                     postgres://postgres@127.0.0.1:PORT/silo_test
#   pg.sh stop DIR    stops that cluster and removes DIR.
# Uses Debian's server binaries (/usr/lib/postgresql/VERSION/bin, the
# newest installed). PostgreSQL refuses to run as root, so as root the
# server runs as the postgres user and DIR is handed over to it. The
# default collation is ICU's en-US when available, so that the schema's
# COLLATE "C" (byte-wise key order) is really exercised; messages go to
# stderr.
set -u

die() {
    echo "pg.sh: $*" >&2
    exit 1
}

[ $# -eq 2 ] || die "usage: pg.sh start|stop DIR"
command=$1
dir=$2

bin=""
for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V); do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && bin=$d
done

# Runs a command as the user that owns the cluster.
as_owner() {
    if [ "$(id -u)" -ne 0 ]; then
        "$@"
    elif command -v runuser >/dev/null 2>&1; then
        runuser -u postgres -- "$@"
    else
        su postgres -s /bin/sh -c '"$0" "$@"' "$@"
    fi
}

free_port() {
    /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' \
        2>/dev/null || echo $((20000 + RANDOM % 40000))
}

start() {
    [ -n "$bin" ] || die "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
    mkdir -p "$dir" || die "cannot create $dir"
    dir=$(cd "$dir" && pwd)
    [ ! -e "$dir/data" ] || die "$dir/data exists already"
    if [ "$(id -u)" -eq 0 ]; then
        id postgres >/dev/null 2>&1 || die "running as root and there is no postgres user to run the server"
        chown postgres "$dir" || die "cannot hand $dir to the postgres user"
        chmod 700 "$dir"
        as_owner test -w "$dir" || die "the postgres user cannot write to $dir (a parent directory is closed?)"
    fi
    as_owner mkdir -p "$dir/socket" || die "cannot create $dir/socket"

    # ICU's en-US sorts "B" after "a" and "é" before "f": a schema that
    # forgot COLLATE "C" fails the byte-order tests here.
    if ! as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 \
        --locale-provider=icu --icu-locale=en-US --no-sync >"$dir/initdb.log" 2>&1; then
        rm -rf "$dir/data"
        as_owner "$bin/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
            >"$dir/initdb.log" 2>&1 || die "initdb failed: $(tail -5 "$dir/initdb.log")"
    fi
    cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir/socket'
max_connections = 200
fsync = off
synchronous_commit = off
full_page_writes = off
EOF

    local port="" attempt
    for attempt in 1 2 3 4 5; do
        port=$(free_port)
        if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -o "-p $port" -w -t 60 start \
            >/dev/null 2>&1; then
            break
        fi
        port=""
    done
    [ -n "$port" ] || die "the server did not start: $(tail -5 "$dir/server.log" 2>/dev/null)"
    echo "$port" >"$dir/port"
    as_owner "$bin/psql" -X -q -h "$dir/socket" -p "$port" -U postgres -d postgres \
        -c "CREATE DATABASE silo_test" >/dev/null || die "cannot create the database silo_test"
    echo "postgres://postgres@127.0.0.1:$port/silo_test"
}

stop() {
    [ -d "$dir" ] || return 0
    if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 ||
            echo "pg.sh: the server in $dir did not stop" >&2
    fi
    rm -rf "$dir"
}

case "$command" in
start) start ;;
stop) stop ;;
*) die "usage: pg.sh start|stop DIR" ;;
esac
