------------------------------------------------------------------------------
-- Definitions: workflows, nodes, transitions, actions
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

-- An action name travels as the payload of the ws_ready notification (NOTIFY takes less than
-- 8000 bytes) and is a key of the claim queue's index (an entry takes at most 2704 bytes,
-- whatever compression does): 1000 bytes leave room for both.
CREATE FUNCTION ws_internal.action_name_max() RETURNS integer
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$ SELECT 1000 $$;
COMMENT ON FUNCTION ws_internal.action_name_max() IS 'The longest action name, in bytes';

CREATE FUNCTION ws_internal.action_name(value text, what text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
BEGIN
    IF octet_length(value) > ws_internal.action_name_max() THEN
        RAISE EXCEPTION '% is too long: % bytes, at most %', what, octet_length(value), ws_internal.action_name_max()
            USING ERRCODE = '22023',
                  DETAIL = 'An action name is the payload of the ws_ready notification and a key of the claim queue, which both limit its length.',
                  HINT = 'Use a shorter name, such as the job''s module and function: conferencer.tasks.mailing.';
    END IF;
    RETURN value;
END $$;
COMMENT ON FUNCTION ws_internal.action_name(text, text) IS 'value; refuses an action name longer than ws_internal.action_name_max() bytes';

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
    IF name IS NULL THEN
        RAISE EXCEPTION 'workflow name must not be null' USING ERRCODE = '22004';
    END IF;
    IF btrim(name) = '' THEN
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
                                     due interval, message text, correlate text, deadline interval,
                                     call text, foreach text, item text, sequential boolean, "as" text)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    w ws.workflow;
    what text := format('node "%s"', name);
    path jsonpath;
    key_path jsonpath;
    items_path jsonpath;
    id bigint;
BEGIN
    w := ws_internal.editable(workflow);
    IF name IS NULL THEN
        RAISE EXCEPTION 'node name must not be null' USING ERRCODE = '22004';
    END IF;
    IF btrim(name) = '' THEN
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
    action := ws_internal.action_name(action, 'action of ' || what);
    IF role IS NOT NULL AND NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = role) THEN
        RAISE EXCEPTION 'role "%" of node "%" does not exist', role, name
            USING ERRCODE = '42704', HINT = 'Create it first: CREATE ROLE ... NOLOGIN.';
    END IF;
    IF retries IS NULL THEN
        RAISE EXCEPTION 'retries of node "%" must not be null', name USING ERRCODE = '22004';
    END IF;
    IF retries < 0 THEN
        RAISE EXCEPTION 'retries of node "%" must be zero or more, not %', name, retries
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
    IF deadline IS NOT NULL AND deadline <= interval '0' THEN
        RAISE EXCEPTION 'deadline of node "%" must be positive', name
            USING ERRCODE = '22023', HINT = 'Write an interval such as ''3 days''.';
    END IF;
    IF message = '' THEN
        RAISE EXCEPTION 'message of node "%" must not be empty', name
            USING ERRCODE = '22023', HINT = 'Pass NULL for a node that waits for no message.';
    END IF;
    IF call = '' THEN
        RAISE EXCEPTION 'call of node "%" must not be empty', name
            USING ERRCODE = '22023', HINT = 'Name the workflow the node calls, or pass NULL for a node that calls none.';
    END IF;
    IF item = '' THEN
        RAISE EXCEPTION 'item of node "%" must not be empty', name
            USING ERRCODE = '22023', HINT = 'Name the param each instance gets its element under, or pass NULL for item.';
    END IF;
    IF "as" = '' THEN
        RAISE EXCEPTION 'as of node "%" must not be empty', name
            USING ERRCODE = '22023', HINT = 'Name the process variable that takes the result, or pass NULL.';
    END IF;
    path := ws_internal.jsonpath_value(wait_until, 'wait_until of ' || what, false);
    key_path := ws_internal.jsonpath_value(correlate, 'correlate of ' || what, false);
    items_path := ws_internal.jsonpath_value(foreach, 'foreach of ' || what, false);
    IF ws_internal.is_predicate(items_path) THEN
        RAISE EXCEPTION 'foreach of node "%" is a predicate, which yields true or false, never an array: "%"', name, foreach
            USING ERRCODE = '22023', HINT = 'Write a path to an array of the params, such as $.papers.';
    END IF;
    params := ws_internal.object(params, 'params of ' || what);
    INSERT INTO ws.node (workflow, name, action, role, is_start, is_end, "join", split, params, wait, wait_until,
                         retries, due, message, correlate, deadline, call, foreach, item, sequential, "as")
    VALUES (w.id, name, action, role, coalesce(is_start, false), coalesce(is_end, false),
            coalesce("join", 'and'), coalesce(split, 'and'), params, wait, path, retries, due, message, key_path, deadline,
            call, items_path, item, coalesce(sequential, false), "as")
    RETURNING node.id INTO id;
    RETURN id;
