-- Call activities and multi-instance nodes. A node with call starts a child process of
-- the newest version of that workflow, with the calling task's effective params; the
-- calling task is running with no worker until the child ends. A node with foreach makes
-- one task (instance) per element of an array, each with its element under item and its
-- position under index; the node succeeds once, when every instance has, with
-- {as: [results in element order]}.
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event, ws.message RESTART IDENTITY;

-- co_attempt(sql): 'ok', or the SQLSTATE and message of the error it raised
CREATE FUNCTION co_attempt(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- co_tasks(p): the tasks of process p, in creation order
CREATE FUNCTION co_tasks(p bigint) RETURNS TABLE (node text, state text, instance integer, params jsonb, result jsonb)
LANGUAGE sql AS $$
    SELECT n.name, t.state, t.instance, t.params, t.result FROM ws.task t JOIN ws.node n ON n.id = t.node
     WHERE t.process = p ORDER BY t.id
$$;
-- co_work(action, p): claim and complete the ready task of action in process p (or its
-- children) with {"done": <its item or node>}
CREATE FUNCTION co_work(a text, p bigint, result jsonb DEFAULT NULL) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE t record;
BEGIN
    SELECT c.task, c.params INTO t FROM ws.claim(ARRAY[a], 'w', 1) c;
    IF t.task IS NULL THEN RAISE EXCEPTION 'no ready task of %', a; END IF;
    PERFORM ws.complete(t.task, coalesce(result, jsonb_build_object('done', coalesce(t.params->'paper', t.params->'item'))));
    RETURN t.task;
END $$;
-- co_finish(p, result): complete the claimed task of process p with result
CREATE FUNCTION co_finish(p bigint, result jsonb) RETURNS bigint LANGUAGE sql AS $$
    SELECT ws.complete(id, $2) FROM ws.task WHERE process = $1 AND state = 'running' AND action IS NOT NULL;
    SELECT $1;
$$;

-- The conference, with its papers reviewed each in a process of its own: "Review paper"
-- is a workflow of its own, and the conference calls it once per submitted paper.
SELECT ws.define('{"name": "Review paper", "nodes": [
  {"name": "Assign reviewer", "action": "c.assign", "start": true},
  {"name": "Review", "action": "c.review"},
  {"name": "Reviewed", "end": true}],
  "transitions": [{"from": "Assign reviewer", "to": "Review"}, {"from": "Review", "to": "Reviewed"}]}') IS NOT NULL AS defined;
SELECT ws.define('{"name": "Conference", "nodes": [
  {"name": "Call for papers", "action": "c.cfp", "start": true},
  {"name": "Review papers", "call": "Review paper", "foreach": "$.papers", "item": "paper", "as": "reviews"},
  {"name": "Publicize", "action": "c.publicize"},
  {"name": "Done", "end": true}],
  "transitions": [{"from": "Call for papers", "to": "Review papers"},
                  {"from": "Review papers", "to": "Publicize"}, {"from": "Publicize", "to": "Done"}]}') IS NOT NULL AS defined;
SELECT ws.start('Conference', '{"year": 2027}') AS conf \gset
SELECT co_work('c.cfp', :conf, '{"papers": ["ws in C", "joins", "timers"]}') IS NOT NULL AS cfp_done;
-- one child per paper, in element order, each called by its own instance
SELECT node, state, instance, params->'paper' AS paper FROM co_tasks(:conf);
SELECT p.id > :conf AS child, p.state, p.parent_task IS NOT NULL AS called, p.root = :conf AS in_tree,
       p.params->>'paper' AS paper, p.params->'index' AS index, p.params->'year' AS year
  FROM ws.process p WHERE p.root = :conf ORDER BY p.id;
