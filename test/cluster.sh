# test/cluster.sh: sourced by test/run, demo/run and bench/run.
# ws_deps installs what is missing, ws_install builds and installs ws, ws_cluster_start
# creates a throwaway PostgreSQL 15 cluster (own temp dir, own port, unix socket in the
# temp dir, pg_cron preloaded) and exports PGHOST/PGPORT/PGUSER for it; it is stopped and
# removed when the calling script exits.

PGBIN=/usr/lib/postgresql/15/bin

ws_deps() {
    local need=()
    [ -x "$PGBIN/postgres" ] || need+=(postgresql-15)
    [ -x "$PGBIN/pg_isolation_regress" ] || [ -x /usr/lib/postgresql/15/lib/pgxs/src/test/isolation/pg_isolation_regress ] \
        || need+=(postgresql-server-dev-15)
    [ -f /usr/share/postgresql/15/extension/pg_cron.control ] || need+=(postgresql-15-cron)
    [ -f /usr/share/postgresql/15/extension/pgtap.control ] || need+=(postgresql-15-pgtap)
    command -v pg_prove >/dev/null || need+=(libtap-parser-sourcehandler-pgtap-perl)
    [ -f /usr/include/graphviz/cgraph.h ] || need+=(libgraphviz-dev)
    command -v make >/dev/null || need+=(make)
    command -v gcc >/dev/null || need+=(gcc)
    [ -f /usr/include/postgresql/libpq-fe.h ] || need+=(libpq-dev)   # ws-worker (worker/ws-worker.c)
    command -v python3 >/dev/null || need+=(python3)                 # test/integration/random_joins.py
    command -v pgrep >/dev/null || need+=(procps)                    # test/integration/crash.sh
    perl -MJSON::PP -e1 2>/dev/null || need+=(perl)                  # demo/task.pl
    if ((${#need[@]})); then
        echo "== installing ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${need[@]}" >/dev/null
    fi
}

ws_install() {
    echo "== building and installing ws"
    make -s PG_CONFIG="$PGBIN/pg_config" >/dev/null
    make -s PG_CONFIG="$PGBIN/pg_config" install >/dev/null
}

ws_cluster_stop() {
    if [ -n "${WS_TMP:-}" ] && [ -d "$WS_TMP" ]; then
        runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WS_TMP/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$WS_TMP"
    fi
}

# ws_cluster_start [extra postgresql.conf lines...]
ws_cluster_start() {
    WS_TMP=$(mktemp -d /tmp/ws-cluster.XXXXXX)
    chown postgres: "$WS_TMP"
    chmod 755 "$WS_TMP"
    trap ws_cluster_stop EXIT
    local port
    port=$((20000 + RANDOM % 20000))
    while ss -ltn 2>/dev/null | grep -q ":$port "; do port=$((port + 1)); done
    runuser -u postgres -- "$PGBIN/initdb" -D "$WS_TMP/data" -U postgres --auth=trust -E UTF8 \
        --locale=C.UTF-8 >"$WS_TMP/initdb.log" 2>&1 || { cat "$WS_TMP/initdb.log"; return 1; }
    {
        echo "port = $port"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$WS_TMP'"
        echo "shared_preload_libraries = 'pg_cron,ws'"
        echo "cron.database_name = 'postgres'"
        echo "cron.use_background_workers = on"
        echo "max_worker_processes = 32"
        echo "max_connections = 100"
        echo "max_prepared_transactions = 10"
        echo "log_min_messages = warning"
        for line in "$@"; do echo "$line"; done
    } >>"$WS_TMP/data/postgresql.conf"
    runuser -u postgres -- "$PGBIN/pg_ctl" -D "$WS_TMP/data" -l "$WS_TMP/server.log" -w -t 60 start >/dev/null \
        || { cat "$WS_TMP/server.log"; return 1; }
    export WS_TMP PGBIN PGHOST="$WS_TMP" PGPORT="$port" PGUSER=postgres PGDATABASE=postgres
    echo "== throwaway cluster in $WS_TMP on port $port"
}
