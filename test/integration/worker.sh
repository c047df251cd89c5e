#!/usr/bin/env bash
# test/integration/worker.sh: ws-worker (worker/ws-worker.c) against the throwaway cluster.
# Run by test/run with PGHOST/PGPORT/PGUSER/PGDATABASE set; creates and drops its own
# database. Real worker processes run shell commands for the tasks: two workers share a
# workflow, JSON output steers an XOR split, a failing command is retried then fails the
# process with its stderr, bad output is a clear failure, a worker killed with -9 loses its
# lease to the other one, a PostgreSQL restart is survived, SIGTERM waits for the running
# command then fails what is left. Errors that retrying cannot fix (no such database, a
# wrong password, no ws.grant_user, no ws...) stop a worker at once with status 2, one that
# heals is retried; make install puts ws-worker on the PATH. Several --dsn (three databases,
# shards 0, 1 and 2 of 3): one worker completes the tasks of all three, its slots shared
# (never more commands at once than --concurrency), a database that goes away holds up only
# its own work and is retried with back-off until it is back, claims go round the databases
# in turn, the same --dsn twice or an unfixable error on any of them is exit 2. Last, the
# tasks per second of one worker running `true`, on one database and on three.
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. test/integration/lib/common.sh
WS_OK_NUMBERED=1

DB=ws_worker_test
WORKER=$ROOT/worker/ws-worker
[ -x "$WORKER" ] || WORKER=$(command -v ws-worker || true)
if [ -z "$WORKER" ] || [ ! -x "$WORKER" ]; then
    fail "ws-worker is not built (make)"
fi
ws_scratch_dir T
chmod 755 "$T"
export WS_TEST_DIR=$T

declare -A WPID
TICKPID=
HBA=                            # pg_hba.conf while a test has changed it (saved in $T)
NOWS=ws_worker_nows             # a database without ws
NOGRANT=ws_worker_nogrant       # a role without ws.grant_user
PWROLE=ws_worker_pw             # a role that must give its password

# restore_hba: put back the pg_hba.conf saved before a test changed it
restore_hba() {
    if [ -n "$HBA" ]; then
        cat "$T/pg_hba.conf" >"$HBA"
        psql -X -Atq -d postgres -c 'SELECT pg_reload_conf()' >/dev/null
        HBA=
    fi
}

# the roles and the database without ws that the tests below create, dropped on exit
drop_others() {
    dropdb --if-exists --force "$NOWS" >/dev/null 2>&1
    psql -X -q -d postgres -c "DROP ROLE IF EXISTS $NOGRANT, $PWROLE" >/dev/null 2>&1
}
# the workers and the ticker stopped, pg_hba.conf restored
stop_all() {
    local p
    for p in "${WPID[@]}"; do kill -9 "$p" 2>/dev/null; done
    [ -n "$TICKPID" ] && kill "$TICKPID" 2>/dev/null
    wait 2>/dev/null
    restore_hba
}

# is TEST NAME SQL EXPECTED: the query's output must be exactly EXPECTED
is() {
    local got
    got=$(q -c "$2" 2>&1)
    if [ "$got" = "$3" ]; then ok 0 "$1"; else not_ok "$1" "got '$got', want '$3'"; fi
}
# wait_for SECONDS SQL: until the query returns t; false on timeout
wait_for() {
    local end=$((SECONDS + $1))
    while [ $SECONDS -lt "$end" ]; do
        [ "$(q -c "$2" 2>/dev/null)" = t ] && return 0
        sleep 0.1
    done
    return 1
}
# start_worker NAME [options...]: a ws-worker on the test database, logging to $T/NAME.log
start_worker() {
    local name=$1
    shift
    start_worker_on "$name" --dsn "dbname=$DB" "$@"
}
# start_worker_on NAME --dsn DSN... [options...]: a ws-worker on the databases given
start_worker_on() {
    local name=$1
    shift
    "$WORKER" --name "$name" "$@" >>"$T/$name.log" 2>&1 &
    WPID[$name]=$!
}
stop_worker() {
    kill -9 "${WPID[$1]}" 2>/dev/null
    wait "${WPID[$1]}" 2>/dev/null
    unset "WPID[$1]"
}
show_logs() {
    local f
    for f in "$T"/*.log; do
        [ -f "$f" ] || continue
        echo "---- $(basename "$f") (last lines)"
        tail -n 15 "$f"
    done
}

# the command every test worker runs: what it does depends on WS_ACTION
cat >"$T/cmd.sh" <<'EOF'
#!/bin/bash
params=$(cat)
num() { printf '%s' "$params" | sed -n "s/.*\"$1\": \([0-9][0-9]*\).*/\1/p"; }
case "$WS_ACTION" in
t.echo)
    echo "$WS_NODE $WS_TASK $WS_ATTEMPT" >>"$WS_TEST_DIR/ran"
    sleep 0.05
    printf '{"%s": {"task": %s, "process": %s, "attempt": %s, "worker": "%s", "customer": %s}}\n' \
        "$WS_NODE" "$WS_TASK" "$WS_PROCESS" "$WS_ATTEMPT" "$WS_WORKER" "$(num customer)"
    ;;
