-- ws 0.3.0 -> 0.4.0: the newcomer's first hour.
--   schemas ws and ws_internal belong to the extension (DROP EXTENSION ws removes them);
--   ws_internal holds the implementations and helpers (ws's PL/pgSQL functions are C
--   entries into them, src/calls.c, so errors carry no internal context); ws.define and
--   ws.define_dot refuse an invalid document; uniform definition errors; action forms
--   checked on activation (C); node key due; ws.my_processes, ws.take, ws.release,
--   ws.assign; name-or-id forms of validate, lint, to_dot and export; ws.unschedule_tick
--   and a pg_cron job that removes itself once ws is dropped; a comment on every column.
\echo Use "ALTER EXTENSION ws UPDATE TO '0.4.0'" to load this file. \quit

-- schema ws becomes a member of the extension, as a fresh install of 0.4.0 creates it, so
-- that DROP EXTENSION ws removes it: the extension moves to pg_catalog (as ws.control
-- now says) and no longer depends on ws, which it could not hold while it lived there
UPDATE pg_catalog.pg_extension SET extnamespace = 'pg_catalog'::regnamespace WHERE extname = 'ws';
DELETE FROM pg_catalog.pg_depend
 WHERE classid = 'pg_catalog.pg_extension'::regclass
   AND objid = (SELECT oid FROM pg_catalog.pg_extension WHERE extname = 'ws')
   AND refclassid = 'pg_catalog.pg_namespace'::regclass AND refobjid = 'ws'::regnamespace;
ALTER EXTENSION ws ADD SCHEMA ws;
COMMENT ON SCHEMA ws IS 'The ws workflow engine: what users call and read';

CREATE SCHEMA ws_internal;
COMMENT ON SCHEMA ws_internal IS 'Internal to the ws extension: implementations and helpers that users never call';

ALTER TABLE ws.node ADD COLUMN due interval CHECK (due > interval '0');

