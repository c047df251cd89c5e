-- web/schema.sql: what the web interface adds to a database that has ws; web/run runs it
-- (idempotent) before starting the server, as a superuser.
--
-- ws_web holds one-line SECURITY INVOKER aliases for the ws functions that GraphQL cannot
-- serve as they are: PostGraphile skips overloaded functions (ws.start, ws.lint,
-- ws.to_dot, ws.to_bpmn, ws.validate, ws.export each have a bigint and a text form). An alias does
-- nothing its caller could not do with the ws function itself: the ws function checks the
-- caller's rights as always. And a trigger on ws.event (a hook, as ws's README describes
-- them) notifies channel ws_web on every change of a task or process, so that open pages
-- refresh within a second.
CREATE SCHEMA IF NOT EXISTS ws_web;
COMMENT ON SCHEMA ws_web IS 'The web interface''s aliases of overloaded ws functions, and its change notification';

CREATE OR REPLACE FUNCTION ws_web.start(workflow text, params jsonb DEFAULT '{}') RETURNS bigint
LANGUAGE sql SECURITY INVOKER SET search_path = pg_catalog, pg_temp
AS $$ SELECT ws.start(workflow, params) $$;
COMMENT ON FUNCTION ws_web.start(text, jsonb) IS 'ws.start(workflow text, params jsonb), as the caller';

CREATE OR REPLACE FUNCTION ws_web.lint(workflow bigint) RETURNS SETOF text
LANGUAGE sql STABLE SECURITY INVOKER SET search_path = pg_catalog, pg_temp
AS $$ SELECT ws.lint(workflow) $$;
COMMENT ON FUNCTION ws_web.lint(bigint) IS 'ws.lint(workflow bigint), as the caller';

CREATE OR REPLACE FUNCTION ws_web.validate(workflow bigint) RETURNS SETOF text
LANGUAGE sql STABLE SECURITY INVOKER SET search_path = pg_catalog, pg_temp
AS $$ SELECT ws.validate(workflow) $$;
COMMENT ON FUNCTION ws_web.validate(bigint) IS 'ws.validate(workflow bigint), as the caller';

CREATE OR REPLACE FUNCTION ws_web.to_dot(workflow bigint) RETURNS text
LANGUAGE sql STABLE SECURITY INVOKER SET search_path = pg_catalog, pg_temp
AS $$ SELECT ws.to_dot(workflow) $$;
COMMENT ON FUNCTION ws_web.to_dot(bigint) IS 'ws.to_dot(workflow bigint), as the caller';

-- as text: the browser hands it to bpmn-js as it is
CREATE OR REPLACE FUNCTION ws_web.to_bpmn(workflow bigint) RETURNS text
LANGUAGE sql STABLE SECURITY INVOKER SET search_path = pg_catalog, pg_temp
AS $$ SELECT ws.to_bpmn(workflow)::text $$;
COMMENT ON FUNCTION ws_web.to_bpmn(bigint) IS 'ws.to_bpmn(workflow bigint) as text, as the caller';

-- The forms of the named actions, {"action": form}, for the task list's generated forms.
-- ws grants ws.action to administrators only; a form is no workflow data, and a user needs
-- the forms of the actions of their own tasks. So this reads them as its owner, for callers
-- that are ws users: the role the caller acts as (the session's SET ROLE, as PostGraphile
-- sets it, or else the session user) must be able to read ws.my_tasks. Anyone else gets
-- 42501, as from ws.
CREATE OR REPLACE FUNCTION ws_web.action_forms(actions text[]) RETURNS jsonb
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    caller name := CASE current_setting('role') WHEN 'none' THEN session_user ELSE current_setting('role') END;
BEGIN
    IF NOT has_table_privilege(caller, 'ws.my_tasks', 'SELECT') THEN
        RAISE EXCEPTION 'permission denied for the forms of ws actions'
            USING ERRCODE = '42501', HINT = 'An administrator gives access with ws.grant_user().';
    END IF;
    RETURN coalesce((SELECT jsonb_object_agg(a.name, a.params) FROM ws.action a WHERE a.name = ANY (actions)), '{}');
END $$;
COMMENT ON FUNCTION ws_web.action_forms(text[]) IS 'The forms of the named actions, {"action": form}, for ws users';

CREATE OR REPLACE FUNCTION ws_web.notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_notify('ws_web', '');
    RETURN NULL;
END $$;
COMMENT ON FUNCTION ws_web.notify() IS 'Trigger on ws.event: tells the web interface (channel ws_web) that something changed';

DROP TRIGGER IF EXISTS ws_web_notify ON ws.event;
-- a row trigger: ws's engine fires the AFTER row triggers of its writes (not statement
-- triggers); PostgreSQL sends one notification a transaction for the same payload
CREATE TRIGGER ws_web_notify AFTER INSERT ON ws.event FOR EACH ROW EXECUTE FUNCTION ws_web.notify();

-- the aliases only forward to ws, which decides; a role without ws rights gets ws's refusal
GRANT USAGE ON SCHEMA ws_web TO PUBLIC;
GRANT EXECUTE ON FUNCTION ws_web.action_forms(text[]) TO PUBLIC;