t.double)
    printf '{"amount": %d}\n' $(($(num amount) * 2))
    ;;
t.mark)
    printf '{"went": "%s"}' "$WS_NODE"
    ;;
t.flaky)
    echo "some noise" >&2
    echo "boom: attempt $WS_ATTEMPT of task $WS_TASK" >&2
    exit 3
    ;;
t.badjson)
    echo 'this is not json'
    ;;
t.array)
    echo '[1, 2]'
    ;;
t.slow)
    echo "progress: 30" >&2
    sleep "$(num secs)"
    echo "$WS_TASK $WS_ATTEMPT $WS_WORKER" >>"$WS_TEST_DIR/slow_done"
    echo '{"slow": "done"}'
    ;;
t.multi)
    # how many run at once (across the databases of one worker), and the order they start in
    { flock 9; n=$(($(cat "$WS_TEST_DIR/m_running" 2>/dev/null || echo 0) + 1)); echo "$n" >"$WS_TEST_DIR/m_running"
      echo "$n" >>"$WS_TEST_DIR/m_seen"; echo "$WS_TASK" >>"$WS_TEST_DIR/m_ran"; } 9>"$WS_TEST_DIR/m_lock"
    sleep 0.05
    { flock 9; echo $(($(cat "$WS_TEST_DIR/m_running") - 1)) >"$WS_TEST_DIR/m_running"; } 9>"$WS_TEST_DIR/m_lock"
    ;;
t.step)
    sleep 0.6
    printf '{"%s": %s}\n' "$WS_NODE" "$WS_ATTEMPT"
    ;;
*)
    echo "unknown action $WS_ACTION" >&2
    exit 1
    ;;
esac
EOF
chmod 755 "$T/cmd.sh"

drop_others
on_exit drop_others
ws_scratch_db "$DB"
on_exit stop_all
q >/dev/null <<SQL || fail "setup failed"
ALTER DATABASE $DB SET ws.retry_base = '100ms';
SELECT ws.define('{"name": "shell", "nodes": [
    {"name": "a", "action": "t.echo"}, {"name": "b1", "action": "t.echo"},
    {"name": "b2", "action": "t.echo"}, {"name": "c", "action": "t.echo"}],
  "transitions": [{"from": "a", "to": "b1"}, {"from": "a", "to": "b2"},
                  {"from": "b1", "to": "c"}, {"from": "b2", "to": "c"}]}');
SELECT ws.define('{"name": "xor", "nodes": [
    {"name": "decide", "action": "t.double", "split": "xor"},
    {"name": "big", "action": "t.mark"}, {"name": "small", "action": "t.mark"}],
  "transitions": [{"from": "decide", "to": "big", "condition": "\$.amount > 10", "priority": 1},
                  {"from": "decide", "to": "small", "priority": 2}]}');
SELECT ws.define('{"name": "flaky", "nodes": [{"name": "f", "action": "t.flaky", "retries": 2}], "transitions": []}');
SELECT ws.define('{"name": "badjson", "nodes": [{"name": "n", "action": "t.badjson"}], "transitions": []}');
SELECT ws.define('{"name": "array", "nodes": [{"name": "n", "action": "t.array"}], "transitions": []}');
SELECT ws.define('{"name": "slow", "nodes": [{"name": "s", "action": "t.slow"}], "transitions": []}');
SELECT ws.define('{"name": "steps", "nodes": [
    {"name": "s1", "action": "t.step"}, {"name": "s2", "action": "t.step"}, {"name": "s3", "action": "t.step"}],
  "transitions": [{"from": "s1", "to": "s2"}, {"from": "s2", "to": "s3"}]}');
SELECT ws.define('{"name": "noop", "nodes": [{"name": "n", "action": "t.noop"}], "transitions": []}');
SELECT ws.define('{"name": "heal", "nodes": [{"name": "n", "action": "t.heal"}], "transitions": []}');
SQL

# a ticker in the background (lease ends, retry back-off)
(while :; do psql -X -Atq -d "$DB" -c 'SELECT ws.tick()' >/dev/null 2>&1; sleep 0.2; done) &
TICKPID=$!

# ---- command line
out=$("$WORKER" --help 2>&1)
if [ $? -eq 0 ] && [[ $out == *"--action NAME"* && $out == *WS_ATTEMPT* ]]; then ok 0 "--help"; else not_ok "--help" "$out"; fi
"$WORKER" --action x >/dev/null 2>&1
if [ $? -eq 2 ]; then ok 0 "no command: usage error"; else not_ok "no command: usage error"; fi
"$WORKER" --concurrency 0 --action x -- true >/dev/null 2>&1
if [ $? -eq 2 ]; then ok 0 "bad --concurrency: usage error"; else not_ok "bad --concurrency: usage error"; fi

