#!/usr/bin/env bash
# Hot standby: a real standby of the test cluster (pg_basebackup -R as the postgres system
# user, its own directory, port and socket directory; started and stopped here). On it,
# every ws call that writes is refused with 25006, as PostgreSQL's own writes are (not
# XX000 "cannot assign TransactionIds during recovery"); the calls that read work;
# ws.run_ticks does nothing; no notifier starts; and its log holds no error but the
# refusals asked for here. The standby also keeps replaying what the primary's steps write.
set -uo pipefail
: "${WS_TMP:?run from test/run or after ws_cluster_start: it makes a standby of that cluster}"
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib/common.sh"
ws_scratch_db ws_standby

# on the primary: a process with a running task, a ready one, one missing a parameter, a
# person's task (taken), a timer that is due; another whose task failed
q >/dev/null <<'SQL' || fail "cannot set up the primary"
CREATE ROLE ws_sb_clerks NOLOGIN;
CREATE ROLE ws_sb_ane LOGIN IN ROLE ws_sb_clerks;
SELECT ws.register_action('sb.form', '{"a": {"type": "integer", "required": true}}');
SELECT ws.define('{"name": "sb", "nodes": [
  {"name": "job", "action": "sb.job", "start": true}, {"name": "other", "action": "sb.job", "start": true},
  {"name": "form", "action": "sb.form", "start": true}, {"name": "person", "role": "ws_sb_clerks", "start": true},
  {"name": "later", "action": "sb.job", "wait": "1 hour", "start": true},
  {"name": "end", "end": true, "join": "and"}],
  "transitions": [{"from": "job", "to": "end"}, {"from": "other", "to": "end"}, {"from": "form", "to": "end"},
                  {"from": "person", "to": "end"}, {"from": "later", "to": "end"}]}');
SELECT ws.define('{"name": "sb_fail", "nodes": [{"name": "doomed", "action": "sb.doomed"}]}');
SELECT ws.add_node(ws.create_workflow('sb_edit'), 'a');
SELECT ws.add_node(id, 'b') FROM ws.workflow WHERE name = 'sb_edit';
SELECT ws.start('sb');
SELECT ws.start('sb_fail');
SELECT ws.claim(ARRAY['sb.job'], 'w');
SELECT ws.take(id) FROM ws.task WHERE action IS NULL AND state = 'pending';
UPDATE ws.task SET due_at = now() - interval '1 second' WHERE state = 'waiting';
SELECT ws.fail(task, 'out of luck') FROM ws.claim(ARRAY['sb.doomed'], 'w');
SQL
on_exit "psql -X -q -c 'DROP ROLE IF EXISTS ws_sb_ane, ws_sb_clerks' >/dev/null 2>&1"
p=$(q -c "SELECT id FROM ws.process WHERE workflow = (SELECT id FROM ws.workflow WHERE name = 'sb')")
w=$(q -c "SELECT id FROM ws.workflow WHERE name = 'sb'")
e=$(q -c "SELECT id FROM ws.workflow WHERE name = 'sb_edit'")
running=$(q -c "SELECT id FROM ws.task WHERE state = 'running'")
attempt=$(q -c "SELECT attempts FROM ws.task WHERE id = $running")
form=$(q -c "SELECT id FROM ws.task WHERE action = 'sb.form'")
person=$(q -c "SELECT id FROM ws.task WHERE action IS NULL AND state = 'pending'")
doomed=$(q -c "SELECT id FROM ws.task WHERE state = 'failed'")
waiting=$(q -c "SELECT id FROM ws.task WHERE state = 'waiting'")

# ---- the standby ----
ws_scratch_dir sb
chown postgres: "$sb"
sport=$((PGPORT + 1))
while ss -ltn 2>/dev/null | grep -q ":$sport " || [ -e "$sb/.s.PGSQL.$sport" ]; do sport=$((sport + 1)); done
runuser -u postgres -- pg_basebackup -h "$PGHOST" -p "$PGPORT" -U postgres -D "$sb/data" -R -c fast -X stream \
    >"$sb/basebackup.log" 2>&1 || fail "pg_basebackup failed: $(tail -3 "$sb/basebackup.log")"
{
    echo "port = $sport"
    echo "unix_socket_directories = '$sb'"
    echo "hot_standby = on"
} >>"$sb/data/postgresql.conf"
on_exit "runuser -u postgres -- pg_ctl -D '$sb/data' -m fast stop >/dev/null 2>&1"
runuser -u postgres -- pg_ctl -D "$sb/data" -l "$sb/server.log" -w -t 60 start >/dev/null \
    || fail "the standby did not start: $(tail -5 "$sb/server.log")"
sq() { psql -X -q -At -h "$sb" -p "$sport" -d ws_standby -v ON_ERROR_STOP=1 "$@"; }
[ "$(sq -c 'SELECT pg_is_in_recovery()')" = t ]; ok $? "the standby is in recovery"

# sqlstate SQL: the SQLSTATE the standby answers SQL with, "ok" when it succeeds
sqlstate() {
    local err
    err=$(sq -v VERBOSITY=sqlstate -c "$1" 2>&1 >/dev/null) && { echo ok; return; }
    sed -n 's/^ERROR:  *//p' <<<"$err" | head -1
}

