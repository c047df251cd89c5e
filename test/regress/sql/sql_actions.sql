-- SQL actions: an action registered with a function (params jsonb) RETURNS jsonb runs
-- inside the step, in a subtransaction, when one of its tasks becomes ready: an object
-- completes the task and the step goes on; an error rolls the function's work back and
-- fails the task (retries and back-off as for a worker). The seed's task hooks are
-- triggers on ws.event, whose rows carry the node and the action.
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event, ws.message RESTART IDENTITY;

-- sa_attempt(sql): 'ok', or the SQLSTATE and message of the error it raised
CREATE FUNCTION sa_attempt(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE FUNCTION sa_events(p bigint) RETURNS TABLE (task bigint, state text, node text, action text, detail text)
LANGUAGE sql AS $$
    SELECT e.task, e.state, e.node, e.action, e.detail FROM ws.event e WHERE e.process = p ORDER BY e.id
$$;

-- the conference's subscriptions are rows of a table; counting them is a database step
CREATE TABLE subscription (paper text, person text);
INSERT INTO subscription VALUES ('ws in C', 'ane'), ('ws in C', 'koldo'), ('joins', 'ane');
CREATE FUNCTION count_subscriptions(params jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('subscribers', count(*)) FROM subscription WHERE paper = params->>'paper'
$$;
CREATE TABLE audit (what text);
CREATE FUNCTION book_room(params jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO audit VALUES ('booked for ' || (params->>'subscribers'));
    IF (params->>'subscribers')::int > (params->>'seats')::int THEN
        RAISE EXCEPTION 'no room for % people', params->>'subscribers' USING ERRCODE = '53400';
    END IF;
    RETURN jsonb_build_object('room', CASE WHEN (params->>'subscribers')::int > 1 THEN 'hall' ELSE 'office' END);
END $$;
SELECT ws.register_action('conf.count', '{"paper": {"type": "string", "required": true}}', 'counts subscribers',
                          'count_subscriptions(jsonb)');
SELECT ws.register_action('conf.book', '{}', 'books a room', 'book_room(jsonb)');
SELECT name, function, owner IS NOT NULL AS owned FROM ws.action ORDER BY name;

SELECT ws.define('{"name": "session", "nodes": [
  {"name": "count", "action": "conf.count", "start": true},
  {"name": "book", "action": "conf.book", "retries": 1},
  {"name": "announce", "action": "conf.announce"},
  {"name": "done", "end": true}],
  "transitions": [{"from": "count", "to": "book"}, {"from": "book", "to": "announce"},
                  {"from": "announce", "to": "done"}]}') IS NOT NULL AS defined;
-- both SQL actions run inside ws.start; the worker's task is the first one left
SELECT ws.start('session', '{"paper": "ws in C", "seats": 5}') AS s1 \gset
SELECT state, params FROM ws.process WHERE id = :s1;
SELECT * FROM sa_events(:s1);
SELECT count(*) AS queued FROM ws.ready;
SELECT * FROM audit;

-- an error rolls the function's own work back and fails the attempt; the retry runs in ws.tick
SET ws.retry_base = 0;
SELECT ws.start('session', '{"paper": "ws in C", "seats": 1}') AS s2 \gset
SELECT n.name, t.state, t.attempts, t.error FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :s2 ORDER BY t.id;
SELECT * FROM sa_events(:s2) WHERE node = 'book';
SELECT * FROM audit;
SELECT ws.tick() AS moved;
SELECT n.name, t.state, t.attempts, t.error FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :s2 ORDER BY t.id;
SELECT state, error FROM ws.process WHERE id = :s2;
RESET ws.retry_base;

-- a required param missing: the task waits for a person first, and runs once filled
SELECT ws.start('session', '{"seats": 9}') AS s3 \gset
SELECT id AS pending FROM ws.task WHERE process = :s3 \gset
SELECT state, error FROM ws.task WHERE id = :pending;
SELECT ws.fill(:pending, '{"paper": "joins"}');
SELECT n.name, t.state, t.result FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :s3 ORDER BY t.id;

-- a result that is not an object fails the task
CREATE FUNCTION not_an_object(params jsonb) RETURNS jsonb LANGUAGE sql AS $$ SELECT '[1, 2]'::jsonb $$;
SELECT ws.register_action('odd', '{}', NULL, 'not_an_object(jsonb)');
SELECT ws.define('{"name": "odd", "nodes": [{"name": "o", "action": "odd", "start": true}, {"name": "e", "end": true}],
  "transitions": [{"from": "o", "to": "e"}]}') IS NOT NULL AS defined;
SELECT ws.start('odd') AS odd \gset
SELECT state, error FROM ws.process WHERE id = :odd;

-- XOR split on a SQL action's result; multi-instance over a SQL action, all in one step
SELECT ws.define('{"name": "rooms", "nodes": [
  {"name": "count", "action": "conf.count", "foreach": "$.papers", "item": "paper", "as": "counts", "start": true},
  {"name": "book", "action": "conf.book", "split": "xor"},
  {"name": "big", "end": true}, {"name": "small", "end": true}],
  "transitions": [{"from": "count", "to": "book"},
                  {"from": "book", "to": "big", "condition": "$.room == \"hall\""},
                  {"from": "book", "to": "small", "priority": 1}]}') IS NOT NULL AS defined;
SELECT ws.start('rooms', '{"papers": ["ws in C", "joins"], "seats": 9, "subscribers": 2}') AS r1 \gset
SELECT state, params->'counts' AS counts, params->'room' AS room FROM ws.process WHERE id = :r1;
SELECT node, count(*) FROM sa_events(:r1) WHERE state = 'succeeded' GROUP BY node ORDER BY node;

-- a call of a workflow of SQL actions: the child runs to its end inside the parent's step
SELECT ws.define('{"name": "parent", "nodes": [
  {"name": "plan", "call": "session", "start": true}, {"name": "planned", "end": true}],
  "transitions": [{"from": "plan", "to": "planned"}]}') IS NOT NULL AS defined;
