#!/usr/bin/env bash
# Crash safety: a few hundred processes of a workflow with AND and OR joins, and parents
# that call a child workflow once per item (a multi-instance call activity), four worker
# sessions claiming (committed, under a short lease) and completing, a ticker, and the
# postmaster killed with SIGKILL in the middle: once some tasks have succeeded, while
# others run and processes are unfinished. After the restart the workers go on (expired
# leases are taken again) and every process must complete exactly once, every join fire
# exactly once per process, no task be lost or succeed twice, and the event history agree
# with the task rows; every calling task must have started exactly one child, each parent
# hold its children's results in item order, and at no time after the restart may a child
# run for a parent or calling task that has ended, nor a calling task run without a
# running child. A worker may only lose its connection or get a documented refusal
# (55000, 40001); any other error fails the test.
set -uo pipefail
: "${WS_TMP:?run from test/run or after ws_cluster_start: it kills the postmaster of that cluster}"
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib/common.sh"
N=${CRASH_PROCESSES:-300}
M=${CRASH_PARENTS:-60}     # parents, each calling 3 children
ws_scratch_db ws_crash
ws_scratch_dir tmp

q >/dev/null <<'SQL'
SELECT ws.define('{"name": "crash", "nodes": [
  {"name": "s", "action": "c.s", "start": true, "split": "and"},
  {"name": "a1", "action": "c.a"}, {"name": "a2", "action": "c.a"}, {"name": "a3", "action": "c.a"},
  {"name": "J", "action": "c.j", "join": "and"},
  {"name": "x", "split": "or"}, {"name": "o1", "action": "c.o"}, {"name": "o2", "action": "c.o"},
  {"name": "K", "action": "c.k", "join": "or"},
  {"name": "E", "end": true, "join": "and"}],
  "transitions": [{"from": "s", "to": "a1"}, {"from": "s", "to": "a2"}, {"from": "s", "to": "a3"},
                  {"from": "a1", "to": "J"}, {"from": "a2", "to": "J"}, {"from": "a3", "to": "J"},
                  {"from": "s", "to": "x"}, {"from": "x", "to": "o1", "condition": "$.o1 == true"},
                  {"from": "x", "to": "o2", "condition": "$.o2 == true"},
                  {"from": "o1", "to": "K"}, {"from": "o2", "to": "K"},
                  {"from": "J", "to": "E"}, {"from": "K", "to": "E"}]}');
-- a parent calls crash_child once per item, all at once; the child has two worker tasks
SELECT ws.define('{"name": "crash_child", "nodes": [
  {"name": "c1", "action": "c.c", "start": true}, {"name": "c2", "action": "c.c"},
  {"name": "ce", "end": true}],
  "transitions": [{"from": "c1", "to": "c2"}, {"from": "c2", "to": "ce"}]}');
SELECT ws.define('{"name": "crash_parent", "nodes": [
  {"name": "p0", "action": "c.p", "start": true},
  {"name": "calls", "call": "crash_child", "foreach": "$.items", "as": "results"},
  {"name": "p1", "action": "c.p"},
  {"name": "pe", "end": true}],
  "transitions": [{"from": "p0", "to": "calls"}, {"from": "calls", "to": "p1"}, {"from": "p1", "to": "pe"}]}');
-- no child may run for a parent or a calling task that has ended, and no calling task
-- run without a running child: how many break that now
CREATE FUNCTION crash_orphans() RETURNS bigint LANGUAGE sql AS $$
    SELECT (SELECT count(*) FROM ws.process c JOIN ws.task t ON t.id = c.parent_task
              JOIN ws.process p ON p.id = t.process
             WHERE c.state = 'running' AND (p.state <> 'running' OR t.state <> 'running'))
         + (SELECT count(*) FROM ws.task t JOIN ws.node n ON n.id = t.node JOIN ws.process p ON p.id = t.process
             WHERE n.call IS NOT NULL AND t.state = 'running' AND p.state = 'running'
               AND NOT EXISTS (SELECT FROM ws.process c WHERE c.parent_task = t.id AND c.state = 'running'))
$$;
-- a worker: claim a few (committed under a 2 s lease), then complete each in its own
-- transaction; a refused completion (55000: the lease was taken over meanwhile; 40001:
-- the task changed between read and write) is skipped and reported as a notice
CREATE PROCEDURE crash_work(w text, seconds int) LANGUAGE plpgsql AS $$
DECLARE
    tasks bigint[];
    actions text[];
    attempts int[];
    stop timestamptz := clock_timestamp() + make_interval(secs => seconds);
