-- sql/router/ws_router.sql: the ws router, for a router database (without ws) in front of
-- several ws databases, the shards. Install it with psql as a superuser:
--
--   psql -d router -v ON_ERROR_STOP=1 -f sql/router/ws_router.sql
--   SELECT ws_router.set_shards(ARRAY['host=db0 dbname=app', 'host=db1 dbname=app', 'host=db2 dbname=app']);
--   SELECT ws_router.grant_user('alice');
--
-- after `SELECT ws.set_shard(k, n)` in shard k of n (see ws.set_shard). It makes schema ws
-- in the router database with PL/Proxy functions of the same names as ws's (a client calls
-- ws.start, ws.complete, ws.define... on the router as it would on one ws database) and
-- schema ws_router with the configuration and the routing.
--
-- Where each call runs:
--   ws.start(workflow, params, key)     the shard of hashtext(key): the same business key
--                                       always lands on the same shard (a NULL key is refused)
--   ws.complete, fail, heartbeat, progress, fill, take, release, assign, retry (a task),
--   ws.cancel, process_dot, migrate (a process)
--                                       the shard that owns the id: id % the number of shards
--   ws.process_by_key(workflow, key)    the shard of hashtext(key), as ws.start
--   ws.send(message, key, ...)          the shard of hashtext(key), as ws.start (correlate
--                                       on the start's key); a NULL key: every shard
--   ws.define, define_dot, register_action
--                                       every shard, in two phases: first the check (ws's
--                                       check_* functions store nothing) on every shard, then
--                                       the call; a shard that refuses refuses in the first
--                                       phase and nothing is stored anywhere
--   ws.validate, lint                   every shard, the distinct problems
--   ws.to_dot, export                   shard 0 (definitions are the same everywhere)
--   ws.claim                            every shard: up to max tasks from each
--   ws.tick, purge                      every shard, summed (purge: up to batch from each)
--   ws.migrate_all                      every shard, in two phases: the check (dry_run) on
--                                       all, then the move; summed (batch: per shard)
--   ws.process_overview, my_tasks, my_processes
--                                       every shard, gathered
-- PL/Proxy connects to the shards as the current user (no user= in the connect strings, a
-- user mapping for PUBLIC without options), so each shard's role checks run against the
-- real user; passwords, where a shard wants them, come from the router server's pgpass
-- file, never from the catalog. Remote calls commit on their own (PL/Proxy runs them in
-- autocommit): one call that routes to one shard is one transaction there.

CREATE EXTENSION IF NOT EXISTS plproxy;
CREATE SCHEMA ws;
COMMENT ON SCHEMA ws IS 'The ws router: the calls of ws, routed to the shards that own their processes';
CREATE SCHEMA ws_router;
COMMENT ON SCHEMA ws_router IS 'The ws router''s configuration and routing';

CREATE TABLE ws_router.config (
    keyed   boolean NOT NULL
);
CREATE UNIQUE INDEX config_one ON ws_router.config ((true));
COMMENT ON TABLE ws_router.config IS 'What the router knows of the shards (one row, set by ws_router.set_shards)';
COMMENT ON COLUMN ws_router.config.keyed IS 'The shards'' ws.start takes a business key (ws 0.4.0): the router passes the key on';

-- ---- routing -------------------------------------------------------------------------

-- the number of shards: the partitions p0, p1... of server ws_shards
CREATE FUNCTION ws_router.shard_count() RETURNS integer
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT count(*)::integer FROM pg_foreign_server s, pg_options_to_table(s.srvoptions) o
     WHERE s.srvname = 'ws_shards' AND o.option_name ~ '^p[0-9]+$'
$$;
COMMENT ON FUNCTION ws_router.shard_count() IS 'How many shards server ws_shards has';

-- the shard that owns an id (a process's or a task's): its residue
CREATE FUNCTION ws_router.shard_of(id bigint) RETURNS integer
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n integer := ws_router.shard_count();
BEGIN
    IF n = 0 THEN
        RAISE EXCEPTION 'the router has no shards'
            USING ERRCODE = '55000', HINT = 'Call ws_router.set_shards with their connect strings.';
    END IF;
    IF id IS NULL OR id < 1 THEN
        RAISE EXCEPTION 'id % belongs to no shard', coalesce(id::text, 'NULL')
            USING ERRCODE = '22023', DETAIL = 'Process and task ids are positive.';
    END IF;
    RETURN (id % n)::integer;
END $$;
COMMENT ON FUNCTION ws_router.shard_of(bigint) IS 'The shard that owns a process or task id: id modulo the number of shards';

-- the shard of a business key
CREATE FUNCTION ws_router.shard_of_key(key text) RETURNS integer
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF key IS NULL THEN
        RAISE EXCEPTION 'key must not be null'
            USING ERRCODE = '22004', DETAIL = 'The router starts a process on the shard its business key hashes to.',
                  HINT = 'Pass the business key (an order number, a customer id), or gen_random_uuid()::text when there is none.';
    END IF;
    RETURN abs(hashtext(key) % ws_router.shard_count());
END $$;
COMMENT ON FUNCTION ws_router.shard_of_key(text) IS 'The shard a business key starts its process on: hashtext(key) modulo the number of shards';

-- ---- configuration --------------------------------------------------------------------

-- what shard k says it is (ws.shard there), k given as the partition
CREATE FUNCTION ws_router.shard_setting(part integer, OUT shard integer, OUT shards integer, OUT keyed boolean,
                                        OUT holds boolean) AS $$
    CLUSTER 'ws_shards';
    RUN ON part;
    SELECT (SELECT s.shard FROM ws.shard s) AS shard, (SELECT s.shards FROM ws.shard s) AS shards,
           to_regprocedure('ws.start(text, jsonb, text)') IS NOT NULL AS keyed,
           EXISTS (SELECT FROM ws.process p) AS holds;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.shard_setting(integer) IS
    'What one shard says of itself: its ws.shard setting, whether its ws.start takes a key, whether it holds processes';

CREATE FUNCTION ws_router.set_shards(dsns text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    old integer := ws_router.shard_count();
    n integer := cardinality(dsns);
    opts text[] := '{}';
    s record;
    keyed boolean := true;
BEGIN
    IF n IS NULL OR n = 0 OR array_position(dsns, NULL) IS NOT NULL OR '' = ANY (dsns) THEN
        RAISE EXCEPTION 'the shards must be a non-empty array of connect strings'
            USING ERRCODE = '22023', HINT = 'ws_router.set_shards(ARRAY[''host=db0 dbname=app'', ''host=db1 dbname=app'']): shard k first at position k + 1.';
    END IF;
    IF EXISTS (SELECT FROM unnest(dsns) d WHERE d ~ '(^|\s)(user|password)\s*=') THEN
        RAISE EXCEPTION 'a shard''s connect string names a user or a password'
            USING ERRCODE = '22023', DETAIL = 'The router connects to the shards as the calling user, so that ws''s role checks run against that user there.',
                  HINT = 'Leave user and password out; put passwords in the router server''s pgpass file.';
    END IF;
    -- the number of shards is part of every id's address: it changes only while none
    -- of the shards it had holds a process
    IF old > 0 AND old <> n THEN
        FOR k IN 0 .. old - 1 LOOP
            SELECT * INTO s FROM ws_router.shard_setting(k);
            IF s.holds THEN
                RAISE EXCEPTION 'cannot change the number of shards from % to % while shard % holds processes', old, n, k
                    USING ERRCODE = '55000',
                          DETAIL = 'The router finds a process''s or a task''s shard as its id modulo the number of shards: the processes would be lost to it.',
                          HINT = 'Keep the number of shards (a shard may move: give its new connect string at the same position).';
            END IF;
        END LOOP;
    END IF;
    FOR k IN 1 .. n LOOP
        opts := opts || format('%s p%s %L', CASE WHEN old = 0 THEN '' WHEN k <= old THEN 'SET' ELSE 'ADD' END,
                               k - 1, dsns[k]);
    END LOOP;
    FOR k IN n + 1 .. old LOOP
        opts := opts || format('DROP p%s', k - 1);
    END LOOP;
    IF NOT EXISTS (SELECT FROM pg_foreign_server WHERE srvname = 'ws_shards') THEN
        EXECUTE format('CREATE SERVER ws_shards FOREIGN DATA WRAPPER plproxy OPTIONS (modular_mapping ''1'', %s)',
                       array_to_string(opts, ', '));
        CREATE USER MAPPING FOR PUBLIC SERVER ws_shards;
    ELSE
        EXECUTE format('ALTER SERVER ws_shards OPTIONS (%s)', array_to_string(opts, ', '));
    END IF;
    -- every shard must be the one its position says
    FOR k IN 0 .. n - 1 LOOP
        SELECT * INTO s FROM ws_router.shard_setting(k);
        IF s.shard IS DISTINCT FROM k OR s.shards IS DISTINCT FROM n THEN
            RAISE EXCEPTION 'the database at position % is not shard % of %', k + 1, k, n
                USING ERRCODE = '55000',
                      DETAIL = format('It says it is %s.', CASE WHEN s.shard IS NULL THEN 'no shard' ELSE format('shard %s of %s', s.shard, s.shards) END),
                      HINT = format('Run SELECT ws.set_shard(%s, %s) in it, or give the shards in their order.', k, n);
        END IF;
        keyed := keyed AND s.keyed;
    END LOOP;
    DELETE FROM ws_router.config;
    INSERT INTO ws_router.config VALUES (keyed);
END $$;
COMMENT ON FUNCTION ws_router.set_shards(text[]) IS
    'Sets the shards (connect strings without user or password, shard k at position k + 1) and checks that each is the shard its position says';

CREATE FUNCTION ws_router.grant_user(role name) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = role) THEN
        RAISE EXCEPTION 'role "%" does not exist', role USING ERRCODE = '42704';
    END IF;
    EXECUTE format('GRANT USAGE ON SCHEMA ws, ws_router TO %I', role);
    EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ws TO %I', role);
    EXECUTE format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA ws_router TO %I', role);
    EXECUTE format('REVOKE EXECUTE ON FUNCTION ws_router.set_shards(text[]), ws_router.grant_user(name) FROM %I', role);
    EXECUTE format('GRANT SELECT ON ws.process_overview, ws.my_tasks, ws.my_processes, ws_router.config TO %I', role);
    EXECUTE format('GRANT USAGE ON FOREIGN SERVER ws_shards TO %I', role);
END $$;
COMMENT ON FUNCTION ws_router.grant_user(name) IS
    'Lets a role call ws through the router; what it may do there is what each shard''s ws.grant_user and ws.grant_admin allow';

-- ---- starting: the shard of the business key ------------------------------------------

CREATE FUNCTION ws_router.start_keyed(workflow text, params jsonb, key text) RETURNS bigint AS $$
    CLUSTER 'ws_shards';
    RUN ON ws_router.shard_of_key(key);
    SELECT ws.start(workflow, params, key) AS start_keyed;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.start_keyed(text, jsonb, text) IS 'ws.start on the shard of the key, passing the key on';

CREATE FUNCTION ws_router.start_unkeyed(workflow text, params jsonb, key text) RETURNS bigint AS $$
    CLUSTER 'ws_shards';
    RUN ON ws_router.shard_of_key(key);
    SELECT ws.start(workflow, params) AS start_unkeyed;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.start_unkeyed(text, jsonb, text) IS 'ws.start on the shard of the key, for shards whose ws.start takes no key';

CREATE FUNCTION ws_router.start_keyed(workflow bigint, params jsonb, key text) RETURNS bigint AS $$
    CLUSTER 'ws_shards';
    RUN ON ws_router.shard_of_key(key);
    SELECT ws.start(workflow, params, key) AS start_keyed;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.start_keyed(bigint, jsonb, text) IS 'ws.start on the shard of the key, passing the key on';

CREATE FUNCTION ws_router.start_unkeyed(workflow bigint, params jsonb, key text) RETURNS bigint AS $$
    CLUSTER 'ws_shards';
    RUN ON ws_router.shard_of_key(key);
    SELECT ws.start(workflow, params) AS start_unkeyed;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.start_unkeyed(bigint, jsonb, text) IS 'ws.start on the shard of the key, for shards whose ws.start takes no key';

CREATE FUNCTION ws.start(workflow text, params jsonb DEFAULT '{}', key text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM ws_router.shard_of_key(key);       -- refuses a NULL key
    IF (SELECT c.keyed FROM ws_router.config c) THEN
        RETURN ws_router.start_keyed(workflow, params, key);
    END IF;
    RETURN ws_router.start_unkeyed(workflow, params, key);
END $$;
COMMENT ON FUNCTION ws.start(text, jsonb, text) IS
    'Starts a process of the named workflow on the shard of its business key (hashtext(key)); returns its id';

CREATE FUNCTION ws.start(workflow bigint, params jsonb DEFAULT '{}', key text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM ws_router.shard_of_key(key);
    IF (SELECT c.keyed FROM ws_router.config c) THEN
        RETURN ws_router.start_keyed(workflow, params, key);
    END IF;
    RETURN ws_router.start_unkeyed(workflow, params, key);
END $$;
COMMENT ON FUNCTION ws.start(bigint, jsonb, text) IS
    'Starts a process of a workflow version (the same id on every shard) on the shard of its business key; returns its id';

-- ---- claiming: every shard ---------------------------------------------------------------

CREATE FUNCTION ws.claim(actions text[], worker text, max integer DEFAULT 1, lease interval DEFAULT '5 minutes')
RETURNS TABLE (task bigint, process bigint, node text, action text, params jsonb, attempt integer,
               lease_until timestamptz) AS $$
    CLUSTER 'ws_shards';
    RUN ON ALL;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws.claim(text[], text, integer, interval) IS
    'ws.claim on every shard: up to max tasks from each (a worker that connects to the shards itself claims where it was notified)';

-- ---- the calls on one task or process: the shard that owns the id --------------------

CREATE FUNCTION ws.complete(task bigint, result jsonb DEFAULT '{}', attempt integer DEFAULT NULL) RETURNS void AS $$
    CLUSTER 'ws_shards';
    RUN ON ws_router.shard_of(task);
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws.complete(bigint, jsonb, integer) IS 'ws.complete on the shard that owns the task';

CREATE FUNCTION ws.fail(task bigint, error text, attempt integer DEFAULT NULL) RETURNS void AS $$
    CLUSTER 'ws_shards';
    RUN ON ws_router.shard_of(task);
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws.fail(bigint, text, integer) IS 'ws.fail on the shard that owns the task';

CREATE FUNCTION ws.heartbeat(task bigint, lease interval DEFAULT '5 minutes', attempt integer DEFAULT NULL) RETURNS void AS $$
    CLUSTER 'ws_shards';
    RUN ON ws_router.shard_of(task);
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws.heartbeat(bigint, interval, integer) IS 'ws.heartbeat on the shard that owns the task';

CREATE FUNCTION ws.progress(task bigint, percent numeric) RETURNS void AS $$
    CLUSTER 'ws_shards';
    RUN ON ws_router.shard_of(task);
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws.progress(bigint, numeric) IS 'ws.progress on the shard that owns the task';

CREATE FUNCTION ws.fill(task bigint, params jsonb) RETURNS void AS $$
    CLUSTER 'ws_shards';
    RUN ON ws_router.shard_of(task);
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws.fill(bigint, jsonb) IS 'ws.fill on the shard that owns the task';

CREATE FUNCTION ws.take(task bigint) RETURNS void AS $$
    CLUSTER 'ws_shards';
    RUN ON ws_router.shard_of(task);
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws.take(bigint) IS 'ws.take on the shard that owns the task';

CREATE FUNCTION ws.release(task bigint) RETURNS void AS $$
    CLUSTER 'ws_shards';
    RUN ON ws_router.shard_of(task);
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws.release(bigint) IS 'ws.release on the shard that owns the task';

CREATE FUNCTION ws.assign(task bigint, role name) RETURNS void AS $$
    CLUSTER 'ws_shards';
    RUN ON ws_router.shard_of(task);
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws.assign(bigint, name) IS 'ws.assign on the shard that owns the task';

CREATE FUNCTION ws.retry(task bigint) RETURNS void AS $$
    CLUSTER 'ws_shards';
    RUN ON ws_router.shard_of(task);
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws.retry(bigint) IS 'ws.retry on the shard that owns the task';

CREATE FUNCTION ws.cancel(process bigint, reason text DEFAULT NULL) RETURNS void AS $$
    CLUSTER 'ws_shards';
    RUN ON ws_router.shard_of(process);
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws.cancel(bigint, text) IS 'ws.cancel on the shard that owns the process';

CREATE FUNCTION ws.process_dot(process bigint) RETURNS text AS $$
    CLUSTER 'ws_shards';
    RUN ON ws_router.shard_of(process);
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws.process_dot(bigint) IS 'ws.process_dot on the shard that owns the process';

CREATE FUNCTION ws.migrate(process bigint, workflow bigint, map jsonb DEFAULT '{}', dry_run boolean DEFAULT false)
RETURNS SETOF text AS $$
    CLUSTER 'ws_shards';
    RUN ON ws_router.shard_of(process);
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws.migrate(bigint, bigint, jsonb, boolean) IS
    'ws.migrate on the shard that owns the process (the workflow version has the same id on every shard); returns its plan';

-- ---- finding a process by its business key: the shard of the key ------------------------

CREATE FUNCTION ws_router.process_by_key_on(workflow text, key text) RETURNS bigint AS $$
    CLUSTER 'ws_shards';
    RUN ON ws_router.shard_of_key(key);
    SELECT ws.process_by_key(workflow, key) AS process_by_key_on;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.process_by_key_on(text, text) IS 'ws.process_by_key on the shard of the key';

CREATE FUNCTION ws.process_by_key(workflow text, key text) RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF key IS NULL THEN
        RETURN NULL;            -- no process carries a NULL key
    END IF;
    RETURN ws_router.process_by_key_on(workflow, key);
END $$;
COMMENT ON FUNCTION ws.process_by_key(text, text) IS
    'ws.process_by_key on the shard the key hashes to (as ws.start routes it): the process of the named workflow with that business key, NULL when none';

-- ---- messages: the shard of the key, or every shard -----------------------------------

CREATE FUNCTION ws_router.send_keyed(message text, key text, payload jsonb, ttl interval) RETURNS integer AS $$
    CLUSTER 'ws_shards';
    RUN ON ws_router.shard_of_key(key);
    SELECT ws.send(message, key, payload, ttl) AS send_keyed;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.send_keyed(text, text, jsonb, interval) IS 'ws.send on the shard of the key';

CREATE FUNCTION ws_router.send_all(message text, key text, payload jsonb, ttl interval) RETURNS SETOF integer AS $$
    CLUSTER 'ws_shards';
    RUN ON ALL;
    SELECT ws.send(message, key, payload, ttl) AS send_all;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.send_all(text, text, jsonb, interval) IS 'ws.send on every shard';

CREATE FUNCTION ws.send(message text, key text DEFAULT NULL, payload jsonb DEFAULT '{}', ttl interval DEFAULT NULL)
RETURNS integer LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF key IS NOT NULL THEN
        RETURN ws_router.send_keyed(message, key, payload, ttl);
    END IF;
    IF ttl IS NOT NULL THEN
        RAISE EXCEPTION 'a message without a key cannot be kept through the router'
            USING ERRCODE = '22023', DETAIL = 'Without a key the message goes to every shard, and each would keep it.',
                  HINT = 'Send it with the business key its process was started with, or without a ttl.';
    END IF;
    RETURN (SELECT coalesce(sum(n), 0)::integer FROM ws_router.send_all(message, key, payload, ttl) n);
END $$;
COMMENT ON FUNCTION ws.send(text, text, jsonb, interval) IS
    'ws.send on the shard of the key (the business key its process was started with); without a key on every shard, summing how many tasks it reached';

-- ---- upkeep on every shard: ticks, migrating a version, purging -----------------------

CREATE FUNCTION ws_router.tick_all() RETURNS SETOF integer AS $$
    CLUSTER 'ws_shards';
    RUN ON ALL;
    SELECT ws.tick() AS tick_all;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.tick_all() IS 'ws.tick on every shard, one row each';

CREATE FUNCTION ws.tick() RETURNS integer
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(sum(n), 0)::integer FROM ws_router.tick_all() n
$$;
COMMENT ON FUNCTION ws.tick() IS
    'ws.tick on every shard (each in its own transaction there); returns how many tasks they moved in all';

CREATE FUNCTION ws_router.migrate_all_on(from_workflow bigint, to_workflow bigint, map jsonb, dry_run boolean,
                                         batch integer) RETURNS SETOF bigint AS $$
    CLUSTER 'ws_shards';
    RUN ON ALL;
    SELECT ws.migrate_all(from_workflow, to_workflow, map, dry_run, batch) AS migrate_all_on;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.migrate_all_on(bigint, bigint, jsonb, boolean, integer) IS 'ws.migrate_all on every shard, one row each';

CREATE FUNCTION ws.migrate_all(from_workflow bigint, to_workflow bigint, map jsonb DEFAULT '{}',
                               dry_run boolean DEFAULT false, batch integer DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    -- first the check (dry_run) on every shard, so that a shard with a process that cannot
    -- move refuses before any shard moves one; then the move
    n := (SELECT coalesce(sum(m), 0) FROM ws_router.migrate_all_on(from_workflow, to_workflow, map, true, batch) m);
    IF dry_run THEN
        RETURN n;
    END IF;
    RETURN (SELECT coalesce(sum(m), 0) FROM ws_router.migrate_all_on(from_workflow, to_workflow, map, false, batch) m);
END $$;
COMMENT ON FUNCTION ws.migrate_all(bigint, bigint, jsonb, boolean, integer) IS
    'ws.migrate_all on every shard, checked on all first (a problem on any shard: 55000 and nothing moves); batch is per shard; returns how many processes moved in all. Call it until it returns 0';

CREATE FUNCTION ws_router.purge_all(older_than interval, batch integer) RETURNS SETOF bigint AS $$
    CLUSTER 'ws_shards';
    RUN ON ALL;
    SELECT ws.purge(older_than, batch) AS purge_all;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.purge_all(interval, integer) IS 'ws.purge on every shard, one row each';

CREATE FUNCTION ws.purge(older_than interval, batch integer DEFAULT 10000) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT coalesce(sum(n), 0)::bigint FROM ws_router.purge_all(older_than, batch) n
$$;
COMMENT ON FUNCTION ws.purge(interval, integer) IS
    'ws.purge on every shard: up to batch ended processes from each; returns how many in all. Call it until it returns 0';

-- ---- definitions: every shard, all or none --------------------------------------------

-- where the shards' definition sequences stand: the furthest of each
CREATE FUNCTION ws_router.definition_ids() RETURNS SETOF bigint[] AS $$
    CLUSTER 'ws_shards';
    RUN ON ALL;
    SELECT ws.align_definitions(NULL) AS definition_ids;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.definition_ids() IS 'ws.align_definitions(NULL) on every shard: where their definition sequences stand';

CREATE FUNCTION ws_router.furthest() RETURNS bigint[]
LANGUAGE sql SET search_path = pg_catalog, pg_temp AS $$
    SELECT ARRAY[max(a[1]), max(a[2]), max(a[3])] FROM ws_router.definition_ids() a
$$;
COMMENT ON FUNCTION ws_router.furthest() IS 'The furthest the shards'' workflow, node and transition sequences stand';

CREATE FUNCTION ws_router.check_define(doc jsonb, ids bigint[]) RETURNS SETOF bigint AS $$
    CLUSTER 'ws_shards';
    RUN ON ALL;
    SELECT ws.check_define(doc) AS check_define FROM ws.align_definitions(ids);
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.check_define(jsonb, bigint[]) IS 'ws.check_define on every shard, its sequences aligned first';

CREATE FUNCTION ws_router.define(doc jsonb, ids bigint[]) RETURNS SETOF bigint AS $$
    CLUSTER 'ws_shards';
    RUN ON ALL;
    SELECT ws.define(doc) AS define FROM ws.align_definitions(ids);
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.define(jsonb, bigint[]) IS 'ws.define on every shard, its sequences aligned first';

CREATE FUNCTION ws_router.check_define_dot(dot text, ids bigint[]) RETURNS SETOF bigint AS $$
    CLUSTER 'ws_shards';
    RUN ON ALL;
    SELECT ws.check_define_dot(dot) AS check_define_dot FROM ws.align_definitions(ids);
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.check_define_dot(text, bigint[]) IS 'ws.check_define_dot on every shard, its sequences aligned first';

CREATE FUNCTION ws_router.define_dot(dot text, ids bigint[]) RETURNS SETOF bigint AS $$
    CLUSTER 'ws_shards';
    RUN ON ALL;
    SELECT ws.define_dot(dot) AS define_dot FROM ws.align_definitions(ids);
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.define_dot(text, bigint[]) IS 'ws.define_dot on every shard, its sequences aligned first';

CREATE FUNCTION ws_router.check_register_action(name text, params jsonb, description text, function text)
RETURNS SETOF integer AS $$
    CLUSTER 'ws_shards';
    RUN ON ALL;
    SELECT 1 AS check_register_action FROM ws.check_register_action(name, params, description, function::regprocedure);
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.check_register_action(text, jsonb, text, text) IS 'ws.check_register_action on every shard';

CREATE FUNCTION ws_router.register_action(name text, params jsonb, description text, function text)
RETURNS SETOF integer AS $$
    CLUSTER 'ws_shards';
    RUN ON ALL;
    SELECT 1 AS register_action FROM ws.register_action(name, params, description, function::regprocedure);
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.register_action(text, jsonb, text, text) IS 'ws.register_action on every shard';

-- the one id every shard gave, or an error saying they differ
CREATE FUNCTION ws_router.same_id(ids bigint[], what text) RETURNS bigint
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF cardinality(ids) <> 1 THEN
        RAISE EXCEPTION 'the shards'' definitions differ'
            USING ERRCODE = '55000',
                  DETAIL = format('%s gave the workflow ids %s on the shards; they are defined alike only through the router.', what, ids),
                  HINT = 'Compare ws.workflow on the shards; define workflows through the router only.';
    END IF;
    RETURN ids[1];
END $$;
COMMENT ON FUNCTION ws_router.same_id(bigint[], text) IS 'The one workflow id all shards gave, or 55000 when they differ';

CREATE FUNCTION ws.define(doc jsonb) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ids bigint[];
    at bigint[];
BEGIN
    -- one definition at a time through this router, every shard's sequences aligned
    -- before it, so every shard numbers it alike
    PERFORM pg_advisory_xact_lock(hashtext('ws_router definitions'));
    at := ws_router.furthest();
    ids := ARRAY(SELECT DISTINCT i FROM ws_router.check_define(doc, at) i);
    PERFORM ws_router.same_id(ids, 'the check of ws.define');
    ids := ARRAY(SELECT DISTINCT i FROM ws_router.define(doc, at) i);
    RETURN ws_router.same_id(ids, 'ws.define');
END $$;
COMMENT ON FUNCTION ws.define(jsonb) IS
    'ws.define on every shard: checked on all first, so that a shard that refuses refuses before any stores it; returns the workflow id, the same on every shard';

CREATE FUNCTION ws.define_dot(dot text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    ids bigint[];
    at bigint[];
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ws_router definitions'));
    at := ws_router.furthest();
    ids := ARRAY(SELECT DISTINCT i FROM ws_router.check_define_dot(dot, at) i);
    PERFORM ws_router.same_id(ids, 'the check of ws.define_dot');
    ids := ARRAY(SELECT DISTINCT i FROM ws_router.define_dot(dot, at) i);
    RETURN ws_router.same_id(ids, 'ws.define_dot');
END $$;
COMMENT ON FUNCTION ws.define_dot(text) IS
    'ws.define_dot on every shard, checked on all first; returns the workflow id, the same on every shard';

CREATE FUNCTION ws.register_action(name text, params jsonb DEFAULT '{}', description text DEFAULT NULL,
                                   function text DEFAULT NULL) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('ws_router definitions'));
    PERFORM count(*) FROM ws_router.check_register_action(name, params, description, function);
    PERFORM count(*) FROM ws_router.register_action(name, params, description, function);
END $$;
COMMENT ON FUNCTION ws.register_action(text, jsonb, text, text) IS
    'ws.register_action on every shard (a SQL action''s function named as text, the same on every shard), checked on all first';

-- ---- reading definitions ----------------------------------------------------------------

CREATE FUNCTION ws_router.validate(workflow bigint) RETURNS SETOF text AS $$
    CLUSTER 'ws_shards';
    RUN ON ALL;
    SELECT v AS validate FROM ws.validate(workflow) v;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.validate(bigint) IS 'ws.validate on every shard';

CREATE FUNCTION ws_router.validate(workflow text) RETURNS SETOF text AS $$
    CLUSTER 'ws_shards';
    RUN ON ALL;
    SELECT v AS validate FROM ws.validate(workflow) v;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.validate(text) IS 'ws.validate on every shard';

CREATE FUNCTION ws.validate(workflow bigint) RETURNS SETOF text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT DISTINCT v FROM ws_router.validate(workflow) v ORDER BY 1
$$;
COMMENT ON FUNCTION ws.validate(bigint) IS 'The problems of a workflow version on any shard (each once)';

CREATE FUNCTION ws.validate(workflow text) RETURNS SETOF text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT DISTINCT v FROM ws_router.validate(workflow) v ORDER BY 1
$$;
COMMENT ON FUNCTION ws.validate(text) IS 'The problems of the newest version of a workflow on any shard (each once)';

CREATE FUNCTION ws.export(workflow text) RETURNS jsonb AS $$
    CLUSTER 'ws_shards';
    RUN ON 0;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws.export(text) IS 'ws.export on shard 0 (definitions are the same on every shard)';

CREATE FUNCTION ws.to_dot(workflow text) RETURNS text AS $$
    CLUSTER 'ws_shards';
    RUN ON 0;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws.to_dot(text) IS 'ws.to_dot on shard 0 (definitions are the same on every shard)';

-- ---- overviews: every shard, gathered ---------------------------------------------------

CREATE FUNCTION ws_router.process_overview(
    OUT process bigint, OUT workflow text, OUT version integer, OUT state text, OUT started_by name,
    OUT started_at timestamptz, OUT ended_at timestamptz, OUT duration interval, OUT active bigint,
    OUT pending bigint, OUT running bigint, OUT succeeded bigint, OUT "at" text, OUT error text)
RETURNS SETOF record AS $$
    CLUSTER 'ws_shards';
    RUN ON ALL;
    SELECT o.process, o.workflow, o.version, o.state, o.started_by, o.started_at, o.ended_at, o.duration,
           o.active, o.pending, o.running, o.succeeded, o."at", o.error FROM ws.process_overview o;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.process_overview() IS 'ws.process_overview of every shard';

CREATE VIEW ws.process_overview AS SELECT * FROM ws_router.process_overview() ORDER BY process;
COMMENT ON VIEW ws.process_overview IS 'ws.process_overview of every shard, as the current user sees it on each';

CREATE FUNCTION ws_router.my_tasks(
    OUT task bigint, OUT process bigint, OUT workflow text, OUT node text, OUT action text, OUT state text,
    OUT assignee name, OUT role name, OUT params jsonb, OUT effective_params jsonb, OUT missing text[],
    OUT attempts integer, OUT lease_until timestamptz, OUT due_at timestamptz, OUT created_at timestamptz,
    OUT assigned_to_me boolean, OUT error text)
RETURNS SETOF record AS $$
    CLUSTER 'ws_shards';
    RUN ON ALL;
    SELECT m.task, m.process, m.workflow, m.node, m.action, m.state, m.assignee, m.role, m.params,
           m.effective_params, m.missing, m.attempts, m.lease_until, m.due_at, m.created_at,
           m.assigned_to_me, m.error FROM ws.my_tasks m;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.my_tasks() IS 'ws.my_tasks of every shard';

CREATE VIEW ws.my_tasks AS
SELECT * FROM ws_router.my_tasks() ORDER BY assigned_to_me DESC, state = 'pending' DESC, task;
COMMENT ON VIEW ws.my_tasks IS 'ws.my_tasks of every shard: the open tasks the current user may act on now';

CREATE FUNCTION ws_router.my_processes(
    OUT id bigint, OUT workflow bigint, OUT workflow_name text, OUT version integer, OUT state text,
    OUT params jsonb, OUT started_at timestamptz, OUT ended_at timestamptz, OUT error text, OUT started_by name)
RETURNS SETOF record AS $$
    CLUSTER 'ws_shards';
    RUN ON ALL;
    SELECT m.id, m.workflow, m.workflow_name, m.version, m.state, m.params, m.started_at, m.ended_at,
           m.error, m.started_by FROM ws.my_processes m;
$$ LANGUAGE plproxy;
COMMENT ON FUNCTION ws_router.my_processes() IS 'ws.my_processes of every shard';

CREATE VIEW ws.my_processes AS SELECT * FROM ws_router.my_processes() ORDER BY id;
COMMENT ON VIEW ws.my_processes IS 'ws.my_processes of every shard: the processes the current user started or acted in';

-- nothing for PUBLIC: ws_router.grant_user gives what a role needs
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ws, ws_router FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA ws, ws_router FROM PUBLIC;
