#!/usr/bin/env bash
# test/integration/failover.sh: ws on a pg_auto_failover formation (postgresql-15-auto-failover,
# pg-auto-failover-cli): a monitor, a primary and a secondary, each a throwaway cluster on
# 127.0.0.1 with its own port, run by pg_autoctl as the postgres system user (its files
# under a test directory). Replication is synchronous (pg_auto_failover's default for one
# secondary: synchronous_standby_names 'ANY 1 (...)', number_sync_standbys 0), so every
# commit the primary acknowledges is on the secondary too.
#
# Under load (a ws-worker completing tasks, a client starting processes, both through one
# multi-host connection string with target_session_attrs=read-write) the primary's
# postmaster is killed with SIGKILL. The monitor promotes the secondary; the worker and
# the client reconnect to it through the same connection string and go on. Then: every
# completion the worker saw acknowledged is on the new primary, every process the client
# saw started is there, no task succeeded twice, every process completes. The failover
# figures (time to promotion, time until the worker and the client write again) are
# printed. WS_FAILOVER_ROUNDS=N kills the primary's postmaster N times in a row (the soak;
# the worker runs through all of them): after the first, a kill that pg_autoctl repairs by
# restarting the postmaster before the monitor sees it down (no failover, crash recovery in
# place) is counted, and every check is made on whichever node is primary. Needs the two packages (test/cluster.sh
# ws_deps installs them).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib/common.sh"
WS_OK_NUMBERED=1
ROOT=$(cd "$here/../.." && pwd)
WORKER=$ROOT/worker/ws-worker
[ -x "$WORKER" ] || WORKER=$(command -v ws-worker || true)
[ -n "$WORKER" ] && [ -x "$WORKER" ] || fail "ws-worker is not built (make)"
command -v pg_autoctl >/dev/null || fail "pg_autoctl is missing (apt-get install pg-auto-failover-cli postgresql-15-auto-failover)"
PGCTL=$(command -v pg_ctl)
DB=ws_failover
PROCS=${WS_FAILOVER_PROCESSES:-100}