BEGIN
    WHILE clock_timestamp() < stop LOOP
        SELECT array_agg(x.task), array_agg(x.action), array_agg(x.attempt) INTO tasks, actions, attempts
          FROM ws.claim(ARRAY['c.s', 'c.a', 'c.j', 'c.o', 'c.k', 'c.p', 'c.c'], w, 4, '2 seconds') x;
        COMMIT;
        IF tasks IS NULL THEN
            PERFORM pg_sleep(0.05);
            CONTINUE;
        END IF;
        FOR i IN 1 .. cardinality(tasks) LOOP
            PERFORM pg_sleep(0.002);
            BEGIN
                PERFORM ws.complete(tasks[i], CASE WHEN actions[i] = 'c.s'
                                                   THEN jsonb_build_object('o1', true, 'o2', random() < 0.5)
                                                   ELSE '{}' END, attempts[i]);
            EXCEPTION WHEN object_not_in_prerequisite_state OR serialization_failure THEN
                RAISE NOTICE 'crash-refused %', SQLSTATE;
            END;
            COMMIT;
        END LOOP;
    END LOOP;
END $$;
SQL
q -c "SELECT count(ws.start('crash')) FROM generate_series(1, $N)" >/dev/null
q -c "SELECT count(ws.start('crash_parent', '{\"items\": [\"a\", \"b\", \"c\"]}')) FROM generate_series(1, $M)" >/dev/null
# every crash process runs at least 9 tasks (all nodes but o2), every parent 6 and each
# of its 3 children 3: fewer succeeded, work is left
least=$((N * 9 + M * (6 + 3 * 3)))