# make install installs ws-worker in pg_config --bindir, which a user's PATH lacks, and links it
# from /usr/local/bin: look for it on this PATH without that directory (test/run installs first)
bindir=$(pg_config --bindir)
userpath=$(tr ':' '\n' <<<"$PATH" | grep -vxF -e "$bindir" -e "$bindir/" -e /usr/lib/postgresql/15/bin | paste -sd: -)
found=$(PATH=$userpath command -v ws-worker)
if [ -n "$found" ] && [ "$(readlink -f "$found")" = "$(readlink -f "$bindir/ws-worker")" ] &&
   "$found" --help >/dev/null 2>&1; then
    ok 0 "make install puts ws-worker on the PATH ($found)"
else
    not_ok "make install puts ws-worker on the PATH" "command -v ws-worker found '${found:-nothing}' on $userpath; want a link to $bindir/ws-worker"
fi

# ---- errors retrying cannot fix stop the worker at once, with status 2 and what to do
# fatal NAME PATTERN [options...]: the worker must exit with status 2 within 5 s (not go on
# retrying) and its log match PATTERN (grep -E)
fatal() {
    local name=$1 pattern=$2 rc
    shift 2
    timeout -s KILL 5 "$WORKER" --name fatal "$@" --action t.echo -- true >"$T/fatal.out" 2>&1
    rc=$?
    if [ $rc -eq 2 ] && grep -Eq "$pattern" "$T/fatal.out"; then
        ok 0 "$name"
    else
        not_ok "$name" "exit $rc (137: still retrying after 5 s): $(tail -n 2 "$T/fatal.out")"
    fi
}
fatal "unknown database: exit 2, the message names it" \
    'cannot use database "ws_no_such_db": database "ws_no_such_db" does not exist \(SQLSTATE 3D000\); not retrying' \
    --dsn "dbname=ws_no_such_db"
fatal "invalid connection string: exit 2" 'invalid sslmode value: "bogus"; not retrying' \
    --dsn "dbname=$DB sslmode=bogus"
q -c "CREATE ROLE $NOGRANT LOGIN"
fatal "a role without ws.grant_user: exit 2, 42501 and what an admin must run" \
    "permission denied for schema ws \(SQLSTATE 42501\); not retrying\. An administrator must run SELECT ws\.grant_user\('$NOGRANT'\)" \
    --dsn "dbname=$DB user=$NOGRANT"
createdb "$NOWS"
fatal "a database without ws: exit 2" \
    "cannot use database \"$NOWS\": schema \"ws\" does not exist \(SQLSTATE 3F000\).*CREATE EXTENSION ws" \
    --dsn "dbname=$NOWS"
# the same database with ws of another version than the library's
psql -X -q -v ON_ERROR_STOP=1 -d "$NOWS" -c "CREATE EXTENSION ws" \
    -c "UPDATE pg_extension SET extversion = '0.0.0' WHERE extname = 'ws'" >/dev/null
# (an upgrade in progress: the library is new, ALTER EXTENSION ws UPDATE has not run yet)
# heals by itself: the worker keeps retrying and says why
timeout -s KILL 3 "$WORKER" --name upgrading --dsn "dbname=$NOWS" --poll 1 --action t.echo -- true >"$T/upgrading.out" 2>&1
rc=$?
if [ $rc -eq 137 ] && grep -q "SQLSTATE 55000" "$T/upgrading.out"; then
    ok 0 "ws of another version in the database (an upgrade under way): the worker keeps retrying"
else
    not_ok "ws of another version in the database (an upgrade under way): the worker keeps retrying" \
        "exit $rc: $(tail -n 2 "$T/upgrading.out")"
fi
# a wrong password: the role must give one (scram), for this role only
q -c "CREATE ROLE $PWROLE LOGIN PASSWORD 'right'"
HBA=$(q -c "SHOW hba_file")
cp "$HBA" "$T/pg_hba.conf"
{ echo "local all $PWROLE scram-sha-256"; cat "$T/pg_hba.conf"; } >"$HBA"
chown postgres: "$HBA"
q -c "SELECT pg_reload_conf()" >/dev/null
end=$((SECONDS + 5))      # until the server reads it: a connection without a password fails
while psql -X -w -Atq -d "$DB" -U "$PWROLE" -c '' >/dev/null 2>&1 && [ $SECONDS -lt $end ]; do sleep 0.1; done
fatal "a wrong password: exit 2, says authentication failed" \
    "password authentication failed for user \"$PWROLE\" \(SQLSTATE 28P01\); not retrying" \
    --dsn "user=$PWROLE password=wrong dbname=$DB"
restore_hba

# ---- an error that heals is retried: a database that accepts no connections for a while
psql -X -q -d postgres -c "ALTER DATABASE $DB ALLOW_CONNECTIONS false"
start_worker heal --action t.heal --poll 0.5 -- true
end=$((SECONDS + 30))      # until it has said so, then it must still run
until grep -q 'not currently accepting connections; trying again' "$T/heal.log" || [ $SECONDS -ge $end ]; do sleep 0.1; done
sleep 0.5
if kill -0 "${WPID[heal]}" 2>/dev/null &&
   grep -q 'not currently accepting connections; trying again' "$T/heal.log"; then
    ok 0 "a database not accepting connections (55000): the worker keeps retrying"
