# test/cluster.sh: sourced by test/run, demo/run and bench/run.
# ws_deps installs what is missing, ws_install builds and installs ws, ws_cluster_start
# creates a throwaway PostgreSQL 15 cluster (own temp dir, own port, unix socket in the
# temp dir, pg_cron preloaded) and exports PGHOST/PGPORT/PGUSER for it; it is stopped and
# removed when the calling script exits.

# WS_PGBIN: another PostgreSQL 15 bin directory, such as a copy that ws_pg_copy made, so
# that two checkouts build, install and test at once without installing over each other.
# test/integration/deps.sh checks Debian's paths and fails under it.
PGBIN=${WS_PGBIN:-/usr/lib/postgresql/15/bin}

# ws_pg_copy_root: the ROOT of the copy WS_PGBIN is in
ws_pg_copy_root() { (cd "$WS_PGBIN/../../../../.." && pwd); }

# ws_pg_copy ROOT: a private copy of Debian's PostgreSQL 15 (with what is installed in it:
# pg_cron, pgTAP) under ROOT, headers linked; it finds its files relative to its binaries.
# Prints the WS_PGBIN to use.
ws_pg_copy() {
    mkdir -p "$1/usr/lib/postgresql" "$1/usr/share/postgresql" "$1/usr/include"
    cp -a /usr/lib/postgresql/15 "$1/usr/lib/postgresql/"
    cp -a /usr/share/postgresql/15 "$1/usr/share/postgresql/"
    ln -sfn /usr/include/postgresql "$1/usr/include/postgresql"
    echo "$1/usr/lib/postgresql/15/bin"
}

# ws_probes: one line a dependency, "package file": the Debian package and one file of it
# that the build, the demo, the tests or the bench use (chromium: the web interface's
# browser test; Node and the npm packages are web/install.sh's). ws_deps installs every package whose
# file is missing; test/integration/deps.sh checks with dpkg -S that each file belongs to
# the package named beside it, so a probe that looks at the wrong file fails the suite.
ws_probes() {
    local pgc=$PGBIN/pg_config inc=/usr/include/postgresql/15/server pgxs=/usr/lib/postgresql/15/lib/pgxs
    if [ -x "$pgc" ]; then
        inc=$("$pgc" --includedir-server)
        pgxs=$(dirname "$(dirname "$(dirname "$("$pgc" --pgxs)")")")
    fi
    cat <<EOF
postgresql-15 $PGBIN/postgres
postgresql-15 $PGBIN/pgbench
postgresql-client-15 $PGBIN/psql
postgresql-client-15 $PGBIN/pg_config
postgresql-client-15 $pgxs/src/makefiles/pgxs.mk
postgresql-client-15 $pgxs/src/test/isolation/pg_isolation_regress
postgresql-server-dev-15 $inc/postgres.h
postgresql-15-cron /usr/share/postgresql/15/extension/pg_cron.control
postgresql-15-pgtap /usr/share/postgresql/15/extension/pgtap.control
postgresql-15-partman /usr/share/postgresql/15/extension/pg_partman.control
postgresql-15-plproxy /usr/share/postgresql/15/extension/plproxy.control
postgresql-15-auto-failover /usr/share/postgresql/15/extension/pgautofailover.control
pg-auto-failover-cli /usr/bin/pg_autoctl
libtap-parser-sourcehandler-pgtap-perl /usr/bin/pg_prove
libgraphviz-dev /usr/include/graphviz/cgraph.h
libgvc6 /usr/lib/$(uname -m)-linux-gnu/graphviz/libgvplugin_dot_layout.so.6
libpq-dev /usr/include/postgresql/libpq-fe.h
make /usr/bin/make
gcc /usr/bin/gcc
python3-minimal /usr/bin/python3
libpython3.11-stdlib /usr/lib/python3.11/json/__init__.py
python3-yaml /usr/lib/python3/dist-packages/yaml/__init__.py
prometheus-postgres-exporter /usr/bin/prometheus-postgres-exporter
perl-modules-5.36 /usr/share/perl/5.36/JSON/PP.pm
procps /usr/bin/pgrep
iproute2 /usr/bin/ss
util-linux /usr/sbin/runuser
chromium /usr/bin/chromium
EOF
}

ws_deps() {
    local need=() pkg file
    while read -r pkg file; do
        [ -e "$file" ] || need+=("$pkg")
    done < <(ws_probes)
    if ((${#need[@]})); then
        echo "== installing ${need[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq
        apt-get install -y -qq "${need[@]}" >/dev/null
    fi
}

# ws_install [asserts]: build and install ws; with "asserts", ws's own Assert()s are
# compiled in (WS_ASSERTS=1: what test/run builds, not the demo or the bench)
ws_install() {
    local asserts=0
    [ "${1:-}" = asserts ] && asserts=1
    echo "== building and installing ws$([ $asserts = 1 ] && echo ', with assertions')"
    # a private copy (WS_PGBIN) links ws-worker inside the copy, not in /usr/local/bin
    local link=()
    [ -n "${WS_PGBIN:-}" ] && link=(WS_WORKER_LINKDIR="$(ws_pg_copy_root)/usr/local/bin")
    make -s PG_CONFIG="$PGBIN/pg_config" WS_ASSERTS=$asserts >/dev/null
    make -s PG_CONFIG="$PGBIN/pg_config" WS_ASSERTS=$asserts "${link[@]}" install >/dev/null
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
    # a script using test/integration/lib/common.sh keeps its other exit hooks
    if declare -F on_exit >/dev/null; then on_exit ws_cluster_stop; else trap ws_cluster_stop EXIT; fi
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
