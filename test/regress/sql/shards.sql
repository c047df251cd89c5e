-- Shards: ws.set_shard(k, n) makes process, task, event and message ids congruent to k
-- modulo n (and refuses while the database holds processes or tasks of another
-- numbering); ws.check_define, ws.check_define_dot and ws.check_register_action do what
-- their namesakes do and store nothing, leaving the definition sequences where they were;
-- ws.align_definitions moves them forward only. Bad input changes nothing.
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event, ws.message, ws.shard RESTART IDENTITY;

CREATE FUNCTION shard_attempt(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- where the definition sequences stand, and how many workflows there are
CREATE FUNCTION shard_defs() RETURNS text LANGUAGE sql AS $$
    SELECT format('ids %s, %s workflows, %s nodes, %s actions', ws.align_definitions(),
                  (SELECT count(*) FROM ws.workflow), (SELECT count(*) FROM ws.node), (SELECT count(*) FROM ws.action))
$$;

-- shard 2 of 3: ids 2, 5, 8...
SELECT ws.set_shard(2, 3);
SELECT * FROM ws.shard;
SELECT ws.define('{"name": "sh", "nodes": [{"name": "a", "action": "sh.a"}, {"name": "b", "action": "sh.b"}],
                   "transitions": [{"from": "a", "to": "b"}]}');
SELECT ws.start('sh') FROM generate_series(1, 3);
SELECT ws.complete(task, '{}', attempt) FROM ws.claim(ARRAY['sh.a'], 'w', 3);
SELECT ws.send('nothing', 'k', '{}', '1 hour');
SELECT (SELECT array_agg(id ORDER BY id) FROM ws.process) AS processes,
       (SELECT array_agg(id ORDER BY id) FROM ws.task) AS tasks,
       (SELECT bool_and(id % 3 = 2) FROM ws.event) AS events_of_shard_2,
       (SELECT array_agg(id) FROM ws.message) AS messages;
-- the same setting again changes nothing
SELECT ws.set_shard(2, 3);
SELECT ws.start('sh');

-- refused: another numbering while processes of this one are here; nothing changes
SELECT shard_attempt('SELECT ws.set_shard(0, 3)');
SELECT shard_attempt('SELECT ws.set_shard(2, 4)');
SELECT shard_attempt('SELECT ws.set_shard(3, 3)');
SELECT shard_attempt('SELECT ws.set_shard(-1, 3)');
SELECT shard_attempt('SELECT ws.set_shard(0, 0)');
SELECT shard_attempt('SELECT ws.set_shard(NULL, 3)');
SELECT * FROM ws.shard;
SELECT ws.start('sh');
-- a single shard (a database on its own again) owns every id: always allowed
SELECT ws.set_shard(0, 1);
SELECT ws.start('sh');

-- the checks: what define would return, nothing stored, the sequences where they were
SELECT shard_defs();
SELECT ws.check_define('{"name": "sh", "nodes": [{"name": "a", "action": "sh.a"}]}');
SELECT ws.check_define('{"name": "other", "nodes": [{"name": "x"}, {"name": "y"}]}');
SELECT ws.check_define_dot('digraph dotted { a -> b }');
SELECT ws.check_register_action('sh.new', '{"n": {"type": "integer"}}');
SELECT shard_defs();
-- a refusal is the define's own error, and also leaves nothing
SELECT shard_attempt($$SELECT ws.check_define('{"name": "bad", "nodes": [{"name": "a", "join": "sideways"}]}')$$);
SELECT shard_attempt($$SELECT ws.check_define('{"name": "bad", "nodes": [{"name": "a", "role": "ws_shard_nobody"}]}')$$);
SELECT shard_attempt($$SELECT ws.check_define_dot('digraph { a -> }')$$);
SELECT shard_attempt($$SELECT ws.check_register_action('sh.bad', '{"n": 1}')$$);
SELECT shard_defs();
-- and the real define gets the id the check announced
SELECT ws.define('{"name": "sh", "nodes": [{"name": "a", "action": "sh.a"}]}');

-- align: forward only
SELECT ws.align_definitions(ARRAY[10, 20, 30]);
SELECT ws.align_definitions(ARRAY[1, 1, 1]);
SELECT ws.define('{"name": "aligned", "nodes": [{"name": "x"}]}');
SELECT shard_attempt('SELECT ws.align_definitions(ARRAY[1, 2])');
SELECT shard_attempt('SELECT ws.align_definitions(ARRAY[1, NULL, 3])');
SELECT ws.align_definitions();

-- users: the checks are for administrators; set_shard for the owner only
CREATE ROLE ws_shard_user;
CREATE ROLE ws_shard_admin;
SELECT ws.grant_user('ws_shard_user');
SELECT ws.grant_admin('ws_shard_admin');
SET ROLE ws_shard_user;
SELECT shard_attempt($$SELECT ws.check_define('{"name": "u", "nodes": [{"name": "a"}]}')$$);
SELECT shard_attempt('SELECT ws.align_definitions()');
SELECT shard_attempt('SELECT ws.set_shard(2, 3)');
SET ROLE ws_shard_admin;
SELECT ws.check_define('{"name": "u", "nodes": [{"name": "a"}]}');
SELECT shard_attempt('SELECT ws.set_shard(2, 3)');
RESET ROLE;
SELECT shard_defs();

-- back to a database on its own
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event, ws.message RESTART IDENTITY;
SELECT ws.set_shard(0, 1);
TRUNCATE ws.shard;
DROP OWNED BY ws_shard_user, ws_shard_admin;
DROP ROLE ws_shard_user, ws_shard_admin;
DROP FUNCTION shard_attempt(text), shard_defs();
