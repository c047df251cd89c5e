------------------------------------------------------------------------------
-- Operating ws for years: retention (ws.purge, ws.run_purge, ws.schedule_purge),
-- business keys (ws.process_by_key; ws.start takes the key, src/keys.c), and monitoring
-- (ws.stats, ws.workflow_stats; contrib/postgres_exporter.yml exposes them as metrics).
------------------------------------------------------------------------------

-- A batch: the oldest ended top-level processes, locked as a step locks them (a
-- concurrent ws.retry of a failed one waits, or is waited for and then re-checked), then
-- their trees (every process whose root is one of them: children are never locked without
-- their root, which each step of a tree locks first), then the rows of all of them. Tasks
-- take their rows in ws.ready with them (trigger task_gone); the tokens live in the
-- process row. Processes another transaction holds are skipped, not waited for: the next
-- call takes them.
CREATE FUNCTION ws_internal.purge(older_than interval, batch integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    tops bigint[];
    ids bigint[];
BEGIN
    IF older_than IS NULL OR older_than < interval '0' THEN
        RAISE EXCEPTION 'older_than must be zero or more, not %', coalesce(older_than::text, 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'ws.purge(''90 days'') deletes the processes that ended more than 90 days ago.';
    END IF;
    IF batch IS NULL OR batch <= 0 THEN
        RAISE EXCEPTION 'batch must be more than zero, not %', coalesce(batch::text, 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'ws.purge(''90 days'', 10000) deletes up to 10000 processes; call it until it returns 0.';
    END IF;
    SELECT array_agg(x.id) INTO tops FROM (
        SELECT p.id FROM ws.process p
         WHERE p.ended_at < now() - older_than
           AND p.state IN ('completed', 'failed', 'cancelled')
           AND p.root IS NULL AND p.parent_task IS NULL
         ORDER BY p.ended_at
         LIMIT batch
           FOR UPDATE SKIP LOCKED) x;
    IF tops IS NULL THEN
        RETURN 0;
    END IF;
    ids := tops || ARRAY(SELECT c.id FROM ws.process c WHERE c.root = ANY (tops));
    DELETE FROM ws.event e WHERE e.process = ANY (ids);
    DELETE FROM ws.task t WHERE t.process = ANY (ids);
    DELETE FROM ws.process p WHERE p.id = ANY (ids);
    RETURN pg_catalog.cardinality(tops);
END $$;
COMMENT ON FUNCTION ws_internal.purge(interval, integer) IS 'ws.purge''s implementation';

CREATE FUNCTION ws.purge(older_than interval, batch integer DEFAULT 10000) RETURNS bigint
    AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.purge(interval, integer) IS
    'Deletes up to batch top-level processes that ended (completed, failed, cancelled) before now() - older_than, with their child processes, tasks, events and tokens; returns how many. Call it until it returns 0; running processes and their children are never touched, and a purged process''s business key is free again';

-- No SET search_path here: a procedure with a SET clause cannot COMMIT. It is not
-- SECURITY DEFINER (it runs as whoever calls or schedules it) and qualifies what it calls.
-- Deleting is work the server's cores and WAL share with the steps running meanwhile: after
-- each batch it rests throttle times as long as the batch took (3: it works a quarter of
-- the time), so a purge of millions leaves the engine most of the machine (bench/, row p).
CREATE PROCEDURE ws.run_purge(older_than interval, batch integer DEFAULT 10000, throttle numeric DEFAULT 3)
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    n bigint;
    t timestamptz;
BEGIN
    IF throttle IS NULL OR throttle < 0 THEN
        RAISE EXCEPTION 'throttle must be zero or more, not %', coalesce(throttle::text, 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'After each batch ws.run_purge rests throttle times as long as the batch took; 0 purges without a pause.';
    END IF;
    -- a hot standby purges nothing: the primary's purge reaches it
    IF pg_catalog.pg_is_in_recovery() THEN
        RETURN;
    END IF;
    LOOP
        t := pg_catalog.clock_timestamp();
        n := ws.purge(older_than, batch);   -- checks its arguments before it deletes
        COMMIT;
        EXIT WHEN n < batch;
        IF throttle > 0 THEN
            PERFORM pg_catalog.pg_sleep(throttle * pg_catalog.date_part('epoch', pg_catalog.clock_timestamp() - t));
        END IF;
    END LOOP;
END $$;
COMMENT ON PROCEDURE ws.run_purge(interval, integer, numeric) IS
    'Calls ws.purge(older_than, batch) until nothing is left to purge, committing after each batch and resting throttle times as long as the batch took; what the pg_cron job of ws.schedule_purge runs';

-- Like ws.schedule_tick: not SECURITY DEFINER, the job runs as the role that schedules
-- it; once ws is dropped the job removes itself (pg_cron in this database) or does nothing.
CREATE FUNCTION ws_internal.schedule_purge(older_than interval) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    cron_db text := coalesce(current_setting('cron.database_name', true), 'postgres');
    preloaded boolean := current_setting('shared_preload_libraries') ~ '(^|[\s,])pg_cron($|[\s,])';
    command text;
BEGIN
    IF older_than IS NULL OR older_than < interval '0' THEN
        RAISE EXCEPTION 'older_than must be zero or more, not %', coalesce(older_than::text, 'NULL')
            USING ERRCODE = '22023',
                  HINT = 'ws.schedule_purge(''90 days'') deletes every night the processes that ended more than 90 days ago.';
    END IF;
    command := 'DO $ws$ BEGIN '
        || 'IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = ''ws'') THEN '
        || format('CALL ws.run_purge(%L::interval); ', older_than)
        || 'ELSIF pg_catalog.to_regclass(''cron.job'') IS NOT NULL THEN '
        || 'PERFORM cron.unschedule(jobid) FROM cron.job WHERE jobname = ''ws-purge'' '
        || 'AND database = pg_catalog.current_database(); '
        || 'END IF; END $ws$';
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') THEN
        IF preloaded AND cron_db <> current_database() THEN
            RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
                USING ERRCODE = '55000',
                      DETAIL = format('pg_cron runs jobs from database "%s" (cron.database_name) only.', cron_db),
                      HINT = format('In database "%s", with pg_cron installed there, run: SELECT cron.schedule_in_database(%L, %L, %L, %L); (unschedule it there if you drop ws).',
                                    cron_db, 'ws-purge-' || current_database(), '0 3 * * *', command,
                                    current_database());
        END IF;
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = '55000',
                  HINT = CASE WHEN preloaded
                              THEN 'pg_cron is preloaded: CREATE EXTENSION pg_cron here, then call ws.schedule_purge() again.'
                              ELSE format('Add pg_cron to shared_preload_libraries, with cron.database_name = %L, restart, CREATE EXTENSION pg_cron, then call ws.schedule_purge() again. Without pg_cron, run CALL ws.run_purge(%L) from any scheduler once a day.',
                                          current_database(), older_than) END;
    END IF;
    -- the same job name again replaces the job: one job, with the latest older_than
    PERFORM cron.schedule('ws-purge', '0 3 * * *', command);
END $$;
COMMENT ON FUNCTION ws_internal.schedule_purge(interval) IS 'ws.schedule_purge''s implementation';

CREATE FUNCTION ws.schedule_purge(older_than interval) RETURNS void AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.schedule_purge(interval) IS
    'Schedules ws.run_purge(older_than) with pg_cron in this database, daily at 03:00 (pg_cron''s clock, GMT by default), job ws-purge; calling it again replaces the job; a clear error where pg_cron is absent';

------------------------------------------------------------------------------
-- Business keys
------------------------------------------------------------------------------

CREATE FUNCTION ws_internal.process_by_key(workflow text, key text) RETURNS bigint
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT p.id FROM ws.process p JOIN ws.workflow w ON w.id = p.workflow
     WHERE p.key = process_by_key.key AND w.name = process_by_key.workflow
$$;
COMMENT ON FUNCTION ws_internal.process_by_key(text, text) IS 'ws.process_by_key''s implementation';

CREATE FUNCTION ws.process_by_key(workflow text, key text) RETURNS bigint
    AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.process_by_key(text, text) IS
    'The process of the named workflow (any version) that carries that business key; NULL when none (never started, or purged)';

------------------------------------------------------------------------------
-- Monitoring. Both views read what is active, and of the history only its recent end:
-- the active tasks through the partial indexes of their states, the claim queue
-- ws.ready, the last hour's events through the BRIN index event_at, the last day's ended
-- processes through process_ended, and the running and failed processes through
-- process_open. Their cost follows the work in flight, not the size of the history.
------------------------------------------------------------------------------

CREATE VIEW ws.stats AS
WITH actions AS (
    SELECT a.name AS action FROM ws.action a
    UNION SELECT n.action FROM ws.node n WHERE n.action IS NOT NULL
    UNION SELECT NULL),
ready AS (
    SELECT r.action, count(*) AS n,
           now() - min((SELECT e.at FROM ws.event e
                         WHERE e.process = t.process AND e.task = t.id AND e.state = 'ready'
                         ORDER BY e.id DESC LIMIT 1)) AS oldest
      FROM ws.ready r JOIN ws.task t ON t.id = r.task
     GROUP BY r.action),
running AS (
    SELECT t.action, count(*) AS n, count(*) FILTER (WHERE t.lease_until < now()) AS expired
      FROM ws.task t WHERE t.state = 'running' GROUP BY t.action),
pending AS (
    SELECT t.action, count(*) AS n FROM ws.task t WHERE t.state = 'pending' GROUP BY t.action),
waiting AS (
    SELECT t.action, count(*) AS n FROM ws.task t WHERE t.state = 'waiting' GROUP BY t.action),
ended AS (
    SELECT t.action, count(*) FILTER (WHERE e.state = 'failed') AS failed,
           count(*) FILTER (WHERE e.state = 'succeeded') AS succeeded
      FROM ws.event e JOIN ws.task t ON t.id = e.task
     WHERE e.at > now() - interval '1 hour' AND e.task IS NOT NULL AND e.state IN ('failed', 'succeeded')
     GROUP BY t.action)
SELECT a.action,
       coalesce(r.n, 0) AS ready,
       coalesce(u.n, 0) AS running,
       coalesce(p.n, 0) AS pending,
       coalesce(w.n, 0) AS waiting,
       r.oldest AS oldest_ready_age,
       coalesce(u.expired, 0) AS expired_leases,
       coalesce(e.failed, 0) AS failed_last_hour,
       coalesce(e.succeeded, 0) AS succeeded_last_hour
  FROM actions a
  LEFT JOIN ready r ON r.action IS NOT DISTINCT FROM a.action
  LEFT JOIN running u ON u.action IS NOT DISTINCT FROM a.action
  LEFT JOIN pending p ON p.action IS NOT DISTINCT FROM a.action
  LEFT JOIN waiting w ON w.action IS NOT DISTINCT FROM a.action
  LEFT JOIN ended e ON e.action IS NOT DISTINCT FROM a.action
 ORDER BY a.action NULLS FIRST;
COMMENT ON VIEW ws.stats IS
    'The work queues at a glance, one row per action (registered or named by a node) and one with action NULL for tasks without an action (people''s tasks, routing); reads only active tasks and the last hour''s events';
COMMENT ON COLUMN ws.stats.action IS 'The action; NULL: tasks without an action';
COMMENT ON COLUMN ws.stats.ready IS 'Tasks ready for a worker to claim (ws.ready)';
COMMENT ON COLUMN ws.stats.running IS 'Tasks claimed by workers (or calling a child process)';
COMMENT ON COLUMN ws.stats.pending IS 'Tasks waiting for a person (a human task, or a required parameter to fill)';
COMMENT ON COLUMN ws.stats.waiting IS 'Tasks waiting for a timer, a retry''s back-off or a message';
COMMENT ON COLUMN ws.stats.oldest_ready_age IS 'How long the task that has been ready longest has been waiting for a worker; NULL: none ready';
COMMENT ON COLUMN ws.stats.expired_leases IS 'Running tasks whose lease has ended (ws.tick makes them ready again)';
COMMENT ON COLUMN ws.stats.failed_last_hour IS 'Task attempts that failed in the last hour (failed events)';
COMMENT ON COLUMN ws.stats.succeeded_last_hour IS 'Tasks that succeeded in the last hour (succeeded events)';

CREATE VIEW ws.workflow_stats AS
WITH open AS (
    SELECT p.workflow, count(*) FILTER (WHERE p.state = 'running') AS running,
           count(*) FILTER (WHERE p.state = 'failed') AS failed
      FROM ws.process p WHERE p.state IN ('running', 'failed') GROUP BY p.workflow),
ended AS (
    SELECT p.workflow,
           count(*) FILTER (WHERE p.state = 'completed') AS completed,
           count(*) FILTER (WHERE p.state = 'cancelled') AS cancelled,
           count(*) FILTER (WHERE p.state = 'failed') AS failed,
           avg(p.ended_at - p.started_at) FILTER (WHERE p.state = 'completed') AS mean,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY p.ended_at - p.started_at)
               FILTER (WHERE p.state = 'completed') AS p95
      FROM ws.process p WHERE p.ended_at > now() - interval '1 day' GROUP BY p.workflow)
SELECT w.id AS workflow, w.name, w.version,
       coalesce(o.running, 0) AS running,
       coalesce(o.failed, 0) AS failed,
       coalesce(e.completed, 0) AS completed_last_day,
       coalesce(e.failed, 0) AS failed_last_day,
       coalesce(e.cancelled, 0) AS cancelled_last_day,
       e.mean AS mean_duration,
       e.p95 AS p95_duration
  FROM ws.workflow w
  LEFT JOIN open o ON o.workflow = w.id
  LEFT JOIN ended e ON e.workflow = w.id
 ORDER BY w.name, w.version;
COMMENT ON VIEW ws.workflow_stats IS
    'Processes at a glance, one row per workflow version: running and failed ones now, those that ended in the last day, and how long the completed ones took; reads only open processes and the last day''s ended ones';
COMMENT ON COLUMN ws.workflow_stats.workflow IS 'The workflow version''s id';
COMMENT ON COLUMN ws.workflow_stats.name IS 'The workflow''s name';
COMMENT ON COLUMN ws.workflow_stats.version IS 'The version';
COMMENT ON COLUMN ws.workflow_stats.running IS 'Its processes running now';
COMMENT ON COLUMN ws.workflow_stats.failed IS 'Its processes failed now, waiting for ws.retry or ws.cancel';
COMMENT ON COLUMN ws.workflow_stats.completed_last_day IS 'Its processes that completed in the last 24 hours';
COMMENT ON COLUMN ws.workflow_stats.failed_last_day IS 'Its processes that failed in the last 24 hours (and are still failed)';
COMMENT ON COLUMN ws.workflow_stats.cancelled_last_day IS 'Its processes cancelled in the last 24 hours';
COMMENT ON COLUMN ws.workflow_stats.mean_duration IS 'The mean duration (start to end) of the processes that completed in the last 24 hours; NULL: none';
COMMENT ON COLUMN ws.workflow_stats.p95_duration IS 'The 95th percentile of that duration; NULL: none';
