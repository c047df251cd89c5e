------------------------------------------------------------------------------
-- Definitions: workflows, nodes, transitions, actions, validation
--
-- Every public function here is a C entry (ws_call, src/calls.c) into its twin of the
-- same name in ws_internal, so that errors reach the user without ws's internal
-- context. Values of a definition are checked by the ws_internal helpers below, which
-- raise 22023 naming the node or transition, with a hint listing what is allowed.
------------------------------------------------------------------------------

CREATE FUNCTION ws_internal.object(value jsonb, what text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
BEGIN
    IF value IS NULL OR jsonb_typeof(value) = 'null' THEN
        RETURN '{}'::jsonb;
    END IF;
    IF jsonb_typeof(value) <> 'object' THEN
        RAISE EXCEPTION '% must be a JSON object, not %', what, jsonb_typeof(value)
            USING ERRCODE = '22023', HINT = 'Pass an object such as {"key": 1}, or {}.';
    END IF;
    RETURN value;
END $$;
COMMENT ON FUNCTION ws_internal.object(jsonb, text) IS 'value, or {} for NULL; refuses what is not an object';

CREATE FUNCTION ws_internal.text_value(value jsonb, what text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
BEGIN
    IF value IS NULL OR jsonb_typeof(value) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(value) <> 'string' THEN
        RAISE EXCEPTION '% must be a string, not %', what, value
            USING ERRCODE = '22023', HINT = 'Write it in double quotes.';
    END IF;
    RETURN value #>> '{}';
END $$;
COMMENT ON FUNCTION ws_internal.text_value(jsonb, text) IS 'A JSON string as text (NULL for null or absent); refuses other JSON';

CREATE FUNCTION ws_internal.boolean_value(value jsonb, what text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
BEGIN
    IF value IS NULL OR jsonb_typeof(value) = 'null' THEN
        RETURN false;
    END IF;
    IF jsonb_typeof(value) <> 'boolean' THEN
        RAISE EXCEPTION '% must be true or false, not %', what, value
            USING ERRCODE = '22023', HINT = 'Write true or false, without quotes.';
    END IF;
    RETURN value::boolean;
END $$;
COMMENT ON FUNCTION ws_internal.boolean_value(jsonb, text) IS 'A JSON boolean (false for null or absent); refuses other JSON';

CREATE FUNCTION ws_internal.integer_value(value jsonb, what text, minimum integer) RETURNS integer
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
BEGIN
    IF value IS NULL OR jsonb_typeof(value) = 'null' THEN
        RETURN coalesce(minimum, 0);
    END IF;
    IF jsonb_typeof(value) <> 'number' OR value::numeric <> trunc(value::numeric)
       OR value::numeric NOT BETWEEN coalesce(minimum, -2147483648) AND 2147483647 THEN
        RAISE EXCEPTION '% must be an integer%, not %', what,
            CASE WHEN minimum IS NOT NULL THEN format(' of %s or more', minimum) ELSE '' END, value
            USING ERRCODE = '22023', HINT = 'Write a whole number without quotes, such as 3.';
    END IF;
    RETURN value::integer;
END $$;
COMMENT ON FUNCTION ws_internal.integer_value(jsonb, text, integer) IS
    'A JSON integer of minimum or more (minimum NULL: any; 0 or minimum for null or absent); refuses other JSON';

CREATE FUNCTION ws_internal.gate(value text, what text) RETURNS ws.gate
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
BEGIN
    IF value IS NULL THEN
        RETURN 'and';
    END IF;
    IF lower(value) IN ('and', 'xor', 'or') THEN
        RETURN lower(value)::ws.gate;
    END IF;
    RAISE EXCEPTION '% must be and, xor or or, not "%"', what, value
        USING ERRCODE = '22023',
              HINT = 'and: every transition (join: waits for all); xor: exactly one (join: fires on each); or: those that hold (join: a synchronizing merge). Any case is accepted.';
END $$;
COMMENT ON FUNCTION ws_internal.gate(text, text) IS 'A gate from its name in any case (and when NULL); refuses other names';

CREATE FUNCTION ws_internal.interval_value(value text, what text) RETURNS interval
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
BEGIN
    RETURN value::interval;
EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR interval_field_overflow THEN
    RAISE EXCEPTION '% must be an interval, not "%"', what, value
        USING ERRCODE = '22023', HINT = 'Write an interval such as ''2 days'', ''1 hour 30 minutes'' or ''PT90M''.';
END $$;
COMMENT ON FUNCTION ws_internal.interval_value(text, text) IS 'Text as an interval (NULL for NULL); refuses what is none';

CREATE FUNCTION ws_internal.is_predicate(path jsonpath) RETURNS boolean
    AS 'MODULE_PATHNAME', 'ws_is_predicate' LANGUAGE C IMMUTABLE STRICT;
COMMENT ON FUNCTION ws_internal.is_predicate(jsonpath) IS
    'Is the jsonpath a predicate (a comparison, &&, ||, !, exists, like_regex, starts with, is unknown), which yields true or false?';

CREATE FUNCTION ws_internal.jsonpath_value(value text, what text, predicate boolean) RETURNS jsonpath
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    path jsonpath;
BEGIN
    IF value IS NULL THEN
        RETURN NULL;
    END IF;
    BEGIN
        path := value::jsonpath;
    EXCEPTION WHEN syntax_error OR data_exception THEN
        RAISE EXCEPTION '% is not a valid jsonpath: "%"', what, value
            USING ERRCODE = '22023', DETAIL = SQLERRM || '.',
                  HINT = CASE WHEN predicate THEN 'A condition is a jsonpath predicate such as $.papers >= 10, $.approved == true or exists($.reviewer).'
                              ELSE 'Write a jsonpath such as $.deadline.' END;
    END;
    IF predicate AND NOT ws_internal.is_predicate(path) THEN
        RAISE EXCEPTION '% is not a predicate: "%"', what, value
            USING ERRCODE = '22023',
                  DETAIL = 'A condition compares or tests values; a bare path holds only when its first value is the boolean true, and is silently false otherwise.',
                  HINT = 'Compare it or test it, as in $.papers >= 10, $.approved == true or exists($.reviewer).';
    END IF;
    RETURN path;
END $$;
COMMENT ON FUNCTION ws_internal.jsonpath_value(text, text, boolean) IS
    'Text as a jsonpath (NULL for NULL), a predicate when predicate; refuses what is none';

CREATE FUNCTION ws_internal.timestamp(value jsonb) RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
BEGIN
    IF value IS NULL OR jsonb_typeof(value) <> 'string' THEN
        RETURN NULL;
    END IF;
    RETURN (value #>> '{}')::timestamptz;
EXCEPTION WHEN data_exception THEN      -- also a time zone name it does not know (22023)
    RETURN NULL;
END $$;
COMMENT ON FUNCTION ws_internal.timestamp(jsonb) IS 'A JSON string as a timestamp, NULL when it is none';

CREATE FUNCTION ws_internal.form_problems(form jsonb, params jsonb, action text, required boolean) RETURNS text
    AS 'MODULE_PATHNAME', 'ws_form_problems' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws_internal.form_problems(jsonb, jsonb, text, boolean) IS
    'What is wrong with params for an action''s form (values of the wrong type; with required, missing required values); NULL when nothing';

CREATE FUNCTION ws_internal.caller() RETURNS name
    AS 'MODULE_PATHNAME', 'ws_caller_name' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws_internal.caller() IS
    'The role that called ws (current_user where the call was made), also inside ws''s SECURITY DEFINER implementations';

CREATE FUNCTION ws_internal.is_admin() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT has_function_privilege(ws_internal.caller(), 'ws.assign(bigint, name)', 'EXECUTE')
$$;
COMMENT ON FUNCTION ws_internal.is_admin() IS
    'Is the role that called ws an administrator (may call ws.assign, as ws.grant_admin grants; superusers too)?';

CREATE FUNCTION ws_internal.workflow_id(name text) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    id bigint;
BEGIN
    SELECT w.id INTO id FROM ws.workflow w WHERE w.name = workflow_id.name ORDER BY w.version DESC LIMIT 1;
    IF id IS NULL THEN
        RAISE EXCEPTION 'workflow "%" does not exist', name
            USING ERRCODE = '42704', HINT = 'See SELECT name, version FROM ws.workflow_overview; names are case sensitive.';
    END IF;
    RETURN id;
END $$;
COMMENT ON FUNCTION ws_internal.workflow_id(text) IS 'The id of the newest version of the named workflow; 42704 when there is none';

-- Lock workflow for a definition change; refuse an unknown one or one with processes.
CREATE FUNCTION ws_internal.editable(workflow bigint) RETURNS ws.workflow
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    w ws.workflow;
BEGIN
    SELECT * INTO w FROM ws.workflow WHERE id = workflow FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow % does not exist', workflow
            USING ERRCODE = '42704', HINT = 'See SELECT id, name, version FROM ws.workflow_overview.';
    END IF;
    IF EXISTS (SELECT FROM ws.process p WHERE p.workflow = w.id) THEN
        RAISE EXCEPTION 'workflow "%" version % has processes and can no longer be changed', w.name, w.version
            USING ERRCODE = '55000',
                  HINT = 'Define a new version with ws.create_workflow() or ws.define() under the same name.';
    END IF;
    RETURN w;
END $$;
COMMENT ON FUNCTION ws_internal.editable(bigint) IS 'Locks a workflow for a definition change and refuses one that has processes';

CREATE FUNCTION ws_internal.create_workflow(name text, params jsonb, description text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    v integer;
    id bigint;
BEGIN
    IF name IS NULL OR btrim(name) = '' THEN
        RAISE EXCEPTION 'workflow name must not be empty'
            USING ERRCODE = '22023', HINT = 'Name the workflow, as in ws.create_workflow(''conference'').';
    END IF;
    params := ws_internal.object(params, 'workflow params');
    -- versions of one name are numbered one after the other, so serialize on the name
    PERFORM pg_advisory_xact_lock(hashtext('ws.workflow'), hashtext(name));
    SELECT coalesce(max(w.version), 0) + 1 INTO v FROM ws.workflow w WHERE w.name = create_workflow.name;
    INSERT INTO ws.workflow (name, version, params, description, created_by)
    VALUES (name, v, params, description, session_user)
    RETURNING workflow.id INTO id;
    RETURN id;
END $$;
COMMENT ON FUNCTION ws_internal.create_workflow(text, jsonb, text) IS 'ws.create_workflow''s implementation';

CREATE FUNCTION ws.create_workflow(name text, params jsonb DEFAULT '{}', description text DEFAULT NULL)
RETURNS bigint AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.create_workflow(text, jsonb, text) IS
    'Defines a workflow; a name already defined gets the next version. Returns its id';

CREATE FUNCTION ws_internal.add_node(workflow bigint, name text, action text, role name,
                                     is_start boolean, is_end boolean, "join" ws.gate, split ws.gate,
                                     params jsonb, wait interval, wait_until text, retries integer,
                                     due interval)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    w ws.workflow;
    what text := format('node "%s"', name);
    path jsonpath;
    id bigint;
BEGIN
    w := ws_internal.editable(workflow);
    IF name IS NULL OR btrim(name) = '' THEN
        RAISE EXCEPTION 'node name must not be empty'
            USING ERRCODE = '22023', HINT = 'Every node needs a name, unique in its workflow.';
    END IF;
    IF EXISTS (SELECT FROM ws.node n WHERE n.workflow = w.id AND n.name = add_node.name) THEN
        RAISE EXCEPTION 'node "%" already exists in workflow "%" version %', name, w.name, w.version
            USING ERRCODE = '42710', HINT = 'Node names are unique within a workflow.';
    END IF;
    IF action = '' THEN
        RAISE EXCEPTION 'action of node "%" must not be empty', name
            USING ERRCODE = '22023', HINT = 'Pass NULL for a node without an action.';
    END IF;
    IF role IS NOT NULL AND NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = role) THEN
        RAISE EXCEPTION 'role "%" of node "%" does not exist', role, name
            USING ERRCODE = '42704', HINT = 'Create it first: CREATE ROLE ... NOLOGIN.';
    END IF;
    IF retries IS NULL OR retries < 0 THEN
        RAISE EXCEPTION 'retries of node "%" must be zero or more, not %', name, coalesce(retries::text, 'null')
            USING ERRCODE = '22023', HINT = 'retries is how many more attempts a failed task gets: 0, 1, 2...';
    END IF;
    IF wait IS NOT NULL AND wait < interval '0' THEN
        RAISE EXCEPTION 'wait of node "%" must not be negative', name
            USING ERRCODE = '22023', HINT = 'Write an interval such as ''2 days''.';
    END IF;
    IF due IS NOT NULL AND due <= interval '0' THEN
        RAISE EXCEPTION 'due of node "%" must be positive', name
            USING ERRCODE = '22023', HINT = 'Write an interval such as ''2 days''.';
    END IF;
    IF wait IS NOT NULL AND wait_until IS NOT NULL THEN
        RAISE EXCEPTION 'node "%" has both wait and wait_until', name
            USING ERRCODE = '22023', HINT = 'A timer waits either for an interval or until a time, not both.';
    END IF;
    path := ws_internal.jsonpath_value(wait_until, 'wait_until of ' || what, false);
    params := ws_internal.object(params, 'params of ' || what);
    INSERT INTO ws.node (workflow, name, action, role, is_start, is_end, "join", split, params, wait, wait_until,
                         retries, due)
    VALUES (w.id, name, action, role, coalesce(is_start, false), coalesce(is_end, false),
            coalesce("join", 'and'), coalesce(split, 'and'), params, wait, path, retries, due)
    RETURNING node.id INTO id;
    RETURN id;
END $$;
COMMENT ON FUNCTION ws_internal.add_node(bigint, text, text, name, boolean, boolean, ws.gate, ws.gate, jsonb, interval, text, integer, interval) IS
    'ws.add_node''s implementation';

CREATE FUNCTION ws.add_node(workflow bigint, name text, action text DEFAULT NULL, role name DEFAULT NULL,
                            is_start boolean DEFAULT false, is_end boolean DEFAULT false,
                            "join" ws.gate DEFAULT 'and', split ws.gate DEFAULT 'and',
                            params jsonb DEFAULT '{}', wait interval DEFAULT NULL,
                            wait_until text DEFAULT NULL, retries integer DEFAULT 0,
                            due interval DEFAULT NULL)
RETURNS bigint AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.add_node(bigint, text, text, name, boolean, boolean, ws.gate, ws.gate, jsonb, interval, text, integer, interval) IS
    'Adds a node (WHO: role, WHAT: action) to a workflow that has no processes yet. Returns its id';

CREATE FUNCTION ws_internal.add_transition(workflow bigint, parent text, child text, condition jsonpath,
                                           priority integer)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    w ws.workflow;
    p bigint;
    c bigint;
    id bigint;
BEGIN
    w := ws_internal.editable(workflow);
    SELECT n.id INTO p FROM ws.node n WHERE n.workflow = w.id AND n.name = parent;
    IF p IS NULL THEN
        RAISE EXCEPTION 'node "%" does not exist in workflow "%" version %', parent, w.name, w.version
            USING ERRCODE = '42704', HINT = 'Add it first with ws.add_node(); names are case sensitive.';
    END IF;
    SELECT n.id INTO c FROM ws.node n WHERE n.workflow = w.id AND n.name = child;
    IF c IS NULL THEN
        RAISE EXCEPTION 'node "%" does not exist in workflow "%" version %', child, w.name, w.version
            USING ERRCODE = '42704', HINT = 'Add it first with ws.add_node(); names are case sensitive.';
    END IF;
    IF condition IS NOT NULL AND NOT ws_internal.is_predicate(condition) THEN
        RAISE EXCEPTION 'condition of transition "%" -> "%" is not a predicate: %', parent, child, condition
            USING ERRCODE = '22023',
                  DETAIL = 'A condition compares or tests values; a bare path holds only when its first value is the boolean true, and is silently false otherwise.',
                  HINT = 'Compare it or test it, as in $.papers >= 10, $.approved == true or exists($.reviewer).';
    END IF;
    INSERT INTO ws.transition (workflow, parent, child, condition, priority)
    VALUES (w.id, p, c, condition, coalesce(priority, 0))
    RETURNING transition.id INTO id;
    RETURN id;
END $$;
COMMENT ON FUNCTION ws_internal.add_transition(bigint, text, text, jsonpath, integer) IS
    'ws.add_transition''s implementation';

CREATE FUNCTION ws.add_transition(workflow bigint, parent text, child text, condition jsonpath DEFAULT NULL,
                                  priority integer DEFAULT 0)
RETURNS bigint AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.add_transition(bigint, text, text, jsonpath, integer) IS
    'Adds a transition parent -> child (node names of that workflow) with an optional condition. Returns its id';

CREATE FUNCTION ws_internal.keys(doc jsonb, allowed text[], what text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    k text;
BEGIN
    IF jsonb_typeof(doc) <> 'object' THEN
        RAISE EXCEPTION '% must be a JSON object, not %', what, jsonb_typeof(doc)
            USING ERRCODE = '22023', HINT = format('An object with the keys %s.', array_to_string(allowed, ', '));
    END IF;
    FOR k IN SELECT jsonb_object_keys(doc) LOOP
        IF NOT k = ANY (allowed) THEN
            RAISE EXCEPTION 'unknown key "%" in %', k, what
                USING ERRCODE = '22023', HINT = format('Known keys: %s.', array_to_string(allowed, ', '));
        END IF;
    END LOOP;
END $$;
COMMENT ON FUNCTION ws_internal.keys(jsonb, text[], text) IS 'Refuses a document that is not an object, or has keys that are not allowed';

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
                                          'wait', 'wait_until', 'retries', 'due'], format('node %s', i));
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
                    ws_internal.interval_value(ws_internal.text_value(n->'due', 'due of ' || what), 'due of ' || what));
    END LOOP;
    i := 0;
    FOR t IN SELECT value FROM jsonb_array_elements(coalesce(doc->'transitions', '[]')) LOOP
        i := i + 1;
        PERFORM ws_internal.keys(t, ARRAY['from', 'to', 'condition', 'priority'], format('transition %s', i));
        IF jsonb_typeof(t->'from') IS DISTINCT FROM 'string' OR jsonb_typeof(t->'to') IS DISTINCT FROM 'string' THEN
            RAISE EXCEPTION 'transition % needs "from" and "to" node names', i
                USING ERRCODE = '22023', HINT = 'Write {"from": "Collect papers", "to": "Publicize"}.';
        END IF;
        what := format('transition "%s" -> "%s"', t->>'from', t->>'to');
        PERFORM ws_internal.add_transition(wf, t->>'from', t->>'to',
                    ws_internal.jsonpath_value(ws_internal.text_value(t->'condition', 'condition of ' || what),
                                               'condition of ' || what, true),
                    ws_internal.integer_value(t->'priority', 'priority of ' || what, NULL));
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

CREATE FUNCTION ws_internal.register_action(name text, params jsonb, description text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    f record;
BEGIN
    IF name IS NULL OR btrim(name) = '' THEN
        RAISE EXCEPTION 'action name must not be empty'
            USING ERRCODE = '22023', HINT = 'Name the action as workers will claim it, such as ''conferencer.tasks.mailing''.';
    END IF;
    params := ws_internal.object(params, 'action form');
    FOR f IN SELECT key, value FROM jsonb_each(params) LOOP
        PERFORM ws_internal.keys(f.value, ARRAY['type', 'label', 'required', 'default', 'description'],
                                 format('form field "%s" of action "%s"', f.key, name));
        IF NOT coalesce(f.value->>'type', '') = ANY (ARRAY['string', 'integer', 'number', 'boolean', 'timestamp',
                                                            'object', 'array']) THEN
            RAISE EXCEPTION 'form field "%" of action "%" has type %, which is not known', f.key, name,
                coalesce(f.value->>'type', 'missing')
                USING ERRCODE = '22023', HINT = 'Types: string, integer, number, boolean, timestamp, object, array.';
        END IF;
        IF f.value ? 'required' AND jsonb_typeof(f.value->'required') <> 'boolean' THEN
            RAISE EXCEPTION '"required" of form field "%" of action "%" must be true or false', f.key, name
                USING ERRCODE = '22023', HINT = 'Write "required": true or leave it out.';
        END IF;
    END LOOP;
    INSERT INTO ws.action AS a (name, params, description) VALUES (name, params, description)
    ON CONFLICT ON CONSTRAINT action_pkey DO UPDATE SET params = excluded.params, description = excluded.description;
END $$;
COMMENT ON FUNCTION ws_internal.register_action(text, jsonb, text) IS 'ws.register_action''s implementation';

CREATE FUNCTION ws.register_action(name text, params jsonb DEFAULT '{}', description text DEFAULT NULL)
RETURNS void AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.register_action(text, jsonb, text) IS
    'Registers (or replaces) an action and its parameter form';

CREATE FUNCTION ws_internal.validate(workflow bigint) RETURNS SETOF text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    w ws.workflow;
BEGIN
    SELECT * INTO w FROM ws.workflow WHERE id = workflow;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow % does not exist', workflow
            USING ERRCODE = '42704', HINT = 'See SELECT id, name, version FROM ws.workflow_overview.';
    END IF;
    IF NOT EXISTS (SELECT FROM ws.node n WHERE n.workflow = w.id) THEN
        RETURN NEXT 'the workflow has no nodes';
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT FROM ws.node n WHERE n.workflow = w.id AND n.is_start) THEN
        RETURN NEXT 'no node is a start node';
    END IF;
    IF NOT EXISTS (SELECT FROM ws.node n WHERE n.workflow = w.id AND n.is_end) THEN
        RETURN NEXT 'no node is an end node';
    END IF;
    RETURN QUERY
    WITH RECURSIVE fwd(id) AS (
        SELECT n.id FROM ws.node n WHERE n.workflow = w.id AND n.is_start
        UNION SELECT t.child FROM ws.transition t JOIN fwd ON t.parent = fwd.id WHERE t.workflow = w.id)
    SELECT format('node "%s" cannot be reached from any start node', n.name)
      FROM ws.node n WHERE n.workflow = w.id AND n.id NOT IN (SELECT id FROM fwd) ORDER BY n.id;
    RETURN QUERY
    WITH RECURSIVE back(id) AS (
        SELECT n.id FROM ws.node n WHERE n.workflow = w.id AND n.is_end
        UNION SELECT t.parent FROM ws.transition t JOIN back ON t.child = back.id WHERE t.workflow = w.id)
    SELECT format('no end node can be reached from node "%s"', n.name)
      FROM ws.node n WHERE n.workflow = w.id AND n.id NOT IN (SELECT id FROM back) ORDER BY n.id;
    RETURN QUERY
    SELECT format('end node "%s" has outgoing transitions, which are never followed', n.name)
      FROM ws.node n WHERE n.workflow = w.id AND n.is_end
       AND EXISTS (SELECT FROM ws.transition t WHERE t.workflow = w.id AND t.parent = n.id) ORDER BY n.id;
    -- An AND join (not a start node) waits for a token on each incoming transition. A
    -- parent that runs only after the join has fired (every path from a start node to it
    -- passes through the join, as a loop back into the join does) can never deliver the
    -- first one: the join never fires. Reached without the join: walk from the start
    -- nodes, never entering the join.
    RETURN QUERY
    WITH RECURSIVE joins(id) AS (
        SELECT n.id FROM ws.node n
         WHERE n.workflow = w.id AND n."join" = 'and' AND NOT n.is_start
           AND (SELECT count(*) FROM ws.transition t WHERE t.child = n.id) >= 2),
    around(j, id) AS (
        SELECT j.id, s.id FROM joins j JOIN ws.node s ON s.workflow = w.id AND s.is_start AND s.id <> j.id
        UNION
        SELECT a.j, t.child FROM around a JOIN ws.transition t ON t.parent = a.id WHERE t.child <> a.j),
    fwd(id) AS (
        SELECT n.id FROM ws.node n WHERE n.workflow = w.id AND n.is_start
        UNION SELECT t.child FROM ws.transition t JOIN fwd ON t.parent = fwd.id WHERE t.workflow = w.id)
    SELECT format('AND join "%s" can never fire: its transition from "%s" can only be taken after the join itself has fired (every path from a start node to "%s" passes through "%s"); make it an OR join (join or, a synchronizing merge) or an XOR join (join xor, a plain merge)',
                  j.name, p.name, p.name, j.name)
      FROM (SELECT DISTINCT ON (jj.id, t.parent) jj.id AS j, t.parent AS p, t.id AS t
              FROM joins jj JOIN ws.transition t ON t.child = jj.id
             ORDER BY jj.id, t.parent, t.id) x
      JOIN ws.node j ON j.id = x.j
      JOIN ws.node p ON p.id = x.p
     WHERE p.id IN (SELECT id FROM fwd)
       AND NOT EXISTS (SELECT FROM around a WHERE a.j = j.id AND a.id = p.id)
     ORDER BY j.id, x.t;
    -- conditions stored before ws checked them (or by hand) must still be predicates
    RETURN QUERY
    SELECT format('condition of transition "%s" -> "%s" is not a predicate: %s', a.name, b.name, t.condition)
      FROM ws.transition t JOIN ws.node a ON a.id = t.parent JOIN ws.node b ON b.id = t.child
     WHERE t.workflow = w.id AND t.condition IS NOT NULL AND NOT ws_internal.is_predicate(t.condition)
     ORDER BY t.id;
    RETURN QUERY
    SELECT format('node "%s" has a wait and a wait_until', n.name)
      FROM ws.node n WHERE n.workflow = w.id AND n.wait IS NOT NULL AND n.wait_until IS NOT NULL ORDER BY n.id;
    RETURN QUERY
    SELECT format('node "%s" has role "%s", which does not exist', n.name, n.role)
      FROM ws.node n WHERE n.workflow = w.id AND n.role IS NOT NULL
       AND NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = n.role) ORDER BY n.id;
    -- the constant params of each node (workflow params, then its own) against its form
    RETURN QUERY
    SELECT format('node "%s": %s', n.name, ws_internal.form_problems(a.params, w.params || n.params, a.name, false))
      FROM ws.node n JOIN ws.action a ON a.name = n.action
     WHERE n.workflow = w.id AND ws_internal.form_problems(a.params, w.params || n.params, a.name, false) IS NOT NULL
     ORDER BY n.id;
END $$;
COMMENT ON FUNCTION ws_internal.validate(bigint) IS 'ws.validate''s implementation';

CREATE FUNCTION ws.validate(workflow bigint) RETURNS SETOF text AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.validate(bigint) IS
    'The problems of a workflow version, one readable row each; no row means valid (ws.start refuses an invalid one)';

CREATE FUNCTION ws_internal.validate(workflow text) RETURNS SETOF text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT ws_internal.validate(ws_internal.workflow_id(workflow))
$$;
COMMENT ON FUNCTION ws_internal.validate(text) IS 'ws.validate''s implementation, by name';

CREATE FUNCTION ws.validate(workflow text) RETURNS SETOF text AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.validate(text) IS
    'The problems of the newest version of the named workflow, one readable row each; no row means valid';