SELECT ws.start('parent', '{"paper": "joins", "seats": 3}') AS par \gset
SELECT p.id = :par AS parent, p.state FROM ws.process p WHERE p.id = :par OR p.root = :par ORDER BY p.id;
SELECT count(*) AS announce_ready FROM ws.ready r JOIN ws.task t ON t.id = r.task
 WHERE t.process IN (SELECT id FROM ws.process WHERE root = :par);

-- the seed's task hooks are triggers on ws.event: on_success writes an audit row that
-- commits with the step; a hook that raises aborts the call and nothing of the step remains
-- (a hook runs with ws's search_path, pg_catalog: it names its tables with their schema)
CREATE TABLE hook_log (task bigint, node text, action text, state text);
CREATE FUNCTION on_success() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.hook_log VALUES (NEW.task, NEW.node, NEW.action, NEW.state);
    RETURN NULL;
END $$;
CREATE TRIGGER on_success AFTER INSERT ON ws.event FOR EACH ROW
    WHEN (NEW.state = 'succeeded' AND NEW.action IS NOT NULL) EXECUTE FUNCTION on_success();
SELECT ws.start('session', '{"paper": "joins", "seats": 3}') AS s4 \gset
SELECT h.node, h.action, h.state FROM hook_log h JOIN ws.task t ON t.id = h.task WHERE t.process = :s4 ORDER BY h.task;
CREATE FUNCTION refuse(params jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'refused';
END $$;
SELECT ws.register_action('refuse', '{}', NULL, 'refuse(jsonb)');
SELECT ws.define('{"name": "doomed", "nodes": [{"name": "try", "action": "refuse", "start": true}, {"name": "e", "end": true}],
  "transitions": [{"from": "try", "to": "e"}]}') IS NOT NULL AS defined;
CREATE FUNCTION on_failure() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'hook refuses the failure of node %', NEW.node;
END $$;
CREATE TRIGGER on_failure AFTER INSERT ON ws.event FOR EACH ROW
    WHEN (NEW.state = 'failed') EXECUTE FUNCTION on_failure();
SELECT count(*) AS processes_before FROM ws.process \gset
SELECT sa_attempt($$SELECT ws.start('doomed')$$);
SELECT count(*) = :processes_before AS nothing_remains FROM ws.process;
DROP TRIGGER on_failure ON ws.event;
DROP TRIGGER on_success ON ws.event;

-- an endless loop of SQL actions stops at ws.max_steps, and the call returns normally
CREATE FUNCTION inc(params jsonb) RETURNS jsonb LANGUAGE sql AS $$
    SELECT jsonb_build_object('i', coalesce((params->>'i')::int, 0) + 1)
$$;
SELECT ws.register_action('inc', '{}', NULL, 'inc(jsonb)');
SELECT ws.define('{"name": "spin", "nodes": [
  {"name": "a", "action": "inc", "start": true}, {"name": "b", "action": "inc", "split": "xor"},
  {"name": "e", "end": true}],
  "transitions": [{"from": "a", "to": "b"}, {"from": "b", "to": "e", "condition": "$.i < 0"},
                  {"from": "b", "to": "a", "priority": 1}]}') IS NOT NULL AS defined;
SET ws.max_steps = 50;
SELECT ws.start('spin') AS spin \gset
SELECT state, error, params FROM ws.process WHERE id = :spin;
RESET ws.max_steps;
-- the default (10000) is reached without exhausting the stack
SELECT ws.start('spin') AS spin2 \gset
SELECT state, params FROM ws.process WHERE id = :spin2;

-- bad input: the function's signature and kind, each with its SQLSTATE, nothing stored
CREATE FUNCTION wrong_args(a int) RETURNS jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
CREATE FUNCTION wrong_result(params jsonb) RETURNS text LANGUAGE sql AS $$ SELECT 'x' $$;
CREATE FUNCTION many(params jsonb) RETURNS SETOF jsonb LANGUAGE sql AS $$ SELECT '{}'::jsonb $$;
CREATE PROCEDURE proc(params jsonb) LANGUAGE sql AS $$ SELECT 1 $$;
CREATE AGGREGATE agg(jsonb) (SFUNC = jsonb_concat, STYPE = jsonb);
SELECT sa_attempt($$SELECT ws.register_action('bad', '{}', NULL, 'wrong_args(int)')$$);
SELECT sa_attempt($$SELECT ws.register_action('bad', '{}', NULL, 'wrong_result(jsonb)')$$);
SELECT sa_attempt($$SELECT ws.register_action('bad', '{}', NULL, 'many(jsonb)')$$);
SELECT sa_attempt($$SELECT ws.register_action('bad', '{}', NULL, 'proc(jsonb)')$$);
SELECT sa_attempt($$SELECT ws.register_action('bad', '{}', NULL, 'agg(jsonb)')$$);
SELECT sa_attempt($$SELECT ws.register_action('bad', '{}', NULL, 'no_such(jsonb)')$$);
SELECT count(*) AS stored FROM ws.action WHERE name = 'bad';

-- a registered function cannot be dropped, unless CASCADE; then its task fails naming it
SELECT sa_attempt('DROP FUNCTION not_an_object(jsonb)');
DROP FUNCTION not_an_object(jsonb) CASCADE;
SELECT ws.start('odd') AS odd2 \gset
SELECT state, error FROM ws.process WHERE id = :odd2;
-- registering again without a function makes it a worker's action
SELECT ws.register_action('odd', '{}');
SELECT name, function, owner FROM ws.action WHERE name = 'odd';

-- a SQL action that changes definitions and starts another process while its step runs:
-- the step's graph is not freed under it (the graph cache is dropped only when no step
-- is open), so the step goes on with its own nodes
SELECT ws.define('{"name": "other", "nodes": [{"name": "o", "action": "o.work", "start": true},
  {"name": "oe", "end": true}], "transitions": [{"from": "o", "to": "oe"}]}') IS NOT NULL AS defined;
CREATE FUNCTION kick(params jsonb) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ws.register_action('o.work', '{}', 'changed while a step runs');
    RETURN jsonb_build_object('other', ws.start('other'));
END $$;
SELECT ws.register_action('kick', '{}', NULL, 'kick(jsonb)');
SELECT ws.define('{"name": "kicker", "nodes": [{"name": "k", "action": "kick", "start": true},
  {"name": "a", "action": "a.x"}, {"name": "b", "action": "a.x"}, {"name": "e", "end": true}],
  "transitions": [{"from": "k", "to": "a"}, {"from": "k", "to": "b"}, {"from": "a", "to": "e"},
                  {"from": "b", "to": "e"}]}') IS NOT NULL AS defined;
SELECT ws.start('kicker') AS kicker \gset
SELECT state, params ? 'other' AS started_other FROM ws.process WHERE id = :kicker;
SELECT n.name, t.state FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :kicker ORDER BY t.id;