else
    not_ok "a database not accepting connections (55000): the worker keeps retrying" "$(tail -n 2 "$T/heal.log")"
fi
psql -X -q -d postgres -c "ALTER DATABASE $DB ALLOW_CONNECTIONS true"
p_heal=$(q -c "SELECT ws.start('heal')")
if wait_for 10 "SELECT state = 'completed' FROM ws.process WHERE id = $p_heal"; then
    ok 0 "once it accepts them again, the worker connects and completes a task"
else
    not_ok "once it accepts them again, the worker connects and completes a task" "$(tail -n 2 "$T/heal.log")"
fi
stop_worker heal

# ---- two workers run a workflow of shell commands
ACTIONS=(--action t.echo --action t.double --action t.mark --action t.flaky --action t.badjson
         --action t.array --action t.step)
start_worker w1 "${ACTIONS[@]}" --concurrency 2 --lease 5 --poll 1 -- "$T/cmd.sh"
start_worker w2 "${ACTIONS[@]}" --concurrency 2 --lease 5 --poll 1 -- "$T/cmd.sh"
q -c "SELECT ws.start('shell', jsonb_build_object('customer', i)) FROM generate_series(1, 8) i" >/dev/null
if wait_for 40 "SELECT count(*) = 8 FROM ws.process p JOIN ws.workflow w ON w.id = p.workflow
                 WHERE w.name = 'shell' AND p.state <> 'running'"; then
    ok 0 "8 processes of shell commands end"
else
    not_ok "8 processes of shell commands end" "$(q -c "SELECT state, count(*) FROM ws.process GROUP BY 1")"
fi
is "all 8 completed" "SELECT count(*) FROM ws.process p JOIN ws.workflow w ON w.id = p.workflow
                       WHERE w.name = 'shell' AND p.state = 'completed'" 8
is "32 tasks succeeded at their first attempt" \
   "SELECT count(*) FILTER (WHERE t.state = 'succeeded' AND t.attempts = 1) || '/' || count(*)
      FROM ws.task t JOIN ws.process p ON p.id = t.process JOIN ws.workflow w ON w.id = p.workflow
     WHERE w.name = 'shell'" "32/32"
ran=$(wc -l <"$T/ran" 2>/dev/null || echo 0)
dups=$(cut -d' ' -f2 "$T/ran" 2>/dev/null | sort | uniq -d | wc -l)
if [ "$ran" -eq 32 ] && [ "$dups" -eq 0 ]; then ok 0 "each command ran exactly once"; else not_ok "each command ran exactly once" "ran $ran, duplicated $dups"; fi
is "both workers took tasks" "SELECT string_agg(DISTINCT worker, ',' ORDER BY worker) FROM ws.task t
                               JOIN ws.node n ON n.id = t.node WHERE n.action = 't.echo'" "w1,w2"
is "WS_TASK, WS_PROCESS, WS_ATTEMPT, the worker and stdin params reach the command and its output the variables" \
   "SELECT bool_and((p.params->n.name->>'task')::bigint = t.id
                AND (p.params->n.name->>'process')::bigint = p.id
                AND (p.params->n.name->>'attempt')::int = t.attempts
                AND p.params->n.name->>'worker' = t.worker
                AND (p.params->n.name->'customer') = p.params->'customer')
      FROM ws.task t JOIN ws.process p ON p.id = t.process JOIN ws.node n ON n.id = t.node
      JOIN ws.workflow w ON w.id = p.workflow WHERE w.name = 'shell'" t

# ---- JSON output steers an XOR split
p_small=$(q -c "SELECT ws.start('xor', '{\"amount\": 3}')")
p_big=$(q -c "SELECT ws.start('xor', '{\"amount\": 8}')")
wait_for 20 "SELECT bool_and(state <> 'running') FROM ws.process WHERE id IN ($p_small, $p_big)" || true
is "output 6 takes the default branch" "SELECT state || ' ' || (params->>'amount') || ' ' || (params->>'went') FROM ws.process WHERE id = $p_small" "completed 6 small"
is "output 16 takes the branch whose condition holds" "SELECT state || ' ' || (params->>'amount') || ' ' || (params->>'went') FROM ws.process WHERE id = $p_big" "completed 16 big"
is "the other branch never ran" "SELECT string_agg(n.name, ',' ORDER BY n.name) FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process IN ($p_small, $p_big) AND n.name IN ('big', 'small')" "big,small"

# ---- a failing command is retried, then fails the process with its stderr
p_flaky=$(q -c "SELECT ws.start('flaky')")
wait_for 20 "SELECT state <> 'running' FROM ws.process WHERE id = $p_flaky" || true
is "failing command: process failed after 3 attempts" \
   "SELECT p.state || ' ' || t.state || ' ' || t.attempts FROM ws.process p JOIN ws.task t ON t.process = p.id WHERE p.id = $p_flaky" "failed failed 3"