-- the calling tasks have no worker: claims never return them, complete and fail refuse them
SELECT count(*) AS claimable FROM ws.ready r JOIN ws.task t ON t.id = r.task WHERE t.process = :conf;
SELECT id AS calling FROM ws.task WHERE process = :conf AND instance = 0 \gset
SELECT co_attempt(format('SELECT ws.complete(%s)', :calling));
SELECT co_attempt(format('SELECT ws.fail(%s, ''no'')', :calling));
SELECT co_attempt(format('SELECT ws.heartbeat(%s)', :calling));
-- the reviews finish in another order than the papers came: timers, then ws in C, then joins
SELECT co_work('c.assign', p.id) IS NOT NULL AS assigned FROM ws.process p WHERE p.root = :conf ORDER BY p.id;
SELECT count(*) AS reviewing FROM ws.claim(ARRAY['c.review'], 'w', 10);
SELECT co_finish(id, jsonb_build_object('score', 3)) IS NOT NULL AS reviewed FROM ws.process WHERE params->>'paper' = 'timers';
SELECT co_finish(id, jsonb_build_object('score', 5)) IS NOT NULL AS reviewed FROM ws.process WHERE params->>'paper' = 'ws in C';
SELECT state, params ? 'reviews' AS has_reviews FROM ws.process WHERE id = :conf;
SELECT co_finish(id, jsonb_build_object('score', 4)) IS NOT NULL AS reviewed FROM ws.process WHERE params->>'paper' = 'joins';
-- the node succeeded once, with the children's variables in element order
SELECT jsonb_path_query_array(params, '$.reviews[*].paper') AS papers,
       jsonb_path_query_array(params, '$.reviews[*].score') AS scores FROM ws.process WHERE id = :conf;
SELECT node, state FROM co_tasks(:conf) WHERE node = 'Publicize';
SELECT count(*) AS publicize_tasks FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE n.name = 'Publicize';
SELECT co_work('c.publicize', :conf) IS NOT NULL AS publicized;
SELECT state FROM ws.process WHERE id = :conf;

-- A single call: without as, the calling task's result is what the child added or
-- changed (a parallel branch of the parent that changed a variable meanwhile keeps it);
-- with as, the child's final variables under that name.
SELECT ws.define('{"name": "Quote", "nodes": [
  {"name": "Price", "action": "q.price", "start": true}, {"name": "Quoted", "end": true}],
  "transitions": [{"from": "Price", "to": "Quoted"}]}') IS NOT NULL AS defined;
SELECT ws.define('{"name": "Order", "nodes": [
  {"name": "Start", "start": true},
  {"name": "Get quote", "call": "Quote"},
  {"name": "Get quote again", "call": "Quote", "as": "second"},
  {"name": "Note", "action": "q.note"},
  {"name": "Join", "end": true}],
  "transitions": [{"from": "Start", "to": "Get quote"}, {"from": "Start", "to": "Note"},
                  {"from": "Get quote", "to": "Get quote again"},
                  {"from": "Get quote again", "to": "Join"}, {"from": "Note", "to": "Join"}]}') IS NOT NULL AS defined;
SELECT ws.start('Order', '{"item": "bolt", "note": "none"}') AS ord \gset
SELECT co_work('q.note', :ord, '{"note": "urgent"}') IS NOT NULL AS noted;
SELECT co_work('q.price', p.id, '{"price": 7, "note": "none"}') IS NOT NULL AS priced
  FROM ws.process p WHERE p.parent_task IN (SELECT id FROM ws.task WHERE process = :ord) AND p.state = 'running';
-- "note" came back unchanged from the child: the parent's "urgent" stands
SELECT node, result FROM co_tasks(:ord) WHERE node = 'Get quote';
SELECT co_work('q.price', p.id, '{"price": 8}') IS NOT NULL AS priced
  FROM ws.process p WHERE p.parent_task IN (SELECT id FROM ws.task WHERE process = :ord) AND p.state = 'running';
SELECT state, params FROM ws.process WHERE id = :ord;

-- A child that fails fails its calling task with the child's error (retries start a new
-- child each time); out of retries, the parent fails
SELECT ws.define('{"name": "Flaky", "nodes": [
  {"name": "Try", "action": "f.try", "start": true}, {"name": "Tried", "end": true}],
  "transitions": [{"from": "Try", "to": "Tried"}]}') IS NOT NULL AS defined;
