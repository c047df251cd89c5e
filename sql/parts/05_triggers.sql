------------------------------------------------------------------------------
-- Triggers on ws's tables: the claim queue and the leases follow deleted tasks, and every backend's
-- cache of workflow graphs is dropped when a definition changes (src/graph.c)
------------------------------------------------------------------------------

CREATE FUNCTION ws_internal.task_gone() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM ws.ready;
        DELETE FROM ws.lease;
    ELSE
        DELETE FROM ws.ready r USING gone g WHERE r.action = g.action AND r.task = g.id;
        DELETE FROM ws.lease l USING gone g WHERE l.until = g.lease_until AND l.task = g.id;
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION ws_internal.task_gone() IS 'Trigger: deleted tasks leave the claim queue (ws.ready) and the leases (ws.lease)';
CREATE TRIGGER task_gone AFTER DELETE ON ws.task REFERENCING OLD TABLE AS gone
    FOR EACH STATEMENT EXECUTE FUNCTION ws_internal.task_gone();
CREATE TRIGGER task_truncated AFTER TRUNCATE ON ws.task
    FOR EACH STATEMENT EXECUTE FUNCTION ws_internal.task_gone();

CREATE FUNCTION ws_internal.definitions_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'ws_definitions_changed' LANGUAGE C;
COMMENT ON FUNCTION ws_internal.definitions_changed() IS 'Statement trigger: every backend drops its cached workflow graphs';

CREATE TRIGGER definitions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ws.workflow
    FOR EACH STATEMENT EXECUTE FUNCTION ws_internal.definitions_changed();
CREATE TRIGGER definitions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ws.node
    FOR EACH STATEMENT EXECUTE FUNCTION ws_internal.definitions_changed();
CREATE TRIGGER definitions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ws.transition
    FOR EACH STATEMENT EXECUTE FUNCTION ws_internal.definitions_changed();
CREATE TRIGGER definitions_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON ws.action
    FOR EACH STATEMENT EXECUTE FUNCTION ws_internal.definitions_changed();