is "the process error is the end of the command's stderr" \
   "SELECT error LIKE '%exited with status 3: some noise%boom: attempt 3 of task %' FROM ws.process WHERE id = $p_flaky" t
is "each attempt ran the command (2 retries)" \
   "SELECT count(*) FROM ws.event WHERE process = $p_flaky AND task IS NOT NULL AND state = 'running'" 3

# ---- bad output is a clear task failure
p_bad=$(q -c "SELECT ws.start('badjson')")
p_arr=$(q -c "SELECT ws.start('array')")
wait_for 20 "SELECT bool_and(state <> 'running') FROM ws.process WHERE id IN ($p_bad, $p_arr)" || true
is "invalid JSON output fails the task with a clear error" \
   "SELECT state || ': ' || (error LIKE '%: command output is not valid JSON%this is not json%') FROM ws.process WHERE id = $p_bad" "failed: true"
is "a JSON array fails the task with a clear error" \
   "SELECT state || ': ' || (error LIKE '%: command output is a JSON array, not an object: [1, 2]') FROM ws.process WHERE id = $p_arr" "failed: true"

# ---- kill -9 of a worker in the middle of a long task
: >"$T/slow_done"
start_worker k1 --action t.slow --lease 2 --poll 0.5 -- "$T/cmd.sh"
p_slow=$(q -c "SELECT ws.start('slow', '{\"secs\": 6}')")
if wait_for 10 "SELECT state = 'running' AND worker = 'k1' FROM ws.task WHERE process = $p_slow"; then
    ok 0 "k1 claimed the long task"
else
    not_ok "k1 claimed the long task"
fi
if wait_for 5 "SELECT progress = 30 FROM ws.task WHERE process = $p_slow"; then
    ok 0 "a progress line on stderr reaches ws.task.progress"
else
    not_ok "a progress line on stderr reaches ws.task.progress" "$(q -c "SELECT progress FROM ws.task WHERE process = $p_slow")"
fi
start_worker k2 --action t.slow --lease 2 --poll 0.5 -- "$T/cmd.sh"
# until half a second after the first lease ended (the ticker runs every 0.2 s): k1's
# heartbeats keep the task, the command runs 3.5 s more
wait_for 30 "SELECT clock_timestamp() > started_at + interval '2.5 seconds' FROM ws.task WHERE process = $p_slow" || true
is "heartbeats keep the lease of the running task" \
   "SELECT state || ' ' || worker || ' ' || attempts || ' ' || (lease_until > started_at + interval '2 seconds')
      FROM ws.task WHERE process = $p_slow" "running k1 1 true"
stop_worker k1
if wait_for 25 "SELECT state <> 'running' FROM ws.process WHERE id = $p_slow"; then ok 0 "the process ends after kill -9"; else not_ok "the process ends after kill -9"; fi
is "the other worker finished it at attempt 2" \
   "SELECT p.state || ' ' || t.state || ' ' || t.worker || ' ' || t.attempts FROM ws.process p JOIN ws.task t ON t.process = p.id WHERE p.id = $p_slow" "completed succeeded k2 2"
is "the lease ended" "SELECT count(*) FROM ws.event WHERE process = $p_slow AND detail = 'lease expired'" 1
is "the process completed once" "SELECT count(*) FROM ws.event WHERE process = $p_slow AND task IS NULL AND state = 'completed'" 1
sleep 0.5
done_lines=$(cat "$T/slow_done")
if [ "$(wc -l <"$T/slow_done")" -eq 1 ] && [[ $done_lines == *" 2 k2" ]]; then
    ok 0 "the killed worker's command died with it; only attempt 2 finished"
else
    not_ok "the killed worker's command died with it; only attempt 2 finished" "$done_lines"
fi

# ---- a refused call: the process is cancelled under a running command
p_cancel=$(q -c "SELECT ws.start('slow', '{\"secs\": 20}')")
wait_for 10 "SELECT state = 'running' AND worker = 'k2' FROM ws.task WHERE process = $p_cancel" || true
q -c "SELECT ws.cancel($p_cancel, 'test')" >/dev/null
t_cancel=$(q -c "SELECT id FROM ws.task WHERE process = $p_cancel")
end=$((SECONDS + 10))
until grep -q "task $t_cancel .*no longer ours" "$T/k2.log" || [ $SECONDS -ge $end ]; do sleep 0.1; done
if grep -q "ws.heartbeat of task $t_cancel attempt 1 refused: cannot heartbeat task $t_cancel: it is cancelled" "$T/k2.log" &&
   grep -q "task $t_cancel .*no longer ours" "$T/k2.log"; then
    ok 0 "a refused heartbeat is logged and the command stopped, its outcome dropped"
else
    not_ok "a refused heartbeat is logged and the command stopped, its outcome dropped" "$(tail -n 3 "$T/k2.log")"
fi
p_next=$(q -c "SELECT ws.start('slow', '{\"secs\": 0}')")
if wait_for 10 "SELECT state = 'completed' FROM ws.process WHERE id = $p_next"; then
    ok 0 "the worker goes on with the next task"
