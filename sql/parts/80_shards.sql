------------------------------------------------------------------------------
-- Shards: one ws database among several, behind a router (sql/router/ws_router.sql)
--
-- A process and everything of it (its tasks, events, tokens, kept messages, child
-- processes) lives in one database, its shard, so no step ever crosses servers. Shard k of
-- n (0 <= k < n) numbers its processes, tasks, events and kept messages with ids
-- congruent to k modulo n (shard 0: n, 2n, 3n...; shard 1: 1, n + 1, 2n + 1...): their
-- identity sequences step by n. So ids never collide across shards, and the router finds
-- the shard of a task or a process as id % n, without asking anyone. Definitions
-- (workflows, nodes, transitions, actions) are not interleaved: the router writes them to
-- every shard in the same order, so they get the same ids everywhere.
--
-- The setting is the one row of ws.shard, which pg_dump dumps. Its trigger sets the
-- sequences; pg_restore loads the row before it sets the sequences' values, so the row's
-- trigger makes a restored shard step by n again, and the values restored after it keep
-- their residue.
------------------------------------------------------------------------------

CREATE TABLE ws.shard (
    shard   integer NOT NULL CHECK (shard >= 0),
    shards  integer NOT NULL CHECK (shards >= 1 AND shard < shards)
);
CREATE UNIQUE INDEX shard_one ON ws.shard ((true));
COMMENT ON TABLE ws.shard IS
    'This database''s place among the shards of a sharded deployment (at most one row; none: a database on its own, ids 1, 2, 3...). Set with ws.set_shard';
COMMENT ON COLUMN ws.shard.shard IS 'This shard''s number k, from 0: its process, task, event and message ids are congruent to k modulo shards';
COMMENT ON COLUMN ws.shard.shards IS 'How many shards there are, n: the step of the id sequences';
SELECT pg_catalog.pg_extension_config_dump('ws.shard', '');

-- the next id of a sequence numbered k modulo n: the smallest value after both the
-- sequence's last value and the table's highest id that is congruent to k (and positive)
CREATE FUNCTION ws_internal.shard_next(last bigint, shard integer, shards integer) RETURNS bigint
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp
RETURN last + 1 + (((shard - (last + 1)) % shards) + shards) % shards;
COMMENT ON FUNCTION ws_internal.shard_next(bigint, integer, integer) IS
    'The smallest id greater than last that is congruent to shard modulo shards';

-- ws.shard's trigger: the identity sequences of ws.process, ws.task, ws.event and
-- ws.message step by shards from their next value congruent to shard
CREATE FUNCTION ws_internal.shard_apply() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t text;
    seq regclass;
    last bigint;
    top bigint;
BEGIN
    FOREACH t IN ARRAY ARRAY['process', 'task', 'event', 'message'] LOOP
        seq := pg_get_serial_sequence('ws.' || t, 'id')::regclass;
        last := coalesce(pg_sequence_last_value(seq), 0);
        EXECUTE format('SELECT max(id) FROM ws.%I', t) INTO top;
        last := greatest(last, top);
        EXECUTE format('ALTER TABLE ws.%I ALTER COLUMN id SET INCREMENT BY %s RESTART WITH %s',
                       t, NEW.shards, ws_internal.shard_next(last, NEW.shard, NEW.shards));
    END LOOP;
    RETURN NULL;
END $$;
COMMENT ON FUNCTION ws_internal.shard_apply() IS
    'ws.shard''s trigger: makes the id sequences of processes, tasks, events and messages step by shards from ids congruent to shard';
CREATE TRIGGER shard_apply AFTER INSERT OR UPDATE ON ws.shard
    FOR EACH ROW EXECUTE FUNCTION ws_internal.shard_apply();

