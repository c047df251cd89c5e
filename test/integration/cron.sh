#!/usr/bin/env bash
# pg_cron drives the timers: ws.schedule_tick() in the cron database, then timers due a
# few seconds apart must all fire, none before its due time. The latency (ready event
# time - due time) is printed, not asserted: how fast belongs to bench/. pg_cron starts a
# new job at the next minute boundary, and a later check waits for a run in progress, so
# this takes up to two minutes.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib/common.sh"
export PGDATABASE=${CRON_DB:-postgres}          # the test cluster's cron.database_name
unschedule() { q -c "SELECT cron.unschedule(jobid) FROM cron.job WHERE jobname IN ('ws-tick', 'ws-purge')" >/dev/null 2>&1; }
on_exit unschedule

q -c "CREATE EXTENSION IF NOT EXISTS pg_cron" -c "CREATE EXTENSION IF NOT EXISTS ws" >/dev/null
# a database without pg_cron gets a clear error that says how to tick it
createdb ws_nocron
err=$(psql -X -At -d ws_nocron -c "CREATE EXTENSION ws" -c "SELECT ws.schedule_tick()" 2>&1 || true)
purge_err=$(psql -X -At -d ws_nocron -c "SELECT ws.schedule_purge('90 days')" 2>&1 || true)
dropdb ws_nocron
echo "$purge_err" | grep -q "cron.schedule_in_database('ws-purge-ws_nocron'" || fail "ws.schedule_purge's hint does not say how: $purge_err"
echo "$err" | grep -q 'pg_cron is not installed in database "ws_nocron"' || fail "no clear error without pg_cron: $err"
echo "$err" | grep -q "cron.schedule_in_database('ws-tick-ws_nocron'" || fail "the hint does not say how: $err"

q -c "SELECT ws.define('{\"name\": \"cron timers\", \"nodes\": [{\"name\": \"wait\", \"wait_until\": \"\$.at\", \"action\": \"cron.t\"}]}')" >/dev/null
q -c "SELECT ws.schedule_tick()" >/dev/null
q -c "SELECT ws.schedule_tick()" >/dev/null   # idempotent: still one job
[ "$(q -c "SELECT count(*) FROM cron.job WHERE jobname = 'ws-tick'")" = 1 ] || fail "expected one ws-tick job"

echo "cron: waiting for pg_cron to start the job at the next minute boundary"
for i in $(seq 1 120); do
    [ "$(q -c "SELECT count(*) FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = 'ws-tick'")" -gt 0 ] && break
    sleep 1
done
[ "$(q -c "SELECT count(*) FROM cron.job_run_details d JOIN cron.job j USING (jobid) WHERE j.jobname = 'ws-tick'")" -gt 0 ] \
    || fail "pg_cron never ran the job"
# 20 timers due 1.9 to 19.6 seconds from now, a little less than a second apart
q -c "SELECT ws.start('cron timers', jsonb_build_object('at', clock_timestamp() + make_interval(secs => 1 + i * 0.93)))
        FROM generate_series(1, 20) i" >/dev/null
# until every timer has fired: the last is due in 20 s; a minute more for a loaded machine
# (and the gap between two runs of the job)
for i in $(seq 1 80); do
    [ "$(q -c "SELECT count(*) FROM ws.task t JOIN ws.process p ON p.id = t.process JOIN ws.workflow w ON w.id = p.workflow
                WHERE w.name = 'cron timers' AND t.state = 'waiting'")" = 0 ] && break
    sleep 1
done
# an event's time is its transaction's start, a moment before the tick reads the clock:
# a second of slack for "before its due time"
read -r n waiting early min p50 p99 max < <(q -F ' ' -c "
    SELECT count(*), count(*) FILTER (WHERE e.at IS NULL), count(*) FILTER (WHERE e.at < t.due_at - interval '1 second'),
           round(min(extract(epoch FROM e.at - t.due_at))::numeric, 3),
           round(percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM e.at - t.due_at))::numeric, 3),
           round(percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM e.at - t.due_at))::numeric, 3),
           round(max(extract(epoch FROM e.at - t.due_at))::numeric, 3)
      FROM ws.task t JOIN ws.process p ON p.id = t.process JOIN ws.workflow w ON w.id = p.workflow
      LEFT JOIN ws.event e ON e.task = t.id AND e.state = 'ready'
     WHERE w.name = 'cron timers'")
echo "# cron: $n timers, $waiting not fired; latency from due time to ready: min ${min}s, p50 ${p50}s, p99 ${p99}s, max ${max}s"
[ "$n" = 20 ] || fail "$n timers, not 20"
[ "$waiting" = 0 ] || fail "$waiting timers did not fire"
[ "$early" = 0 ] || fail "$early timers fired before their due time (min latency ${min}s)"
[ "$(q -c "SELECT count(*) FROM cron.job_run_details d JOIN cron.job j USING (jobid)
            WHERE j.jobname = 'ws-tick' AND d.status = 'failed'")" = 0 ] \
    || fail "the job failed: $(q -c "SELECT return_message FROM cron.job_run_details WHERE status = 'failed' LIMIT 1")"

# DROP EXTENSION ws while the job runs: the run stops without an error at its next round,
# and the job's own command removes the job (here run at once, not at the next minute)
command=$(q -c "SELECT command FROM cron.job WHERE jobname = 'ws-tick'")
for i in $(seq 1 140); do      # a run lasts 58 s a minute: at most the next minute
    [ "$(q -c "SELECT count(*) FROM cron.job_run_details WHERE status = 'running'")" -gt 0 ] && break
    sleep 0.5