else
    not_ok "the worker goes on with the next task"
fi
is "the cancelled task was not reported again" "SELECT count(*) FROM ws.event WHERE task = $t_cancel AND state NOT IN ('ready', 'running', 'cancelled')" 0
stop_worker k2

# ---- a PostgreSQL restart while the workers run
q -c "SELECT ws.start('steps', jsonb_build_object('i', i)) FROM generate_series(1, 6) i" >/dev/null
wait_for 10 "SELECT count(*) >= 2 FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE n.action = 't.step' AND t.state = 'succeeded'" || true
datadir=$(q -c "SHOW data_directory")
before=$(q -c "SELECT count(*) FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE n.action = 't.step' AND t.state = 'succeeded'")
if (cd / && runuser -u postgres -- pg_ctl -D "$datadir" -l "$(dirname "$datadir")/server.log" restart -m fast -w -t 60 >/dev/null); then
    ok 0 "PostgreSQL restarted ($before of 18 tasks done before)"
else
    not_ok "PostgreSQL restarted"
fi
if wait_for 45 "SELECT count(*) = 6 FROM ws.process p JOIN ws.workflow w ON w.id = p.workflow
                 WHERE w.name = 'steps' AND p.state = 'completed'"; then
    ok 0 "after the restart the workers reconnect and finish the work"
else
    not_ok "after the restart the workers reconnect and finish the work" "$(q -c "SELECT t.state, count(*) FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE n.action = 't.step' GROUP BY 1")"
fi
is "each steps process ran its 3 nodes once" \
   "SELECT bool_and(n = 3) FROM (SELECT count(*) n FROM ws.task t JOIN ws.process p ON p.id = t.process
      JOIN ws.workflow w ON w.id = p.workflow WHERE w.name = 'steps' AND t.state = 'succeeded' GROUP BY p.id) s" t
alive=0
for w in w1 w2; do kill -0 "${WPID[$w]}" 2>/dev/null && grep -q "connection lost" "$T/$w.log" && alive=$((alive + 1)); done
if [ $alive -eq 2 ]; then ok 0 "both workers saw the connection drop and stayed up"; else not_ok "both workers saw the connection drop and stayed up"; fi

# ---- SIGTERM: stop claiming, wait for running commands, fail what is left
start_worker g --action t.slow --concurrency 2 --lease 5 --grace 2 -- "$T/cmd.sh"
p_short=$(q -c "SELECT ws.start('slow', '{\"secs\": 1}')")
p_long=$(q -c "SELECT ws.start('slow', '{\"secs\": 30}')")
wait_for 10 "SELECT count(*) = 2 FROM ws.task WHERE process IN ($p_short, $p_long) AND state = 'running' AND worker = 'g'" || true
kill -TERM "${WPID[g]}"
p_after=$(q -c "SELECT ws.start('slow', '{\"secs\": 1}')")
t0=$SECONDS
wait "${WPID[g]}"
rc=$?
unset "WPID[g]"
if [ $rc -eq 0 ] && [ $((SECONDS - t0)) -le 10 ]; then ok 0 "SIGTERM: the worker exits after the grace period"; else not_ok "SIGTERM: the worker exits after the grace period" "exit $rc after $((SECONDS - t0)) s"; fi
is "SIGTERM: a command that ends within the grace period completes" "SELECT state FROM ws.process WHERE id = $p_short" completed
is "SIGTERM: a command still running after it is stopped and failed" \
   "SELECT state || ' ' || (error LIKE '%: worker shutting down: the command did not finish within the grace period of 2 s') FROM ws.process WHERE id = $p_long" "failed true"
is "SIGTERM: nothing is left running under the stopped worker, nothing new was claimed" \
   "SELECT count(*) FILTER (WHERE state = 'running') || ' ' || (SELECT state FROM ws.task WHERE process = $p_after) FROM ws.task WHERE worker = 'g'" "0 ready"
q -c "SELECT ws.cancel($p_after)" >/dev/null

stop_worker w1
stop_worker w2

# ---- several --dsn: one worker, three databases (shards 0, 1 and 2 of 3)
MDB=(ws_worker_m0 ws_worker_m1 ws_worker_m2)
mq() { local k=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -d "${MDB[$k]}" "$@"; }
for k in 0 1 2; do
    dropdb --if-exists --force "${MDB[$k]}" >/dev/null 2>&1
    createdb "${MDB[$k]}" || fail "cannot create ${MDB[$k]}"
    on_exit "dropdb --if-exists --force '${MDB[$k]}' >/dev/null 2>&1"
    mq "$k" >/dev/null <<SQL || fail "cannot set up ${MDB[$k]}"
