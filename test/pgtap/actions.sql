-- SQL actions run as the administrator who registered them, never as ws's owner and
-- never as the user whose call made the step: a function registered by admin A that a
-- plain user's ws.complete reaches runs as A, with A's privileges and A's search_path,
-- and nobody can make a function run as another role by registering, completing or
-- filling. A SECURITY DEFINER function keeps its own owner, as PostgreSQL does.
BEGIN;
SELECT plan(16);

CREATE ROLE tap_admin_a LOGIN;
CREATE ROLE tap_user_u LOGIN;
CREATE ROLE tap_owner_o;
SELECT ws.grant_admin('tap_admin_a');
SELECT ws.grant_user('tap_user_u');
CREATE SCHEMA a_home AUTHORIZATION tap_admin_a;
ALTER ROLE tap_admin_a SET search_path = a_home, public;
-- what A cannot read
CREATE TABLE public.tap_secret (s text);
INSERT INTO public.tap_secret VALUES ('the crown jewels');
REVOKE ALL ON public.tap_secret FROM PUBLIC;

SET ROLE tap_admin_a;
CREATE TABLE a_home.seen (who name, session_who name, note text);
GRANT SELECT ON a_home.seen TO PUBLIC;
-- records who it runs as; "seen" resolves through A's own search_path (a_home)
CREATE FUNCTION a_home.record(params jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO seen VALUES (current_user, session_user, params->>'note');
    RETURN jsonb_build_object('recorded_by', current_user);
END $$;
CREATE FUNCTION a_home.peek(params jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RETURN jsonb_build_object('secret', (SELECT s FROM public.tap_secret LIMIT 1));
END $$;
SELECT lives_ok($$SELECT ws.register_action('tap.record', '{}', NULL, 'a_home.record(jsonb)')$$,
                'an administrator registers a function of their own');
SELECT lives_ok($$SELECT ws.register_action('tap.peek', '{}', NULL, 'a_home.peek(jsonb)')$$,
                'and another');
SELECT ws.define('{"name": "tap actions", "nodes": [
  {"name": "by hand", "action": "tap.hand", "start": true},
  {"name": "record", "action": "tap.record"},
  {"name": "peek", "action": "tap.peek"},
  {"name": "end", "end": true}],
  "transitions": [{"from": "by hand", "to": "record"}, {"from": "record", "to": "peek"},
                  {"from": "peek", "to": "end"}]}');
RESET ROLE;
SELECT is((SELECT owner FROM ws.action WHERE name = 'tap.record'), 'tap_admin_a'::name,
          'ws.action.owner records the administrator');

-- a plain user's completion reaches the SQL actions
SET ROLE tap_user_u;
SELECT ws.start('tap actions', '{"note": "from u"}') AS p \gset
SELECT lives_ok($$SELECT ws.complete(task, '{}', attempt) FROM ws.claim(ARRAY['tap.hand'], 'u')$$,
                'the user completes the task before the SQL actions');
RESET ROLE;
SELECT results_eq($$SELECT who, session_who, note FROM a_home.seen$$,
                  $$VALUES ('tap_admin_a'::name, session_user, 'from u')$$,
                  'the function ran as the administrator who registered it, with its own search_path');
SELECT is((SELECT result->>'recorded_by' FROM ws.task t JOIN ws.node n ON n.id = t.node
            WHERE t.process = :p AND n.name = 'record'), 'tap_admin_a', 'its result says so too');
SELECT is((SELECT state FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p AND n.name = 'peek'),
          'failed', 'a function that reads what its administrator cannot read fails');
SELECT matches((SELECT error FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p AND n.name = 'peek'),
               'permission denied for table tap_secret', 'with the permission error');
SELECT is((SELECT count(*)::int FROM ws.event e WHERE e.process = :p AND e.detail LIKE '%crown jewels%'), 0,
          'and nothing of the secret reached the history');

-- nobody but an administrator registers a function, and only one they may execute
SET ROLE tap_user_u;
SELECT throws_ok($$SELECT ws.register_action('tap.mine', '{}', NULL, 'a_home.record(jsonb)')$$, '42501', NULL,
                 'a user cannot register an action');
RESET ROLE;
CREATE FUNCTION public.tap_privileged(params jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
REVOKE EXECUTE ON FUNCTION public.tap_privileged(jsonb) FROM PUBLIC;
SET ROLE tap_admin_a;
SELECT throws_ok($$SELECT ws.register_action('tap.priv', '{}', NULL, 'public.tap_privileged(jsonb)')$$, '42501', NULL,
                 'an administrator cannot register a function they may not execute');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM ws.action WHERE name IN ('tap.mine', 'tap.priv')), 0, 'nothing was stored');

-- a function registered by the superuser runs as the superuser; a user who redefines the
-- action cannot make it run as anyone: the owner is whoever registers
SET ROLE tap_admin_a;
SELECT lives_ok($$SELECT ws.register_action('tap.record', '{}', NULL, 'a_home.record(jsonb)')$$,
                'registering again records the registering administrator again');
RESET ROLE;
SELECT is((SELECT owner FROM ws.action WHERE name = 'tap.record'), 'tap_admin_a'::name,
          'the owner is the role that registered it, never ws''s owner');

-- SECURITY DEFINER keeps its own owner
CREATE SCHEMA o_home AUTHORIZATION tap_owner_o;
SET ROLE tap_owner_o;
CREATE FUNCTION o_home.definer(params jsonb) RETURNS jsonb LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog AS $$ SELECT jsonb_build_object('ran_as', current_user) $$;
GRANT USAGE ON SCHEMA o_home TO tap_admin_a;
RESET ROLE;
SET ROLE tap_admin_a;
SELECT ws.register_action('tap.definer', '{}', NULL, 'o_home.definer(jsonb)');
SELECT ws.define('{"name": "tap definer", "nodes": [{"name": "d", "action": "tap.definer", "start": true},
  {"name": "e", "end": true}], "transitions": [{"from": "d", "to": "e"}]}');
RESET ROLE;
SET ROLE tap_user_u;
SELECT ws.start('tap definer') AS d \gset
RESET ROLE;
SELECT is((SELECT params->>'ran_as' FROM ws.process WHERE id = :d), 'tap_owner_o',
          'a SECURITY DEFINER function runs as its own owner');
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'tap_admin_a'), false,
          'the administrator gained nothing on the way');

SELECT * FROM finish();
ROLLBACK;