SELECT ws.define('{"name": "Caller", "nodes": [
  {"name": "Call flaky", "call": "Flaky", "start": true, "retries": 1}, {"name": "Called", "end": true}],
  "transitions": [{"from": "Call flaky", "to": "Called"}]}') IS NOT NULL AS defined;
SET ws.retry_base = 0;
SELECT ws.start('Caller') AS caller \gset
SELECT ws.fail(task, 'broken') FROM ws.claim(ARRAY['f.try'], 'w');
SELECT node, state, params = '{}' AS no_params FROM co_tasks(:caller);
SELECT t.state, t.attempts, t.error FROM ws.task t WHERE t.process = :caller;
SELECT ws.tick() >= 1 AS moved;
SELECT count(*) AS children, count(*) FILTER (WHERE state = 'running') AS running
  FROM ws.process WHERE root = :caller;
SELECT ws.fail(task, 'broken again') FROM ws.claim(ARRAY['f.try'], 'w');
SELECT state, error FROM ws.process WHERE id = :caller;
SELECT t.state, t.attempts, t.error FROM ws.task t WHERE t.process = :caller;
-- the failed child's own task cannot be retried: its calling task has ended
SELECT co_attempt(format('SELECT ws.retry(%s)', t.id)) FROM ws.task t JOIN ws.process p ON p.id = t.process
 WHERE p.root = :caller AND t.state = 'failed' ORDER BY t.id DESC LIMIT 1;
-- ws.retry of the calling task starts one more child
SELECT ws.retry(id) FROM ws.task WHERE process = :caller;
SELECT state FROM ws.process WHERE id = :caller;
SELECT co_work('f.try', :caller) IS NOT NULL AS tried;
SELECT state FROM ws.process WHERE id = :caller;
RESET ws.retry_base;

-- Cancelling the parent cancels its running children, and theirs
SELECT ws.define('{"name": "Outer", "nodes": [
  {"name": "Call middle", "call": "Caller", "start": true}, {"name": "Out", "end": true}],
  "transitions": [{"from": "Call middle", "to": "Out"}]}') IS NOT NULL AS defined;
SELECT ws.start('Outer') AS outer \gset
SELECT id, state, parent_task IS NOT NULL AS child, root FROM ws.process WHERE id = :outer OR root = :outer ORDER BY id;
SELECT ws.cancel(:outer, 'stop');
SELECT id, state FROM ws.process WHERE id = :outer OR root = :outer ORDER BY id;
SELECT t.state, t.process FROM ws.task t WHERE t.process IN (SELECT id FROM ws.process WHERE root = :outer) ORDER BY t.id;
SELECT e.detail FROM ws.event e WHERE e.task IS NULL AND e.state = 'cancelled'
   AND e.process IN (SELECT id FROM ws.process WHERE root = :outer) ORDER BY e.id;

-- A parent that fails freezes its children; ws.retry of the parent thaws them
SELECT ws.define('{"name": "Fragile", "nodes": [
  {"name": "Begin", "start": true},
  {"name": "Call flaky", "call": "Flaky"},
  {"name": "Check", "action": "f.check"},
  {"name": "End", "end": true}],
  "transitions": [{"from": "Begin", "to": "Call flaky"}, {"from": "Begin", "to": "Check"},
                  {"from": "Call flaky", "to": "End"}, {"from": "Check", "to": "End"}]}') IS NOT NULL AS defined;
SELECT ws.start('Fragile') AS fragile \gset
SELECT ws.fail(task, 'check failed') FROM ws.claim(ARRAY['f.check'], 'w');
SELECT id, state, error FROM ws.process WHERE id = :fragile OR root = :fragile ORDER BY id;
-- nothing in a frozen child moves: its task cannot be claimed, nor completed
SELECT count(*) AS claimed FROM ws.claim(ARRAY['f.try'], 'w');
SELECT ws.retry(id) FROM ws.task WHERE process = :fragile AND state = 'failed';
SELECT id, state, error FROM ws.process WHERE id = :fragile OR root = :fragile ORDER BY id;
SELECT co_work('f.try', :fragile) IS NOT NULL AS tried;
SELECT co_work('f.check', :fragile) IS NOT NULL AS checked;
SELECT state FROM ws.process WHERE id = :fragile;