CREATE EXTENSION ws;
SELECT ws.set_shard($k, 3);
SELECT ws.define('{"name": "multi", "nodes": [{"name": "m", "action": "t.multi"}], "transitions": []}');
SELECT ws.define('{"name": "noop", "nodes": [{"name": "n", "action": "t.noop"}], "transitions": []}');
SQL
done
MDSN=(--dsn "dbname=${MDB[0]}" --dsn "dbname=${MDB[1]}" --dsn "dbname=${MDB[2]}")
# mstart N: N processes of multi in each of the three databases
mstart() { local k; for k in 0 1 2; do mq "$k" -c "SELECT count(ws.start('multi')) FROM generate_series(1, $1)" >/dev/null; done; }
# mdone: "completed in m0 m1 m2", e.g. "20 20 20"
mdone() { local k; for k in 0 1 2; do mq "$k" -c "SELECT count(*) FROM ws.process WHERE state = 'completed'"; done | paste -sd' '; }
mwait() { local end=$((SECONDS + $1)); until [ "$(mdone)" = "$2" ] || [ $SECONDS -ge $end ]; do sleep 0.1; done; [ "$(mdone)" = "$2" ]; }

"$WORKER" --dsn "dbname=${MDB[0]}" --dsn "dbname=${MDB[1]}" --dsn "dbname=${MDB[0]}" --action t.multi -- true >"$T/dup.out" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q -- '--dsn number 3 is the same as number 1' "$T/dup.out"; then
    ok 0 "the same --dsn twice: usage error"
else
    not_ok "the same --dsn twice: usage error" "exit $rc: $(cat "$T/dup.out")"
fi
fatal "several --dsn, one of a database that does not exist: exit 2, the message names which" \
    'dsn 2: cannot use database "ws_no_such_db": database "ws_no_such_db" does not exist \(SQLSTATE 3D000\); not retrying' \
    --dsn "dbname=${MDB[0]}" --dsn "dbname=ws_no_such_db"

# one worker, three databases, 3 slots: every task of every database runs once, never more
# than 3 at once
: >"$T/m_ran"; : >"$T/m_seen"
mstart 20
start_worker_on multi "${MDSN[@]}" --action t.multi --concurrency 3 --poll 1 -- "$T/cmd.sh"
if mwait 40 "20 20 20"; then
    ok 0 "one worker with three --dsn completes the processes of all three databases"
else
    not_ok "one worker with three --dsn completes the processes of all three databases" "completed: $(mdone); $(tail -n 3 "$T/multi.log")"
fi
ran=$(wc -l <"$T/m_ran"); dups=$(sort "$T/m_ran" | uniq -d | wc -l); most=$(sort -n "$T/m_seen" | tail -1)
if [ "$ran" = 60 ] && [ "$dups" = 0 ] && [ "$most" -le 3 ] && [ "$most" -ge 2 ]; then
    ok 0 "each of the 60 commands ran once, at most 3 at once (the slots shared by the three: $most)"
else
    not_ok "each of the 60 commands ran once, at most 3 at once" "ran $ran, duplicated $dups, at most $most at once"
fi
n=$(grep -c 'dsn [123]: connected to database "ws_worker_m[012]"' "$T/multi.log")
if [ "$n" = 3 ]; then ok 0 "it says which --dsn it connected to, on which host"; else not_ok "it says which --dsn it connected to" "$n lines"; fi

# a database that goes away (it accepts no connections and the worker's session is ended):
# the worker keeps working on the other two and keeps trying that one; when it is back,
# its tasks are done too
stop_worker multi
: >"$T/m_ran"
start_worker_on multi2 "${MDSN[@]}" --action t.multi --concurrency 2 --poll 0.5 -- "$T/cmd.sh"
wait_for 10 "SELECT count(*) = 3 FROM pg_stat_activity WHERE datname LIKE 'ws_worker_m_' AND application_name = 'ws-worker'" || true
psql -X -q -d postgres -c "ALTER DATABASE ${MDB[2]} ALLOW_CONNECTIONS false" \
    -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${MDB[2]}'" >/dev/null
mq 0 -c "SELECT count(ws.start('multi')) FROM generate_series(1, 15)" >/dev/null
mq 1 -c "SELECT count(ws.start('multi')) FROM generate_series(1, 15)" >/dev/null
up2() { local k; for k in 0 1; do mq "$k" -c "SELECT count(*) FROM ws.process WHERE state = 'completed'"; done | paste -sd' '; }
end=$((SECONDS + 30))
until [ "$(up2)" = "35 35" ] || [ $SECONDS -ge $end ]; do sleep 0.1; done
if [ "$(up2)" = "35 35" ]; then
    ok 0 "with one database down, the worker completes the tasks of the other two"
else
    not_ok "with one database down, the worker completes the tasks of the other two" "$(up2)"
fi
end=$((SECONDS + 10))
until [ "$(grep -c 'dsn 3: cannot connect: .*not currently accepting connections; trying again' "$T/multi2.log")" -ge 3 ] ||
      [ $SECONDS -ge $end ]; do sleep 0.1; done
tries=$(grep -c 'dsn 3: cannot connect: .*not currently accepting connections; trying again' "$T/multi2.log")
if grep -q 'dsn 3: connection lost' "$T/multi2.log" && [ "$tries" -ge 3 ] && kill -0 "${WPID[multi2]}" 2>/dev/null &&
   ! grep -q 'dsn [12]: \(connection lost\|cannot connect\)' "$T/multi2.log"; then
    ok 0 "it keeps trying the one that is down, with back-off ($tries tries so far), and only that one"