ws_scratch_dir T
chown postgres: "$T"
chmod 755 "$T"
mkdir -p "$T/config" "$T/share" "$T/run" && chown postgres: "$T/config" "$T/share" "$T/run" && chmod 700 "$T/run"
declare -a PIDS=()      # pg_autoctl services
declare -a JOBS=()      # the worker and the client
stop_all() {
    local p d i
    [ -n "${WS_FAILOVER_KEEP_LOGS:-}" ] && mkdir -p "$WS_FAILOVER_KEEP_LOGS" && cp "$T"/*.log "$WS_FAILOVER_KEEP_LOGS"/ 2>/dev/null
    for p in "${JOBS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    for d in node1 node2 monitor; do
        [ -d "$T/$d" ] && autoctl stop --pgdata "$T/$d" --immediate >/dev/null 2>&1
    done
    for i in $(seq 50); do
        local alive=0
        for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive = 0 ] && break
        sleep 0.2
    done
    # what is left of the services (a sub-process that outlived its supervisor)
    for p in "${PIDS[@]}"; do kill -KILL $(descendants "$p") "$p" 2>/dev/null; done
    for d in node1 node2 monitor; do
        [ -f "$T/$d/postmaster.pid" ] && runuser -u postgres -- "$PGCTL" -D "$T/$d" -m immediate stop >/dev/null 2>&1
    done
    return 0
}
# descendants PID: the processes below PID
descendants() {
    local c
    for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do echo "$c"; descendants "$c"; done
}
on_exit stop_all

autoctl() {
    runuser -u postgres -- env -u PGHOST -u PGPORT -u PGUSER -u PGDATABASE -u PGDATA XDG_CONFIG_HOME="$T/config" XDG_DATA_HOME="$T/share" XDG_RUNTIME_DIR="$T/run" \
        PATH="$PATH" pg_autoctl "$@"
}
free_port() {
    local p=$((20000 + RANDOM % 20000))
    while ss -ltn 2>/dev/null | grep -q ":$p " || [ -e "$T/.s.PGSQL.$p" ]; do p=$((p + 1)); done
    echo "$p"
}
# initdb DIR PORT [lines]: our own initdb (pg_autoctl's would put the socket in
# /var/run/postgresql and take 6 GB of shared_buffers); postgresql.auto.conf is copied to
# the secondary by pg_basebackup
initdb_at() {
    local dir=$1 port=$2
    shift 2
    runuser -u postgres -- initdb -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir.initdb.log" 2>&1 \
        || fail "initdb $dir failed: $(tail -3 "$dir.initdb.log")"
    {
        echo "unix_socket_directories = '$T'"
        echo "shared_buffers = 32MB"
        echo "max_connections = 60"
        echo "log_min_messages = warning"
        local line
        for line in "$@"; do echo "$line"; done
    } >>"$dir/postgresql.auto.conf"
}
mon_q() { psql -X -q -At -h 127.0.0.1 -p "$pm" -U postgres -d pg_auto_failover -c "$1" 2>/dev/null; }
# wait_for SECONDS SQL-ON-MONITOR: until it returns t
wait_mon() {
    local end=$((SECONDS + $1))
    while [ $SECONDS -lt "$end" ]; do
        [ "$(mon_q "$2")" = t ] && return 0
        sleep 0.2
    done
    return 1
}
states() { mon_q "SELECT string_agg(nodename || ' ' || reportedstate || '/' || goalstate, ', ' ORDER BY nodeid) FROM pgautofailover.node"; }
now_ms() { date +%s%3N; }

# ---- the formation ----
pm=$(free_port); p1=$(free_port); [ "$p1" = "$pm" ] && p1=$((pm + 1)); p2=$((p1 + 1))
while ss -ltn 2>/dev/null | grep -q ":$p2 "; do p2=$((p2 + 1)); done
t0=$(now_ms)
initdb_at "$T/monitor" "$pm"
autoctl create monitor --pgdata "$T/monitor" --pgport "$pm" --pgctl "$PGCTL" --hostname 127.0.0.1 \
    --auth trust --no-ssl --run >"$T/monitor.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 150); do [ "$(mon_q "SELECT 1")" = 1 ] && break; sleep 0.2; done
[ "$(mon_q "SELECT 1")" = 1 ] || fail "the monitor did not start: $(tail -5 "$T/monitor.log")"
MON="postgres://autoctl_node@127.0.0.1:$pm/pg_auto_failover?sslmode=disable"

# node N PORT: the first is initialized here, the second by pg_autoctl (pg_basebackup of the
# primary, its postgresql.auto.conf included)
node() {
    local n=$1 port=$2
    [ "$n" = 1 ] && initdb_at "$T/node$n" "$port" "shared_preload_libraries = 'ws'"
    autoctl create postgres --pgdata "$T/node$n" --pgport "$port" --pghost "$T" --pgctl "$PGCTL" \
        --listen 127.0.0.1 --hostname 127.0.0.1 --name "node$n" --dbname "$DB" --auth trust --no-ssl \
        --monitor "$MON" --run >"$T/node$n.log" 2>&1 &
    PIDS+=($!)
}
node 1 "$p1"
wait_mon 60 "SELECT bool_and(reportedstate = 'single') FROM pgautofailover.node WHERE nodename = 'node1'" \
    || fail "node1 did not become a single primary: $(states); $(tail -5 "$T/node1.log")"
export PGHOST=127.0.0.1 PGPORT=$p1 PGDATABASE=$DB PGUSER=postgres
q -c "CREATE EXTENSION IF NOT EXISTS ws" >/dev/null || fail "cannot create extension ws on node1"
node 2 "$p2"
# pg_basebackup waits for a checkpoint: a spread one would take minutes
for _ in $(seq 20); do
    sleep 0.5
    q -c "CHECKPOINT" >/dev/null 2>&1
    [ -f "$T/node2/PG_VERSION" ] && break
done
wait_mon 90 "SELECT count(*) = 2 AND bool_and(reportedstate = goalstate AND reportedstate IN ('primary', 'secondary')) FROM pgautofailover.node" \
    || fail "the formation did not reach primary/secondary: $(states); $(tail -5 "$T/node2.log")"
ok 0 "a monitor, a primary and a secondary run, in $((($(now_ms) - t0) / 1000)) s ($(states))"

# ---- the durability choice: synchronous, one standby must acknowledge ----
sync=$(q -c "SHOW synchronous_standby_names")
commit=$(q -c "SHOW synchronous_commit")
nss=$(mon_q "SELECT number_sync_standbys FROM pgautofailover.formation WHERE formationid = 'default'")
[[ "$sync" == "ANY 1 ("* ]] && [ "$commit" = on ] && [ "$nss" = 0 ]
ok $? "commits wait for the secondary: synchronous_standby_names = $sync, synchronous_commit = $commit, number_sync_standbys = $nss"
st=$(q -c "SELECT sync_state FROM pg_stat_replication")
[ "$st" = quorum ] || [ "$st" = sync ]; ok $? "the secondary replicates synchronously ($st)"

# ---- the workload ----
q >/dev/null <<'SQL' || fail "cannot define the workflow"
SELECT ws.define('{"name": "fo", "nodes": [{"name": "a", "action": "fo.a"}, {"name": "b", "action": "fo.b"},
  {"name": "c", "action": "fo.c"}, {"name": "end", "end": true}],
  "transitions": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "end"}]}');
SQL
MULTI="host=127.0.0.1,127.0.0.1 port=$p1,$p2 dbname=$DB user=postgres target_session_attrs=read-write connect_timeout=2"
"$WORKER" --dsn "$MULTI" --name fo --action fo.a --action fo.b --action fo.c --concurrency 4 --lease 6 \
    --poll 0.5 --verbose -- sleep 0.05 >"$T/worker.log" 2>&1 &
wpid=$!
JOBS+=($wpid)
# the client: starts a process every 0.05 s through the same string, logging each id the
# server acknowledged, or "-" for a failure, with the time
cat >"$T/client.sh" <<'EOF'
while :; do
    if id=$(psql -X -q -At -d "$1" -c "SELECT ws.start('fo', '{\"client\": true}')" 2>>"$2/client.err"); then
        echo "$(date +%s%3N) $id" >>"$2/client.log"
    else
        echo "$(date +%s%3N) -" >>"$2/client.log"
    fi
    sleep 0.05
done
EOF
touch "$T/client.log"
# the ticker: a claim in flight when the primary died may have committed there (and on the
# secondary) without the worker seeing its tasks; their leases end and ws.tick makes them
# ready again
while :; do psql -X -q -At -d "$MULTI" -c "SELECT ws.tick()" >/dev/null 2>&1; sleep 0.5; done &
JOBS+=($!)
# the client's first start acknowledged after its last failure since the kill
first_after() { awk -v t="$tkill" '$1 > t && $2 == "-" {lost = $1; first = ""} $1 > t && lost && $2 != "-" && first == "" {first = $1} END {print first}' "$1"; }
# the first completion the worker saw acknowledged after its last lost connection since the kill
worker_ms() {
    # ws-worker's lines start with the wall time "YYYY-MM-DD HH:MM:SS.mmm"
    grep -E 'connection lost|ws.complete task [0-9]+ attempt [0-9]+: done' "$T/worker.log" | while read -r d t _ _ what _; do
        echo "$(date -d "$d $t" +%s%3N) $what"
    done | awk -v t="$tkill" '$1 > t && $2 == "connection" {lost = $1; first = ""} $1 > t && lost && $2 != "connection" && first == "" {first = $1} END {print first}'
}
done_q="SELECT count(*) FROM ws.task WHERE state = 'succeeded'"
ROUNDS=${WS_FAILOVER_ROUNDS:-1}
figures=()
failovers=0
restarts=0

# ---- each round: load, SIGKILL of the primary's postmaster, promotion, checks, rejoin ----
for ((r = 1; r <= ROUNDS; r++)); do
    R=""
    ((ROUNDS > 1)) && R="round $r: "
    read -r pname pport < <(mon_q "SELECT nodename || ' ' || nodeport FROM pgautofailover.node WHERE reportedstate = 'primary'")
    read -r oname oport < <(mon_q "SELECT nodename || ' ' || nodeport FROM pgautofailover.node WHERE reportedstate = 'secondary'")
    if [ -z "${pname:-}" ] || [ -z "${oname:-}" ]; then
        not_ok "${R}a primary and a secondary to fail over" "$(states)"
        break
    fi
    export PGPORT=$pport
    base=$(q -c "$done_q")
    if ! q -c "SELECT ws.start('fo', jsonb_build_object('n', i, 'round', $r)) FROM generate_series(1, $PROCS) i" >/dev/null; then
        not_ok "${R}start the processes on $pname"
        break
    fi
    bash "$T/client.sh" "$MULTI" "$T" &
    cpid=$!
    JOBS+=($cpid)
    # the kill once a third of the round's steps is done
    for _ in $(seq 300); do
        [ "$(q -c "$done_q" 2>/dev/null || echo 0)" -ge $((base + PROCS)) ] && break
        sleep 0.1
    done
    before=$(q -c "$done_q")
    pid=$(head -1 "$T/$pname/postmaster.pid")
    tkill=$(now_ms)
    kill -KILL "$pid"; ok $? "${R}SIGKILL to the primary's ($pname) postmaster (pid $pid) with $before steps done"

    # ---- the failover ----
    # pg_autoctl restarts the killed postmaster at once; the monitor fails over when it saw
    # the primary down. In the first round it always did here; in a soak a restart in place
    # (no failover, the same primary after crash recovery) is counted, not failed.
    wait_mon $((r == 1 ? 90 : 20)) "SELECT reportedstate IN ('wait_primary', 'primary') FROM pgautofailover.node WHERE nodename = '$oname'"
    promoted=$?
    tprom=$(now_ms)
    if [ $promoted = 0 ] || [ $r = 1 ]; then
        ok $promoted "${R}the monitor promotes $oname ($(states))"
        export PGPORT=$oport
        failovers=$((failovers + 1))
    else
        echo "# ${R}no failover: pg_autoctl restarted $pname's postmaster before the monitor saw it down ($(states))"
        restarts=$((restarts + 1))
    fi
    for _ in $(seq 300); do
        [ "$(q -c "SELECT NOT pg_is_in_recovery()" 2>/dev/null)" = t ] && break
        sleep 0.1
    done
    # once both write again, the client stops; then every process must finish
    end=$((SECONDS + 60))
    while [ $SECONDS -lt $end ]; do
        [ -n "$(worker_ms)" ] && [ -n "$(first_after "$T/client.log")" ] && break
        sleep 0.2
    done
    sleep 0.5
    kill -TERM "$cpid" 2>/dev/null
    wait "$cpid" 2>/dev/null
    end=$((SECONDS + 60))
    while [ $SECONDS -lt $end ]; do
        [ "$(q -c "SELECT count(*) FILTER (WHERE state = 'running') = 0 FROM ws.process" 2>/dev/null)" = t ] && break
        sleep 0.3
    done
    tw=$(worker_ms)
    tc=$(first_after "$T/client.log")
    [ "$PGPORT" = "$oport" ] && figures+=("$((tprom - tkill))/$((${tw:-0} - tkill))/$((${tc:-0} - tkill))")
    if [ "$PGPORT" = "$oport" ]; then
        echo "# ${R}failover: promotion seen by the monitor after $((tprom - tkill)) ms; the worker completed again after $((${tw:-0} - tkill)) ms, the client started again after $((${tc:-0} - tkill)) ms"
    else
        echo "# ${R}restart in place: the worker completed again after $((${tw:-0} - tkill)) ms, the client started again after $((${tc:-0} - tkill)) ms"
    fi
    [ -n "$tw" ]; ok $? "${R}the worker reconnects through the multi-host string and completes tasks on the primary"
    [ -n "$tc" ]; ok $? "${R}the client reconnects through it and starts processes on the primary"

    # ---- nothing acknowledged is lost, nothing done twice (every round so far) ----
    grep -oE 'ws.complete task [0-9]+ attempt [0-9]+: done' "$T/worker.log" | awk '{print $3 " " $5}' | tr -d : | sort -u >"$T/acked"
    acked=$(wc -l <"$T/acked")
    q -c "SELECT id || ' ' || attempts FROM ws.task WHERE state = 'succeeded'" | sort -u >"$T/succeeded"
    lost=$(comm -23 "$T/acked" "$T/succeeded" | wc -l)
    [ "$acked" -gt 0 ] && [ "$lost" = 0 ]
    ok $? "${R}every completion the worker saw acknowledged ($acked) is on the new primary, with its attempt (missing: $lost)"
    awk '$2 != "-" {print $2}' "$T/client.log" | sort -u >"$T/started"
    q -c "SELECT id FROM ws.process" | sort -u >"$T/present"
    nstarted=$(wc -l <"$T/started")
    missing=$(comm -23 "$T/started" "$T/present" | wc -l)
    [ "$nstarted" -gt 0 ] && [ "$missing" = 0 ]
    ok $? "${R}every process the client saw started ($nstarted) is on the new primary (missing: $missing)"
    twice=$(q -c "SELECT count(*) FROM (SELECT process, node FROM ws.task WHERE state = 'succeeded' GROUP BY 1, 2 HAVING count(*) > 1) d")
    twice_ev=$(q -c "SELECT count(*) FROM (SELECT task FROM ws.event WHERE state = 'succeeded' AND task IS NOT NULL GROUP BY 1 HAVING count(*) > 1) d")
    [ "$twice" = 0 ] && [ "$twice_ev" = 0 ]; ok $? "${R}no step succeeded twice ($twice nodes, $twice_ev tasks with two successes)"
    got=$(q -c "SELECT string_agg(state || ' ' || n, ', ') FROM (SELECT state, count(*) n FROM ws.process GROUP BY 1 ORDER BY 1) s")
    total=$(q -c "SELECT count(*) FROM ws.process")
    [ "$got" = "completed $total" ]; ok $? "${R}every process completes on the new primary ($got)"
    refused=$(grep -cE 'ws\.(complete|fail) of task [0-9]+ attempt [0-9]+ refused' "$T/worker.log")
    cancelled=$(cat "$T/worker.log" "$T/client.err" 2>/dev/null | grep -c 'canceling the wait for synchronous replication')
    echo "# ${R}$acked completions acknowledged so far; $refused repeated calls refused as stale; $cancelled writes cut off waiting for synchronous replication (the old primary, restarted by pg_autoctl before the monitor demoted it, acknowledged none of them)"
    # the old primary: pg_autoctl restarts its postmaster, and the monitor makes it a secondary
    if wait_mon 90 "SELECT count(*) = 2 AND bool_and(reportedstate = goalstate AND reportedstate IN ('primary', 'secondary')) FROM pgautofailover.node"; then
        ok 0 "${R}the old primary rejoins as the secondary ($(states))"
    else
        not_ok "${R}the old primary rejoins as the secondary" "$(states)"
        break
    fi
    tjoin=$(now_ms)
    [ "$PGPORT" = "$oport" ] || continue
    sync=$(q -c "SHOW synchronous_standby_names")
    [[ "$sync" == "ANY 1 ("* ]]; ok $? "${R}commits wait for a standby again ($sync)"
    # availability over durability while alone: wait_primary acknowledges commits with no standby
    alone=$(awk -v a="$tprom" -v b="$tjoin" '$1 > a && $1 < b && $2 != "-"' "$T/client.log" | wc -l)
    [ "$alone" -gt 0 ]; ok $? "${R}until then the new primary (wait_primary) acknowledged writes alone: $alone starts of the client"
done
kill -TERM "$wpid" 2>/dev/null
wait "$wpid" 2>/dev/null
if ((ROUNDS > 1)); then
    echo "# $ROUNDS kills: $failovers failovers, $restarts restarts in place; promotion/worker/client, ms after each kill that failed over: ${figures[*]}"
fi

finish
