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
-- the waiting, pending and calling tasks through the partial index task_wait, the claim
-- queue ws.ready, the leases ws.lease, the last hour's events through the BRIN index event_at, the last day's ended
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
    SELECT r.action, count(*) AS n, count(*) FILTER (WHERE r.expired) AS expired
      FROM (SELECT t.action, l.until < now() AS expired
              FROM ws.lease l JOIN ws.task t ON t.id = l.task
            UNION ALL
            SELECT t.action, false FROM ws.task t WHERE t.wait = 'running') r
     GROUP BY r.action),
pending AS (
    SELECT t.action, count(*) AS n FROM ws.task t WHERE t.wait = 'pending' GROUP BY t.action),
waiting AS (
    SELECT t.action, count(*) AS n FROM ws.task t WHERE t.wait = 'waiting' GROUP BY t.action),
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

------------------------------------------------------------------------------
-- Migration: moving running processes to another version of their workflow
-- (ws.migrate, ws.migrate_all).
--
-- A process is locked as a step locks it (its tree's root first, then its own row), then
-- its active tasks (the locking order of src/engine.c: process, tasks, their ws.ready
-- rows), and the target version FOR KEY SHARE, as ws.start takes it (no node is added to
-- it meanwhile). Each active task takes the target's node of the same name (or map's),
-- with that node's action and role (ws.task copies them); a ready task's queue row
-- follows its action (a claim that read the old row re-checks the action after its lock,
-- src/claim.c). Each held token takes the target's transition with the same mapped parent,
-- mapped child and "on". Everything else of the task (state, params, due_at, lease,
-- attempts, assignee, deadline_at, instance columns) and of the process stays. The engine
-- reads a process's workflow after locking it, and caches graphs per version, so the
-- next step simply follows the new version's graph. Failed tasks move too: ws.retry may
-- run one again, from its node, which must then be a node of the process's version.
------------------------------------------------------------------------------

-- The versions and the map, checked before anything is read or locked: both versions
-- exist, are different versions of one workflow, the target is valid (as ws.start
-- requires), and map names nodes of each side.
CREATE FUNCTION ws_internal.migrate_check(source bigint, target bigint, map jsonb) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    s ws.workflow;
    t ws.workflow;
    bad text[];
    problem text;
BEGIN
    SELECT * INTO t FROM ws.workflow w WHERE w.id = target;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow % does not exist', coalesce(target::text, 'NULL')
            USING ERRCODE = '42704', HINT = 'An administrator lists the workflows in ws.workflow_overview.';
    END IF;
    SELECT * INTO s FROM ws.workflow w WHERE w.id = source;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow % does not exist', coalesce(source::text, 'NULL')
            USING ERRCODE = '42704', HINT = 'An administrator lists the workflows in ws.workflow_overview.';
    END IF;
    IF s.name <> t.name THEN
        RAISE EXCEPTION 'workflow % is not a version of workflow "%"', target, s.name
            USING ERRCODE = '22023',
                  DETAIL = format('Workflow %s is "%s" version %s; workflow %s is "%s" version %s.',
                                  s.id, s.name, s.version, target, t.name, t.version),
                  HINT = 'A process moves only to another version of its own workflow.';
    END IF;
    IF s.id = t.id THEN
        RAISE EXCEPTION 'cannot migrate from workflow "%" version % to the same version', s.name, s.version
            USING ERRCODE = '22023',
                  HINT = 'Define the workflow again (ws.define) and migrate to the new version''s id.';
    END IF;
    SELECT string_agg(v, '; ') INTO problem FROM ws_internal.validate(target) v;
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION 'workflow "%" version % is not valid', t.name, t.version
            USING ERRCODE = '55000', DETAIL = problem,
                  HINT = format('An administrator sees the problems with SELECT * FROM ws.validate(%s) and defines a corrected version.', target);
    END IF;
    IF map IS NULL OR jsonb_typeof(map) <> 'object' THEN
        RAISE EXCEPTION 'map must be a JSON object, not %', coalesce(jsonb_typeof(map), 'NULL')
            USING ERRCODE = '22023', HINT = 'map is {"old node": "new node", ...}; ''{}'' moves every task to the node of its name.';
    END IF;
    SELECT array_agg(format('%s: %s', m.key, m.value) ORDER BY m.key) INTO bad
      FROM jsonb_each(map) m WHERE jsonb_typeof(m.value) <> 'string';
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'map''s values must be node names (strings)'
            USING ERRCODE = '22023', DETAIL = 'Not a string: ' || array_to_string(bad, ', ') || '.',
                  HINT = 'map is {"old node": "new node", ...}.';
    END IF;
    SELECT array_agg(x ORDER BY x) INTO bad FROM (
        SELECT format('"%s" is not a node of version %s', m.key, s.version) AS x
          FROM jsonb_each_text(map) m
         WHERE NOT EXISTS (SELECT FROM ws.node n WHERE n.workflow = s.id AND n.name = m.key)
        UNION ALL
        SELECT format('"%s" is not a node of version %s', m.value, t.version)
          FROM jsonb_each_text(map) m
         WHERE NOT EXISTS (SELECT FROM ws.node n WHERE n.workflow = t.id AND n.name = m.value)) u;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'map names nodes that do not exist'
            USING ERRCODE = '22023', DETAIL = array_to_string(bad, '; ') || '.',
                  HINT = format('map''s keys are nodes of version %s (the process''s), its values nodes of version %s.',
                                s.version, t.version);
    END IF;