else
    not_ok "it keeps trying the one that is down, with back-off" "$(grep 'dsn' "$T/multi2.log" | tail -n 4)"
fi
psql -X -q -d postgres -c "ALTER DATABASE ${MDB[2]} ALLOW_CONNECTIONS true"
mq 2 -c "SELECT count(ws.start('multi')) FROM generate_series(1, 15)" >/dev/null
if mwait 40 "35 35 35"; then
    ok 0 "once it is back, the worker reconnects to it and completes its tasks"
else
    not_ok "once it is back, the worker reconnects to it and completes its tasks" "$(mdone); $(tail -n 2 "$T/multi2.log")"
fi
stop_worker multi2

# claims go round: with one slot and work in all three databases, the worker takes a task
# from each in turn
: >"$T/m_ran"
mstart 10
start_worker_on rr "${MDSN[@]}" --action t.multi --concurrency 1 --poll 0.5 -- "$T/cmd.sh"
mwait 40 "45 45 45" || true
order=$(awk '{ printf "%d", $1 % 3 }' "$T/m_ran")
# after the first three claims (the connections come up one by one), never the same twice
# in a row while all three have tasks
if [ ${#order} = 30 ] && ! grep -Eq '(.)\1' <<<"${order:3:24}"; then
    ok 0 "round robin: one slot, three databases with work, a task from each in turn ($order)"
else
    not_ok "round robin: one slot, three databases with work, a task from each in turn" "shards in claim order: $order"
fi
stop_worker rr

# ---- throughput of one worker with a no-op command (printed, not asserted: the machine may be busy)
bench() {
    local conc=$1 n=$2 start end done_n first
    first=$(q -c "SELECT coalesce(max(id), 0) FROM ws.task")
    q -c "SELECT count(ws.start('noop')) FROM generate_series(1, $n)" >/dev/null
    start=$(date +%s.%N)
    start_worker "bench$conc" --action t.noop --concurrency "$conc" --quiet -- true
    wait_for 30 "SELECT count(*) = 0 FROM ws.task WHERE action = 't.noop' AND state IN ('ready', 'running')"
    end=$(date +%s.%N)
    stop_worker "bench$conc"
    done_n=$(q -c "SELECT count(*) FROM ws.task WHERE action = 't.noop' AND state = 'succeeded' AND id > $first")
    awk -v c="$conc" -v n="$done_n" -v s="$start" -v e="$end" 'BEGIN {
        printf "# one ws-worker, --concurrency %s, command true: %d tasks in %.2f s = %.0f tasks/s\n", c, n, e - s, n / (e - s) }'
    is "benchmark (--concurrency $conc): no no-op task failed" \
       "SELECT count(*) FROM ws.task WHERE action = 't.noop' AND state = 'failed'" 0
    # what a busy machine left undone is cancelled, so that the next run starts clean
    q -c "SELECT ws.cancel(id, 'benchmark over') FROM ws.process WHERE state = 'running'
          AND workflow = (SELECT id FROM ws.workflow WHERE name = 'noop')" >/dev/null
}
bench 1 1000
bench 8 2000

# the same with three databases: one worker, three --dsn, 700 tasks in each
mfirst=$(for k in 0 1 2; do mq "$k" -c "SELECT coalesce(max(id), 0) FROM ws.task"; done | paste -sd' ')
for k in 0 1 2; do mq "$k" -c "SELECT count(ws.start('noop')) FROM generate_series(1, 700)" >/dev/null; done
start=$(date +%s.%N)
start_worker_on mbench "${MDSN[@]}" --action t.noop --concurrency 8 --quiet -- true
end=$((SECONDS + 40))
mleft() { local k; for k in 0 1 2; do mq "$k" -c "SELECT count(*) FROM ws.task WHERE action = 't.noop' AND state IN ('ready', 'running')"; done | paste -sd' '; }
until [ "$(mleft)" = "0 0 0" ] || [ $SECONDS -ge $end ]; do sleep 0.1; done
stop=$(date +%s.%N)
stop_worker mbench
read -r f0 f1 f2 <<<"$mfirst"
mok=$(for k in 0 1 2; do f=f$k; mq "$k" -c "SELECT count(*) FROM ws.task WHERE action = 't.noop' AND state = 'succeeded' AND id > ${!f}"; done | paste -sd' ')
awk -v s="$start" -v e="$stop" -v m="$mok" 'BEGIN { split(m, a, " "); n = a[1] + a[2] + a[3];
    printf "# one ws-worker, three --dsn, --concurrency 8, command true: %d tasks (%s) in %.2f s = %.0f tasks/s\n", n, m, e - s, n / (e - s) }'
[ "$mok" = "700 700 700" ]; ok $? "benchmark (three --dsn): every no-op task succeeded on every database ($mok)"

if [ $failed -ne 0 ]; then show_logs; fi
finish worker