-- Recursion is allowed; ws.max_depth stops it: the call that would go deeper fails
SELECT ws.define('{"name": "Deep", "nodes": [
  {"name": "Down", "call": "Deep", "start": true}, {"name": "Bottom", "end": true}],
  "transitions": [{"from": "Down", "to": "Bottom"}]}') IS NOT NULL AS defined;
SET ws.max_depth = 3;
SELECT ws.start('Deep') AS deep \gset
SELECT id - :deep AS level, state, left(error, 120) AS error FROM ws.process WHERE id = :deep OR root = :deep ORDER BY id;
RESET ws.max_depth;

-- Multi-instance without call: parallel, sequential, empty, and not an array
SELECT ws.define('{"name": "Mail", "nodes": [
  {"name": "Send", "action": "m.send", "start": true, "foreach": "$.to"},
  {"name": "Sent", "end": true}],
  "transitions": [{"from": "Send", "to": "Sent"}]}') IS NOT NULL AS defined;
SELECT ws.start('Mail', '{"to": ["ann", "bob"]}') AS mail \gset
SELECT node, state, instance, params FROM co_tasks(:mail);
SELECT co_work('m.send', :mail) IS NOT NULL, co_work('m.send', :mail) IS NOT NULL;
SELECT state, params FROM ws.process WHERE id = :mail;
SELECT ws.start('Mail', '{"to": []}') AS nomail \gset
SELECT node, state, instance, result FROM co_tasks(:nomail);
SELECT state, params FROM ws.process WHERE id = :nomail;
SELECT ws.start('Mail', '{"to": "ann"}') AS badmail \gset
SELECT state, error FROM ws.process WHERE id = :badmail;
SELECT ws.start('Mail', '{}') AS nomail2 \gset
SELECT state, error FROM ws.process WHERE id = :nomail2;

SELECT ws.define('{"name": "Steps", "nodes": [
  {"name": "Step", "action": "s.step", "start": true, "foreach": "$.steps", "item": "step", "sequential": true, "as": "log"},
  {"name": "Stepped", "end": true}],
  "transitions": [{"from": "Step", "to": "Stepped"}]}') IS NOT NULL AS defined;
SELECT ws.start('Steps', '{"steps": ["a", "b", "c"]}') AS steps \gset
-- one instance at a time, in array order
SELECT node, state, instance, params FROM co_tasks(:steps);
SELECT ws.complete(task, jsonb_build_object('did', params->'step')) FROM ws.claim(ARRAY['s.step'], 'w');
SELECT node, state, instance FROM co_tasks(:steps);
SELECT ws.complete(task, jsonb_build_object('did', params->'step')) FROM ws.claim(ARRAY['s.step'], 'w');
SELECT ws.complete(task, jsonb_build_object('did', params->'step')) FROM ws.claim(ARRAY['s.step'], 'w');
SELECT state, params->'log' AS log FROM ws.process WHERE id = :steps;

-- An instance out of retries with a failure path: the other instances are cancelled and
-- the path taken; a deadline cancels every active instance
SELECT ws.define('{"name": "Batch", "nodes": [
  {"name": "Each", "action": "b.each", "start": true, "foreach": "$.items", "deadline": "1 hour"},
  {"name": "Failed", "action": "b.failed"},
  {"name": "Late", "action": "b.late"},
  {"name": "Fine", "end": true, "join": "xor"}],
  "transitions": [{"from": "Each", "to": "Fine"}, {"from": "Each", "to": "Failed", "on": "failure"},
                  {"from": "Each", "to": "Late", "on": "deadline"},
                  {"from": "Failed", "to": "Fine"}, {"from": "Late", "to": "Fine"}]}') IS NOT NULL AS defined;
