#!/usr/bin/env bash
# pg_dump and pg_restore of a database using ws: processes in every state (one completed,
# one cancelled, one failed, a task running under a lease, ready tasks, a token waiting at
# an AND join, a timer, a task missing a parameter) are dumped with pg_dump -Fc and
# restored with pg_restore into a new database. There the restored processes are finished
# (the running task completed by its worker, the failed one retried, the parameter
# filled, the timer ticked, everything else claimed and completed), new ones are started
# and defined, and every identity (workflow, node, transition, process, task, event)
# continues after the old ones, with no duplicate key anywhere. A business key still
# finds its process, and the history of the restored processes can be purged.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib/common.sh"
ws_scratch_dir tmp
ws_scratch_db ws_dump
restored=ws_dump_restored

# claim and complete until no process of the database runs (at most 20 rounds)
finish_sql="DO \$\$
DECLARE
    r record;
BEGIN
    FOR i IN 1 .. 20 LOOP
        EXIT WHEN NOT EXISTS (SELECT FROM ws.process WHERE state = 'running');
        FOR r IN SELECT * FROM ws.claim(ARRAY['d.s', 'd.a', 'd.b', 'd.j', 'd.w', 'd.f', 'd.new'], 'restorer', 100) LOOP
            PERFORM ws.complete(r.task, '{}', r.attempt);
        END LOOP;
    END LOOP;
END \$\$"

q >/dev/null <<SQL || fail "cannot set up the database to dump"
SELECT ws.register_action('d.f', '{"a": {"type": "integer", "required": true}}');
SELECT ws.define('{"name": "dump", "nodes": [{"name": "s", "action": "d.s"},
  {"name": "a", "action": "d.a"}, {"name": "b", "action": "d.b"},
  {"name": "j", "action": "d.j", "join": "and"}, {"name": "e", "end": true}],
  "transitions": [{"from": "s", "to": "a"}, {"from": "s", "to": "b"}, {"from": "a", "to": "j"},
                  {"from": "b", "to": "j"}, {"from": "j", "to": "e"}]}');
SELECT ws.define('{"name": "dump_wait", "nodes": [{"name": "w", "action": "d.w", "wait": "1 hour"}]}');
SELECT ws.define('{"name": "dump_form", "nodes": [{"name": "f", "action": "d.f"}]}');
-- one completed
SELECT ws.start('dump');
$finish_sql;
-- four more, past their first task
SELECT ws.start('dump') FROM generate_series(1, 4);
SELECT ws.complete(task, '{}', attempt) FROM ws.claim(ARRAY['d.s'], 'w', 4);
-- the first: a running (its worker has not reported yet), b done
CREATE TABLE kept AS SELECT task, attempt FROM ws.claim(ARRAY['d.a'], 'w', 1);
-- the second: a and b done, its AND join fired: j ready
SELECT ws.complete(task, '{}', attempt) FROM ws.claim(ARRAY['d.a'], 'w', 1);
SELECT ws.complete(task, '{}', attempt) FROM ws.claim(ARRAY['d.b'], 'w', 2);
-- the third cancelled, the fourth failed
SELECT ws.cancel((SELECT id FROM ws.process WHERE state = 'running' ORDER BY id OFFSET 2 LIMIT 1));
SELECT ws.fail(task, 'disk full', attempt) FROM ws.claim(ARRAY['d.a'], 'w', 1);
-- a fresh one (with a business key), a timer, a task that misses its parameter
SELECT ws.start('dump', '{}', 'D-1');
SELECT ws.start('dump_wait');
SELECT ws.start('dump_form');
SQL
states=$(q -c "SELECT string_agg(state, ',' ORDER BY id) FROM ws.process")
[ "$states" = "completed,running,running,cancelled,failed,running,running,running" ]
ok $? "the database to dump has processes in every state ($states)"

# counts and highest ids of every table
census="SELECT concat_ws(' ', (SELECT count(*) FROM ws.workflow), (SELECT count(*) FROM ws.node),
    (SELECT count(*) FROM ws.transition), (SELECT count(*) FROM ws.action), (SELECT count(*) FROM ws.process),
    (SELECT count(*) FROM ws.task), (SELECT count(*) FROM ws.ready), (SELECT count(*) FROM ws.event))"
highest="SELECT concat_ws(' ', (SELECT max(id) FROM ws.workflow), (SELECT max(id) FROM ws.node),
    (SELECT max(id) FROM ws.transition), (SELECT max(id) FROM ws.process), (SELECT max(id) FROM ws.task),
    (SELECT max(id) FROM ws.event))"
before=$(q -c "$census")
read -r wf_max node_max tr_max proc_max task_max event_max < <(q -c "$highest")