END $$;
COMMENT ON FUNCTION ws_internal.add_node(bigint, text, text, name, boolean, boolean, ws.gate, ws.gate, jsonb, interval, text, integer, interval, text, text, interval, text, text, text, boolean, text) IS
    'ws.add_node''s implementation';

CREATE FUNCTION ws.add_node(workflow bigint, name text, action text DEFAULT NULL, role name DEFAULT NULL,
                            is_start boolean DEFAULT false, is_end boolean DEFAULT false,
                            "join" ws.gate DEFAULT 'and', split ws.gate DEFAULT 'and',
                            params jsonb DEFAULT '{}', wait interval DEFAULT NULL,
                            wait_until text DEFAULT NULL, retries integer DEFAULT 0,
                            due interval DEFAULT NULL, message text DEFAULT NULL, correlate text DEFAULT NULL,
                            deadline interval DEFAULT NULL, call text DEFAULT NULL, foreach text DEFAULT NULL,
                            item text DEFAULT NULL, sequential boolean DEFAULT false, "as" text DEFAULT NULL)
RETURNS bigint AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.add_node(bigint, text, text, name, boolean, boolean, ws.gate, ws.gate, jsonb, interval, text, integer, interval, text, text, interval, text, text, text, boolean, text) IS
    'Adds a node (WHO: role, WHAT: action) to a workflow that has no processes yet. Returns its id';

CREATE FUNCTION ws_internal.add_transition(workflow bigint, parent text, child text, condition jsonpath,
                                           priority integer, "on" text)
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
    IF "on" IS NOT NULL AND "on" NOT IN ('success', 'deadline', 'failure') THEN
        RAISE EXCEPTION 'on of transition "%" -> "%" must be success, deadline or failure, not %', parent, child, "on"
            USING ERRCODE = '22023',
                  HINT = 'success (the default) is the split; deadline and failure are boundary paths of the parent.';
    END IF;
    INSERT INTO ws.transition (workflow, parent, child, condition, priority, "on")
    VALUES (w.id, p, c, condition, coalesce(priority, 0), coalesce("on", 'success'))
    RETURNING transition.id INTO id;
    RETURN id;
END $$;
COMMENT ON FUNCTION ws_internal.add_transition(bigint, text, text, jsonpath, integer, text) IS
    'ws.add_transition''s implementation';

CREATE FUNCTION ws.add_transition(workflow bigint, parent text, child text, condition jsonpath DEFAULT NULL,
                                  priority integer DEFAULT 0, "on" text DEFAULT 'success')
RETURNS bigint AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.add_transition(bigint, text, text, jsonpath, integer, text) IS
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

CREATE FUNCTION ws_internal.register_action(name text, params jsonb, description text)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    f record;
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'action name must not be null' USING ERRCODE = '22004';
    END IF;
    IF btrim(name) = '' THEN
        RAISE EXCEPTION 'action name must not be empty'
            USING ERRCODE = '22023', HINT = 'Name the action as workers will claim it, such as ''conferencer.tasks.mailing''.';
    END IF;
    name := ws_internal.action_name(name, 'action name');
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
