-- Monitoring: ws.stats (one row per action: the queues and the last hour) and
-- ws.workflow_stats (one row per workflow version: open processes and the last day) read
-- only the work in flight and the recent end of the history. Here on a history of a
-- million tasks and a million events: the numbers are those an independent count finds,
-- and no plan reads ws.task, ws.event or ws.process whole (no sequential scan).
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event, ws.message RESTART IDENTITY;

-- stats_seq_scans(query): the tables that query's plan reads with a sequential scan
CREATE FUNCTION stats_seq_scans(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    plan jsonb;
BEGIN
    EXECUTE 'EXPLAIN (FORMAT JSON) ' || query INTO plan;
    RETURN coalesce((SELECT string_agg(DISTINCT r #>> '{}', ', ')
                       FROM jsonb_path_query(plan, 'strict $.** ? (@."Node Type" == "Seq Scan")."Relation Name"') r),
                    'none');
END $$;

SELECT ws.define('{"name": "stats flow", "nodes": [
  {"name": "a", "action": "s.a"}, {"name": "b", "action": "s.b"}, {"name": "c", "role": "pg_monitor"}],
  "transitions": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}]}') AS w \gset
SELECT ws.register_action('s.idle');
SELECT id AS na FROM ws.node WHERE workflow = :w AND name = 'a' \gset
SELECT id AS nb FROM ws.node WHERE workflow = :w AND name = 'b' \gset
SELECT id AS nc FROM ws.node WHERE workflow = :w AND name = 'c' \gset

-- One transaction, so that now() is one time for the history and the views.
BEGIN;
-- the history: 200,000 completed processes, one a minute (process i ended i minutes
-- ago, after running 1 to 10 minutes), five tasks each, one event per task, one every ten
-- seconds (event g is (1,000,000 - g) * 10 seconds old), every seventh a failure
INSERT INTO ws.process (workflow, state, started_at, ended_at)
SELECT :w, 'completed', now() - i * interval '1 minute' - (i % 10 + 1) * interval '1 minute',
       now() - i * interval '1 minute'
  FROM generate_series(1, 200000) i;
INSERT INTO ws.task (process, node, action, state, ended_at)
SELECT (g - 1) / 5 + 1, CASE WHEN g % 2 = 1 THEN :na ELSE :nb END, CASE WHEN g % 2 = 1 THEN 's.a' ELSE 's.b' END,
       CASE WHEN g % 7 = 0 THEN 'failed' ELSE 'succeeded' END, now()
  FROM generate_series(1, 1000000) g;
INSERT INTO ws.event (process, task, state, at)
SELECT (g - 1) / 5 + 1, g, CASE WHEN g % 7 = 0 THEN 'failed' ELSE 'succeeded' END,
       now() - (1000000 - g) * interval '10 seconds'
  FROM generate_series(1, 1000000) g;
-- the work in flight: 7 running processes and 2 failed ones, with
--   s.a: 3 ready tasks (ready 5, 3 and 1 minutes ago) and 2 waiting ones,
--   s.b: 2 running tasks, one whose lease has ended,
--   a person's task (no action): 1 pending
INSERT INTO ws.process (workflow, state, ended_at)
SELECT :w, CASE WHEN i <= 7 THEN 'running' ELSE 'failed' END, CASE WHEN i > 7 THEN now() END
  FROM generate_series(1, 9) i;