pg_dump -Fc -f "$tmp/ws.dump" ws_dump 2>"$tmp/dump.err"; ok $? "pg_dump -Fc$( [ -s "$tmp/dump.err" ] && echo ": $(head -1 "$tmp/dump.err")")"
dropdb --if-exists --force "$restored" >/dev/null 2>&1
createdb "$restored" || fail "cannot create database $restored"
on_exit "dropdb --if-exists --force '$restored' >/dev/null 2>&1"
pg_restore -d "$restored" "$tmp/ws.dump" 2>"$tmp/restore.err"
ok $? "pg_restore into a new database$( [ -s "$tmp/restore.err" ] && echo ": $(head -1 "$tmp/restore.err")")"
export PGDATABASE=$restored
after=$(q -c "$census")
[ "$after" = "$before" ]; ok $? "every table restored whole (rows: $after)"

# every identity sequence continues after its table's highest id
seqs=$(q -c "SELECT string_agg(format('%s %s', t, coalesce(pg_sequence_last_value(pg_get_serial_sequence(t, 'id'))::text, 'unset')), ', ' ORDER BY t)
               FROM unnest(ARRAY['ws.workflow', 'ws.node', 'ws.transition', 'ws.process', 'ws.task', 'ws.event']) t")
expect="ws.event $event_max, ws.node $node_max, ws.process $proc_max, ws.task $task_max, ws.transition $tr_max, ws.workflow $wf_max"
[ "$seqs" = "$expect" ]; ok $? "the identity sequences are restored where they were ($seqs)"

# the business key came along: starting it again returns the restored process
got=$(q -c "SELECT ws.process_by_key('dump', 'D-1') = 6 AND ws.start('dump', '{}', 'D-1') = 6")
[ "$got" = t ]; ok $? "a business key finds its restored process ($got)"

# finish the restored processes
out=$(q 2>&1 >/dev/null <<SQL
SELECT ws.complete(task, '{"by": "the worker of before"}', attempt) FROM kept;
SELECT ws.retry(id) FROM ws.task WHERE state = 'failed';
SELECT ws.fill(id, '{"a": 1}') FROM ws.task WHERE state = 'pending';
UPDATE ws.task SET due_at = now() - interval '1 second' WHERE state = 'waiting';
SELECT ws.tick();
$finish_sql;
SQL
); ok $? "the restored processes are worked on${out:+: $(head -2 <<<"$out" | tr '\n' ' ')}"
states=$(q -c "SELECT string_agg(state, ',' ORDER BY id) FROM ws.process")
[ "$states" = "completed,completed,completed,cancelled,completed,completed,completed,completed" ]
ok $? "every restored process finishes ($states)"

# new work: definitions, actions, processes
out=$(q 2>&1 >/dev/null <<SQL
SELECT ws.register_action('d.new');
SELECT ws.define('{"name": "dump", "nodes": [{"name": "s", "action": "d.s"}, {"name": "n", "action": "d.new"}],
  "transitions": [{"from": "s", "to": "n"}]}');
SELECT ws.add_node(ws.create_workflow('dump_edit'), 'x');
SELECT ws.add_node(id, 'y'), ws.add_transition(id, 'x', 'y') FROM ws.workflow WHERE name = 'dump_edit';
SELECT ws.start('dump') FROM generate_series(1, 3);
SELECT ws.start('dump_wait');
SQL
); ok $? "new workflows, actions and processes in the restored database${out:+: $(head -2 <<<"$out" | tr '\n' ' ')}"
q -c "$finish_sql" 2>"$tmp/finish.err"; ok $? "and they run$( [ -s "$tmp/finish.err" ] && echo ": $(head -1 "$tmp/finish.err")")"
states=$(q -c "SELECT string_agg(state, ',' ORDER BY id) FROM ws.process WHERE id > $proc_max")
[ "$states" = "completed,completed,completed,running" ]; ok $? "the new processes run to their end, the timer waits ($states)"

got=$(q -c "SELECT concat_ws(' ',
    (SELECT count(*) FROM ws.workflow WHERE id > $wf_max) = 2 AND (SELECT count(*) FROM ws.workflow) = 5,
    (SELECT bool_and(id > $node_max) FROM ws.node WHERE workflow > $wf_max),
    (SELECT bool_and(id > $tr_max) FROM ws.transition WHERE workflow > $wf_max),
    (SELECT bool_and(id > $task_max) FROM ws.task WHERE process > $proc_max),
    (SELECT bool_and(id > $event_max) FROM ws.event WHERE process > $proc_max),
    (SELECT count(*) = count(DISTINCT id) FROM ws.event))")
[ "$got" = "t t t t t t" ]; ok $? "new ids continue after the old ones, and no event id repeats ($got)"

# retention: the ended processes go, with their tasks and events; the timer's process stays
got=$(q -c "SELECT ws.purge('0')")
left=$(q -c "SELECT concat_ws(' ', (SELECT string_agg(state, ',') FROM ws.process),
    (SELECT count(*) FROM ws.task t WHERE NOT EXISTS (SELECT FROM ws.process p WHERE p.id = t.process)),
    (SELECT count(*) FROM ws.event e WHERE NOT EXISTS (SELECT FROM ws.process p WHERE p.id = e.process)),
    ws.process_by_key('dump', 'D-1') IS NULL)")
[ "$got $left" = "11 running 0 0 t" ]; ok $? "the restored history is purged, the running process stays ($got purged; left: $left)"

finish
