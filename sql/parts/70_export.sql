------------------------------------------------------------------------------
-- JSON export: the inverse of ws.define
------------------------------------------------------------------------------

-- Keys with their default value are left out. ws.define infers start (end) nodes only when
-- no node is marked start (end), so a workflow that has start and end nodes comes back
-- exactly; one without any (which ws.validate refuses) would get inferred ones.
CREATE FUNCTION ws_internal.export(workflow bigint) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    w ws.workflow;
BEGIN
    SELECT * INTO w FROM ws.workflow x WHERE x.id = workflow;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow % does not exist', workflow
            USING ERRCODE = '42704', HINT = 'See SELECT id, name, version FROM ws.workflow_overview.';
    END IF;
    RETURN jsonb_build_object('name', w.name, 'params', w.params)
        || CASE WHEN w.description IS NOT NULL THEN jsonb_build_object('description', w.description) ELSE '{}' END
        || jsonb_build_object('nodes', coalesce((
               SELECT jsonb_agg(jsonb_build_object('name', n.name)
                   || CASE WHEN n.is_start THEN '{"start": true}'::jsonb ELSE '{}' END
                   || CASE WHEN n.is_end THEN '{"end": true}'::jsonb ELSE '{}' END
                   || CASE WHEN n.action IS NOT NULL THEN jsonb_build_object('action', n.action) ELSE '{}' END
                   || CASE WHEN n.role IS NOT NULL THEN jsonb_build_object('role', n.role) ELSE '{}' END
                   || CASE WHEN n."join" <> 'and' THEN jsonb_build_object('join', n."join") ELSE '{}' END
                   || CASE WHEN n.split <> 'and' THEN jsonb_build_object('split', n.split) ELSE '{}' END
                   || CASE WHEN n.params <> '{}' THEN jsonb_build_object('params', n.params) ELSE '{}' END
                   || CASE WHEN n.wait IS NOT NULL THEN jsonb_build_object('wait', n.wait::text) ELSE '{}' END
                   || CASE WHEN n.wait_until IS NOT NULL THEN jsonb_build_object('wait_until', n.wait_until::text)
                           ELSE '{}' END
                   || CASE WHEN n.retries <> 0 THEN jsonb_build_object('retries', n.retries) ELSE '{}' END
                   || CASE WHEN n.due IS NOT NULL THEN jsonb_build_object('due', n.due::text) ELSE '{}' END
                   || CASE WHEN n.message IS NOT NULL THEN jsonb_build_object('message', n.message) ELSE '{}' END
                   || CASE WHEN n.correlate IS NOT NULL THEN jsonb_build_object('correlate', n.correlate::text)
                           ELSE '{}' END
                   || CASE WHEN n.deadline IS NOT NULL THEN jsonb_build_object('deadline', n.deadline::text) ELSE '{}' END
                   || CASE WHEN n.call IS NOT NULL THEN jsonb_build_object('call', n.call) ELSE '{}' END
                   || CASE WHEN n.foreach IS NOT NULL THEN jsonb_build_object('foreach', n.foreach::text) ELSE '{}' END
                   || CASE WHEN n.item IS NOT NULL THEN jsonb_build_object('item', n.item) ELSE '{}' END
                   || CASE WHEN n.sequential THEN '{"sequential": true}'::jsonb ELSE '{}' END
                   || CASE WHEN n."as" IS NOT NULL THEN jsonb_build_object('as', n."as") ELSE '{}' END
                   ORDER BY n.id)
                 FROM ws.node n WHERE n.workflow = w.id), '[]'))
        || jsonb_build_object('transitions', coalesce((
               SELECT jsonb_agg(jsonb_build_object('from', a.name, 'to', b.name)
                   || CASE WHEN t.condition IS NOT NULL THEN jsonb_build_object('condition', t.condition::text)
                           ELSE '{}' END
                   || CASE WHEN t.priority <> 0 THEN jsonb_build_object('priority', t.priority) ELSE '{}' END
                   || CASE WHEN t."on" <> 'success' THEN jsonb_build_object('on', t."on") ELSE '{}' END
                   ORDER BY t.id)
                 FROM ws.transition t JOIN ws.node a ON a.id = t.parent JOIN ws.node b ON b.id = t.child
                WHERE t.workflow = w.id), '[]'));
END $$;
COMMENT ON FUNCTION ws_internal.export(bigint) IS 'ws.export''s implementation';

CREATE FUNCTION ws.export(workflow bigint) RETURNS jsonb AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.export(bigint) IS
    'The workflow as the JSON document ws.define takes: ws.define(ws.export(w)) defines the next version, equal to w';

CREATE FUNCTION ws_internal.export(workflow text) RETURNS jsonb
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT ws_internal.export(ws_internal.workflow_id(workflow))
$$;
COMMENT ON FUNCTION ws_internal.export(text) IS 'ws.export''s implementation, by name';

CREATE FUNCTION ws.export(workflow text) RETURNS jsonb AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.export(text) IS 'The newest version of the named workflow as the JSON document ws.define takes';