-- (with what the engine keeps beside a task's state: wait, the claim queue, the leases)
INSERT INTO ws.task (process, node, action, state, lease_until, due_at, wait) VALUES
  (200001, :na, 's.a', 'ready', NULL, NULL, 'worker'), (200002, :na, 's.a', 'ready', NULL, NULL, 'worker'),
  (200003, :na, 's.a', 'ready', NULL, NULL, 'worker'),
  (200004, :na, 's.a', 'waiting', NULL, now() + interval '1 hour', 'waiting'),
  (200004, :na, 's.a', 'waiting', NULL, NULL, 'waiting'),
  (200005, :nb, 's.b', 'running', now() + interval '5 minutes', NULL, 'worker'),
  (200006, :nb, 's.b', 'running', now() - interval '1 minute', NULL, 'worker'),
  (200007, :nc, NULL, 'pending', NULL, NULL, 'pending');
INSERT INTO ws.ready (action, task) SELECT action, id FROM ws.task WHERE state = 'ready';
INSERT INTO ws.lease (until, task) SELECT lease_until, id FROM ws.task WHERE state = 'running';
INSERT INTO ws.event (process, task, state, at)
SELECT t.process, t.id, 'ready', now() - (t.process - 200000) * interval '2 minutes' + interval '1 minute'
  FROM ws.task t WHERE t.state = 'ready';
ANALYZE ws.process, ws.task, ws.event, ws.ready, ws.lease;

SELECT * FROM ws.stats;
SELECT name, version, running, failed, completed_last_day, failed_last_day, cancelled_last_day,
       mean_duration, p95_duration
  FROM ws.workflow_stats;

-- the same numbers counted the plain way, reading everything
SELECT (SELECT array_agg(x ORDER BY a NULLS FIRST) FROM (
          SELECT a, ROW((SELECT count(*) FROM ws.ready r WHERE r.action IS NOT DISTINCT FROM a),
                        (SELECT count(*) FROM ws.task t WHERE t.state = 'running' AND t.action IS NOT DISTINCT FROM a),
                        (SELECT count(*) FROM ws.task t WHERE t.state = 'pending' AND t.action IS NOT DISTINCT FROM a),
                        (SELECT count(*) FROM ws.task t WHERE t.state = 'waiting' AND t.action IS NOT DISTINCT FROM a),
                        (SELECT count(*) FROM ws.task t WHERE t.state = 'running' AND t.lease_until < now()
                            AND t.action IS NOT DISTINCT FROM a),
                        (SELECT count(*) FROM ws.event e JOIN ws.task t ON t.id = e.task
                          WHERE e.state = 'failed' AND e.at > now() - interval '1 hour' AND t.action IS NOT DISTINCT FROM a),
                        (SELECT count(*) FROM ws.event e JOIN ws.task t ON t.id = e.task
                          WHERE e.state = 'succeeded' AND e.at > now() - interval '1 hour' AND t.action IS NOT DISTINCT FROM a))::text
            FROM unnest(ARRAY[NULL, 's.a', 's.b', 's.idle']) a) x(a, x))
     = (SELECT array_agg(ROW(ready, running, pending, waiting, expired_leases, failed_last_hour,
                             succeeded_last_hour)::text ORDER BY action NULLS FIRST) FROM ws.stats) AS stats_agree;
SELECT (SELECT ROW(count(*) FILTER (WHERE state = 'running'), count(*) FILTER (WHERE state = 'failed'),
                   count(*) FILTER (WHERE state = 'completed' AND ended_at > now() - interval '1 day'),
                   avg(ended_at - started_at) FILTER (WHERE state = 'completed' AND ended_at > now() - interval '1 day'))::text
          FROM ws.process)
     = (SELECT ROW(running, failed, completed_last_day, mean_duration)::text FROM ws.workflow_stats) AS workflow_stats_agree;

-- and neither view reads a table of the history whole
SELECT stats_seq_scans('SELECT * FROM ws.stats') AS stats_seq_scans;
SELECT stats_seq_scans('SELECT * FROM ws.workflow_stats') AS workflow_stats_seq_scans;
ROLLBACK;

-- every view of ws, and every column of each, says what it is
SELECT c.relname AS view_without_comment FROM pg_class c
 WHERE c.relnamespace = 'ws'::regnamespace AND c.relkind = 'v' AND obj_description(c.oid, 'pg_class') IS NULL;
SELECT c.relname || '.' || a.attname AS column_without_comment
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = 'ws'::regnamespace AND c.relkind IN ('v', 'r') AND col_description(c.oid, a.attnum) IS NULL;
-- and every member of the extension that can carry a comment has one (what \dx+ ws lists)
SELECT pg_describe_object(d.classid, d.objid, 0) AS member_without_comment
  FROM pg_depend d
 WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ws')
   AND d.deptype = 'e'
   AND d.classid IN ('pg_proc'::regclass, 'pg_class'::regclass, 'pg_type'::regclass, 'pg_namespace'::regclass)
   AND obj_description(d.objid, (SELECT relname FROM pg_class WHERE oid = d.classid)) IS NULL
   AND NOT (d.classid = 'pg_class'::regclass AND (SELECT relkind FROM pg_class WHERE oid = d.objid) IN ('S', 'i'))
   AND NOT (d.classid = 'pg_type'::regclass AND (SELECT typtype FROM pg_type WHERE oid = d.objid) <> 'e')
 ORDER BY 1;
