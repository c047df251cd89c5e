------------------------------------------------------------------------------
-- A whole workflow from one JSON document, checked and validated as it is stored
------------------------------------------------------------------------------

-- The whole document is checked value by value as it is stored, then validated as a
-- whole; any problem raises, and the raise undoes everything this call stored.
CREATE FUNCTION ws_internal.define(doc jsonb) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    wf bigint;
    n jsonb;
    t jsonb;
    i integer := 0;
    what text;
    any_start boolean;
    any_end boolean;
    problems text;
BEGIN
    IF doc IS NULL THEN
        RAISE EXCEPTION 'workflow document must not be null'
            USING ERRCODE = '22004', HINT = 'Pass a document such as {"name": "example", "nodes": [{"name": "first"}]}.';
    END IF;
    PERFORM ws_internal.keys(doc, ARRAY['name', 'params', 'description', 'nodes', 'transitions'], 'the workflow document');
    IF jsonb_typeof(doc->'name') IS DISTINCT FROM 'string' THEN
        RAISE EXCEPTION 'the workflow document needs a "name" string'
            USING ERRCODE = '22023', HINT = 'Add "name": "conference" to the document.';
    END IF;
    IF jsonb_typeof(doc->'nodes') IS DISTINCT FROM 'array' OR jsonb_array_length(doc->'nodes') = 0 THEN
        RAISE EXCEPTION 'the workflow document needs a non-empty "nodes" array'
            USING ERRCODE = '22023', HINT = 'Add "nodes": [{"name": "first"}, ...] to the document.';
    END IF;
    IF doc ? 'transitions' AND jsonb_typeof(doc->'transitions') <> 'array' THEN
        RAISE EXCEPTION '"transitions" must be an array'
            USING ERRCODE = '22023', HINT = 'Write "transitions": [{"from": "first", "to": "second"}, ...].';
    END IF;
    wf := ws_internal.create_workflow(doc->>'name', doc->'params',
                                      ws_internal.text_value(doc->'description', 'the workflow''s description'));
    FOR n IN SELECT value FROM jsonb_array_elements(doc->'nodes') LOOP
        i := i + 1;
        PERFORM ws_internal.keys(n, ARRAY['name', 'action', 'role', 'start', 'end', 'join', 'split', 'params',
                                          'wait', 'wait_until', 'retries', 'due', 'message', 'correlate',
                                          'deadline', 'call', 'foreach', 'item', 'sequential', 'as'],
                                    format('node %s', i));
        IF jsonb_typeof(n->'name') IS DISTINCT FROM 'string' THEN
            RAISE EXCEPTION 'node % needs a "name" string', i
                USING ERRCODE = '22023', HINT = 'Name every node: {"name": "Collect papers", ...}.';
        END IF;
        what := format('node "%s"', n->>'name');
        PERFORM ws_internal.add_node(wf, n->>'name',
                    ws_internal.text_value(n->'action', 'action of ' || what),
                    ws_internal.text_value(n->'role', 'role of ' || what)::name,
                    ws_internal.boolean_value(n->'start', 'start of ' || what),
                    ws_internal.boolean_value(n->'end', 'end of ' || what),
                    ws_internal.gate(ws_internal.text_value(n->'join', 'join of ' || what), 'join of ' || what),
                    ws_internal.gate(ws_internal.text_value(n->'split', 'split of ' || what), 'split of ' || what),
                    n->'params',
                    ws_internal.interval_value(ws_internal.text_value(n->'wait', 'wait of ' || what), 'wait of ' || what),
                    ws_internal.text_value(n->'wait_until', 'wait_until of ' || what),
                    ws_internal.integer_value(n->'retries', 'retries of ' || what, 0),
                    ws_internal.interval_value(ws_internal.text_value(n->'due', 'due of ' || what), 'due of ' || what),
                    ws_internal.text_value(n->'message', 'message of ' || what),
                    ws_internal.text_value(n->'correlate', 'correlate of ' || what),
                    ws_internal.interval_value(ws_internal.text_value(n->'deadline', 'deadline of ' || what),
                                               'deadline of ' || what),
                    ws_internal.text_value(n->'call', 'call of ' || what),
                    ws_internal.text_value(n->'foreach', 'foreach of ' || what),
                    ws_internal.text_value(n->'item', 'item of ' || what),
                    ws_internal.boolean_value(n->'sequential', 'sequential of ' || what),
                    ws_internal.text_value(n->'as', 'as of ' || what));
    END LOOP;
    i := 0;
    FOR t IN SELECT value FROM jsonb_array_elements(coalesce(doc->'transitions', '[]')) LOOP
        i := i + 1;
        PERFORM ws_internal.keys(t, ARRAY['from', 'to', 'condition', 'priority', 'on'], format('transition %s', i));
        IF jsonb_typeof(t->'from') IS DISTINCT FROM 'string' OR jsonb_typeof(t->'to') IS DISTINCT FROM 'string' THEN
            RAISE EXCEPTION 'transition % needs "from" and "to" node names', i
                USING ERRCODE = '22023', HINT = 'Write {"from": "Collect papers", "to": "Publicize"}.';
        END IF;
        what := format('transition "%s" -> "%s"', t->>'from', t->>'to');
        PERFORM ws_internal.add_transition(wf, t->>'from', t->>'to',
                    ws_internal.jsonpath_value(ws_internal.text_value(t->'condition', 'condition of ' || what),
                                               'condition of ' || what, true),
                    ws_internal.integer_value(t->'priority', 'priority of ' || what, NULL),
                    ws_internal.text_value(t->'on', 'on of ' || what));
    END LOOP;
    -- no node marked start: those without incoming transitions; likewise for end
    SELECT bool_or(is_start), bool_or(is_end) INTO any_start, any_end FROM ws.node WHERE workflow = wf;
    IF NOT any_start THEN
        UPDATE ws.node n SET is_start = true
         WHERE n.workflow = wf AND NOT EXISTS (SELECT FROM ws.transition x WHERE x.workflow = wf AND x.child = n.id);
    END IF;
    IF NOT any_end THEN
        UPDATE ws.node n SET is_end = true
         WHERE n.workflow = wf AND NOT EXISTS (SELECT FROM ws.transition x WHERE x.workflow = wf AND x.parent = n.id);
    END IF;
    SELECT string_agg(p, E'\n') INTO problems FROM ws_internal.validate(wf) p;
    IF problems IS NOT NULL THEN
        RAISE EXCEPTION 'workflow "%" is not valid', doc->>'name'
            USING ERRCODE = '22023', DETAIL = problems,
                  HINT = 'Nothing was stored. Fix the document and define it again.';
    END IF;
    RETURN wf;
END $$;
COMMENT ON FUNCTION ws_internal.define(jsonb) IS 'ws.define''s implementation';

CREATE FUNCTION ws.define(doc jsonb) RETURNS bigint AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.define(jsonb) IS
    'Defines a whole workflow from one JSON document, all or nothing: an invalid one (see ws.validate) is refused. Returns the workflow id';
