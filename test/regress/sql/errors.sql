-- Every runtime error path: a clear SQLSTATE and message, and nothing changed.
-- Also failure, retries with back-off, ws.retry, timers and lease expiry through ws.tick.
\set VERBOSITY default
\set SHOW_CONTEXT never
-- each file starts from empty tables, so ids in the output do not depend on the order of files
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event RESTART IDENTITY;

-- try(sql): 'ok', or the SQLSTATE and message of the error it raised
CREATE FUNCTION try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- a fingerprint of all mutable ws state, to show that a refused call changed nothing
CREATE FUNCTION fingerprint() RETURNS text LANGUAGE sql AS $$
    SELECT md5(concat((SELECT string_agg(concat_ws(',', id, state, params, result, progress, attempts, error,
                                                  lease_until, due_at), ';' ORDER BY id) FROM ws.task),
                      (SELECT string_agg(concat_ws(',', id, state, params, tokens, error), ';' ORDER BY id) FROM ws.process),
                      (SELECT string_agg(action || ':' || task, ';' ORDER BY task) FROM ws.ready),
                      (SELECT count(*) FROM ws.event)))
$$;

SELECT ws.register_action('err.mult', '{"a": {"type": "integer", "required": true}, "b": {"type": "integer"}}');
SELECT ws.define('{"name": "errors", "nodes": [
  {"name": "one", "action": "err.one", "start": true}, {"name": "two", "action": "err.one", "start": true},
  {"name": "mult", "action": "err.mult", "start": true}, {"name": "end", "end": true, "join": "and"}],
  "transitions": [{"from": "one", "to": "end"}, {"from": "two", "to": "end"}, {"from": "mult", "to": "end"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
-- a required form parameter is missing: pending, and not claimable
SELECT n.name, t.state FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p ORDER BY t.id;
SELECT e.detail FROM ws.event e JOIN ws.task t ON t.id = e.task JOIN ws.node n ON n.id = t.node
 WHERE e.process = :p AND n.name = 'mult';
SELECT t.id AS mult FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p AND n.name = 'mult' \gset
SELECT t.id AS two FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p AND n.name = 'two' \gset
SELECT task AS one, attempt FROM ws.claim(ARRAY['err.one'], 'w', 1) \gset

SELECT fingerprint() AS before \gset
SELECT try('SELECT ws.complete(424242)');
SELECT try(format('SELECT ws.complete(%s)', :two));
SELECT try(format('SELECT ws.complete(%s)', :mult));
SELECT try(format('SELECT ws.complete(%s, %L)', :one, '[1]'));
SELECT try(format('SELECT ws.complete(%s, %L)', :one, '"done"'));
SELECT try(format('SELECT ws.complete(%s, %L, 7)', :one, '{}'));
SELECT try(format('SELECT ws.fail(%s, NULL)', :one));
SELECT try(format('SELECT ws.fail(%s, %L)', :two, 'not running'));
SELECT try(format('SELECT ws.heartbeat(%s, %L)', :two, '1 minute'));
SELECT try(format('SELECT ws.heartbeat(%s, %L)', :one, '-1 minute'));
SELECT try(format('SELECT ws.heartbeat(%s, %L, 2)', :one, '1 minute'));
SELECT try(format('SELECT ws.progress(%s, 101)', :one));
SELECT try(format('SELECT ws.progress(%s, -1)', :one));
SELECT try(format('SELECT ws.progress(%s, 50)', :two));
SELECT try($$SELECT ws.claim(ARRAY['err.one'], 'w', 0)$$);
SELECT try($$SELECT ws.claim(ARRAY['err.one'], '', 1)$$);
SELECT try($$SELECT ws.claim(ARRAY['err.one'], 'w', 1, '0 seconds')$$);
SELECT try('SELECT ws.cancel(424242)');
SELECT try(format('SELECT ws.retry(%s)', :one));
SELECT try('SELECT ws.retry(424242)');
SELECT fingerprint() = :'before' AS nothing_changed;
-- the same errors as psql shows them, with their hints
SELECT ws.complete(:two);
SELECT ws.complete(:mult);
SELECT ws.complete(:one, '{}', 7);

-- complete twice: the second is refused
SELECT ws.complete(:one, '{"x": 1}', :attempt);
SELECT fingerprint() AS before \gset
SELECT try(format('SELECT ws.complete(%s)', :one));
SELECT fingerprint() = :'before' AS nothing_changed;

-- fail without retries: the task and the process fail until ws.retry puts both back
SELECT task AS two FROM ws.claim(ARRAY['err.one'], 'w', 1) \gset
SELECT ws.fail(:two, 'disk full');
SELECT state, error FROM ws.process WHERE id = :p;
SELECT state, error FROM ws.task WHERE id = :two;
SELECT fingerprint() AS before \gset
SELECT try(format('SELECT ws.complete(%s)', :two));
SELECT fingerprint() = :'before' AS nothing_changed;
SELECT ws.retry(:two);
SELECT state, error FROM ws.process WHERE id = :p;
SELECT state FROM ws.task WHERE id = :two;
SELECT task AS two, attempt FROM ws.claim(ARRAY['err.one'], 'w', 1) \gset
SELECT :attempt AS attempt_after_retry;
SELECT ws.complete(:two, '{}', :attempt);
-- cancel ends the process and its active tasks; a cancelled process cannot be cancelled again
SELECT ws.cancel(:p, 'enough');
SELECT n.name, t.state FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p ORDER BY t.id;
SELECT state FROM ws.process WHERE id = :p;
SELECT try(format('SELECT ws.cancel(%s)', :p));
SELECT try(format('SELECT ws.retry(%s)', :two));

-- retries: a failed attempt waits with exponential back-off, then ws.tick makes it ready
SELECT ws.define('{"name": "flaky", "nodes": [{"name": "call", "action": "err.flaky", "retries": 2}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SET ws.retry_base = '1h';
SET ws.retry_cap = '3h';
SELECT task AS t, attempt FROM ws.claim(ARRAY['err.flaky'], 'w') \gset
SELECT ws.fail(:t, 'timeout', :attempt);
SELECT state, error, due_at - now() BETWEEN '59 minutes' AND '60 minutes' AS one_hour FROM ws.task WHERE id = :t;
SELECT ws.tick() AS moved_nothing_yet;
UPDATE ws.task SET due_at = now() - interval '1 second' WHERE id = :t;
SELECT ws.tick() AS moved;
SELECT task AS t, attempt FROM ws.claim(ARRAY['err.flaky'], 'w') \gset
SELECT ws.fail(:t, 'timeout again', :attempt);
SELECT state, due_at - now() BETWEEN '119 minutes' AND '120 minutes' AS two_hours FROM ws.task WHERE id = :t;
UPDATE ws.task SET due_at = now() - interval '1 second' WHERE id = :t;
SELECT ws.tick() AS moved;
SELECT task AS t, attempt FROM ws.claim(ARRAY['err.flaky'], 'w') \gset
SELECT :attempt AS third_attempt;
SELECT ws.fail(:t, 'gave up', :attempt);
SELECT state, error FROM ws.task WHERE id = :t;
SELECT state, error FROM ws.process WHERE id = :p;
RESET ws.retry_base;
RESET ws.retry_cap;

-- leases: an expired lease goes back to ready with its attempt counted; the old claimer is fenced
SELECT ws.define('{"name": "leases", "nodes": [{"name": "slow", "action": "err.slow"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT task AS t, attempt AS old FROM ws.claim(ARRAY['err.slow'], 'w1', 1, '1 millisecond') \gset
SELECT pg_sleep(0.05);
SELECT ws.tick() AS moved;
SELECT state, attempts FROM ws.task WHERE id = :t;
SELECT task = :t AS same_task, attempt AS new FROM ws.claim(ARRAY['err.slow'], 'w2') \gset
SELECT :'same_task' AS same_task, :new AS new_attempt;
SELECT fingerprint() AS before \gset
SELECT try(format('SELECT ws.complete(%s, %L, %s)', :t, '{}', :old));
SELECT try(format('SELECT ws.heartbeat(%s, %L, %s)', :t, '1 minute', :old));
SELECT try(format('SELECT ws.fail(%s, %L, %s)', :t, 'late', :old));
SELECT fingerprint() = :'before' AS nothing_changed;
SELECT ws.complete(:t, '{}', :old);
SELECT ws.complete(:t, '{}', :new);
SELECT state FROM ws.process WHERE id = :p;

-- timers: wait and wait_until
SELECT ws.define('{"name": "timers", "nodes": [
  {"name": "later", "wait": "1 hour", "action": "err.t", "start": true},
  {"name": "at", "wait_until": "$.when", "action": "err.t", "start": true},
  {"name": "end", "end": true, "join": "and"}],
  "transitions": [{"from": "later", "to": "end"}, {"from": "at", "to": "end"}]}') AS w \gset
SELECT ws.start(:w, '{"when": "2001-01-01T00:00:00Z"}') AS p \gset
SELECT n.name, t.state, t.due_at - now() > interval '59 minutes' AS in_an_hour,
       t.due_at = '2001-01-01T00:00:00Z' AS at_when
  FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p ORDER BY t.id;
SELECT ws.tick() AS moved;
SELECT n.name, t.state FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p ORDER BY t.id;
SELECT ws.start(:w, '{"when": "not a time"}') AS p \gset
SELECT state, error FROM ws.process WHERE id = :p;
-- the same over params with nothing in them at all (no workflow, process or node params)
SELECT ws.define('{"name": "bare timer", "nodes": [{"name": "at", "wait_until": "$.when", "action": "err.t", "start": true}]}') AS wb \gset
SELECT ws.start(:wb) AS p \gset
SELECT state, error FROM ws.process WHERE id = :p;
-- PostgreSQL's own epoch and -infinity are times like any other: due at once
SELECT ws.start(:w, '{"when": "2000-01-01T00:00:00Z"}') AS p \gset
SELECT n.name, t.state, t.due_at = '2000-01-01T00:00:00Z' AS at_epoch
  FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p AND n.name = 'at';
SELECT ws.start(:w, '{"when": "-infinity"}') AS p2 \gset
SELECT t.due_at < '0001-01-01' AS long_past
  FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p2 AND n.name = 'at';
SELECT ws.tick() >= 2 AS moved;
SELECT n.name, t.state FROM ws.task t JOIN ws.node n ON n.id = t.node
 WHERE t.process IN (:p, :p2) AND n.name = 'at' ORDER BY t.id;

-- NULL ids are refused (22004), not taken for id 0
SELECT fingerprint() AS before \gset
SELECT try('SELECT ws.complete(NULL)');
SELECT try('SELECT ws.fail(NULL, ''x'')');
SELECT try('SELECT ws.heartbeat(NULL)');
SELECT try('SELECT ws.progress(NULL, 5)');
SELECT try('SELECT ws.fill(NULL, ''{}'')');
SELECT try('SELECT ws.retry(NULL)');
SELECT try('SELECT ws.cancel(NULL)');
SELECT try('SELECT ws.start(NULL::bigint)');
SELECT fingerprint() = :'before' AS nothing_changed;

-- ws.complete_batch: ws.complete of each task in order, all or nothing
SELECT ws.define('{"name": "batch", "nodes": [
  {"name": "l", "action": "err.b", "start": true}, {"name": "r", "action": "err.b", "start": true},
  {"name": "j", "action": "err.b", "join": "and"}, {"name": "end", "end": true}],
  "transitions": [{"from": "l", "to": "j"}, {"from": "r", "to": "j"}, {"from": "j", "to": "end"}]}') AS w \gset
SELECT ws.start(:w, '{"n": 0}') AS p1 \gset
SELECT ws.start(:w, '{"n": 0}') AS p2 \gset
SELECT array_agg(task ORDER BY task) AS t, array_agg(attempt ORDER BY task) AS a
  FROM ws.claim(ARRAY['err.b'], 'w', 10) \gset
SELECT fingerprint() AS before \gset
SELECT try(format('SELECT ws.complete_batch(%L::bigint[] || 424242::bigint)', :'t'));
SELECT try(format('SELECT ws.complete_batch(%L::bigint[] || (%L::bigint[])[1])', :'t', :'t'));
SELECT try(format('SELECT ws.complete_batch(%L, ARRAY[''{}''::jsonb])', :'t'));
SELECT try(format('SELECT ws.complete_batch(%L, NULL, ARRAY[1])', :'t'));
SELECT try(format('SELECT ws.complete_batch(%L, array_fill(''[1]''::jsonb, ARRAY[4]))', :'t'));
SELECT try(format('SELECT ws.complete_batch(%L, NULL, array_fill(9, ARRAY[4]))', :'t'));
SELECT try('SELECT ws.complete_batch(ARRAY[NULL::bigint])');
SELECT try('SELECT ws.complete_batch(NULL)');
SELECT try('SELECT ws.complete_batch(ARRAY[[1, 2], [3, 4]]::bigint[])');
SELECT fingerprint() = :'before' AS nothing_changed;
SELECT ws.complete_batch('{}') AS none;
-- the four parents in one call, the two processes' tasks taking turns: each join fires
-- once its second parent is in, with the variables of both results (later completions
-- see what earlier ones did); the events follow the order of the array
SELECT ('{' || (:'t'::bigint[])[1] || ',' || (:'t'::bigint[])[3] || ',' || (:'t'::bigint[])[2] || ','
        || (:'t'::bigint[])[4] || '}') AS t,
       ('{' || (:'a'::int[])[1] || ',' || (:'a'::int[])[3] || ',' || (:'a'::int[])[2] || ','
        || (:'a'::int[])[4] || '}') AS a \gset
SELECT ws.complete_batch(:'t', ARRAY['{"n": 1}', '{"n": 3}', '{"m": 2}', '{"m": 4}']::jsonb[], :'a') AS completed;
SELECT array_agg(task ORDER BY id) = :'t'::bigint[] AS events_in_array_order
  FROM ws.event WHERE state = 'succeeded' AND task = ANY (:'t'::bigint[]);
SELECT p.id = :p2 AS second, p.state, p.params, n.name, t.state AS task
  FROM ws.process p JOIN ws.task t ON t.process = p.id JOIN ws.node n ON n.id = t.node
 WHERE p.id IN (:p1, :p2) ORDER BY p.id, t.id;
SELECT array_agg(task ORDER BY task) AS t FROM ws.claim(ARRAY['err.b'], 'w', 10) \gset
SELECT ws.complete_batch(:'t') AS completed;
SELECT state, count(*) FROM ws.process WHERE id IN (:p1, :p2) GROUP BY state;
-- a task that an earlier completion of the same call creates can be completed in it too
-- (here a person's task, pending for role ws_err_clerk), as two ws.complete calls would
CREATE ROLE ws_err_clerk NOLOGIN;
SELECT ws.define('{"name": "batch2", "nodes": [{"name": "s", "action": "err.b2", "start": true},
  {"name": "h", "role": "ws_err_clerk"}, {"name": "e", "end": true}],
  "transitions": [{"from": "s", "to": "h"}, {"from": "h", "to": "e"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT task AS s FROM ws.claim(ARRAY['err.b2'], 'w', 1) \gset
SELECT pg_sequence_last_value(pg_get_serial_sequence('ws.task', 'id')::regclass) + 1 AS h \gset
SELECT ws.complete_batch(ARRAY[:s, :h]) AS completed;
SELECT n.name, t.state, t.id = :h AS created_in_the_call
  FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p ORDER BY t.id;
SELECT state FROM ws.process WHERE id = :p;

-- a step that writes half-way (a pending task is assigned by counting open tasks, so the
-- step flushes first) and then cancels a task it had made ready: b is queued by that
-- write, then cancelled by the XOR join that c (routing) fires; it must leave the queue
SELECT ws.define('{"name": "midflush", "nodes": [
  {"name": "a", "action": "err.mf", "split": "and", "start": true}, {"name": "b", "action": "err.mf"},
  {"name": "h", "action": "err.mult"}, {"name": "c"},
  {"name": "j", "action": "err.mf", "join": "xor"}, {"name": "e", "end": true}],
  "transitions": [{"from": "a", "to": "b", "priority": 1}, {"from": "a", "to": "h", "priority": 2},
                  {"from": "a", "to": "c", "priority": 3}, {"from": "b", "to": "j"},
                  {"from": "c", "to": "j"}, {"from": "j", "to": "e"}, {"from": "h", "to": "e"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT count(ws.complete(task)) FROM ws.claim(ARRAY['err.mf'], 'w', 1);
SELECT n.name, t.state, EXISTS (SELECT FROM ws.ready r WHERE r.task = t.id) AS queued
  FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p ORDER BY t.id;

-- one claim over several actions takes the oldest tasks of all of them (lowest id first),
-- each once: an action named twice and a NULL element change nothing
SELECT ws.define('{"name": "two_kinds", "nodes": [{"name": "k1", "action": "err.k1", "start": true},
  {"name": "k2", "action": "err.k2", "start": true}, {"name": "e", "end": true, "join": "and"}],
  "transitions": [{"from": "k1", "to": "e"}, {"from": "k2", "to": "e"}]}') AS w \gset
SELECT count(ws.start(:w)) FROM generate_series(1, 3);
SELECT array_agg(id ORDER BY id) AS oldest_four FROM (
  SELECT id FROM ws.task WHERE action IN ('err.k1', 'err.k2') ORDER BY id LIMIT 4) o;
SELECT array_agg(task ORDER BY task) AS claimed, array_agg(DISTINCT action) AS actions
  FROM ws.claim(ARRAY['err.k2', NULL, 'err.k1', 'err.k2'], 'w', 4);
SELECT count(*) AS left_ready FROM ws.task WHERE action IN ('err.k1', 'err.k2') AND state = 'ready';

-- row triggers on the engine's tables fire for the engine's own writes, as for SQL ones;
-- UPDATE OF triggers by the columns the engine sets (it never sets node)
CREATE TABLE seen (tbl text, op text, state text);
CREATE FUNCTION seen() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.seen VALUES (TG_TABLE_NAME, TG_OP, NEW.state);
    RETURN NEW;
END $$;
CREATE TRIGGER seen AFTER INSERT OR UPDATE OF state ON ws.task FOR EACH ROW EXECUTE FUNCTION seen();
CREATE TRIGGER unseen AFTER UPDATE OF node ON ws.task FOR EACH ROW EXECUTE FUNCTION seen();
CREATE TRIGGER seen AFTER INSERT ON ws.event FOR EACH ROW EXECUTE FUNCTION seen();
SELECT ws.complete(task) FROM ws.claim(ARRAY['err.k1'], 'w', 1);
SELECT * FROM seen;
DROP TRIGGER seen ON ws.task;
DROP TRIGGER unseen ON ws.task;
DROP TRIGGER seen ON ws.event;
DROP TABLE seen;
DROP FUNCTION seen();

-- nothing in a failed process moves until ws.retry: it holds a ready task, a pending task
-- missing a parameter, a due timer and an expired lease, and a claim takes nothing, a
-- fill and the running task's complete and fail are refused, ws.tick moves nothing
SELECT ws.register_action('fz.need', '{"a": {"type": "integer", "required": true}}');
SELECT ws.define('{"name": "frozen", "nodes": [
  {"name": "boom", "action": "fz.boom", "start": true}, {"name": "sib", "action": "fz.sib", "start": true},
  {"name": "need", "action": "fz.need", "start": true}, {"name": "timer", "action": "fz.timer", "wait": "1 hour", "start": true},
  {"name": "slow", "action": "fz.slow", "start": true}, {"name": "end", "end": true, "join": "and"}],
  "transitions": [{"from": "boom", "to": "end"}, {"from": "sib", "to": "end"}, {"from": "need", "to": "end"},
                  {"from": "timer", "to": "end"}, {"from": "slow", "to": "end"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT task AS slow, attempt AS slow_attempt FROM ws.claim(ARRAY['fz.slow'], 'w', 1, '1 millisecond') \gset
SELECT task AS boom FROM ws.claim(ARRAY['fz.boom'], 'w', 1) \gset
SELECT t.id AS need FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p AND n.name = 'need' \gset
UPDATE ws.task SET due_at = now() - interval '1 second' WHERE process = :p AND state = 'waiting';
SELECT ws.fail(:boom, 'disk full');
SELECT pg_sleep(0.05);
SELECT n.name, t.state, t.due_at < now() AS due, t.lease_until < clock_timestamp() AS lease_ended,
       EXISTS (SELECT FROM ws.ready r WHERE r.task = t.id) AS queued
  FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p ORDER BY t.id;
SELECT state, error FROM ws.process WHERE id = :p;
SELECT fingerprint() AS before \gset
SELECT count(*) AS claimed FROM ws.claim(ARRAY['fz.sib', 'fz.need', 'fz.timer', 'fz.slow'], 'w', 10);
SELECT try(format('SELECT ws.fill(%s, %L)', :need, '{"a": 1}'));
SELECT try(format('SELECT ws.complete(%s, %L, %s)', :slow, '{}', :slow_attempt));
SELECT try(format('SELECT ws.fail(%s, %L, %s)', :slow, 'late', :slow_attempt));
SELECT ws.tick() AS moved;
SELECT fingerprint() = :'before' AS nothing_changed;
-- ws.retry: the timer fires, the lease ends, the fill is taken, every task is claimed
SELECT ws.retry(:boom);
SELECT state, error FROM ws.process WHERE id = :p;
SELECT ws.tick() AS moved;
SELECT ws.fill(:need, '{"a": 1}');
SELECT c.node, c.attempt
  FROM ws.claim(ARRAY['fz.boom', 'fz.sib', 'fz.need', 'fz.timer', 'fz.slow'], 'w', 10) c
       CROSS JOIN LATERAL ws.complete(c.task, '{}', c.attempt) ORDER BY c.task;
SELECT state FROM ws.process WHERE id = :p;

-- a process that failed without a failed task (a split that took no transition, or
-- stuck) has nothing ws.retry takes: it refuses every task and changes nothing; ws.cancel
-- ends it and the tasks it left active
SELECT ws.define('{"name": "no way", "nodes": [
  {"name": "x", "action": "fz.x", "split": "xor", "start": true}, {"name": "other", "action": "fz.other", "start": true},
  {"name": "y", "action": "fz.x"}, {"name": "z", "action": "fz.x"}, {"name": "end", "end": true, "join": "xor"}],
  "transitions": [{"from": "x", "to": "y", "condition": "$.go == \"y\""}, {"from": "x", "to": "z", "condition": "$.go == \"z\""},
                  {"from": "y", "to": "end"}, {"from": "z", "to": "end"}, {"from": "other", "to": "end"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT task AS x FROM ws.claim(ARRAY['fz.x'], 'w', 1) \gset
SELECT ws.complete(:x, '{"go": "nowhere"}');
SELECT t.id AS other FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p AND n.name = 'other' \gset
SELECT state, error FROM ws.process WHERE id = :p;
SELECT fingerprint() AS before \gset
SELECT try(format('SELECT ws.retry(%s)', :x));
SELECT try(format('SELECT ws.retry(%s)', :other));
SELECT fingerprint() = :'before' AS nothing_changed;
SELECT ws.cancel(:p);
SELECT n.name, t.state FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p ORDER BY t.id;
SELECT state FROM ws.process WHERE id = :p;

SELECT ws.define('{"name": "stuck", "nodes": [
  {"name": "x", "action": "fz.x", "split": "xor"}, {"name": "c", "action": "fz.x"}, {"name": "d", "action": "fz.x"},
  {"name": "b", "action": "fz.x", "join": "and"}, {"name": "end", "end": true}],
  "transitions": [{"from": "x", "to": "c", "condition": "$.c == true"}, {"from": "x", "to": "d"},
                  {"from": "c", "to": "b"}, {"from": "d", "to": "b"}, {"from": "b", "to": "end"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT task AS x FROM ws.claim(ARRAY['fz.x'], 'w', 1) \gset
SELECT ws.complete(:x, '{"c": false}');
SELECT task AS d FROM ws.claim(ARRAY['fz.x'], 'w', 1) \gset
SELECT ws.complete(:d);
SELECT state, error FROM ws.process WHERE id = :p;
SELECT fingerprint() AS before \gset
SELECT try(format('SELECT ws.retry(%s)', :x));
SELECT try(format('SELECT ws.retry(%s)', :d));
SELECT fingerprint() = :'before' AS nothing_changed;
SELECT ws.cancel(:p);
SELECT state FROM ws.process WHERE id = :p;

-- a wait interval fires by itself: the task waits until its activation plus the wait,
-- and the first ws.tick after that makes it ready
SELECT ws.define('{"name": "soon", "nodes": [{"name": "soon", "action": "err.soon", "wait": "20 milliseconds"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT state, due_at - created_at AS wait FROM ws.task WHERE process = :p;
SELECT pg_sleep(0.1);
SELECT ws.tick() AS moved;
SELECT state FROM ws.task WHERE process = :p;
SELECT count(ws.complete(task, '{}', attempt)) FROM ws.claim(ARRAY['err.soon'], 'w', 1);

-- a person's task was never claimed: an attempt passed with its completion is refused
CREATE ROLE ws_err_person NOLOGIN;
SELECT ws.define('{"name": "person", "nodes": [{"name": "h", "role": "ws_err_person"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT t.id AS h FROM ws.task t WHERE t.process = :p \gset
SELECT ws.complete(:h, '{}', 1);
SELECT ws.cancel(:p);
DROP ROLE ws_err_person;

-- the claim queue ws.ready holds exactly the ready tasks, after every path above (claims,
-- lease expiry, retries, fills, cancels, timers)
CREATE VIEW queue_check AS
SELECT count(*) FILTER (WHERE t.state = 'ready' AND r.task IS NOT NULL) AS queued,
       count(*) FILTER (WHERE r.task IS NULL) AS ready_not_queued,
       count(*) FILTER (WHERE t.id IS NULL) AS queued_not_ready
  FROM (SELECT id, state FROM ws.task WHERE state = 'ready') t FULL JOIN ws.ready r ON r.task = t.id;
SELECT * FROM queue_check;
-- deleting processes (their tasks go with them) empties the queue of their tasks
DELETE FROM ws.process p WHERE EXISTS (SELECT FROM ws.task t WHERE t.process = p.id AND t.state = 'ready');
SELECT * FROM queue_check;
SELECT count(*) AS queue_rows FROM ws.ready;
DROP VIEW queue_check;
DROP ROLE ws_err_clerk;

DROP FUNCTION try(text);
DROP FUNCTION fingerprint();
