#!/usr/bin/env bash
# What a DBA does to ws's tables that once crashed the server, run where a crash cannot
# take the rest of the suite with it: each case checks that the postmaster did not
# restart (pg_postmaster_start_time unchanged) besides its outcome.
#   - a BEFORE DELETE trigger on the claim queue while another session updates the queue
#     row: the claim waits for that session, then takes the task;
#   - ws.event partitioned by hash of process: events go to their partitions;
#   - ws.event partitioned by day and managed by pg_partman with retention, as
#     docs/history-partitions.md says (the recipe is run from that file): old partitions
#     are dropped and ws goes on.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib/common.sh"

started=$(q -c 'SELECT pg_postmaster_start_time()')
alive() {
    [ "$(q -d postgres -c 'SELECT pg_postmaster_start_time()' 2>/dev/null)" = "$started" ]
}

# run_all WORKFLOW ACTION...: claim and complete every ready task of the actions until none is left
run_all() {
    q -c "DO \$\$
DECLARE n int;
BEGIN
    LOOP
        SELECT count(ws.complete(task)) INTO n FROM ws.claim(ARRAY[$1], 'w', 100);
        EXIT WHEN n = 0;
    END LOOP;
END \$\$"
}

LINE='{"name": "line", "nodes": [{"name": "a", "action": "st.a", "start": true},
  {"name": "b", "action": "st.b"}, {"name": "end", "end": true}],
  "transitions": [{"from": "a", "to": "b"}, {"from": "b", "to": "end"}]}'

# ---- a BEFORE DELETE trigger on ws.ready, and the queue row updated by another session
ws_scratch_db ws_store_epq
q >/dev/null <<SQL
SELECT ws.define('$LINE');
SELECT ws.start('line');
CREATE TABLE gone (task bigint);
CREATE FUNCTION note_gone() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    INSERT INTO public.gone VALUES (OLD.task);
    RETURN OLD;
END \$\$;
CREATE TRIGGER note_gone BEFORE DELETE ON ws.ready FOR EACH ROW EXECUTE FUNCTION note_gone();
-- true once a session named app waits for a lock (at most 30 s)
CREATE FUNCTION wait_for_waiter(app text) RETURNS boolean LANGUAGE plpgsql AS \$\$
BEGIN
    FOR i IN 1..600 LOOP
        PERFORM pg_stat_clear_snapshot();
        IF EXISTS (SELECT FROM pg_stat_activity WHERE application_name = app AND wait_event_type = 'Lock') THEN
            RETURN true;
        END IF;
        PERFORM pg_sleep(0.05);
    END LOOP;
    RETURN false;
END \$\$;
SQL
ws_scratch_dir tmpdir
# the updater holds the queue row until the claim waits for it, then commits
q -c "BEGIN" -c "UPDATE ws.ready SET action = action" -c "SELECT wait_for_waiter('claimer')" -c "COMMIT" \
    >"$tmpdir/updater.out" 2>&1 &
updater=$!
for _ in $(seq 100); do
    [ "$(q -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                 WHERE a.query LIKE 'UPDATE ws.ready%' AND l.locktype = 'transactionid'")" != 0 ] && break
    sleep 0.05
done
claimed=$(PGAPPNAME=claimer q -c "SELECT task FROM ws.claim(ARRAY['st.a'], 'w1')" 2>&1)
wait $updater
alive
ok $? "claim against a queue row update, with a BEFORE DELETE trigger: the server did not restart"
grep -qx t "$tmpdir/updater.out"
ok $? "the claim waited for the update of its queue row (updater saw it wait: $(tr '\n' ' ' <"$tmpdir/updater.out"))"
[ "$claimed" = 1 ]
ok $? "the claim took the task after the update committed (got: $claimed)"
[ "$(q -c "SELECT (SELECT state FROM ws.task WHERE id = 1) || ' ' || (SELECT count(*) FROM ws.ready)
            || ' ' || (SELECT string_agg(task::text, ',') FROM gone)")" = "running 0 1" ]
ok $? "the task is running, its queue row gone, and the trigger saw the row it deleted"

# ---- ws.event partitioned by hash of process
ws_scratch_db ws_store_hash
q >/dev/null <<SQL
SELECT ws.define('$LINE');
BEGIN;
ALTER EXTENSION ws DROP TABLE ws.event;
ALTER EXTENSION ws DROP SEQUENCE ws.event_id_seq;
ALTER TABLE ws.event RENAME TO event_plain;
ALTER INDEX ws.event_pkey RENAME TO event_plain_pkey;
CREATE TABLE ws.event (LIKE ws.event_plain INCLUDING DEFAULTS INCLUDING IDENTITY, PRIMARY KEY (process, id))
    PARTITION BY HASH (process);
