-- ws 0.2.0 -> 0.3.0: the claim queue moves out of ws.task into ws.ready (issue 7: claims
-- no longer slow down as the history grows). ALTER EXTENSION ws UPDATE runs it; it keeps
-- the data, and the ready tasks of 0.2.0 stay claimable.
\echo Use "ALTER EXTENSION ws UPDATE TO '0.3.0'" to load this file. \quit

CREATE TABLE ws.ready (
    action      text NOT NULL,
    task        bigint NOT NULL,
    PRIMARY KEY (action, task)
) WITH (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
        autovacuum_vacuum_cost_delay = 0);
COMMENT ON TABLE ws.ready IS 'The claim queue: the ready tasks by action, kept by the engine';
INSERT INTO ws.ready (action, task)
SELECT action, id FROM ws.task WHERE state = 'ready' AND action IS NOT NULL;
SELECT pg_catalog.pg_extension_config_dump('ws.ready', '');
REVOKE ALL ON ws.ready FROM PUBLIC;

CREATE FUNCTION ws.task_gone() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM ws.ready;
    ELSE
        DELETE FROM ws.ready r USING gone g WHERE r.action = g.action AND r.task = g.id;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ws.task_gone() IS 'Trigger: deleted tasks leave the claim queue (ws.ready)';
REVOKE ALL ON FUNCTION ws.task_gone() FROM PUBLIC;
CREATE TRIGGER task_gone AFTER DELETE ON ws.task REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION ws.task_gone();
CREATE TRIGGER task_truncated AFTER TRUNCATE ON ws.task
    FOR EACH STATEMENT EXECUTE FUNCTION ws.task_gone();

DROP INDEX ws.task_ready;
-- the engine's statements are planned without bitmap scans (see ws--0.3.0.sql)
ALTER FUNCTION ws.start(bigint, jsonb) SET enable_bitmapscan = off;
ALTER FUNCTION ws.start(text, jsonb) SET enable_bitmapscan = off;
ALTER FUNCTION ws.claim(text[], text, integer, interval) SET enable_bitmapscan = off;
ALTER FUNCTION ws.complete(bigint, jsonb, integer) SET enable_bitmapscan = off;
ALTER FUNCTION ws.fail(bigint, text, integer) SET enable_bitmapscan = off;
ALTER FUNCTION ws.heartbeat(bigint, interval, integer) SET enable_bitmapscan = off;
ALTER FUNCTION ws.progress(bigint, numeric) SET enable_bitmapscan = off;
ALTER FUNCTION ws.fill(bigint, jsonb) SET enable_bitmapscan = off;
ALTER FUNCTION ws.cancel(bigint, text) SET enable_bitmapscan = off;
ALTER FUNCTION ws.retry(bigint) SET enable_bitmapscan = off;
ALTER FUNCTION ws.tick() SET enable_bitmapscan = off;

-- ws.complete_batch: many completions in one call (three statements instead of three per task)
CREATE FUNCTION ws.complete_batch(tasks bigint[], results jsonb[] DEFAULT NULL,
                                  attempts integer[] DEFAULT NULL) RETURNS integer
    AS 'MODULE_PATHNAME', 'ws_complete_batch' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp SET enable_seqscan = off SET jit = off
    SET enable_bitmapscan = off;
COMMENT ON FUNCTION ws.complete_batch(bigint[], jsonb[], integer[]) IS
    'ws.complete of every task in tasks, in order, as one call that does all or nothing: results[i] and attempts[i] go with tasks[i] (NULL: {} and no attempt check). Returns how many tasks it completed';

REVOKE ALL ON FUNCTION ws.complete_batch(bigint[], jsonb[], integer[]) FROM PUBLIC;
CREATE OR REPLACE FUNCTION ws.grant_user(role name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = role) THEN
        RAISE EXCEPTION 'role "%" does not exist', role USING ERRCODE = '42704';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA ws TO %I', role);
    EXECUTE format('GRANT SELECT ON ws.my_tasks TO %I', role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION ws.start(bigint, jsonb), ws.start(text, jsonb), '
                   'ws.claim(text[], text, integer, interval), ws.complete(bigint, jsonb, integer), '
                   'ws.complete_batch(bigint[], jsonb[], integer[]), '
                   'ws.fail(bigint, text, integer), ws.heartbeat(bigint, interval, integer), '
                   'ws.progress(bigint, numeric), ws.fill(bigint, jsonb) TO %I', role);
END $$;

-- Roles granted before the update get what ws.grant_user and ws.grant_admin now grant:
-- who may call ws.complete may call ws.complete_batch, who may read ws.task may read
-- ws.ready.
DO $$
DECLARE
    g text;
BEGIN
    FOR g IN
        SELECT format('GRANT EXECUTE ON FUNCTION ws.complete_batch(bigint[], jsonb[], integer[]) TO %s',
                      a.grantee::regrole)
          FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) a
         WHERE p.oid = 'ws.complete(bigint, jsonb, integer)'::pg_catalog.regprocedure
           AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
        UNION
        SELECT format('GRANT SELECT ON ws.ready TO %s', a.grantee::regrole)
          FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
         WHERE c.oid = 'ws.task'::pg_catalog.regclass
           AND a.privilege_type = 'SELECT' AND a.grantee <> 0 AND a.grantee <> c.relowner
    LOOP
        EXECUTE g;
    END LOOP;
END
$$;