done
[ "$(q -c "SELECT count(*) FROM cron.job_run_details WHERE status = 'running'")" -gt 0 ] \
    || fail "no run of the job in progress to drop ws under"
q -c "DROP EXTENSION ws" >/dev/null
# the run in progress notices within a round (0.25 s) and ends without an error
for i in $(seq 1 60); do
    [ "$(q -c "SELECT count(*) FROM cron.job_run_details WHERE status IN ('starting', 'running')")" = 0 ] && break
    sleep 0.5
done
[ "$(q -c "SELECT count(*) FROM cron.job_run_details WHERE status IN ('starting', 'running')")" = 0 ] \
    || fail "a job run goes on after DROP EXTENSION ws"
# the job's next run removes the job (run here at once rather than at the next minute;
# unscheduling a job cancels a run in progress, hence after the run above has ended)
q -c "$command" >/dev/null || fail "the job's command fails once ws is dropped"
[ "$(q -c "SELECT count(*) FROM cron.job WHERE jobname = 'ws-tick'")" = 0 ] || fail "the job did not remove itself after DROP EXTENSION ws"
[ "$(q -c "SELECT count(*) FROM cron.job_run_details WHERE status = 'failed'")" = 0 ] \
    || fail "a job run failed: $(q -c "SELECT return_message FROM cron.job_run_details WHERE status = 'failed' LIMIT 1")"
left=$(q -c "SELECT string_agg(nspname, ', ') FROM pg_namespace WHERE nspname IN ('ws', 'ws_internal')")
[ -z "$left" ] || fail "schemas left after DROP EXTENSION ws: $left"
echo "cron: after DROP EXTENSION ws, nothing of ws is left, scheduled or running"

# ws.unschedule_tick removes the job, and says so when there is none
q -c "CREATE EXTENSION ws" -c "SELECT ws.schedule_tick()" -c "SELECT ws.unschedule_tick()" >/dev/null
[ "$(q -c "SELECT count(*) FROM cron.job WHERE jobname = 'ws-tick'")" = 0 ] || fail "ws.unschedule_tick left the job"
note=$(q -c "SELECT ws.unschedule_tick()" 2>&1)
[[ $note == *"no ws-tick job"* ]] || fail "unscheduling nothing says nothing: $note"
q -c "DROP EXTENSION ws" >/dev/null

# a server where pg_cron runs jobs over TCP (no background workers) and listens on none:
# ws.schedule_tick warns; before CREATE EXTENSION pg_cron, the hint says to create it,
# not to preload it (it is preloaded)
out=$( (
    . "$here/../cluster.sh"
    ws_cluster_start "cron.use_background_workers = off" >/dev/null || exit 1
    psql -X -At -d postgres -c "CREATE EXTENSION ws" -c "SELECT ws.schedule_tick()" 2>&1
    psql -X -At -d postgres -c "CREATE EXTENSION pg_cron" -c "SELECT ws.schedule_tick()" 2>&1
) )
[[ $out == *"pg_cron is preloaded: CREATE EXTENSION pg_cron here"* ]] || fail "no create-it hint where pg_cron is preloaded: $out"
[[ $out != *"Add pg_cron to shared_preload_libraries"* ]] || fail "the hint says to preload a preloaded pg_cron: $out"
[[ $out == *"WARNING:  pg_cron cannot run the job: it connects over TCP"* ]] || fail "no warning where pg_cron cannot connect: $out"
echo "cron: without background workers or a TCP listener, ws.schedule_tick warns"

# ws.schedule_purge: one daily job, whatever how often it is called (the last older_than
# wins); its command purges in committed batches, and removes the job once ws is dropped
q -c "CREATE EXTENSION ws" >/dev/null
q >/dev/null <<'SQL' || fail "cannot set up the processes to purge"
SELECT ws.define('{"name": "cron purge", "nodes": [{"name": "a", "action": "cron.p"}]}');
SELECT ws.cancel(ws.start('cron purge')) FROM generate_series(1, 3);
SELECT ws.start('cron purge');
UPDATE ws.process SET ended_at = now() - interval '2 days' WHERE state = 'cancelled';
SQL
q -c "SELECT ws.schedule_purge('90 days')" -c "SELECT ws.schedule_purge('1 day')" >/dev/null || fail "ws.schedule_purge failed"
[ "$(q -c "SELECT count(*) || ' ' || min(schedule) FROM cron.job WHERE jobname = 'ws-purge'")" = "1 0 3 * * *" ] \
    || fail "expected one daily ws-purge job: $(q -c "SELECT jobname, schedule FROM cron.job")"
command=$(q -c "SELECT command FROM cron.job WHERE jobname = 'ws-purge'")
[[ $command == *"ws.run_purge('1 day'::interval)"* ]] || fail "the job does not purge with the last older_than: $command"
q -c "$command" >/dev/null || fail "the purge job's command fails"
[ "$(q -c "SELECT string_agg(state, ',') FROM ws.process")" = running ] || fail "the purge job's command left: $(q -c "SELECT string_agg(state, ',') FROM ws.process")"
q -c "DROP EXTENSION ws" >/dev/null
q -c "$command" >/dev/null || fail "the purge job's command fails once ws is dropped"
[ "$(q -c "SELECT count(*) FROM cron.job WHERE jobname = 'ws-purge'")" = 0 ] || fail "the purge job did not remove itself after DROP EXTENSION ws"
echo "cron: ws.schedule_purge schedules one daily job that purges, and removes itself once ws is dropped"
tally 0
finish cron
