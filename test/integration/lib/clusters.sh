# test/integration/lib/clusters.sh: more throwaway PostgreSQL clusters beside the test's own,
# for the scripts that need several servers (shards.sh). Sourced after lib/common.sh.
#
#   ws_extra_cluster NAME [postgresql.conf lines...]
#       initdb and start a cluster in a new directory under /tmp with its own port and its
#       unix socket in that directory (no TCP), ws preloaded; stopped (-m immediate) and
#       removed when the script exits. Sets NAME_dir, NAME_port and NAME_dsn (a libpq
#       connect string without dbname).
#   ws_extra_pg NAME ARGS...   pg_ctl ARGS on that cluster's data directory, as postgres

ws_extra_cluster() {
    local name=$1 dir port
    shift
    dir=$(mktemp -d "/tmp/ws-$name.XXXXXX") || fail "cannot create a directory in /tmp"
    chown postgres: "$dir"
    chmod 755 "$dir"
    on_exit "runuser -u postgres -- pg_ctl -D '$dir/data' -m immediate stop >/dev/null 2>&1; rm -rf '$dir'"
    port=$((20000 + RANDOM % 20000))
    while ss -ltn 2>/dev/null | grep -q ":$port " || [ -e "/tmp/.s.PGSQL.$port" ]; do port=$((port + 1)); done
    runuser -u postgres -- initdb -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || fail "initdb of $name failed: $(tail -3 "$dir/initdb.log")"
    {
        echo "port = $port"
        echo "listen_addresses = ''"
        echo "unix_socket_directories = '$dir'"
        echo "shared_preload_libraries = 'ws'"
        echo "shared_buffers = 16MB"
        echo "max_connections = 50"
        echo "fsync = off"
        echo "log_min_messages = warning"
        local line
        for line in "$@"; do echo "$line"; done
    } >>"$dir/data/postgresql.conf"
    runuser -u postgres -- pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
        || fail "$name did not start: $(tail -5 "$dir/server.log")"
    printf -v "${name}_dir" '%s' "$dir"
    printf -v "${name}_port" '%s' "$port"
    printf -v "${name}_dsn" 'host=%s port=%s' "$dir" "$port"
}

ws_extra_pg() {
    local name=$1 dir
    shift
    dir=${name}_dir
    runuser -u postgres -- pg_ctl -D "${!dir}/data" "$@"
}