CREATE FUNCTION ws_internal.set_shard(shard integer, shards integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    t text;
    stray bigint;
    n bigint;
BEGIN
    IF shard IS NULL OR shards IS NULL THEN
        RAISE EXCEPTION 'shard and shards must not be null'
            USING ERRCODE = '22004', HINT = 'Call ws.set_shard(0, 3) on the first of three shards.';
    END IF;
    IF shards < 1 OR shard < 0 OR shard >= shards THEN
        RAISE EXCEPTION 'shard % of % is out of range', shard, shards
            USING ERRCODE = '22023', DETAIL = 'Shards are numbered from 0 to shards - 1, and there is at least one.',
                  HINT = 'Call ws.set_shard(0, 3), ws.set_shard(1, 3) and ws.set_shard(2, 3) on three shards.';
    END IF;
    -- the router finds a process or a task by id % shards: every one already here must be
    -- found here under the new numbering
    FOREACH t IN ARRAY ARRAY['process', 'task'] LOOP
        EXECUTE format('SELECT min(id), count(*) FROM ws.%I WHERE id %% $1 <> $2', t)
            INTO stray, n USING shards, shard;
        IF n > 0 THEN
            RAISE EXCEPTION 'this database cannot become shard % of %', shard, shards
                USING ERRCODE = '55000',
                      DETAIL = format('%s %s of it (the first: %s) would then belong to another shard: the router finds a %s''s shard as its id modulo the number of shards.',
                                      n, CASE WHEN t = 'process' THEN 'processes' ELSE 'tasks' END, stray, t),
                      HINT = 'Set the shard while the database has no processes, or keep its numbering (see ws.shard); a cluster that still owns processes cannot be renumbered or shrunk.';
        END IF;
    END LOOP;
    IF EXISTS (SELECT FROM ws.shard s WHERE s.shard = shard AND s.shards = shards) THEN
        RETURN;
    END IF;
    DELETE FROM ws.shard;
    INSERT INTO ws.shard VALUES (shard, shards);
END $$;
COMMENT ON FUNCTION ws_internal.set_shard(integer, integer) IS 'ws.set_shard''s implementation';

CREATE FUNCTION ws.set_shard(shard integer, shards integer) RETURNS void AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.set_shard(integer, integer) IS
    'Makes this database shard number shard (from 0) of shards: its new process, task, event and message ids are congruent to shard modulo shards. Refused while it holds processes or tasks of another numbering';

-- The checks of the router's two-phase definitions: each does what its namesake does and
-- rolls it back, returning what it would return or raising what it would raise. The
-- router runs the check on every shard first, then the real call, so a shard that refuses
-- refuses before any shard has stored anything. The definition sequences are put back
-- where they were (a rollback leaves sequences advanced), so that every shard, whether it
-- refused or not, gives the next definition the same ids.
CREATE FUNCTION ws_internal.definition_sequences() RETURNS jsonb
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t text;
    v jsonb := '{}';
    last bigint;
    called boolean;
BEGIN
    FOREACH t IN ARRAY ARRAY['workflow', 'node', 'transition'] LOOP
        EXECUTE format('SELECT last_value, is_called FROM %s', pg_get_serial_sequence('ws.' || t, 'id'))
            INTO last, called;
        v := v || jsonb_build_object(t, jsonb_build_array(last, called));
    END LOOP;
    RETURN v;
END $$;
COMMENT ON FUNCTION ws_internal.definition_sequences() IS
    'Where the identity sequences of ws.workflow, ws.node and ws.transition are: {"table": [last_value, is_called]}';

CREATE FUNCTION ws_internal.restore_sequences(saved jsonb) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t text;
BEGIN
    FOR t IN SELECT jsonb_object_keys(saved) LOOP
        PERFORM setval(pg_get_serial_sequence('ws.' || t, 'id'), (saved -> t ->> 0)::bigint,
                       (saved -> t ->> 1)::boolean);
    END LOOP;
END $$;
COMMENT ON FUNCTION ws_internal.restore_sequences(jsonb) IS
    'Puts the sequences that ws_internal.definition_sequences saw back where they were';

-- Definitions get the same ids on every shard when every shard's definition sequences
-- stand at the same place before each one: the router reads them (ids NULL), then moves
-- every shard to the furthest (a check cancelled half-way may have moved one shard's on)
CREATE FUNCTION ws_internal.align_definitions(ids bigint[]) RETURNS bigint[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t text;
    i integer := 0;
    seq text;
    last bigint;
    at bigint[] := '{}';
BEGIN
    IF NOT has_function_privilege(ws_internal.caller(), 'ws.define(jsonb)', 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied for function align_definitions'
            USING ERRCODE = '42501', HINT = 'Ask for ws.grant_admin on this shard.';
    END IF;
    IF ids IS NOT NULL AND (cardinality(ids) <> 3 OR array_position(ids, NULL) IS NOT NULL) THEN
        RAISE EXCEPTION 'ids must hold three ids: the last workflow, node and transition ids'
            USING ERRCODE = '22023', HINT = 'Pass what ws.align_definitions(NULL) returned, or NULL.';
    END IF;
    FOREACH t IN ARRAY ARRAY['workflow', 'node', 'transition'] LOOP
        i := i + 1;
        seq := pg_get_serial_sequence('ws.' || t, 'id');
        last := coalesce(pg_sequence_last_value(seq::regclass), 0);
        IF ids IS NOT NULL AND ids[i] > last THEN
            last := setval(seq, ids[i]);
        END IF;
        at := at || last;
    END LOOP;
    RETURN at;
END $$;
COMMENT ON FUNCTION ws_internal.align_definitions(bigint[]) IS 'ws.align_definitions''s implementation';

CREATE FUNCTION ws.align_definitions(ids bigint[] DEFAULT NULL) RETURNS bigint[] AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.align_definitions(bigint[]) IS
    'Moves the workflow, node and transition id sequences forward to at least ids (the last ids handed out; NULL: leaves them) and returns where they stand: the router aligns the shards with it before each definition';

CREATE FUNCTION ws_internal.check_define(doc jsonb) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
    saved jsonb := ws_internal.definition_sequences();
BEGIN
    IF NOT has_function_privilege(ws_internal.caller(), 'ws.define(jsonb)', 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied for function define'
            USING ERRCODE = '42501', HINT = 'Ask for ws.grant_admin on this shard.';
    END IF;
    BEGIN
        id := ws.define(doc);
        RAISE EXCEPTION USING ERRCODE = 'WSDRY';
    EXCEPTION
        WHEN SQLSTATE 'WSDRY' THEN
            PERFORM ws_internal.restore_sequences(saved);
        WHEN OTHERS THEN
            PERFORM ws_internal.restore_sequences(saved);
            RAISE;
    END;
    RETURN id;
END $$;
COMMENT ON FUNCTION ws_internal.check_define(jsonb) IS 'ws.check_define''s implementation';

CREATE FUNCTION ws.check_define(doc jsonb) RETURNS bigint AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.check_define(jsonb) IS
    'Defines the document and rolls it back: returns the workflow id ws.define would return now, or raises its error; stores nothing';

CREATE FUNCTION ws_internal.check_define_dot(dot text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    id bigint;
    saved jsonb := ws_internal.definition_sequences();
BEGIN
    IF NOT has_function_privilege(ws_internal.caller(), 'ws.define_dot(text)', 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied for function define_dot'
            USING ERRCODE = '42501', HINT = 'Ask for ws.grant_admin on this shard.';
    END IF;
    BEGIN
        id := ws.define_dot(dot);
        RAISE EXCEPTION USING ERRCODE = 'WSDRY';
    EXCEPTION
        WHEN SQLSTATE 'WSDRY' THEN
            PERFORM ws_internal.restore_sequences(saved);
        WHEN OTHERS THEN
            PERFORM ws_internal.restore_sequences(saved);
            RAISE;
    END;
    RETURN id;
END $$;
COMMENT ON FUNCTION ws_internal.check_define_dot(text) IS 'ws.check_define_dot''s implementation';

CREATE FUNCTION ws.check_define_dot(dot text) RETURNS bigint AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.check_define_dot(text) IS
    'Defines the digraph and rolls it back: returns the workflow id ws.define_dot would return now, or raises its error; stores nothing';

CREATE FUNCTION ws_internal.check_register_action(name text, params jsonb, description text, function regprocedure) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    saved jsonb := ws_internal.definition_sequences();
BEGIN
    IF NOT has_function_privilege(ws_internal.caller(), 'ws.register_action(text, jsonb, text, regprocedure)', 'EXECUTE') THEN
        RAISE EXCEPTION 'permission denied for function register_action'
            USING ERRCODE = '42501', HINT = 'Ask for ws.grant_admin on this shard.';
    END IF;
    BEGIN
        PERFORM ws.register_action(name, params, description, function);
        RAISE EXCEPTION USING ERRCODE = 'WSDRY';
    EXCEPTION
        WHEN SQLSTATE 'WSDRY' THEN
            PERFORM ws_internal.restore_sequences(saved);
        WHEN OTHERS THEN
            PERFORM ws_internal.restore_sequences(saved);
            RAISE;
    END;
END $$;
COMMENT ON FUNCTION ws_internal.check_register_action(text, jsonb, text, regprocedure) IS 'ws.check_register_action''s implementation';

CREATE FUNCTION ws.check_register_action(name text, params jsonb DEFAULT '{}', description text DEFAULT NULL,
                                         function regprocedure DEFAULT NULL)
RETURNS void AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.check_register_action(text, jsonb, text, regprocedure) IS
    'Registers the action and rolls it back: raises the error ws.register_action would raise now; stores nothing';
