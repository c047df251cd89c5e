-- A ws user who plants functions, operators and tables named like the ones ws uses in a
-- schema at the front of their search_path gains nothing: ws never calls them. Nor does
-- the owner of a function that a trigger or a default on ws's tables calls: it runs as
-- the role that called ws, never as ws's owner.
BEGIN;
SELECT plan(13);

CREATE ROLE tap_evil LOGIN;
SELECT ws.grant_user('tap_evil');
CREATE SCHEMA evil AUTHORIZATION tap_evil;
SELECT ws.define('{"name": "tap escalation", "nodes": [{"name": "a", "action": "tap.evil"}, {"name": "b", "action": "tap.evil"}],
                   "transitions": [{"from": "a", "to": "b", "condition": "$.x == 1"}]}');

SET ROLE tap_evil;
CREATE TABLE evil.hits (what text, who name, stack text);
CREATE TABLE evil.task (id bigint, state text);
CREATE TABLE evil.process (id bigint, state text);
-- each trap records that it ran and tries to make its owner a superuser
CREATE FUNCTION evil.trap(what text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    stack text;
BEGIN
    GET DIAGNOSTICS stack = PG_CONTEXT;
    INSERT INTO evil.hits VALUES (what, current_user, stack);
    BEGIN
        EXECUTE 'ALTER ROLE tap_evil SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
END $$;
CREATE FUNCTION evil.jsonb_concat(a jsonb, b jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('jsonb_concat'); RETURN a; END $$;
CREATE FUNCTION evil.pg_has_role(a name, b oid, c text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('pg_has_role'); RETURN true; END $$;
CREATE FUNCTION evil.pg_has_role(a name, b name, c text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('pg_has_role'); RETURN true; END $$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('now'); RETURN pg_catalog.now(); END $$;
CREATE FUNCTION evil.int8eq(a bigint, b bigint) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('='); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8eq);
CREATE FUNCTION evil.texteq(a text, b text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN PERFORM evil.trap('text ='); RETURN a OPERATOR(pg_catalog.=) b; END $$;
CREATE OPERATOR evil.= (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.texteq);
SET search_path = evil, pg_catalog, public;

SELECT lives_ok($$SELECT ws.start('tap escalation', '{"x": 1}')$$, 'start works with a planted search_path');
SELECT lives_ok($$SELECT ws.complete(task, '{"y": 2}', attempt) FROM ws.claim(ARRAY['tap.evil'], 'evil')$$,
                'claim and complete work with a planted search_path');
SELECT is((SELECT count(*)::int FROM ws.my_tasks), 1, 'ws.my_tasks shows the next task');
SELECT lives_ok($$SELECT ws.fail(task, 'boom', attempt) FROM ws.claim(ARRAY['tap.evil'], 'evil')$$,
                'fail works with a planted search_path');
SELECT throws_ok($$SELECT ws.define('{"name": "evil", "nodes": [{"name": "a"}]}')$$, '42501', NULL,
                 'a user still cannot define workflows');
SELECT throws_ok($$SELECT ws.cancel(1)$$, '42501', NULL, 'nor cancel processes');
-- (pgTAP's own functions, which run as the user with the user's search_path, do hit the
-- planted operator; what matters is that nothing of ws did, nor anything with more rights)
SELECT is((SELECT string_agg(DISTINCT what, ',') FROM evil.hits WHERE stack LIKE '%ws.%' OR who <> 'tap_evil'),
          NULL, 'no planted function or operator ran inside ws or with its rights');
SELECT ok((SELECT count(*) FROM evil.hits) > 0, 'the traps work: pgTAP itself walked into one');
RESET search_path;
RESET ROLE;
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'tap_evil'), false, 'the user is no superuser');
SELECT is((SELECT state FROM ws.process p JOIN ws.workflow w ON w.id = p.workflow WHERE w.name = 'tap escalation'),
          'failed', 'and the process really moved');

-- a DBA adds a trigger and a default to ws's tables that call functions of another role
CREATE ROLE tap_fnowner;
CREATE SCHEMA fnowner AUTHORIZATION tap_fnowner;
GRANT USAGE ON SCHEMA fnowner TO tap_evil;
SET ROLE tap_fnowner;
CREATE TABLE fnowner.hits (who name);
GRANT INSERT ON fnowner.hits TO tap_evil;
CREATE FUNCTION fnowner.audit_task() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE FUNCTION fnowner.event_tag() RETURNS text LANGUAGE sql AS $$ SELECT 'ok' $$;
GRANT EXECUTE ON FUNCTION fnowner.event_tag() TO tap_evil;
RESET ROLE;
CREATE TRIGGER audit_task BEFORE INSERT ON ws.task FOR EACH ROW EXECUTE FUNCTION fnowner.audit_task();
ALTER TABLE ws.event ADD COLUMN tag text DEFAULT fnowner.event_tag();
-- whose owner later makes them try to make it a superuser
SET ROLE tap_fnowner;
CREATE OR REPLACE FUNCTION fnowner.audit_task() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO fnowner.hits VALUES (current_user);
    BEGIN
        EXECUTE 'ALTER ROLE tap_fnowner SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    RETURN NEW;
END $$;
CREATE OR REPLACE FUNCTION fnowner.event_tag() RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO fnowner.hits VALUES (current_user);
    BEGIN
        EXECUTE 'ALTER ROLE tap_fnowner SUPERUSER';
    EXCEPTION WHEN OTHERS THEN NULL;
    END;
    RETURN 'trapped';
END $$;
RESET ROLE;
SET ROLE tap_evil;
SELECT lives_ok($$SELECT ws.start('tap escalation', '{"x": 2}')$$,
                'a user starts a process: ws writes a task (trigger) and events (default)');
RESET ROLE;
SELECT is((SELECT rolsuper FROM pg_roles WHERE rolname = 'tap_fnowner'), false,
          'the owner of the trigger''s and the default''s functions is no superuser');
SELECT is((SELECT array_agg(DISTINCT who) FROM fnowner.hits), ARRAY['tap_evil']::name[],
          'the trigger and the default ran as the user who called ws');

SELECT * FROM finish();
ROLLBACK;