SELECT ws.start('Batch', '{"items": [1, 2, 3]}') AS b1 \gset
SELECT ws.fail(task, 'bad item') FROM ws.claim(ARRAY['b.each'], 'w', 1);
SELECT node, state, instance FROM co_tasks(:b1);
SELECT params->'error' AS error FROM ws.process WHERE id = :b1;
SELECT ws.start('Batch', '{"items": [1, 2, 3]}') AS b2 \gset
SELECT co_work('b.each', :b2) IS NOT NULL AS one_done;
UPDATE ws.task SET deadline_at = now() - interval '1 second' WHERE process = :b2;
SELECT ws.tick() AS moved;
SELECT node, state, instance FROM co_tasks(:b2);
SELECT params->'deadline' AS deadline, params ? 'Each' AS partial_results FROM ws.process WHERE id = :b2;

-- An instance out of retries whose failure path does not hold: the process fails with
-- the other instances still active, and ws.retry of the failed one resumes the group,
-- which succeeds once with every result
SELECT ws.define('{"name": "Picky", "nodes": [
  {"name": "Each", "action": "p.each", "start": true, "foreach": "$.items"},
  {"name": "Fallback", "action": "p.fallback"},
  {"name": "Done", "end": true, "join": "xor"}],
  "transitions": [{"from": "Each", "to": "Done"},
                  {"from": "Each", "to": "Fallback", "on": "failure", "condition": "$.use_fallback == true"},
                  {"from": "Fallback", "to": "Done"}]}') IS NOT NULL AS defined;
SELECT ws.start('Picky', '{"items": [1, 2]}') AS pk \gset
SELECT ws.fail(task, 'bad item') FROM ws.claim(ARRAY['p.each'], 'w', 1);
SELECT state, regexp_replace(error, 'task [0-9]+', 'task N') AS error FROM ws.process WHERE id = :pk;
SELECT node, state, instance FROM co_tasks(:pk);
SELECT ws.retry(t.id) FROM ws.task t WHERE t.process = :pk AND t.state = 'failed';
SELECT co_work('p.each', :pk) IS NOT NULL AS first, co_work('p.each', :pk) IS NOT NULL AS second;
SELECT state, params->'Each' AS each FROM ws.process WHERE id = :pk;

-- Joins count the node once: an AND join after a multi-instance node fires once
SELECT ws.define('{"name": "Fan", "nodes": [
  {"name": "Go", "start": true},
  {"name": "Many", "action": "f.many", "foreach": "$.xs"},
  {"name": "One", "action": "f.one"},
  {"name": "Both", "join": "and"},
  {"name": "Over", "end": true}],
  "transitions": [{"from": "Go", "to": "Many"}, {"from": "Go", "to": "One"},
                  {"from": "Many", "to": "Both"}, {"from": "One", "to": "Both"}, {"from": "Both", "to": "Over"}]}') IS NOT NULL AS defined;
SELECT ws.start('Fan', '{"xs": [1, 2, 3]}') AS fan \gset
SELECT co_work('f.many', :fan) IS NOT NULL AS m1;
SELECT co_work('f.one', :fan) IS NOT NULL AS one;
SELECT co_work('f.many', :fan) IS NOT NULL AS m2;
SELECT state FROM ws.process WHERE id = :fan;
SELECT co_work('f.many', :fan) IS NOT NULL AS m3;
SELECT state, params->'Many' AS many FROM ws.process WHERE id = :fan;
SELECT count(*) AS both_tasks FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :fan AND n.name = 'Both';

-- Message waits per instance: each instance correlates on its own item
SELECT ws.define('{"name": "Payments", "nodes": [
  {"name": "Paid", "message": "paid", "correlate": "$.item", "foreach": "$.invoices", "start": true},
  {"name": "All paid", "end": true}],
  "transitions": [{"from": "Paid", "to": "All paid"}]}') IS NOT NULL AS defined;
SELECT ws.start('Payments', '{"invoices": ["i1", "i2"]}') AS pay \gset
SELECT ws.send('paid', 'i2', '{"amount": 2}'), ws.send('paid', 'i1', '{"amount": 1}');
SELECT state, params->'Paid' AS paid FROM ws.process WHERE id = :pay;
