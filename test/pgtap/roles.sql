-- Behaviour under different roles: who sees, claims, fills and completes what.
-- Runs in one transaction that is rolled back, roles included.
BEGIN;
SELECT plan(44);

CREATE ROLE tap_admin LOGIN;
CREATE ROLE tap_clerks NOLOGIN;
CREATE ROLE tap_ane LOGIN IN ROLE tap_clerks;
CREATE ROLE tap_bob LOGIN IN ROLE tap_clerks;
CREATE ROLE tap_seniors NOLOGIN IN ROLE tap_clerks;       -- nested: seniors are clerks
CREATE ROLE tap_absent NOLOGIN IN ROLE tap_clerks;        -- cannot log in, first by name: never assigned
CREATE ROLE tap_carla LOGIN IN ROLE tap_seniors;
CREATE ROLE tap_worker LOGIN;
CREATE ROLE tap_stranger LOGIN;
SELECT ws.grant_admin('tap_admin');
SELECT ws.grant_user('tap_clerks');
SELECT ws.grant_user('tap_worker');

SET ROLE tap_admin;
SELECT ws.register_action('tap.multiply', '{"a": {"type": "integer", "required": true},
                                            "b": {"type": "integer", "required": true},
                                            "when": {"type": "timestamp"}}');
SELECT ws.define('{"name": "tap roles", "nodes": [
  {"name": "review", "role": "tap_clerks", "start": true},
  {"name": "multiply", "action": "tap.multiply", "role": "tap_clerks", "params": {"a": 6}},
  {"name": "auto", "action": "tap.auto"}, {"name": "end", "end": true}],
  "transitions": [{"from": "review", "to": "multiply"}, {"from": "multiply", "to": "auto"}, {"from": "auto", "to": "end"}]}');
RESET ROLE;

-- a stranger can neither read nor change anything
SET ROLE tap_stranger;
SELECT throws_ok('SELECT count(*) FROM ws.task', '42501', NULL, 'a stranger cannot read tasks');
SELECT throws_ok('SELECT count(*) FROM ws.my_tasks', '42501', NULL, 'a stranger cannot read ws.my_tasks');
SELECT throws_ok($$SELECT ws.start('tap roles')$$, '42501', NULL, 'a stranger cannot start a process');
SELECT throws_ok($$SELECT * FROM ws.claim(ARRAY['tap.auto'], 'x')$$, '42501', NULL, 'a stranger cannot claim');
SELECT throws_ok($$SELECT ws.define('{"name": "x", "nodes": [{"name": "a"}]}')$$, '42501', NULL,
                 'a stranger cannot define workflows');
RESET ROLE;

-- users start processes; the human task goes to the least loaded clerk who can log in
SET ROLE tap_ane;
SELECT lives_ok($$SELECT ws.start('tap roles')$$, 'a user starts a process');
SELECT throws_ok($$SELECT ws.define('{"name": "x", "nodes": [{"name": "a"}]}')$$, '42501', NULL,
                 'a user cannot define workflows');
SELECT throws_ok('SELECT count(*) FROM ws.workflow', '42501', NULL, 'a user cannot read the tables directly');
RESET ROLE;
SELECT ws.start('tap roles') FROM generate_series(1, 2);
SELECT is(
    (SELECT array_agg(t.assignee::text ORDER BY t.id) FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE n.name = 'review'),
    ARRAY['tap_ane', 'tap_bob', 'tap_carla'],
    'review tasks are assigned round the members who can log in by load, nested members included, ties by name');
SELECT is((SELECT detail FROM ws.event e JOIN ws.task t ON t.id = e.task WHERE t.assignee = 'tap_ane' LIMIT 1),
          'waiting for a member of the role to complete it; assigned to "tap_ane"', 'the event says who got it');

SELECT min(t.id) AS review1 FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE n.name = 'review' \gset

-- what each can see
SET ROLE tap_bob;
SELECT is((SELECT count(*)::int FROM ws.my_tasks), 3, 'a clerk sees the three open review tasks');
SELECT is((SELECT count(*)::int FROM ws.my_tasks WHERE assigned_to_me), 1, 'one of them is assigned to bob');
RESET ROLE;
SET ROLE tap_worker;
SELECT is((SELECT count(*)::int FROM ws.my_tasks), 0, 'a worker outside the role sees none of them');
SELECT throws_ok(format('SELECT ws.complete(%s)', :review1), '42501', NULL,
                 'a non-member cannot complete a role task');
SELECT throws_ok(format('SELECT ws.complete_batch(ARRAY[%s])', :review1), '42501', NULL,
                 'nor in a batch');
RESET ROLE;

-- an assigned pending task is completed only by its assignee (or an admin): a nested
-- member takes it first, then completes it; SET ROLE is what counts
SET ROLE tap_carla;
SELECT throws_ok(format('SELECT ws.complete(%s)', :review1), '42501', NULL,
                 'a member who is not the assignee cannot complete an assigned task');
SELECT lives_ok(format('SELECT ws.take(%s)', :review1), 'a member of a nested role takes it');
SELECT lives_ok(format('SELECT ws.complete(%s)', :review1), 'and completes it');
RESET ROLE;
SELECT is((SELECT actor::text FROM ws.event WHERE task = :review1 AND state = 'succeeded'),
          'tap_carla', 'the event records the acting role');