remaining() { q -c "SELECT count(*) FROM ws.process WHERE state = 'running'" 2>/dev/null || echo unknown; }
deadline=$((SECONDS + 90))
# loop NAME SQL: run SQL again and again until no process runs. psql's exit status 2 is
# a lost connection (the crash, the restart): counted, and it connects again. Any other
# error is written to NAME.unexpected and ends every loop.
loop() {
    local name=$1 sql=$2 rc
    : >"$tmp/$name.lost"
    while [ $SECONDS -lt $deadline ] && ! ls "$tmp"/*.unexpected >/dev/null 2>&1; do
        q -c "$sql" >/dev/null 2>"$tmp/$name.last"
        rc=$?
        cat "$tmp/$name.last" >>"$tmp/$name.err"
        if [ $rc = 2 ]; then
            echo >>"$tmp/$name.lost"
            sleep 0.3
        elif [ $rc != 0 ]; then
            echo "$name, psql exit $rc: $(grep -m1 -E 'ERROR|FATAL|psql' "$tmp/$name.last")" >"$tmp/$name.unexpected"
            return
        fi
        [ "$(remaining)" = 0 ] && break
    done
}
pids=()
for w in 1 2 3 4; do loop "w$w" "CALL crash_work('w$w', 5)" & pids+=($!); done
loop ticker "CALL ws.run_ticks(5, 0.1)" & pids+=($!)

# wait for the middle of the run (polled inside one session: a fast machine finishes the
# whole run in a second or two), then kill at once
at_kill=$(q -F ' ' <<SQL
DO \$\$ BEGIN
    FOR i IN 1 .. 6000 LOOP     -- 30 s at most
        EXIT WHEN (SELECT count(*) FILTER (WHERE state = 'succeeded') >= $least / 3
                      AND count(*) FILTER (WHERE state = 'running') > 0 FROM ws.task)
              AND EXISTS (SELECT FROM ws.process WHERE parent_task IS NOT NULL AND state = 'running');
        PERFORM pg_sleep(0.005);
    END LOOP;
END \$\$;
SELECT count(*) FILTER (WHERE state = 'succeeded'), count(*) FILTER (WHERE state = 'running'),
       (SELECT count(*) FROM ws.process WHERE state = 'running'),
       (SELECT count(*) FROM ws.process WHERE state = 'running' AND parent_task IS NOT NULL) FROM ws.task;
SQL
)
pm=$(head -1 "$WS_TMP/data/postmaster.pid")
children=$(pgrep -P "$pm" | tr '\n' ' ')
kill -9 "$pm" $children 2>/dev/null   # the postmaster and its own backends at once, as in a host crash
read -r succeeded running unfinished children <<<"$at_kill"
echo "# killed the postmaster with SIGKILL: $succeeded tasks succeeded, $running running, $unfinished of $((N + 4 * M)) processes unfinished, $children of them children"
[ -n "$children" ] && [ "$succeeded" -gt 0 ] && [ "$succeeded" -lt "$least" ] && [ "$running" -gt 0 ] && [ "$unfinished" -gt 0 ] && [ "$children" -gt 0 ]
ok $? "killed in the middle: 0 < succeeded < $least, tasks running, processes (children among them) unfinished"
sleep 2
runuser -u postgres -- pg_ctl -D "$WS_TMP/data" -l "$WS_TMP/server.log" -w -t 60 start >/dev/null || fail "restart failed"
# while the workers go on: no orphan child, no calling task without its child, at any time
orphans=0; watched=0
while [ "$(remaining)" != 0 ] && [ $SECONDS -lt $deadline ]; do
    got=$(q -c "SELECT crash_orphans()" 2>/dev/null) || { sleep 0.2; continue; }
    watched=$((watched + 1))
    [ "$got" = 0 ] || orphans=$((orphans + 1))
    sleep 0.1
done
echo "# looked for orphan children and calling tasks without a child $watched times after the restart"
[ "$orphans" = 0 ] && [ "$watched" -gt 0 ]
ok $? "after the restart no child ran for an ended parent or calling task, and no calling task ran without a running child"
wait "${pids[@]}"
left=$(remaining)
echo "# $left processes still running after the workers stopped"

unexpected=$(cat "$tmp"/*.unexpected 2>/dev/null)
lost=$(cat "$tmp"/*.lost | wc -l)
r55000=$(cat "$tmp"/*.err | grep -c 'NOTICE:  crash-refused 55000')
r40001=$(cat "$tmp"/*.err | grep -c 'NOTICE:  crash-refused 40001')
echo "# workers and ticker: $lost lost connections; completions refused: $r55000 with 55000, $r40001 with 40001"
if [ -z "$unexpected" ]; then
    ok 0 "no worker or ticker error but lost connections and documented refusals"
else
    not_ok "no worker or ticker error but lost connections and documented refusals" "$(head -1 <<<"$unexpected")"
fi
[ "$lost" -gt 0 ]
ok $? "the workers lost their connections in the crash and connected again"

check() {  # check NAME SQL-returning-0-when-fine
    local got; got=$(q -c "$2")
    if [ "$got" = 0 ]; then ok 0 "$1"; else not_ok "$1" "got $got"; fi
}
check "every process completed" "SELECT count(*) FROM ws.process WHERE state <> 'completed'"
check "no process lost" "SELECT count(*) - $N - 4 * $M FROM ws.process"
check "every calling task started exactly one child, and completed with it" \
      "SELECT count(*) FROM ws.task t JOIN ws.node n ON n.id = t.node
        WHERE n.call IS NOT NULL AND (t.state <> 'succeeded'
              OR (SELECT count(*) FROM ws.process c WHERE c.parent_task = t.id) <> 1)"
check "every parent has 3 children, all in its tree" \
      "SELECT count(*) FROM ws.process p JOIN ws.workflow w ON w.id = p.workflow
        WHERE w.name = 'crash_parent' AND (SELECT count(*) FROM ws.process c WHERE c.root = p.id) <> 3"
check "every parent holds its children's results in item order" \
      "SELECT count(*) FROM ws.process p JOIN ws.workflow w ON w.id = p.workflow
        WHERE w.name = 'crash_parent'
          AND jsonb_path_query_array(p.params, '\$.results[*].item') <> '[\"a\", \"b\", \"c\"]'"
check "no orphan child and no calling task without a child at the end" "SELECT crash_orphans()"
check "each process completed exactly once" \
      "SELECT count(*) FROM (SELECT p.id FROM ws.process p LEFT JOIN ws.event e ON e.process = p.id AND e.task IS NULL AND e.state = 'completed' GROUP BY p.id HAVING count(e.id) <> 1) x"
check "every join fired exactly once per process (J, K, E) and every node ran once" \
      "SELECT count(*) FROM (SELECT p.id, n.name, count(t.id) FILTER (WHERE t.state = 'succeeded') AS ok, count(t.id) AS all_tasks
                               FROM ws.process p CROSS JOIN ws.node n LEFT JOIN ws.task t ON t.process = p.id AND t.node = n.id
                              WHERE n.workflow = p.workflow AND n.workflow = (SELECT id FROM ws.workflow WHERE name = 'crash')
                              GROUP BY p.id, n.name, p.params) x
         WHERE (name = 'o2' AND ok > 1) OR (name <> 'o2' AND (ok <> 1 OR all_tasks <> 1))"
check "o2 ran exactly where the process said so" \
      "SELECT count(*) FROM ws.process p WHERE p.workflow = (SELECT id FROM ws.workflow WHERE name = 'crash')
          AND (p.params->>'o2')::boolean IS DISTINCT FROM
             EXISTS (SELECT FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = p.id AND n.name = 'o2' AND t.state = 'succeeded')"
check "no task is left active" "SELECT count(*) FROM ws.task WHERE state IN ('waiting', 'pending', 'ready', 'running')"
check "no task succeeded twice" \
      "SELECT count(*) FROM (SELECT task FROM ws.event WHERE state = 'succeeded' GROUP BY task HAVING count(*) > 1) x"
check "the last event of every task is its state" \
      "SELECT count(*) FROM ws.task t WHERE t.state IS DISTINCT FROM
             (SELECT e.state FROM ws.event e WHERE e.task = t.id ORDER BY e.id DESC LIMIT 1)"
check "no tokens are left behind" "SELECT count(*) FROM ws.process WHERE tokens <> '{}'"
retaken=$(q -c "SELECT count(*) FROM ws.event WHERE detail = 'lease expired'")
echo "# $retaken expired leases were taken again"
[ "$retaken" -gt 0 ]
ok $? "the tasks running at the crash were taken again when their leases expired"
finish crash