END $$;
COMMENT ON FUNCTION ws_internal.migrate_check(bigint, bigint, jsonb) IS
    'Refuses a migration between workflows that are not two versions of one workflow, to a version that is not valid, or with a map naming unknown nodes';

-- The plan for moving process p (its row as read) to version target: one line per task
-- and per held token, and the problems (a task or token without exactly one counterpart).
-- With apply and no problem, it moves them: the caller holds the process's lock.
CREATE FUNCTION ws_internal.migrate_process(p ws.process, target bigint, map jsonb, apply boolean,
                                            OUT plan text[], OUT problems text[])
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    s ws.workflow;
    t ws.workflow;
    r record;
    tokens jsonb := '{}';
    moves bigint[] := '{}';
    nodes bigint[] := '{}';
    line text;
    problem text;
BEGIN
    plan := '{}';
    problems := '{}';
    SELECT * INTO s FROM ws.workflow w WHERE w.id = p.workflow;
    SELECT * INTO t FROM ws.workflow w WHERE w.id = target;
    -- the active tasks, and the failed ones (ws.retry runs a failed task again, from its
    -- node), each with its counterparts
    FOR r IN
        SELECT k.id, k.state, k.action, on_.name AS old_name,
               concat_ws(' and ', CASE WHEN on_.call IS NOT NULL THEN 'a call activity' END,
                         CASE WHEN on_.foreach IS NOT NULL THEN 'a multi-instance node' END) AS kind,
               coalesce(map ->> on_.name, on_.name) AS new_name,
               (SELECT array_agg(n.id) FROM ws.node n
                 WHERE n.workflow = target AND n.name = coalesce(map ->> on_.name, on_.name)) AS found
          FROM ws.task k JOIN ws.node on_ ON on_.id = k.node
         WHERE k.process = p.id AND k.state IN ('waiting', 'pending', 'ready', 'running', 'failed')
         ORDER BY k.id
    LOOP
        IF r.found IS NULL THEN
            problems := problems || format('task %s "%s" (%s): version %s has no node "%s"',
                                           r.id, r.old_name, r.state, t.version, r.new_name);
        ELSE
            SELECT format('task %s "%s" (%s) -> node "%s"%s', r.id, r.old_name, r.state, r.new_name,
                          CASE WHEN n.action IS DISTINCT FROM r.action
                               THEN format(', action %s', coalesce(quote_ident(n.action), 'none')) ELSE '' END),
                   CASE WHEN concat_ws(' and ', CASE WHEN n.call IS NOT NULL THEN 'a call activity' END,
                                       CASE WHEN n.foreach IS NOT NULL THEN 'a multi-instance node' END) <> r.kind
                        THEN format('task %s "%s" (%s): "%s" is %s, node "%s" of version %s is %s',
                                    r.id, r.old_name, r.state, r.old_name,
                                    coalesce(nullif(r.kind, ''), 'neither a call activity nor a multi-instance node'),
                                    r.new_name, t.version,
                                    coalesce(nullif(concat_ws(' and ', CASE WHEN n.call IS NOT NULL THEN 'a call activity' END,
                                                              CASE WHEN n.foreach IS NOT NULL THEN 'a multi-instance node' END), ''),
                                             'neither a call activity nor a multi-instance node'))
                        WHEN r.state IN ('ready', 'running') AND r.action IS NOT NULL AND n.action IS NULL
                        THEN format('task %s "%s" (%s): node "%s" of version %s has no action for it',
                                    r.id, r.old_name, r.state, r.new_name, t.version)
                        WHEN r.state IN ('ready', 'running') AND r.action IS NOT NULL
                             AND EXISTS (SELECT FROM ws.action a WHERE a.name = n.action AND a.function IS NOT NULL)
                        THEN format('task %s "%s" (%s): node "%s" of version %s runs a SQL action, which no worker takes',
                                    r.id, r.old_name, r.state, r.new_name, t.version) END
              INTO STRICT line, problem
              FROM ws.node n WHERE n.id = r.found[1];
            IF problem IS NOT NULL THEN
                problems := problems || problem;
            ELSE
                plan := plan || line;
                moves := moves || r.id;
                nodes := nodes || r.found[1];
            END IF;
        END IF;
    END LOOP;
    -- the held tokens
    FOR r IN
        SELECT h.key AS old_id, h.value AS count, pn.name AS pname, cn.name AS cname, x."on",
               coalesce(map ->> pn.name, pn.name) AS np, coalesce(map ->> cn.name, cn.name) AS nc,
               (SELECT array_agg(y.id) FROM ws.transition y
                  JOIN ws.node a ON a.id = y.parent JOIN ws.node b ON b.id = y.child
                 WHERE y.workflow = target AND y."on" = x."on"
                   AND a.name = coalesce(map ->> pn.name, pn.name)
                   AND b.name = coalesce(map ->> cn.name, cn.name)) AS found
          FROM jsonb_each(p.tokens) h
          JOIN ws.transition x ON x.id = h.key::bigint
          JOIN ws.node pn ON pn.id = x.parent JOIN ws.node cn ON cn.id = x.child
         ORDER BY x.id
    LOOP
        IF r.found IS NULL OR cardinality(r.found) <> 1 THEN
            problems := problems || format('%s token(s) on "%s" -> "%s" (%s): version %s has %s transition "%s" -> "%s" (%s)',
                                           r.count, r.pname, r.cname, r."on", t.version,
                                           CASE WHEN r.found IS NULL THEN 'no' ELSE cardinality(r.found) || ' of the' END,
                                           r.np, r.nc, r."on");
        ELSE
            plan := plan || format('%s token(s) on "%s" -> "%s" (%s) -> "%s" -> "%s"',
                                   r.count, r.pname, r.cname, r."on", r.np, r.nc);
            tokens := jsonb_set(tokens, ARRAY[r.found[1]::text],
                                to_jsonb(coalesce((tokens ->> r.found[1]::text)::bigint, 0) + r.count::text::bigint));
        END IF;
    END LOOP;
    IF NOT apply OR cardinality(problems) > 0 THEN
        RETURN;
    END IF;
    -- move: the ready tasks' queue rows first (keyed by action), then the tasks
    FOR r IN
        SELECT k.id, k.state, k.action AS old_action, n.id AS node, n.action, n.role
          FROM unnest(moves, nodes) AS m(task, node)
          JOIN ws.task k ON k.id = m.task JOIN ws.node n ON n.id = m.node
    LOOP
        IF r.state = 'ready' AND r.old_action IS DISTINCT FROM r.action THEN
            DELETE FROM ws.ready q WHERE q.action = r.old_action AND q.task = r.id;
            INSERT INTO ws.ready (action, task) VALUES (r.action, r.id);
            IF current_setting('ws.notify') = 'on' THEN
                PERFORM pg_notify('ws_ready', r.action);
            END IF;
        END IF;
        UPDATE ws.task k SET node = r.node, action = r.action, role = r.role WHERE k.id = r.id;
    END LOOP;
    UPDATE ws.process x SET workflow = target, tokens = tokens WHERE x.id = p.id;
    IF current_setting('ws.history') <> 'none' THEN
        INSERT INTO ws.event (process, task, state, actor, detail)
        VALUES (p.id, NULL, 'migrated', ws_internal.caller(),
                format('Migrated from workflow "%s" version %s (id %s) to version %s (id %s).',
                       s.name, s.version, s.id, t.version, t.id));
    END IF;