-- multiply misses b: pending; fill checks types, names the parameter and changes nothing
SELECT t.id AS mult FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE n.name = 'multiply' \gset
SELECT is((SELECT state FROM ws.task WHERE id = :mult), 'pending',
          'a task missing a required parameter is pending');
SET ROLE tap_worker;
SELECT throws_ok(format($$SELECT ws.fill(%s, '{"b": 7}')$$, :mult),
                 '42501', NULL, 'a non-member cannot fill');
RESET ROLE;
SET ROLE tap_ane;
SELECT throws_ok(format($$SELECT ws.fill(%s, '{"b": "seven"}')$$, :mult),
                 '22023', 'parameter "b" of action "tap.multiply" must be of type integer, not "seven"', 'a wrong type is refused');
SELECT throws_ok(format($$SELECT ws.fill(%s, '{"b": 7.5}')$$, :mult),
                 '22023', NULL, 'a fraction is not an integer');
SELECT throws_ok(format($$SELECT ws.fill(%s, '{"b": 7, "when": "soon"}')$$, :mult),
                 '22023', NULL, 'a timestamp must be one');
RESET ROLE;
SELECT is((SELECT params FROM ws.task WHERE id = :mult), '{}'::jsonb,
          'refused fills changed nothing');
SET ROLE tap_ane;
SELECT lives_ok(format($$SELECT ws.fill(%s, '{"b": 7, "when": "2026-11-27T10:00:00Z"}')$$, :mult),
                'a member fills the missing parameter');
RESET ROLE;
SELECT is((SELECT state FROM ws.task WHERE id = :mult), 'ready',
          'the filled task is ready');

-- claims: only what the caller's roles allow
SET ROLE tap_worker;
SELECT is((SELECT count(*)::int FROM ws.claim(ARRAY['tap.multiply'], 'w', 10)), 0,
          'a worker outside the role claims nothing of a role task');
RESET ROLE;
SET ROLE tap_bob;
SELECT results_eq($$SELECT node, params FROM ws.claim(ARRAY['tap.multiply'], 'bob', 10)$$,
                  $$VALUES ('multiply', '{"a": 6, "b": 7, "when": "2026-11-27T10:00:00Z"}'::jsonb)$$,
                  'a member claims it with its effective params');
RESET ROLE;
SET ROLE tap_worker;
SELECT throws_ok(format($$SELECT ws.fail(%s, 'not mine', 1)$$, :mult), '42501', NULL,
                 'a non-member cannot fail a role task');
RESET ROLE;
SET ROLE tap_bob;
SELECT lives_ok(format($$SELECT ws.complete(%s, '{"product": 42}', 1)$$, :mult),
                'and completes it');
RESET ROLE;
SET ROLE tap_worker;
SELECT task AS auto FROM ws.claim(ARRAY['tap.auto'], 'w', 10) \gset
SELECT ok(:auto > 0, 'a node without a role is open to any ws user');
SELECT lives_ok(format('SELECT ws.complete(%s)', :auto), 'the worker completes it');
RESET ROLE;
SELECT is((SELECT state FROM ws.process ORDER BY id LIMIT 1), 'completed', 'the first process completed');
SELECT is((SELECT params->>'product' FROM ws.process ORDER BY id LIMIT 1), '42', 'with the result in its variables');


-- admins see everything: every row of every table, every process in ws.process_overview,
-- and the picture of a process they did not start (this admin started none)
CREATE FUNCTION public.tap_rows() RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    t name;
    n bigint;
    out text := '';
BEGIN
    FOR t IN SELECT relname FROM pg_class WHERE relnamespace = 'ws'::regnamespace AND relkind = 'r' ORDER BY relname LOOP
        IF has_table_privilege(format('ws.%I', t), 'SELECT') THEN
            EXECUTE format('SELECT count(*) FROM ws.%I', t) INTO n;
            out := out || t || ' ' || n || '; ';
        ELSE
            out := out || t || ' unreadable; ';
        END IF;
    END LOOP;
    RETURN out;
END $$;
SELECT public.tap_rows() AS all_rows, (SELECT count(*) FROM ws.process) AS processes \gset
SELECT max(id) AS other FROM ws.process \gset
SET ROLE tap_admin;
SELECT is(public.tap_rows(), :'all_rows', 'an admin reads every row of every table');
SELECT is((SELECT count(*) FROM ws.process_overview), :processes::bigint, 'and sees every process in ws.process_overview');
SELECT ok(ws.process_dot(:other) LIKE 'digraph%', 'and draws a process someone else started');
-- ws.event is append-only, for admins and users alike
SELECT throws_ok($$UPDATE ws.event SET detail = 'rewritten'$$, '42501', NULL, 'an admin cannot rewrite the history');
SELECT throws_ok('DELETE FROM ws.event', '42501', NULL, 'nor delete from it');
SELECT throws_ok($$INSERT INTO ws.event (process, state, actor, detail) SELECT process, state, actor, 'forged' FROM ws.event LIMIT 1$$,
                 '42501', NULL, 'nor add to it');
SELECT throws_ok('TRUNCATE ws.event', '42501', NULL, 'nor truncate it');
RESET ROLE;
SET ROLE tap_ane;
SELECT throws_ok($$UPDATE ws.event SET detail = 'rewritten'$$, '42501', NULL, 'a user cannot rewrite the history');
SELECT throws_ok('DELETE FROM ws.event', '42501', NULL, 'nor delete from it');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
