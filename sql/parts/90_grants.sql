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
    EXECUTE format('GRANT EXECUTE ON FUNCTION ws.start(bigint, jsonb, text), ws.start(text, jsonb, text), ws.process_by_key(text, text), '
                   'ws.claim(text[], text, integer, interval), ws.complete(bigint, jsonb, integer), '
                   'ws.complete_batch(bigint[], jsonb[], integer[]), '
                   'ws.fail(bigint, text, integer), ws.heartbeat(bigint, interval, integer), '
                   'ws.progress(bigint, numeric), ws.fill(bigint, jsonb), ws.take(bigint), '
                   'ws.release(bigint), ws.process_dot(bigint), ws.send(text, text, jsonb, interval) TO %I', role);
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
                   'ws.add_node(bigint, text, text, name, boolean, boolean, ws.gate, ws.gate, jsonb, interval, text, integer, interval, text, text, interval, text, text, text, boolean, text), '
                   'ws.add_transition(bigint, text, text, jsonpath, integer, text), ws.define(jsonb), '
                   'ws.register_action(text, jsonb, text, regprocedure), ws.validate(bigint), ws.validate(text), '
                   'ws.to_dot(bigint), ws.to_dot(text), ws.cancel(bigint, text), ws.retry(bigint), ws.tick(), '
                   'ws.assign(bigint, name), ws.schedule_tick(), ws.unschedule_tick(), ws.define_dot(text), '
                   'ws.export(bigint), ws.export(text), ws.lint(bigint), ws.lint(text), ws.define_bpmn(text), '
                   'ws.to_bpmn(bigint), ws.to_bpmn(text), ws.purge(interval, integer), ws.schedule_purge(interval), '
                   'ws.check_define(jsonb), ws.check_define_dot(text), ws.check_register_action(text, jsonb, text, regprocedure), '
                   'ws.align_definitions(bigint[]), ws.migrate(bigint, bigint, jsonb, boolean), '
                   'ws.migrate_all(bigint, bigint, jsonb, boolean, integer) TO %I', role);
    EXECUTE format('GRANT EXECUTE ON PROCEDURE ws.run_ticks(numeric, numeric), ws.run_purge(interval, integer, numeric) TO %I', role);
END $$;
COMMENT ON FUNCTION ws_internal.grant_admin(name) IS 'ws.grant_admin''s implementation';

CREATE FUNCTION ws.grant_admin(role name) RETURNS void AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.grant_admin(name) IS
    'Lets a role also define workflows, see everything, cancel, retry, assign and migrate';
