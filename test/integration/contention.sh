#!/usr/bin/env bash
# Contention: 8 pgbench clients claim and complete the 200 parents of an AND join, all
# in the same process at a time (claims take the lowest ids first), so every step waits
# for the process row and finds it rewritten by the step before (its tokens), often in
# a new version off its page. The clients alone must do all the work, with a few spare
# transactions each: afterwards every process must have completed, every parent and every
# join must have succeeded exactly once at attempt 1, every task must have exactly one
# event a state, and the claim queue must be empty. A claim may come back empty only when
# the queue is about empty: under contention a claim skips the rows other clients hold,
# never gives up. No client may get an error (a row lookup that misses a row updated
# concurrently makes steps fail with "task N does not exist").
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib/common.sh"
N=${CONTENTION_PROCESSES:-100}
PARENTS=200
ws_scratch_db ws_contention
ws_scratch_dir tmp

q -v parents="$PARENTS" -v n="$N" >/dev/null <<'SQL'
SELECT ws.define(jsonb_build_object('name', 'contention',
  'nodes', (SELECT jsonb_agg(jsonb_build_object('name', 'p' || i, 'action', 'k.p', 'start', true))
              FROM generate_series(1, :parents) i)
           || jsonb_build_array(jsonb_build_object('name', 'J', 'action', 'k.j', 'join', 'and'),
                                jsonb_build_object('name', 'E', 'end', true)),
  'transitions', (SELECT jsonb_agg(jsonb_build_object('from', 'p' || i, 'to', 'J'))
                    FROM generate_series(1, :parents) i)
                 || jsonb_build_array(jsonb_build_object('from', 'J', 'to', 'E'))));
SELECT count(ws.start('contention')) FROM generate_series(1, :n);
-- each claim that came back empty, with the length of the queue just after it (the other
-- clients hold 7 queued tasks at most)
CREATE TABLE empty_claim (queued bigint);
SQL
[ $? -eq 0 ] || fail "setup failed"

cat >"$tmp/contention.sql" <<'SQL'
SELECT count(ws.complete(task, '{}', attempt)) AS n FROM ws.claim(ARRAY['k.p', 'k.j'], 'w', 1) \gset
\if :n = 0
INSERT INTO empty_claim SELECT count(*) FROM ws.ready;
SELECT pg_sleep(0.01);
\endif
SQL
total=$((N * (PARENTS + 1)))
per_client=$((total / 8 + 200))
log=$tmp/contention.log
pgbench -n -M prepared -c 8 -j 2 -t "$per_client" -f "$tmp/contention.sql" "$PGDATABASE" >"$log" 2>&1
rc=$?
if [ $rc -ne 0 ] || grep -qi "error\|aborted" "$log"; then
    grep -i "error\|aborted" "$log" | head -5
    fail "a client failed (pgbench exit $rc)"
fi
echo "# claims that came back empty while tasks were queued: $(q -c "SELECT count(*) || ', the most queued at one: ' || coalesce(max(queued), 0) FROM empty_claim WHERE queued > 0")"

bad=$(q -v parents="$PARENTS" <<'SQL'
SELECT concat_ws(', ',
  (SELECT count(*) || ' processes not completed' FROM ws.process WHERE state <> 'completed' HAVING count(*) > 0),
  (SELECT count(*) || ' processes without exactly ' || :parents || ' parents and 1 join succeeded at attempt 1'
     FROM (SELECT process, count(*) FILTER (WHERE action = 'k.p') AS p, count(*) FILTER (WHERE action = 'k.j') AS j,
                  count(*) FILTER (WHERE state <> 'succeeded' OR attempts <> 1) AS other
             FROM ws.task WHERE action IS NOT NULL GROUP BY process) x
    WHERE p <> :parents OR j <> 1 OR other > 0 HAVING count(*) > 0),
  (SELECT count(*) || ' tasks without exactly one event a state (ready, running, succeeded)'
     FROM (SELECT t.id FROM ws.task t LEFT JOIN ws.event e ON e.task = t.id
            WHERE t.action IS NOT NULL GROUP BY t.id
           HAVING count(*) FILTER (WHERE e.state = 'ready') <> 1
               OR count(*) FILTER (WHERE e.state = 'running') <> 1
               OR count(*) FILTER (WHERE e.state = 'succeeded') <> 1) x HAVING count(*) > 0),
  (SELECT count(*) || ' rows left in ws.ready' FROM ws.ready HAVING count(*) > 0),
  (SELECT count(*) || ' claims came back empty with 50 or more tasks queued (one at ' || max(queued) || ')'
     FROM empty_claim WHERE queued >= 50 HAVING count(*) > 0))
SQL
)
[ $? -eq 0 ] || fail "the checks failed to run"
[ -z "$bad" ] || fail "$bad"
steps=$(q -c "SELECT count(*) FROM ws.task WHERE action IS NOT NULL")
echo "contention: $N processes, $steps steps by 8 clients, all completed once"
tally 0
finish contention