END $$;
COMMENT ON FUNCTION ws_internal.migrate_process(ws.process, bigint, jsonb, boolean) IS
    'The plan and the problems of moving a process to another version; with apply and no problem, moves it (its lock held)';

-- Lock process id as a step does (its tree's root first) and return its row as locked.
CREATE FUNCTION ws_internal.migrate_lock(id bigint) RETURNS ws.process
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    p ws.process;
BEGIN
    SELECT * INTO p FROM ws.process x WHERE x.id = id;
    IF p.root IS NOT NULL THEN
        PERFORM FROM ws.process x WHERE x.id = p.root FOR UPDATE;
    END IF;
    SELECT * INTO p FROM ws.process x WHERE x.id = id FOR UPDATE;
    -- its tasks, before their ws.ready rows (a claim holds a task row only for a moment)
    PERFORM FROM ws.task k WHERE k.process = id AND k.state IN ('waiting', 'pending', 'ready', 'running')
      ORDER BY k.id FOR UPDATE;
    RETURN p;
END $$;
COMMENT ON FUNCTION ws_internal.migrate_lock(bigint) IS
    'Locks a process as a step does (its tree''s root first), then its active tasks; returns its row';

CREATE FUNCTION ws_internal.migrate(process bigint, workflow bigint, map jsonb, dry_run boolean)
RETURNS SETOF text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    p ws.process;
    w ws.workflow;
    r record;
BEGIN
    IF dry_run IS NULL THEN
        RAISE EXCEPTION 'dry_run must not be null' USING ERRCODE = '22004';
    END IF;
    SELECT * INTO p FROM ws.process x WHERE x.id = process;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'process % does not exist', coalesce(process::text, 'NULL') USING ERRCODE = '42704';
    END IF;
    PERFORM ws_internal.migrate_check(p.workflow, workflow, map);
    PERFORM FROM ws.workflow x WHERE x.id = workflow FOR KEY SHARE;
    p := ws_internal.migrate_lock(process);
    SELECT * INTO w FROM ws.workflow x WHERE x.id = p.workflow;
    IF p.workflow = workflow THEN
        RAISE EXCEPTION 'process % already runs workflow "%" version %', process, w.name, w.version
            USING ERRCODE = '22023', HINT = 'It was migrated meanwhile.';
    END IF;
    IF p.state NOT IN ('running', 'failed') THEN
        RAISE EXCEPTION 'process % is %', process, p.state
            USING ERRCODE = '55000', DETAIL = 'Only a running or failed process moves to another version.',
                  HINT = 'An ended process stays with the version it ran.';
    END IF;
    r := ws_internal.migrate_process(p, workflow, map, NOT dry_run);
    IF cardinality(r.problems) > 0 THEN
        IF dry_run THEN
            RETURN QUERY SELECT 'problem: ' || x FROM unnest(r.problems) x;
            RETURN;
        END IF;
        SELECT * INTO w FROM ws.workflow x WHERE x.id = workflow;
        RAISE EXCEPTION 'process % cannot move to workflow "%" version %', process, w.name, w.version
            USING ERRCODE = '55000', DETAIL = array_to_string(r.problems, E'\n'),
                  HINT = 'Name the new node of each in map: {"old node": "new node"}; ws.migrate(..., dry_run => true) shows the plan.';
    END IF;
    RETURN QUERY SELECT x FROM unnest(r.plan) x;
END $$;
COMMENT ON FUNCTION ws_internal.migrate(bigint, bigint, jsonb, boolean) IS 'ws.migrate''s implementation';

CREATE FUNCTION ws.migrate(process bigint, workflow bigint, map jsonb DEFAULT '{}', dry_run boolean DEFAULT false)
RETURNS SETOF text AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.migrate(bigint, bigint, jsonb, boolean) IS
    'Moves a running or failed process to another version of its workflow: its active tasks to the nodes of the same name (or map''s: {"old node": "new node"}), its held tokens to the matching transitions; returns the plan. Any task or token without exactly one counterpart: nothing moves (55000 listing them). dry_run: returns the plan, or the problems, and changes nothing';

CREATE FUNCTION ws_internal.migrate_all(from_workflow bigint, to_workflow bigint, map jsonb,
                                        dry_run boolean, batch integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    s ws.workflow;
    t ws.workflow;
    p ws.process;
    r record;
    problems text[] := '{}';
    total bigint;
    n bigint := 0;
    id bigint;
BEGIN
    IF dry_run IS NULL THEN
        RAISE EXCEPTION 'dry_run must not be null' USING ERRCODE = '22004';
    END IF;
    IF batch <= 0 THEN
        RAISE EXCEPTION 'batch must be more than zero, not %', batch
            USING ERRCODE = '22023',
                  HINT = 'ws.migrate_all(from, to, batch => 1000) moves up to 1000 processes; call it until it returns 0. NULL moves all at once.';
    END IF;
    PERFORM ws_internal.migrate_check(from_workflow, to_workflow, map);
    SELECT * INTO s FROM ws.workflow w WHERE w.id = from_workflow;
    SELECT * INTO t FROM ws.workflow w WHERE w.id = to_workflow;
    -- every process of the version first, unlocked: any problem, nothing moves
    FOR p IN
        SELECT * FROM ws.process x WHERE x.workflow = from_workflow AND x.state IN ('running', 'failed')
         ORDER BY x.id
    LOOP
        r := ws_internal.migrate_process(p, to_workflow, map, false);
        problems := problems || ARRAY(SELECT format('process %s: %s', p.id, y) FROM unnest(r.problems) y);
    END LOOP;
    IF cardinality(problems) > 0 THEN
        RAISE EXCEPTION 'processes of workflow "%" version % cannot move to version %', s.name, s.version, t.version
            USING ERRCODE = '55000', DETAIL = array_to_string(problems, E'\n'),
                  HINT = 'Name the new node of each in map: {"old node": "new node"}; nothing moved.';
    END IF;
    SELECT count(*) INTO total FROM ws.process x
     WHERE x.workflow = from_workflow AND x.state IN ('running', 'failed');
    IF dry_run THEN
        RETURN least(total, coalesce(batch, total));
    END IF;
    PERFORM FROM ws.workflow w WHERE w.id = to_workflow FOR KEY SHARE;
    -- then a batch, tree by tree (root first) in ascending id, as a batch of steps locks
    FOR id IN
        SELECT x.id FROM ws.process x WHERE x.workflow = from_workflow AND x.state IN ('running', 'failed')
         ORDER BY coalesce(x.root, x.id), x.root NULLS FIRST, x.id
         LIMIT batch
    LOOP
        p := ws_internal.migrate_lock(id);
        -- moved on meanwhile (ended, or migrated by another session): not ours any more
        CONTINUE WHEN p.workflow <> from_workflow OR p.state NOT IN ('running', 'failed');
        r := ws_internal.migrate_process(p, to_workflow, map, true);
        IF cardinality(r.problems) > 0 THEN
            RAISE EXCEPTION 'process % cannot move to workflow "%" version %', id, t.name, t.version
                USING ERRCODE = '55000', DETAIL = array_to_string(r.problems, E'\n'),
                      HINT = 'It moved on while the others were checked; nothing moved in this call.';
        END IF;
        n := n + 1;
    END LOOP;
    RAISE NOTICE 'moved % processes of workflow "%" from version % to version %; % left', n, s.name, s.version, t.version, total - n;
    RETURN n;
END $$;
COMMENT ON FUNCTION ws_internal.migrate_all(bigint, bigint, jsonb, boolean, integer) IS 'ws.migrate_all''s implementation';

CREATE FUNCTION ws.migrate_all(from_workflow bigint, to_workflow bigint, map jsonb DEFAULT '{}',
                               dry_run boolean DEFAULT false, batch integer DEFAULT NULL)
RETURNS bigint AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.migrate_all(bigint, bigint, jsonb, boolean, integer) IS
    'Checks every running or failed process of version from_workflow for moving to to_workflow (any problem: 55000 listing them, nothing moves), then moves up to batch of them (all when NULL) as ws.migrate does; returns how many. Call it until it returns 0, committing between calls, so that not every process lock is held at once. dry_run: checks the same way, returns how many this call would move';
