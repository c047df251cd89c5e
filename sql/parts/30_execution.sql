------------------------------------------------------------------------------
-- Execution: the engine's entry points, in C (src/calls.c, src/batch.c, src/claim.c,
-- src/people.c, src/timers.c). They are not SECURITY DEFINER: they read the caller
-- (current_user, so SET ROLE counts), then do their work as the extension's owner. Their
-- row work goes through src/store.c without plans; the few SQL statements they run
-- (src/queries.c) carry the planner settings they need themselves, so nothing else a
-- call runs (a user's trigger, say) runs with them.
------------------------------------------------------------------------------

CREATE FUNCTION ws.start(workflow bigint, params jsonb DEFAULT '{}', key text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'ws_start' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws.start(bigint, jsonb, text) IS
    'Starts a process of a workflow version: every start node at once. Returns the process id; with a business key that a process of the workflow''s name carries, that process''s id, and nothing starts';

CREATE FUNCTION ws.start(workflow text, params jsonb DEFAULT '{}', key text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'ws_start_by_name' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws.start(text, jsonb, text) IS
    'Starts a process of the newest version of the named workflow. Returns the process id; with a business key that a process of that name carries, that process''s id, and nothing starts';

CREATE FUNCTION ws.claim(actions text[], worker text, max integer DEFAULT 1, lease interval DEFAULT '5 minutes')
RETURNS TABLE (task bigint, process bigint, node text, action text, params jsonb, attempt integer,
               lease_until timestamptz)
    AS 'MODULE_PATHNAME', 'ws_claim' LANGUAGE C VOLATILE ROWS 1
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws.claim(text[], text, integer, interval) IS
    'Takes up to max ready tasks of those actions that the caller may take; each is running under a lease';

CREATE FUNCTION ws.complete(task bigint, result jsonb DEFAULT '{}', attempt integer DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'ws_complete' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws.complete(bigint, jsonb, integer) IS
    'Marks a running (or pending human) task succeeded; its result is merged into the process variables and the split runs';

CREATE FUNCTION ws.complete_batch(tasks bigint[], results jsonb[] DEFAULT NULL,
                                  attempts integer[] DEFAULT NULL) RETURNS integer
    AS 'MODULE_PATHNAME', 'ws_complete_batch' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws.complete_batch(bigint[], jsonb[], integer[]) IS
    'ws.complete of every task in tasks, in order, as one call that does all or nothing: results[i] and attempts[i] go with tasks[i] (NULL: {} and no attempt check). Returns how many tasks it completed';

CREATE FUNCTION ws.fail(task bigint, error text, attempt integer DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'ws_fail' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws.fail(bigint, text, integer) IS
    'Reports a failed attempt: retried after a back-off while retries remain, else the task and its process fail';

CREATE FUNCTION ws.heartbeat(task bigint, lease interval DEFAULT '5 minutes', attempt integer DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'ws_heartbeat' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws.heartbeat(bigint, interval, integer) IS 'Extends the lease of a running task';

CREATE FUNCTION ws.progress(task bigint, percent numeric) RETURNS void
    AS 'MODULE_PATHNAME', 'ws_progress' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws.progress(bigint, numeric) IS 'Reports the progress of a running task, 0 to 100';

CREATE FUNCTION ws.fill(task bigint, params jsonb) RETURNS void
    AS 'MODULE_PATHNAME', 'ws_fill' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws.fill(bigint, jsonb) IS
    'A role member supplies missing parameters of a pending task; it becomes ready once nothing required is missing';

CREATE FUNCTION ws.cancel(process bigint, reason text DEFAULT NULL) RETURNS void
    AS 'MODULE_PATHNAME', 'ws_cancel' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws.cancel(bigint, text) IS 'Cancels a running or failed process and its active tasks';

CREATE FUNCTION ws.retry(task bigint) RETURNS void
    AS 'MODULE_PATHNAME', 'ws_retry' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws.retry(bigint) IS 'Puts a failed task back to ready and its process back to running';

CREATE FUNCTION ws.tick() RETURNS integer
    AS 'MODULE_PATHNAME', 'ws_tick' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws.tick() IS 'Fires due timers and expired leases, and drops expired kept messages; returns how many tasks it moved';

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


------------------------------------------------------------------------------
-- Messages (C, src/messages.c)
------------------------------------------------------------------------------

CREATE FUNCTION ws.send(message text, key text DEFAULT NULL, payload jsonb DEFAULT '{}',
                        ttl interval DEFAULT NULL) RETURNS integer
    AS 'MODULE_PATHNAME', 'ws_send' LANGUAGE C VOLATILE
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws.send(text, text, jsonb, interval) IS
    'Every task now waiting for the message with that key succeeds with payload; returns how many. None reached and a ttl: the message is kept for the first task that starts waiting for it';
