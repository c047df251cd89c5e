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