-- pg_dump keeps the values of the identity sequences too, or a restored database would
-- number its workflows, nodes, transitions, processes, tasks and events from 1 again
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('ws.workflow', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('ws.node', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('ws.transition', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('ws.process', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('ws.task', 'id'), '');
SELECT pg_catalog.pg_extension_config_dump(pg_catalog.pg_get_serial_sequence('ws.event', 'id'), '');

-- the trigger functions move; what ws 0.3.0 had as internal helpers, and the functions
-- that become C entries into ws_internal, are made anew below (grants are given again at
-- the end, to the roles that had them)
ALTER FUNCTION ws.task_gone() SET SCHEMA ws_internal;
ALTER FUNCTION ws.definitions_changed() SET SCHEMA ws_internal;
DROP FUNCTION ws._object(jsonb, text), ws._timestamp(jsonb), ws._editable(bigint), ws._keys(jsonb, text[], text),
    ws._check_form(text, jsonb), ws._dot_quote(text), ws._dot_label(text), ws._dot(bigint, bigint),
    ws.create_workflow(text, jsonb, text),
    ws.add_node(bigint, text, text, name, boolean, boolean, ws.gate, ws.gate, jsonb, interval, text, integer),
    ws.add_transition(bigint, text, text, jsonpath, integer), ws.define(jsonb),
    ws.register_action(text, jsonb, text), ws.validate(bigint), ws.to_dot(bigint), ws.process_dot(bigint),
    ws.export(bigint), ws.lint(bigint), ws.grant_user(name), ws.grant_admin(name), ws.schedule_tick(),
    ws.define_dot(text);

-- the engine's C functions no longer carry planner settings: the statements that need
-- them set them themselves (src/queries.c), so a user's trigger runs without them
ALTER FUNCTION ws.start(bigint, jsonb) RESET enable_seqscan RESET jit RESET enable_bitmapscan;
ALTER FUNCTION ws.start(text, jsonb) RESET enable_seqscan RESET jit RESET enable_bitmapscan;
ALTER FUNCTION ws.claim(text[], text, integer, interval) RESET enable_seqscan RESET jit RESET enable_bitmapscan;
ALTER FUNCTION ws.complete(bigint, jsonb, integer) RESET enable_seqscan RESET jit RESET enable_bitmapscan;
ALTER FUNCTION ws.complete_batch(bigint[], jsonb[], integer[]) RESET enable_seqscan RESET jit RESET enable_bitmapscan;
ALTER FUNCTION ws.fail(bigint, text, integer) RESET enable_seqscan RESET jit RESET enable_bitmapscan;
ALTER FUNCTION ws.heartbeat(bigint, interval, integer) RESET enable_seqscan RESET jit RESET enable_bitmapscan;
ALTER FUNCTION ws.progress(bigint, numeric) RESET enable_seqscan RESET jit RESET enable_bitmapscan;
ALTER FUNCTION ws.fill(bigint, jsonb) RESET enable_seqscan RESET jit RESET enable_bitmapscan;
ALTER FUNCTION ws.cancel(bigint, text) RESET enable_seqscan RESET jit RESET enable_bitmapscan;
ALTER FUNCTION ws.retry(bigint) RESET enable_seqscan RESET jit RESET enable_bitmapscan;
ALTER FUNCTION ws.tick() RESET enable_seqscan RESET jit RESET enable_bitmapscan;

-- every column of every table says what it holds
COMMENT ON COLUMN ws.workflow.id IS 'The workflow version''s id';
COMMENT ON COLUMN ws.workflow.name IS 'The workflow''s name, shared by its versions';
COMMENT ON COLUMN ws.workflow.version IS 'Its version: 1, 2, ... in the order they were defined';
COMMENT ON COLUMN ws.workflow.params IS 'Workflow params: the first layer of every task''s effective params';
COMMENT ON COLUMN ws.workflow.description IS 'Free text';
COMMENT ON COLUMN ws.workflow.created_at IS 'When the version was defined';
COMMENT ON COLUMN ws.workflow.created_by IS 'The session user who defined it';
COMMENT ON COLUMN ws.node.id IS 'The node''s id';
COMMENT ON COLUMN ws.node.workflow IS 'The workflow version it belongs to';
COMMENT ON COLUMN ws.node.name IS 'Its name, unique in the workflow version';
COMMENT ON COLUMN ws.node.action IS 'WHAT: the action workers run for its tasks; NULL: none (a human task with a role, else a routing node)';
COMMENT ON COLUMN ws.node.role IS 'WHO: the database role whose members may act on its tasks; NULL: any ws user';
COMMENT ON COLUMN ws.node.is_start IS 'Activated when a process starts';
COMMENT ON COLUMN ws.node.is_end IS 'Reaching it completes the process';
COMMENT ON COLUMN ws.node."join" IS 'How it joins its incoming transitions: and, xor, or';
COMMENT ON COLUMN ws.node.split IS 'How it splits into its outgoing transitions: and, xor, or';
COMMENT ON COLUMN ws.node.params IS 'Node params: the third layer of its tasks'' effective params';
COMMENT ON COLUMN ws.node.wait IS 'Its tasks wait this long (state waiting) before they go on';
COMMENT ON COLUMN ws.node.wait_until IS 'A jsonpath into the effective params that yields the time its tasks wait for';
COMMENT ON COLUMN ws.node.retries IS 'How many more attempts a failed task gets, with exponential back-off';
COMMENT ON COLUMN ws.node.due IS 'How long a person has for its pending task: sets ws.task.due_at when the task becomes pending (shown in ws.my_tasks)';
COMMENT ON COLUMN ws.transition.id IS 'The transition''s id; ties of priority are taken in id order';
COMMENT ON COLUMN ws.transition.workflow IS 'The workflow version it belongs to';
COMMENT ON COLUMN ws.transition.parent IS 'The node it leaves (ws.node.id)';
COMMENT ON COLUMN ws.transition.child IS 'The node it enters (ws.node.id)';
COMMENT ON COLUMN ws.transition.condition IS 'A jsonpath predicate over the process variables ($now: the time); NULL: always taken';
COMMENT ON COLUMN ws.transition.priority IS 'Splits follow transitions in ascending priority, then id; an XOR split takes the first that holds';
COMMENT ON COLUMN ws.action.name IS 'The action''s name, which workers claim by';
COMMENT ON COLUMN ws.action.params IS 'Its form: {"param": {"type": ..., "label": ..., "required": ..., "default": ..., "description": ...}}';
COMMENT ON COLUMN ws.action.description IS 'Free text';
COMMENT ON COLUMN ws.process.id IS 'The process''s id';
COMMENT ON COLUMN ws.process.workflow IS 'The workflow version it runs';
COMMENT ON COLUMN ws.process.state IS 'running, completed, failed or cancelled';
COMMENT ON COLUMN ws.process.params IS 'The process variables: its start params, then every task result merged in';
COMMENT ON COLUMN ws.process.tokens IS 'Tokens held on transitions, waiting at joins: {"transition id": count}';
COMMENT ON COLUMN ws.process.started_at IS 'When it started';
COMMENT ON COLUMN ws.process.ended_at IS 'When it completed, failed or was cancelled';
COMMENT ON COLUMN ws.process.error IS 'Why it failed';
COMMENT ON COLUMN ws.process.started_by IS 'The role that started it';
COMMENT ON COLUMN ws.task.id IS 'The task''s id';
COMMENT ON COLUMN ws.task.process IS 'The process it belongs to';
COMMENT ON COLUMN ws.task.node IS 'The node it runs (ws.node.id)';
COMMENT ON COLUMN ws.task.action IS 'The node''s action, copied when the task is created (a version with processes never changes)';
COMMENT ON COLUMN ws.task.state IS 'waiting, pending, ready, running (active), or succeeded, failed, cancelled (ended)';
COMMENT ON COLUMN ws.task.params IS 'The task''s own params (what ws.fill supplied): the last layer of its effective params';
COMMENT ON COLUMN ws.task.result IS 'What it succeeded with, merged into the process variables';
COMMENT ON COLUMN ws.task.progress IS 'Progress reported by its worker, 0 to 100';
COMMENT ON COLUMN ws.task.assignee IS 'The role a pending task is assigned to';
COMMENT ON COLUMN ws.task.attempts IS 'How many times it was claimed';
COMMENT ON COLUMN ws.task.error IS 'What is wrong: the params a pending task needs, or the error of its last failed attempt';
COMMENT ON COLUMN ws.task.due_at IS 'When a waiting task goes on; when a pending task should be done (the node''s due)';
COMMENT ON COLUMN ws.task.lease_until IS 'When the claim of a running task ends unless renewed';
COMMENT ON COLUMN ws.task.worker IS 'The worker name of its last claim';
COMMENT ON COLUMN ws.task.created_at IS 'When the node was activated';
COMMENT ON COLUMN ws.task.started_at IS 'When its current attempt was claimed (a task done without a claim: when it ended)';
COMMENT ON COLUMN ws.task.ended_at IS 'When it succeeded, failed or was cancelled';
COMMENT ON COLUMN ws.task.role IS 'The node''s role, copied when the task is created, so ws.claim checks it without reading the node';
COMMENT ON COLUMN ws.ready.action IS 'The task''s action';
COMMENT ON COLUMN ws.ready.task IS 'A ready task';
COMMENT ON COLUMN ws.event.id IS 'The event''s id, in the order events were written';
COMMENT ON COLUMN ws.event.at IS 'The start of the transaction that made the change';
COMMENT ON COLUMN ws.event.process IS 'The process';
COMMENT ON COLUMN ws.event.task IS 'The task; NULL for a change of the process itself';
COMMENT ON COLUMN ws.event.state IS 'The state the task or process moved to (a pending task also when it is assigned again)';
COMMENT ON COLUMN ws.event.actor IS 'The role that made the call (current_user: SET ROLE counts)';
COMMENT ON COLUMN ws.event.detail IS 'Why, in words';

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
------------------------------------------------------------------------------
-- Checks: what makes a workflow unusable (ws.validate, which ws.start and ws.define
-- refuse) and what is probably a mistake (ws.lint, which blocks nothing)
------------------------------------------------------------------------------

CREATE FUNCTION ws_internal.form_problems(form jsonb, params jsonb, action text, required boolean) RETURNS text
    AS 'MODULE_PATHNAME', 'ws_form_problems' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws_internal.form_problems(jsonb, jsonb, text, boolean) IS
    'What is wrong with params for an action''s form (values of the wrong type; with required, missing required values); NULL when nothing';

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
    SELECT format('action of node "%s" is too long: %s bytes, at most %s', n.name, octet_length(n.action),
                  ws_internal.action_name_max())
      FROM ws.node n WHERE n.workflow = w.id AND octet_length(n.action) > ws_internal.action_name_max() ORDER BY n.id;
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

CREATE FUNCTION ws.validate(workflow bigint) RETURNS SETOF text AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.validate(bigint) IS
    'The problems of a workflow version, one readable row each; no row means valid (ws.start refuses an invalid one)';

CREATE FUNCTION ws_internal.validate(workflow text) RETURNS SETOF text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT ws_internal.validate(ws_internal.workflow_id(workflow))
$$;
COMMENT ON FUNCTION ws_internal.validate(text) IS 'ws.validate''s implementation, by name';

CREATE FUNCTION ws.validate(workflow text) RETURNS SETOF text AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.validate(text) IS
    'The problems of the newest version of the named workflow, one readable row each; no row means valid';

------------------------------------------------------------------------------
-- Warnings: what ws.start accepts but is probably a mistake
------------------------------------------------------------------------------

-- ws.validate lists what makes a workflow unusable, and ws.start refuses a workflow while
-- it lists anything; ws.lint lists what is allowed but suspicious, so it never blocks.
CREATE FUNCTION ws_internal.lint(workflow bigint) RETURNS SETOF text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
BEGIN
    IF NOT EXISTS (SELECT FROM ws.workflow w WHERE w.id = workflow) THEN
        RAISE EXCEPTION 'workflow % does not exist', workflow
            USING ERRCODE = '42704', HINT = 'See SELECT id, name, version FROM ws.workflow_overview.';
    END IF;
    -- An AND join waits for a token on every incoming transition. Walk back from each of
    -- them through nodes with a single incoming transition and no XOR split; two walks
    -- that reach the same XOR split through different outgoing transitions are branches
    -- of which one run takes only one: the join waits for the other forever.
    RETURN QUERY
    WITH RECURSIVE walk(j, tin, node, via, seen) AS (
        SELECT j.id, t.id, t.parent, t.id, ARRAY[t.parent]
          FROM ws.node j JOIN ws.transition t ON t.child = j.id
         WHERE j.workflow = workflow AND j."join" = 'and'
           AND (SELECT count(*) FROM ws.transition x WHERE x.child = j.id) > 1
        UNION ALL
        SELECT w.j, w.tin, t.parent, t.id, w.seen || t.parent
          FROM walk w
          JOIN ws.node n ON n.id = w.node AND n.split <> 'xor'
          JOIN ws.transition t ON t.child = n.id
         WHERE (SELECT count(*) FROM ws.transition x WHERE x.child = n.id) = 1
           AND NOT t.parent = ANY (w.seen))
    SELECT format('AND join "%s" waits for branches of XOR split "%s" (through "%s" and "%s"), which takes only one of them: the join can never fire',
                  j.name, x.name, ca.name, cb.name)
      FROM (SELECT DISTINCT ON (a.j, a.node) a.j, a.node, a.via AS va, b.via AS vb
              FROM walk a JOIN walk b ON b.j = a.j AND b.node = a.node AND a.tin < b.tin AND a.via <> b.via
             ORDER BY a.j, a.node, a.tin, b.tin) f
      JOIN ws.node j ON j.id = f.j
      JOIN ws.node x ON x.id = f.node AND x.split = 'xor'
      JOIN ws.transition ta ON ta.id = f.va JOIN ws.node ca ON ca.id = ta.child
      JOIN ws.transition tb ON tb.id = f.vb JOIN ws.node cb ON cb.id = tb.child
     ORDER BY j.id, x.id;
    -- An XOR split whose every transition has a condition fails the process when none holds.
    RETURN QUERY
    SELECT format('XOR split "%s" has no transition without a condition: when no condition holds, the process fails', n.name)
      FROM ws.node n
     WHERE n.workflow = workflow AND n.split = 'xor' AND NOT n.is_end
       AND EXISTS (SELECT FROM ws.transition t WHERE t.parent = n.id)
       AND NOT EXISTS (SELECT FROM ws.transition t WHERE t.parent = n.id AND t.condition IS NULL)
     ORDER BY n.id;
    -- After an unconditioned transition of an XOR split, the split takes nothing further.
    RETURN QUERY
    SELECT format('transition "%s" -> "%s" is never taken: XOR split "%s" takes "%s" -> "%s" first, which has no condition',
                  n.name, c.name, n.name, n.name, fc.name)
      FROM ws.node n
      JOIN ws.transition t ON t.parent = n.id
      JOIN ws.node c ON c.id = t.child
      JOIN LATERAL (SELECT f.priority, f.id, f.child FROM ws.transition f
                     WHERE f.parent = n.id AND f.condition IS NULL
                     ORDER BY f.priority, f.id LIMIT 1) fb ON true
      JOIN ws.node fc ON fc.id = fb.child
     WHERE n.workflow = workflow AND n.split = 'xor' AND NOT n.is_end
       AND (t.priority, t.id) > (fb.priority, fb.id)
     ORDER BY n.id, t.priority, t.id;
END $$;
COMMENT ON FUNCTION ws_internal.lint(bigint) IS 'ws.lint''s implementation';

CREATE FUNCTION ws.lint(workflow bigint) RETURNS SETOF text AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.lint(bigint) IS
    'Warnings about a workflow, one readable row each: what ws.start accepts but is probably a mistake (ws.validate lists what it refuses)';

CREATE FUNCTION ws_internal.lint(workflow text) RETURNS SETOF text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT ws_internal.lint(ws_internal.workflow_id(workflow))
$$;
COMMENT ON FUNCTION ws_internal.lint(text) IS 'ws.lint''s implementation, by name';

CREATE FUNCTION ws.lint(workflow text) RETURNS SETOF text AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.lint(text) IS 'Warnings about the newest version of the named workflow, one readable row each';
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
------------------------------------------------------------------------------
-- People: take, release, assign (C, src/engine.c)
------------------------------------------------------------------------------

CREATE FUNCTION ws.take(task bigint) RETURNS void
    AS 'MODULE_PATHNAME', 'ws_take' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws.take(bigint) IS
    'A member of the node''s role makes a pending task assigned to themselves, whoever it was assigned to';

CREATE FUNCTION ws.release(task bigint) RETURNS void
    AS 'MODULE_PATHNAME', 'ws_release' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws.release(bigint) IS
    'The assignee gives a pending task back: it goes to the role member with the fewest open tasks but them, or to nobody';

CREATE FUNCTION ws.assign(task bigint, role name) RETURNS void
    AS 'MODULE_PATHNAME', 'ws_assign' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws.assign(bigint, name) IS
    'An administrator assigns a pending task to a member of its node''s role (NULL: to nobody)';

-- my_tasks runs as its owner, so users need no grant on the tables; the filter uses
-- current_user, the role of the reader (SET ROLE counts).
CREATE OR REPLACE VIEW ws.my_tasks WITH (security_barrier) AS
SELECT t.id AS task, t.process, w.name AS workflow, n.name AS node, t.action, t.state, t.assignee,
       n.role, t.params, w.params || p.params || n.params || t.params AS effective_params,
       (SELECT pg_catalog.array_agg(f.key ORDER BY f.key) FROM ws.action a, pg_catalog.jsonb_each(a.params) f
         WHERE a.name = t.action AND f.value @> '{"required": true}'
           AND coalesce(pg_catalog.jsonb_typeof((w.params || p.params || n.params || t.params) -> f.key), 'null') = 'null'
       ) AS missing,
       t.attempts, t.lease_until, t.due_at, t.created_at,
       t.assignee IS NOT DISTINCT FROM current_user AS assigned_to_me, t.error
  FROM ws.task t
  JOIN ws.process p ON p.id = t.process
  JOIN ws.node n ON n.id = t.node
  JOIN ws.workflow w ON w.id = p.workflow
 WHERE t.state IN ('pending', 'ready', 'running')
   AND p.state = 'running'
   AND (n.role IS NULL OR pg_catalog.pg_has_role(current_user, n.role, 'MEMBER'))
 ORDER BY t.assignee IS NOT DISTINCT FROM current_user DESC, t.state = 'pending' DESC, t.id;
COMMENT ON VIEW ws.my_tasks IS
    'The open tasks of running processes that the current user may act on now: assigned to them first, then pending ones; missing lists the required parameters still to fill';
COMMENT ON COLUMN ws.my_tasks.task IS 'The task''s id';
COMMENT ON COLUMN ws.my_tasks.process IS 'Its process';
COMMENT ON COLUMN ws.my_tasks.workflow IS 'The workflow''s name';
COMMENT ON COLUMN ws.my_tasks.node IS 'The node''s name';
COMMENT ON COLUMN ws.my_tasks.action IS 'The action to run, NULL for a human task';
COMMENT ON COLUMN ws.my_tasks.state IS 'pending (waits for a person), ready (for a worker to claim) or running';
COMMENT ON COLUMN ws.my_tasks.assignee IS 'The role a pending task is assigned to';
COMMENT ON COLUMN ws.my_tasks.role IS 'The node''s role, whose members may act on it; NULL: any ws user';
COMMENT ON COLUMN ws.my_tasks.params IS 'The task''s own params';
COMMENT ON COLUMN ws.my_tasks.effective_params IS 'Workflow params, then process variables, then node params, then task params';
COMMENT ON COLUMN ws.my_tasks.missing IS 'Required parameters of the action''s form still missing or null (ws.fill supplies them)';
COMMENT ON COLUMN ws.my_tasks.attempts IS 'How many times it was claimed';
COMMENT ON COLUMN ws.my_tasks.lease_until IS 'When the claim of a running task ends unless renewed';
COMMENT ON COLUMN ws.my_tasks.due_at IS 'When a pending task should be done (the node''s due)';
COMMENT ON COLUMN ws.my_tasks.created_at IS 'When the node was activated';
COMMENT ON COLUMN ws.my_tasks.assigned_to_me IS 'Assigned to the current user';
COMMENT ON COLUMN ws.my_tasks.error IS 'What a pending task needs (missing or mistyped params), or the error of its last failed attempt';

-- processes the current user started or acted in (an event of theirs), for users
CREATE VIEW ws.my_processes WITH (security_barrier) AS
SELECT p.id, p.workflow, w.name AS workflow_name, w.version, p.state, p.params, p.started_at, p.ended_at,
       p.error, p.started_by
  FROM ws.process p
  JOIN ws.workflow w ON w.id = p.workflow
 WHERE p.started_by = current_user
    OR EXISTS (SELECT FROM ws.event e WHERE e.process = p.id AND e.actor = current_user);
COMMENT ON VIEW ws.my_processes IS
    'The processes the current user started or acted in (an event of theirs), with the columns of ws.process';
COMMENT ON COLUMN ws.my_processes.id IS 'The process''s id';
COMMENT ON COLUMN ws.my_processes.workflow IS 'The workflow version it runs';
COMMENT ON COLUMN ws.my_processes.workflow_name IS 'The workflow''s name';
COMMENT ON COLUMN ws.my_processes.version IS 'The workflow''s version';
COMMENT ON COLUMN ws.my_processes.state IS 'running, completed, failed or cancelled';
COMMENT ON COLUMN ws.my_processes.params IS 'The process variables';
COMMENT ON COLUMN ws.my_processes.started_at IS 'When it started';
COMMENT ON COLUMN ws.my_processes.ended_at IS 'When it ended';
COMMENT ON COLUMN ws.my_processes.error IS 'Why it failed';
COMMENT ON COLUMN ws.my_processes.started_by IS 'The role that started it';

CREATE OR REPLACE VIEW ws.process_overview WITH (security_barrier) AS
SELECT p.id AS process, w.name AS workflow, w.version, p.state, p.started_by, p.started_at, p.ended_at,
       coalesce(p.ended_at, now()) - p.started_at AS duration,
       count(t.id) FILTER (WHERE t.state IN ('waiting', 'pending', 'ready', 'running')) AS active,
       count(t.id) FILTER (WHERE t.state = 'pending') AS pending,
       count(t.id) FILTER (WHERE t.state = 'running') AS running,
       count(t.id) FILTER (WHERE t.state = 'succeeded') AS succeeded,
       string_agg(DISTINCT n.name, ', ') FILTER (WHERE t.state IN ('waiting', 'pending', 'ready', 'running')) AS at,
       p.error
  FROM ws.process p
  JOIN ws.workflow w ON w.id = p.workflow
  LEFT JOIN ws.task t ON t.process = p.id
  LEFT JOIN ws.node n ON n.id = t.node
 WHERE pg_catalog.has_function_privilege('ws.assign(bigint, name)', 'EXECUTE')
    OR p.id IN (SELECT m.id FROM ws.my_processes m)
 GROUP BY p.id, w.name, w.version;
COMMENT ON VIEW ws.process_overview IS
    'One line a process for psql: where it is (the nodes of its active tasks), counts by state, its error; users see the processes of ws.my_processes, administrators all';
COMMENT ON COLUMN ws.process_overview.process IS 'The process''s id';
COMMENT ON COLUMN ws.process_overview.workflow IS 'The workflow''s name';
COMMENT ON COLUMN ws.process_overview.version IS 'The workflow''s version';
COMMENT ON COLUMN ws.process_overview.state IS 'running, completed, failed or cancelled';
COMMENT ON COLUMN ws.process_overview.started_by IS 'The role that started it';
COMMENT ON COLUMN ws.process_overview.started_at IS 'When it started';
COMMENT ON COLUMN ws.process_overview.ended_at IS 'When it ended';
COMMENT ON COLUMN ws.process_overview.duration IS 'How long it ran, or has been running';
COMMENT ON COLUMN ws.process_overview.active IS 'Tasks waiting, pending, ready or running';
COMMENT ON COLUMN ws.process_overview.pending IS 'Tasks waiting for a person';
COMMENT ON COLUMN ws.process_overview.running IS 'Tasks claimed by workers';
COMMENT ON COLUMN ws.process_overview.succeeded IS 'Tasks that succeeded';
COMMENT ON COLUMN ws.process_overview."at" IS 'The nodes of its active tasks';
COMMENT ON COLUMN ws.process_overview.error IS 'Why it failed';


CREATE OR REPLACE PROCEDURE ws.run_ticks(seconds numeric DEFAULT 58, every numeric DEFAULT 0.25)
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    stop timestamptz := pg_catalog.clock_timestamp() + pg_catalog.make_interval(secs => seconds);
    next timestamptz;
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
            PERFORM ws.tick();
            SELECT least(pg_catalog.min(due_at), (SELECT pg_catalog.min(lease_until) FROM ws.task WHERE state = 'running'))
              INTO next FROM ws.task WHERE state = 'waiting';
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

------------------------------------------------------------------------------
-- Workflows as pictures and documents: DOT import (C, src/dot/ws_dot.c, its
-- own library ws_dot so the engine library never loads Graphviz), DOT export, process
-- pictures, JSON export, warnings, and the overview of versions.
------------------------------------------------------------------------------

CREATE FUNCTION ws_internal.define_dot(dot text) RETURNS bigint
    AS '$libdir/ws_dot', 'ws_define_dot' LANGUAGE C VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws_internal.define_dot(text) IS 'ws.define_dot''s implementation';

CREATE FUNCTION ws.define_dot(dot text) RETURNS bigint AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STRICT;
COMMENT ON FUNCTION ws.define_dot(text) IS
    'Defines a workflow from a Graphviz digraph (read by Graphviz''s parser), attributes as in ws.define''s document; all or nothing. Returns the workflow id';

-- Graphviz's scanner keeps backslashes in quoted strings except before a quote or a
-- newline, and drops a newline that stands alone before a quote or a backslash. Runs of
-- backslashes and newlines therefore go into HTML-like pieces <...>, where Graphviz keeps
-- everything, joined to the quoted pieces with DOT's + (Graphviz reads them back as one
-- plain string). Nearly every string has neither and is one quoted string.
CREATE FUNCTION ws_internal.dot_quote(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN strpos(s, E'\\') = 0 AND strpos(s, E'\n') = 0
                THEN '"' || replace(s, '"', '\"') || '"'
                ELSE (SELECT string_agg(CASE WHEN r.m[1] ~ E'^[\\\\\n]' THEN '<' || r.m[1] || '>'
                                             ELSE '"' || replace(r.m[1], '"', '\"') || '"' END,
                                        ' + ' ORDER BY r.ord)
                        FROM regexp_matches(s, E'[\\\\\n]+|[^\\\\\n]+', 'g') WITH ORDINALITY AS r(m, ord))
           END
$$;
COMMENT ON FUNCTION ws_internal.dot_quote(text) IS 'A DOT string that Graphviz reads back as exactly s';

-- A label that Graphviz draws as the text s: a backslash is doubled (Graphviz draws \\ as
-- one and reads \n, \N, \l... as escapes), a newline is written \n.
CREATE FUNCTION ws_internal.dot_label(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
    SELECT '"' || replace(replace(replace(s, E'\\', E'\\\\'), '"', '\"'), E'\n', '\n') || '"'
$$;
COMMENT ON FUNCTION ws_internal.dot_label(text) IS 'A DOT string that Graphviz draws as the text s';

-- The picture of a workflow, and of a process of it when process is given.
-- Workflow attributes first (what ws.define_dot reads back), then drawing attributes
-- (what ws.define_dot ignores):
--   start node: oval with a bold line; end node: double oval; a routing node (no action,
--   no role) in between: a diamond, the gateway of BPMN; other nodes: rounded boxes.
--   Gates: a second label line names the join when it has two or more incoming
--   transitions or is not AND, and the split when it has two or more outgoing ones or is
--   not AND. Edges are labelled with their condition, prefixed by #priority when not 0.
--   Process: each node is filled with the colour of the state of its latest task and the
--   state is written under the name, with the number of runs when there were several;
--   transitions holding tokens are drawn bold blue with the count.
CREATE FUNCTION ws_internal.dot(workflow bigint, process bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH w AS (SELECT * FROM ws.workflow x WHERE x.id = dot.workflow),
    p AS (SELECT * FROM ws.process x WHERE x.id = dot.process),
    n AS (
        SELECT n.*,
               (SELECT count(*) FROM ws.transition t WHERE t.child = n.id) AS ins,
               (SELECT count(*) FROM ws.transition t WHERE t.parent = n.id) AS outs,
               k.state, k.runs
          FROM ws.node n
          LEFT JOIN LATERAL (
              SELECT (SELECT x.state FROM ws.task x WHERE x.process = dot.process AND x.node = n.id
                       ORDER BY x.id DESC LIMIT 1) AS state,
                     (SELECT count(*) FROM ws.task x WHERE x.process = dot.process AND x.node = n.id) AS runs
          ) k ON true
         WHERE n.workflow = dot.workflow),
    node_lines AS (
        SELECT n.id, format('  %s [%s];', ws_internal.dot_quote(n.name), concat_ws(', ',
                   CASE WHEN n.is_start THEN 'start=true' END,
                   CASE WHEN n.is_end THEN 'end=true' END,
                   CASE WHEN n."join" <> 'and' THEN format('join=%s', n."join") END,
                   CASE WHEN n.split <> 'and' THEN format('split=%s', n.split) END,
                   CASE WHEN n.action IS NOT NULL THEN 'action=' || ws_internal.dot_quote(n.action) END,
                   CASE WHEN n.role IS NOT NULL THEN 'role=' || ws_internal.dot_quote(n.role) END,
                   CASE WHEN n.params <> '{}' THEN 'params=' || ws_internal.dot_quote(n.params::text) END,
                   CASE WHEN n.wait IS NOT NULL THEN 'wait=' || ws_internal.dot_quote(n.wait::text) END,
                   CASE WHEN n.wait_until IS NOT NULL THEN 'wait_until=' || ws_internal.dot_quote(n.wait_until::text) END,
                   CASE WHEN n.retries <> 0 THEN format('retries=%s', n.retries) END,
                   CASE WHEN n.due IS NOT NULL THEN 'due=' || ws_internal.dot_quote(n.due::text) END,
                   CASE WHEN n.is_start AND n.is_end THEN 'shape=oval, penwidth=2, peripheries=2'
                        WHEN n.is_start THEN 'shape=oval, penwidth=2'
                        WHEN n.is_end THEN 'shape=oval, peripheries=2'
                        WHEN n.action IS NULL AND n.role IS NULL THEN 'shape=diamond' END,
                   'label=' || ws_internal.dot_label(concat_ws(E'\n', n.name,
                       nullif(concat_ws(', ',
                           CASE WHEN n.ins > 1 OR n."join" <> 'and' THEN upper(n."join"::text) || ' join' END,
                           CASE WHEN n.outs > 1 OR n.split <> 'and' THEN upper(n.split::text) || ' split' END), ''),
                       CASE WHEN dot.process IS NOT NULL AND n.state IS NOT NULL
                            THEN n.state || CASE WHEN n.runs > 1 THEN format(' (%s runs)', n.runs) ELSE '' END END)),
                   CASE WHEN n.action IS NOT NULL OR n.role IS NOT NULL
                        THEN 'tooltip=' || ws_internal.dot_label(concat_ws(', ', 'action: ' || n.action, 'role: ' || n.role)) END,
                   CASE WHEN dot.process IS NOT NULL THEN 'fillcolor=' || CASE n.state
                        WHEN 'waiting' THEN 'khaki' WHEN 'pending' THEN 'gold' WHEN 'ready' THEN 'lightyellow'
                        WHEN 'running' THEN 'lightblue' WHEN 'succeeded' THEN 'palegreen'
                        WHEN 'failed' THEN 'salmon' WHEN 'cancelled' THEN 'gray80' ELSE 'white' END END
               )) AS line
          FROM n),
    edge_lines AS (
        SELECT t.id, format('  %s -> %s%s;', ws_internal.dot_quote(a.name), ws_internal.dot_quote(b.name),
                   coalesce(' [' || nullif(concat_ws(', ',
                       CASE WHEN t.condition IS NOT NULL THEN 'condition=' || ws_internal.dot_quote(t.condition::text) END,
                       CASE WHEN t.priority <> 0 THEN format('priority=%s', t.priority) END,
                       'label=' || nullif(ws_internal.dot_label(concat_ws(' ',
                           CASE WHEN t.priority <> 0 THEN '#' || t.priority END,
                           -- drawn without jsonpath's outer parentheses and quotes of plain keys
                           regexp_replace(regexp_replace(t.condition::text, '^\((.*)\)$', '\1'),
                                          '\."([A-Za-z_][A-Za-z0-9_]*)"', '.\1', 'g'))), '""'),
                       CASE WHEN coalesce(p_tok.k, 0) > 0
                            THEN format('color=blue, penwidth=2, xlabel="%s token%s"', p_tok.k,
                                        CASE WHEN p_tok.k > 1 THEN 's' ELSE '' END) END
                   ), '') || ']', '')) AS line
          FROM ws.transition t
          JOIN ws.node a ON a.id = t.parent
          JOIN ws.node b ON b.id = t.child
          LEFT JOIN LATERAL (SELECT (p.tokens->>t.id::text)::int AS k FROM p) p_tok ON true
         WHERE t.workflow = dot.workflow)
    SELECT format('digraph %s {', ws_internal.dot_quote(w.name)) || E'\n'
        || concat_ws(E'\n',
               CASE WHEN w.description IS NOT NULL THEN '  description=' || ws_internal.dot_quote(w.description) || ';' END,
               CASE WHEN w.params <> '{}' THEN '  params=' || ws_internal.dot_quote(w.params::text) || ';' END,
               '  label=' || ws_internal.dot_label(w.name || ' v' || w.version
                   || coalesce((SELECT format(', process %s: %s', p.id, p.state) FROM p), '')) || ';',
               '  labelloc=t; fontname="Helvetica";',
               '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica"];',
               '  edge [fontname="Helvetica", fontsize=10];',
               (SELECT string_agg(line, E'\n' ORDER BY id) FROM node_lines),
               (SELECT string_agg(line, E'\n' ORDER BY id) FROM edge_lines))
        || E'\n}\n'
      FROM w
$$;
COMMENT ON FUNCTION ws_internal.dot(bigint, bigint) IS
    'Graphviz source of a workflow, coloured by a process''s tasks when given';

-- to_dot, process_dot, export and lint are VOLATILE although they only read: a VOLATILE
-- function takes a fresh snapshot for each statement, so it sees what an inner call of the
-- same query wrote, as in SELECT ws.export(ws.define(...)) or ws.to_dot(ws.define_dot(...)).
CREATE FUNCTION ws_internal.to_dot(workflow bigint) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
BEGIN
    IF NOT EXISTS (SELECT FROM ws.workflow w WHERE w.id = workflow) THEN
        RAISE EXCEPTION 'workflow % does not exist', workflow
            USING ERRCODE = '42704', HINT = 'See SELECT id, name, version FROM ws.workflow_overview.';
    END IF;
    RETURN ws_internal.dot(workflow, NULL);
END $$;
COMMENT ON FUNCTION ws_internal.to_dot(bigint) IS 'ws.to_dot''s implementation';

CREATE FUNCTION ws.to_dot(workflow bigint) RETURNS text AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.to_dot(bigint) IS
    'The workflow as Graphviz source: readable (shapes, gates, conditions) and read back by ws.define_dot as an equal workflow';

CREATE FUNCTION ws_internal.to_dot(workflow text) RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT ws_internal.to_dot(ws_internal.workflow_id(workflow))
$$;
COMMENT ON FUNCTION ws_internal.to_dot(text) IS 'ws.to_dot''s implementation, by name';

CREATE FUNCTION ws.to_dot(workflow text) RETURNS text AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.to_dot(text) IS 'The newest version of the named workflow as Graphviz source';

CREATE FUNCTION ws_internal.process_dot(process bigint) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    p ws.process;
BEGIN
    SELECT * INTO p FROM ws.process x WHERE x.id = process;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'process % does not exist', process
            USING ERRCODE = '42704', HINT = 'See SELECT id, workflow_name, state FROM ws.my_processes.';
    END IF;
    IF NOT ws_internal.is_admin() AND p.started_by <> ws_internal.caller()
       AND NOT EXISTS (SELECT FROM ws.event e WHERE e.process = p.id AND e.actor = ws_internal.caller()) THEN
        RAISE EXCEPTION 'permission denied to see process %', process
            USING ERRCODE = '42501',
                  DETAIL = format('Role "%s" neither started it nor acted in it.', ws_internal.caller()),
                  HINT = 'See SELECT id, workflow_name, state FROM ws.my_processes; an administrator sees every process.';
    END IF;
    RETURN ws_internal.dot(p.workflow, process);
END $$;
COMMENT ON FUNCTION ws_internal.process_dot(bigint) IS 'ws.process_dot''s implementation';

CREATE FUNCTION ws.process_dot(process bigint) RETURNS text AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.process_dot(bigint) IS
    'The workflow of a process as Graphviz source, each node coloured by the state of its latest task, with the number of runs; users see the processes of ws.my_processes';

------------------------------------------------------------------------------
-- Versions at a glance
------------------------------------------------------------------------------

COMMENT ON COLUMN ws.workflow_overview.id IS 'The workflow version''s id';
COMMENT ON COLUMN ws.workflow_overview.name IS 'The workflow''s name';
COMMENT ON COLUMN ws.workflow_overview.version IS 'The version';
COMMENT ON COLUMN ws.workflow_overview.newest IS 'The version ws.start(name) starts';
COMMENT ON COLUMN ws.workflow_overview.nodes IS 'How many nodes it has';
COMMENT ON COLUMN ws.workflow_overview.transitions IS 'How many transitions it has';
COMMENT ON COLUMN ws.workflow_overview.running IS 'Its running processes';
COMMENT ON COLUMN ws.workflow_overview.completed IS 'Its completed processes';
COMMENT ON COLUMN ws.workflow_overview.failed IS 'Its failed processes';
COMMENT ON COLUMN ws.workflow_overview.cancelled IS 'Its cancelled processes';
COMMENT ON COLUMN ws.workflow_overview.created_at IS 'When it was defined';
COMMENT ON COLUMN ws.workflow_overview.created_by IS 'Who defined it';
COMMENT ON COLUMN ws.workflow_overview.description IS 'Free text';
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
                   ORDER BY n.id)
                 FROM ws.node n WHERE n.workflow = w.id), '[]'))
        || jsonb_build_object('transitions', coalesce((
               SELECT jsonb_agg(jsonb_build_object('from', a.name, 'to', b.name)
                   || CASE WHEN t.condition IS NOT NULL THEN jsonb_build_object('condition', t.condition::text)
                           ELSE '{}' END
                   || CASE WHEN t.priority <> 0 THEN jsonb_build_object('priority', t.priority) ELSE '{}' END
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

------------------------------------------------------------------------------
-- Access: what ws.grant_user and ws.grant_admin give a role
--
-- Users start processes, see and act on the tasks their roles allow (ws.my_tasks), and
-- see the processes they started or acted in (ws.my_processes, ws.process_overview,
-- ws.process_dot). Administrators also define workflows, read every table, cancel,
-- retry, assign and schedule. An administrator is a role that may call ws.assign (so
-- reading the tables, which reports get too, never lets anyone act on others' tasks).
------------------------------------------------------------------------------

CREATE FUNCTION ws_internal.grant_user(role name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
BEGIN
    IF role IS NULL THEN
        RAISE EXCEPTION 'role must not be null' USING ERRCODE = '22004';
    END IF;
    IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = role) THEN
        RAISE EXCEPTION 'role "%" does not exist', role
            USING ERRCODE = '42704', HINT = 'Create it first: CREATE ROLE ... LOGIN or NOLOGIN.';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA ws TO %I', role);
    EXECUTE format('GRANT SELECT ON ws.my_tasks, ws.my_processes, ws.process_overview TO %I', role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION ws.start(bigint, jsonb), ws.start(text, jsonb), '
                   'ws.claim(text[], text, integer, interval), ws.complete(bigint, jsonb, integer), '
                   'ws.complete_batch(bigint[], jsonb[], integer[]), '
                   'ws.fail(bigint, text, integer), ws.heartbeat(bigint, interval, integer), '
                   'ws.progress(bigint, numeric), ws.fill(bigint, jsonb), ws.take(bigint), '
                   'ws.release(bigint), ws.process_dot(bigint) TO %I', role);
END $$;
COMMENT ON FUNCTION ws_internal.grant_user(name) IS 'ws.grant_user''s implementation';

CREATE FUNCTION ws.grant_user(role name) RETURNS void AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.grant_user(name) IS
    'Lets a role start processes, see the tasks its roles allow (ws.my_tasks) and the processes it started or acted in, and act on them';

CREATE FUNCTION ws_internal.grant_admin(role name) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
BEGIN
    PERFORM ws_internal.grant_user(role);
    EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA ws TO %I', role);
    EXECUTE format('GRANT EXECUTE ON FUNCTION ws.create_workflow(text, jsonb, text), '
                   'ws.add_node(bigint, text, text, name, boolean, boolean, ws.gate, ws.gate, jsonb, interval, text, integer, interval), '
                   'ws.add_transition(bigint, text, text, jsonpath, integer), ws.define(jsonb), '
                   'ws.register_action(text, jsonb, text), ws.validate(bigint), ws.validate(text), '
                   'ws.to_dot(bigint), ws.to_dot(text), ws.cancel(bigint, text), ws.retry(bigint), ws.tick(), '
                   'ws.assign(bigint, name), ws.schedule_tick(), ws.unschedule_tick(), ws.define_dot(text), '
                   'ws.export(bigint), ws.export(text), ws.lint(bigint), ws.lint(text) TO %I', role);
    EXECUTE format('GRANT EXECUTE ON PROCEDURE ws.run_ticks(numeric, numeric) TO %I', role);
END $$;
COMMENT ON FUNCTION ws_internal.grant_admin(name) IS 'ws.grant_admin''s implementation';

CREATE FUNCTION ws.grant_admin(role name) RETURNS void AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.grant_admin(name) IS
    'Lets a role also define workflows, see everything, cancel, retry and assign';

-- Last: whatever the parts before created, PUBLIC gets none of it.
------------------------------------------------------------------------------
-- Nothing for PUBLIC
------------------------------------------------------------------------------

REVOKE ALL ON ALL TABLES IN SCHEMA ws FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA ws FROM PUBLIC;
REVOKE ALL ON ALL ROUTINES IN SCHEMA ws_internal FROM PUBLIC;

-- Roles granted before the update get again what ws.grant_user and ws.grant_admin grant
-- (the functions made anew above lost their grants): users had ws.claim, administrators
-- could read ws.task.
DO $$
DECLARE
    r name;
BEGIN
    FOR r IN
        SELECT DISTINCT pg_get_userbyid(a.grantee) FROM pg_proc p, aclexplode(p.proacl) a
         WHERE p.oid = 'ws.claim(text[], text, integer, interval)'::regprocedure
           AND a.privilege_type = 'EXECUTE' AND a.grantee <> 0 AND a.grantee <> p.proowner
    LOOP
        PERFORM ws_internal.grant_user(r);
    END LOOP;
    FOR r IN
        SELECT DISTINCT pg_get_userbyid(a.grantee) FROM pg_class c, aclexplode(c.relacl) a
         WHERE c.oid = 'ws.task'::regclass
           AND a.privilege_type = 'SELECT' AND a.grantee <> 0 AND a.grantee <> c.relowner
    LOOP
        PERFORM ws_internal.grant_admin(r);
    END LOOP;
END $$;

-- pg_init_privs: those grants, and schema ws's grants as it joined the extension, were
-- recorded as the extension's initial privileges, which pg_dump leaves out of a dump (a
-- restored database would lose them). A fresh install records its owner's privileges
-- only, and nothing for schema ws: the same here, so that the users' grants are dumped.
DELETE FROM pg_catalog.pg_init_privs
 WHERE classoid = 'pg_catalog.pg_namespace'::regclass AND objoid = 'ws'::regnamespace;
UPDATE pg_catalog.pg_init_privs i
   SET initprivs = (SELECT pg_catalog.array_agg(x ORDER BY n)
                      FROM pg_catalog.unnest(i.initprivs) WITH ORDINALITY AS u(x, n)
                     WHERE EXISTS (SELECT FROM pg_catalog.aclexplode(ARRAY[x]) e
                                    WHERE e.grantee = (SELECT nspowner FROM pg_catalog.pg_namespace
                                                        WHERE nspname = 'ws')))
 WHERE i.privtype = 'e'
   AND ((i.classoid = 'pg_catalog.pg_proc'::regclass
         AND i.objoid IN (SELECT oid FROM pg_catalog.pg_proc
                           WHERE pronamespace IN ('ws'::regnamespace, 'ws_internal'::regnamespace)))
     OR (i.classoid = 'pg_catalog.pg_class'::regclass
         AND i.objoid IN (SELECT oid FROM pg_catalog.pg_class
                           WHERE relnamespace IN ('ws'::regnamespace, 'ws_internal'::regnamespace))));
