------------------------------------------------------------------------------
-- Timers with pg_cron
--
-- pg_cron 1.4 has minute resolution, and a newly scheduled job first runs at the next
-- minute boundary. So ws.schedule_tick() schedules ws.run_ticks() every minute, and
-- ws.run_ticks() runs for (almost) the minute: it calls ws.tick(), commits, and sleeps
-- until the next due timer or lease end, at most `every` seconds, until the minute is over.
-- A timer therefore fires within about `every` seconds of its due time.
------------------------------------------------------------------------------

-- No SET search_path here: a procedure with a SET clause cannot COMMIT. It is not
-- SECURITY DEFINER (it runs as whoever calls or schedules it) and qualifies what it calls.
CREATE PROCEDURE ws.run_ticks(seconds numeric DEFAULT 58, every numeric DEFAULT 0.25)
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    stop timestamptz := pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => seconds);
    next timestamptz;
    moved integer;
    nap float8;
BEGIN
    IF seconds IS NULL OR seconds < 0 OR every IS NULL OR every <= 0 THEN
        RAISE EXCEPTION 'seconds must be zero or more and every more than zero'
            USING ERRCODE = '22023', HINT = 'CALL ws.run_ticks(58, 0.25) runs ticks for 58 seconds, 4 a second at most.';
    END IF;
    -- a hot standby ticks nothing: ws.tick writes, and the primary's ticks reach it anyway
    IF pg_catalog.pg_is_in_recovery() THEN
        RETURN;
    END IF;
    LOOP
        -- ws dropped meanwhile (this code runs on from the function cache): stop cleanly,
        -- also when the drop commits while ws.tick() waits for its tables
        EXIT WHEN NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'ws');
        BEGIN
            moved := ws.tick();
            SELECT least((SELECT pg_catalog.min(due_at) FROM ws.task WHERE wait = 'waiting'),
                         (SELECT pg_catalog.min(until) FROM ws.lease),
                         (SELECT pg_catalog.min(deadline_at) FROM ws.task WHERE deadline_open))
              INTO next;
            -- still due after a tick that moved nothing: a timer ws.tick leaves alone (a task
            -- of a failed process, or one whose process another session holds); wake at
            -- the usual pace, not at once
            IF moved = 0 AND next <= pg_catalog.clock_timestamp() THEN
                next := NULL;
            END IF;
        EXCEPTION WHEN undefined_table OR undefined_function OR invalid_schema_name THEN
            EXIT WHEN NOT EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = 'ws');
            RAISE;
        END;
        COMMIT;
        EXIT WHEN pg_catalog.clock_timestamp() >= stop;
        nap := least(every, pg_catalog.date_part('epoch', stop - pg_catalog.clock_timestamp()),
                     greatest(0.01, coalesce(pg_catalog.date_part('epoch', next - pg_catalog.clock_timestamp()), every)));
        PERFORM pg_catalog.pg_sleep(nap);
        COMMIT;
    END LOOP;
END $$;
COMMENT ON PROCEDURE ws.run_ticks(numeric, numeric) IS
    'Calls ws.tick() in its own transactions for `seconds`, sleeping until the next due timer (at most `every` seconds) between rounds; what the pg_cron job runs';

-- Not SECURITY DEFINER: the job is scheduled as, and runs as, the role that calls it.
-- The job's command calls ws.run_ticks() while ws is installed; once ws has been dropped
-- it removes itself (when pg_cron lives in this database) or does nothing (when it runs
-- here from pg_cron's own database, where it must be unscheduled by hand).
CREATE FUNCTION ws_internal.schedule_tick() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    cron_db text := coalesce(current_setting('cron.database_name', true), 'postgres');
    preloaded boolean := current_setting('shared_preload_libraries') ~ '(^|[\s,])pg_cron($|[\s,])';
    host text := coalesce(current_setting('cron.host', true), 'localhost');
    command text := 'DO $ws$ BEGIN '
        || 'IF EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = ''ws'') THEN CALL ws.run_ticks(); '
        || 'ELSIF pg_catalog.to_regclass(''cron.job'') IS NOT NULL THEN '
        || 'PERFORM cron.unschedule(jobid) FROM cron.job WHERE jobname = ''ws-tick'' '
        || 'AND database = pg_catalog.current_database(); '
        || 'END IF; END $ws$';
BEGIN
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') THEN
        IF preloaded AND cron_db <> current_database() THEN
            RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
                USING ERRCODE = '55000',
                      DETAIL = format('pg_cron runs jobs from database "%s" (cron.database_name) only.', cron_db),
                      HINT = format('In database "%s", with pg_cron installed there, run: SELECT cron.schedule_in_database(%L, %L, %L, %L); (unschedule it there if you drop ws).',
                                    cron_db, 'ws-tick-' || current_database(), '* * * * *', command,
                                    current_database());
        END IF;
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = '55000',
                  HINT = CASE WHEN preloaded
                              THEN 'pg_cron is preloaded: CREATE EXTENSION pg_cron here, then call ws.schedule_tick() again.'
                              ELSE format('Add pg_cron to shared_preload_libraries, with cron.database_name = %L and cron.use_background_workers = on, restart, CREATE EXTENSION pg_cron, then call ws.schedule_tick() again. Without pg_cron, run CALL ws.run_ticks() from any scheduler every minute.',
                                          current_database()) END;
    END IF;
    IF coalesce(current_setting('cron.use_background_workers', true), 'off') <> 'on'
       AND host NOT LIKE '/%' AND current_setting('listen_addresses') = '' THEN
        RAISE WARNING 'pg_cron cannot run the job: it connects over TCP to "%", and this server listens on no TCP address', host
            USING DETAIL = 'cron.use_background_workers is off, so pg_cron runs each job over a new connection; listen_addresses is empty.',
                  HINT = 'Set cron.use_background_workers = on in postgresql.conf (and max_worker_processes high enough), or a listen_addresses, and restart.';
    END IF;
    PERFORM cron.schedule('ws-tick', '* * * * *', command);
END $$;
COMMENT ON FUNCTION ws_internal.schedule_tick() IS 'ws.schedule_tick''s implementation';

CREATE FUNCTION ws.schedule_tick() RETURNS void AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.schedule_tick() IS
    'Schedules the timer work (ws.run_ticks every minute) with pg_cron in this database; a clear error where pg_cron is absent, a warning where it cannot connect';

CREATE FUNCTION ws_internal.unschedule_tick() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION 'pg_cron is not installed in database "%"', current_database()
            USING ERRCODE = '55000',
                  HINT = 'Nothing of ws is scheduled here; where pg_cron lives in another database, remove the job there with cron.unschedule.';
    END IF;
    SELECT count(cron.unschedule(jobid)) INTO n FROM cron.job
     WHERE jobname = 'ws-tick' AND database = current_database();
    IF n = 0 THEN
        RAISE NOTICE 'no ws-tick job of role "%" is scheduled in database "%"', current_user, current_database();
    END IF;
END $$;
COMMENT ON FUNCTION ws_internal.unschedule_tick() IS 'ws.unschedule_tick''s implementation';

CREATE FUNCTION ws.unschedule_tick() RETURNS void AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.unschedule_tick() IS 'Removes the pg_cron job ws.schedule_tick made in this database';