# ---- every writing call: 25006 ----
writers=(
    "SELECT ws.create_workflow('sb_new')"
    "SELECT ws.add_node($e, 'c')"
    "SELECT ws.add_transition($e, 'a', 'b')"
    "SELECT ws.register_action('sb.new')"
    "SELECT ws.define('{\"name\": \"sb_new\", \"nodes\": [{\"name\": \"a\"}]}')"
    "SELECT ws.define_dot('digraph sb_dot { a -> b }')"
    "SELECT ws.schedule_tick()"
    "SELECT ws.unschedule_tick()"
    "SELECT ws.grant_user('ws_sb_ane')"
    "SELECT ws.grant_admin('ws_sb_ane')"
    "SELECT ws.start($w)"
    "SELECT ws.start('sb', '{\"x\": 1}')"
    "SELECT * FROM ws.claim(ARRAY['sb.job'], 'w')"
    "SELECT ws.complete($running, '{}', $attempt)"
    "SELECT ws.complete_batch(ARRAY[$running]::bigint[])"
    "SELECT ws.fail($running, 'no')"
    "SELECT ws.heartbeat($running)"
    "SELECT ws.progress($running, 50)"
    "SELECT ws.fill($form, '{\"a\": 1}')"
    "SELECT ws.take($person)"
    "SELECT ws.release($person)"
    "SELECT ws.assign($person, 'ws_sb_ane')"
    "SELECT ws.complete($person)"
    "SELECT ws.tick()"
    "SELECT ws.retry($doomed)"
    "SELECT ws.cancel($p)"
    "SELECT ws.send('sb.go', NULL, '{}', '1 hour')"
    "SELECT ws.set_shard(0, 1)"
    "SELECT ws.check_define('{\"name\": \"sb_new\", \"nodes\": [{\"name\": \"a\"}]}')"
    "SELECT ws.check_define_dot('digraph sb_dot { a -> b }')"
    "SELECT ws.check_register_action('sb.new')"
    "SELECT ws.align_definitions(ARRAY[1, 1, 1])"
)
bad=()
for sql in "${writers[@]}"; do
    s=$(sqlstate "$sql")
    [ "$s" = 25006 ] || bad+=("$sql: $s")
done
if [ ${#bad[@]} = 0 ]; then
    ok 0 "every one of the ${#writers[@]} writing calls is refused with 25006 on the standby"
else
    not_ok "every one of the ${#writers[@]} writing calls is refused with 25006 on the standby" \
        "$(printf '%s; ' "${bad[@]}")"
fi
msg=$(sq -c "SELECT ws.cancel($p)" 2>&1)
grep -q "hot standby" <<<"$msg"; ok $? "the refusal says why: $(grep DETAIL <<<"$msg" | head -1)"

# ---- the reading calls work ----
got=$(sq -F ' ' -c "SELECT (SELECT count(*) FROM ws.validate($w)), (SELECT count(*) FROM ws.lint('sb')),
                           ws.export('sb') ->> 'name', ws.to_dot($w) LIKE 'digraph%',
                           ws.process_dot($p) LIKE 'digraph%',
                           (SELECT count(*) FROM ws.my_tasks), (SELECT count(*) FROM ws.process_overview)" 2>&1)
[ "$got" = "0 0 sb t t 4 2" ]; ok $? "validate, lint, export, to_dot, process_dot and the views work on the standby ($got)"

# ---- ws.run_ticks does nothing: returns at once, the due timer stays for the primary ----
t0=$(date +%s%N)
out=$(sq -c "CALL ws.run_ticks(3, 0.1)" 2>&1); rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ $rc = 0 ] && [ -z "$out" ] && [ $ms -lt 2500 ]; ok $? "CALL ws.run_ticks(3, 0.1) returns at once without an error on the standby (${ms} ms${out:+: $out})"
[ "$(sq -c "SELECT state FROM ws.task WHERE id = $waiting")" = waiting ]; ok $? "the due timer is left to the primary"

# ---- the primary goes on; the standby replays it and runs no notifier ----
np=$(q -c "SELECT ws.start('sb')")
q -c "SELECT ws.complete($running, '{}', $attempt)" >/dev/null
lsn=$(q -c "SELECT pg_current_wal_lsn()")
for _ in $(seq 100); do
    [ "$(sq -c "SELECT pg_last_wal_replay_lsn() >= '$lsn'")" = t ] && break
    sleep 0.1
done
[ "$(sq -c "SELECT (SELECT state FROM ws.task WHERE id = $running) || ' ' || (SELECT count(*) FROM ws.task WHERE process = $np)")" = "succeeded 5" ]
ok $? "the standby replays what the primary's steps write"
[ "$(sq -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'ws notifier'")" = 0 ]
ok $? "no notifier runs on the standby"

# ---- the standby's log: no error but the refusals ----
n=$(grep -c -E 'ERROR: +cannot execute ws\.[a-z_]+\(\) in a read-only transaction' "$sb/server.log")
[ "$n" -ge ${#writers[@]} ]; ok $? "the standby's log has the refusals ($n)"
errors=$(grep -E '(ERROR|FATAL|PANIC|WARNING): ' "$sb/server.log" \
    | grep -v -E 'ERROR: +cannot execute ws\.[a-z_]+\(\) in a read-only transaction' \
    | grep -v -E 'FATAL: +the database system is (starting up|not yet accepting connections)')
[ -z "$errors" ]; ok $? "the standby's log has no error of ws's own${errors:+: $(head -3 <<<"$errors" | tr '\n' ' ')}"
grep -q -i -E 'notifier|TransactionIds' "$sb/server.log"; [ $? = 1 ]; ok $? "nor a line about a notifier or transaction ids"

finish