CREATE TABLE ws.event_h0 PARTITION OF ws.event FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE ws.event_h1 PARTITION OF ws.event FOR VALUES WITH (MODULUS 2, REMAINDER 1);
DO \$\$ BEGIN
    EXECUTE 'CREATE OR REPLACE VIEW ws.my_processes WITH (security_barrier) AS '
            || replace(pg_get_viewdef('ws.my_processes'::regclass), 'ws.event_plain', 'ws.event');
    EXECUTE 'CREATE OR REPLACE VIEW ws.stats AS '
            || replace(pg_get_viewdef('ws.stats'::regclass), 'ws.event_plain', 'ws.event');
END \$\$;
DROP TABLE ws.event_plain;
COMMIT;
SELECT ws.start('line') FROM generate_series(1, 10);
SQL
run_all "'st.a', 'st.b'" >/dev/null
alive
ok $? "ws.event partitioned by hash: the server did not restart"
[ "$(q -c "SELECT count(*) FILTER (WHERE state = 'completed') FROM ws.process")" = 10 ]
ok $? "ws.event partitioned by hash: ten processes ran to their end"
counts=$(q -c "SELECT (SELECT count(*) FROM ONLY ws.event_h0) || ' ' || (SELECT count(*) FROM ONLY ws.event_h1)
                      || ' ' || (SELECT count(*) FROM ws.event)")
read -r h0 h1 total <<<"$counts"
[ "$total" = 90 ] && [ "$h0" -gt 0 ] && [ "$h1" -gt 0 ] && [ $((h0 + h1)) = 90 ]
ok $? "ws.event partitioned by hash: the 90 events are in both partitions ($counts)"
[ "$(q -c "SELECT count(DISTINCT tableoid) FROM ws.event GROUP BY process ORDER BY 1 DESC LIMIT 1")" = 1 ]
ok $? "ws.event partitioned by hash: each process's events are in one partition"
got=$(q -c "SELECT succeeded_last_hour FROM ws.stats WHERE action = 'st.a'" -c "SELECT ws.purge('0')" \
          -c "SELECT count(*) FROM ws.event" -c "SELECT count(*) FROM ws.process" | tr '\n' ' ' | sed 's/ $//')
[ "$got" = "10 10 0 0" ]
ok $? "ws.event partitioned by hash: ws.stats reads it, ws.purge empties it (succeeded, purged, events, processes: $got)"

# ---- ws.event partitioned by day, managed by pg_partman with retention (the docs' recipe)
ws_scratch_db ws_store_partman
q >/dev/null <<SQL
SELECT ws.define('$LINE');
SELECT ws.start('line') FROM generate_series(1, 6);
SQL
run_all "'st.a', 'st.b'" >/dev/null
# the history of processes 1 and 2 is ten days old
q -c "UPDATE ws.event SET at = at - interval '10 days' WHERE process IN (1, 2)" >/dev/null
before=$(q -c "SELECT count(*) FROM ws.event")
recipe=$(sed -n '/<!-- recipe: begin -->/,/<!-- recipe: end -->/p' "$here/../../docs/history-partitions.md" |
         sed '/^<!--/d; /^```/d')
[ -n "$recipe" ]
ok $? "docs/history-partitions.md has the recipe between its markers"
out=$(q <<<"$recipe" 2>&1)
rc=$?
ok $rc "the recipe runs"
[ $rc = 0 ] || echo "#   $out"
[ "$(q -c "SELECT relkind FROM pg_class WHERE oid = 'ws.event'::regclass")" = p ] &&
    [ "$(q -c "SELECT count(*) FROM ws.event")" = "$before" ]
ok $? "ws.event is partitioned and holds the $before events it had"
q -c "SELECT ws.start('line') FROM generate_series(1, 2)" >/dev/null
run_all "'st.a', 'st.b'" >/dev/null
alive
ok $? "ws.event partitioned by pg_partman: the server did not restart"
[ "$(q -c "SELECT count(*) FILTER (WHERE state = 'completed') FROM ws.process")" = 8 ]
ok $? "ws.event partitioned by pg_partman: every process ran to its end"
q -c "UPDATE partman.part_config SET retention = '5 days' WHERE parent_table = 'ws.event'" \
  -c "SELECT partman.run_maintenance('ws.event')" >/dev/null
[ "$(q -c "SELECT count(*) FROM ws.event WHERE process IN (1, 2)") $(q -c "SELECT count(*) FROM ws.event WHERE process > 2 AND task IS NULL AND state = 'completed'")" = "0 6" ]
ok $? "maintenance dropped the partitions older than the retention, and only those"
q -c "SELECT ws.start('line')" >/dev/null && run_all "'st.a', 'st.b'" >/dev/null
[ "$(q -c "SELECT count(*) FILTER (WHERE state = 'completed') FROM ws.process")" = 9 ] && alive
ok $? "after the maintenance, a new process runs to its end"

finish
