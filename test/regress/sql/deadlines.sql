-- Deadlines and boundary paths: a node with deadline gives its tasks deadline_at =
-- activation + deadline; the first ws.tick after it cancels a task still active and takes
-- the node's "on": "deadline" transitions ($.deadline = the node's name), or fails the
-- process; a task out of retries takes the node's "on": "failure" transitions ($.error),
-- or fails the process. The split never takes a boundary path.
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event, ws.message RESTART IDENTITY;

-- dl_attempt(sql): 'ok', or the SQLSTATE and message of the error it raised
CREATE FUNCTION dl_attempt(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE FUNCTION dl_tasks(p bigint) RETURNS TABLE (node text, state text, error text)
LANGUAGE sql AS $$
    SELECT n.name, t.state, t.error FROM ws.task t JOIN ws.node n ON n.id = t.node
     WHERE t.process = p ORDER BY t.id
$$;

-- subscriptions are received until a deadline; then the late ones are reminded
SELECT ws.define('{"name": "subscriptions", "nodes": [
  {"name": "receive", "action": "d.receive", "start": true, "deadline": "50 milliseconds"},
  {"name": "thank", "action": "d.thank"},
  {"name": "remind", "action": "d.remind"},
  {"name": "end", "end": true, "join": "xor"}],
  "transitions": [{"from": "receive", "to": "thank"},
                  {"from": "receive", "to": "remind", "on": "deadline"},
                  {"from": "thank", "to": "end"}, {"from": "remind", "to": "end"}]}') AS w \gset
SELECT ws.start(:w) AS p1 \gset
SELECT ws.start(:w) AS p2 \gset
SELECT t.process, t.state, t.deadline_at - t.created_at AS deadline
  FROM ws.task t WHERE t.process IN (:p1, :p2) ORDER BY t.id;
-- p1's task is done in time: the split takes "thank", never the boundary path
SELECT ws.complete(task) FROM ws.claim(ARRAY['d.receive'], 'w') c WHERE c.process = :p1;
SELECT task AS late, attempt FROM ws.claim(ARRAY['d.receive'], 'w') c WHERE c.process = :p2 \gset
SELECT pg_sleep(0.1);
-- the deadline passes: p2's running task is cancelled, "remind" is taken, $.deadline set
SELECT ws.tick() AS moved;
SELECT * FROM dl_tasks(:p1);
SELECT * FROM dl_tasks(:p2);
SELECT params FROM ws.process WHERE id = :p2;
SELECT e.state, e.detail FROM ws.event e WHERE e.task = :late ORDER BY e.id;
-- the late worker's result is refused: the task was cancelled
SELECT dl_attempt(format('SELECT ws.complete(%s, ''{}'', %s)', :late, :attempt));
-- a second tick finds nothing more to do
SELECT ws.tick() AS moved;

-- no deadline path, or none that holds: the process fails
SELECT ws.define('{"name": "strict", "nodes": [
  {"name": "quick", "action": "d.quick", "start": true, "deadline": "50 milliseconds"},
  {"name": "late", "action": "d.late"},
  {"name": "end", "end": true, "join": "xor"}],
  "transitions": [{"from": "quick", "to": "end"},
                  {"from": "quick", "to": "late", "on": "deadline", "condition": "$.tolerant == true"},
                  {"from": "late", "to": "end"}]}') IS NOT NULL AS defined;
SELECT ws.start('strict') AS p3 \gset
SELECT ws.start('strict', '{"tolerant": true}') AS p4 \gset
SELECT pg_sleep(0.1);
SELECT ws.tick() AS moved;
SELECT id, state, error FROM ws.process WHERE id IN (:p3, :p4) ORDER BY id;
SELECT * FROM dl_tasks(:p4);

-- a deadline counts from activation through retry back-offs and pending forms alike:
-- here a task waiting out its back-off is cancelled
SELECT ws.define('{"name": "flaky", "nodes": [
  {"name": "try", "action": "d.try", "start": true, "retries": 3, "deadline": "50 milliseconds"},
  {"name": "give up", "action": "d.giveup", "end": true},
  {"name": "end", "end": true}],
  "transitions": [{"from": "try", "to": "end"}, {"from": "try", "to": "give up", "on": "deadline"}]}') IS NOT NULL AS defined;
SET ws.retry_base = 3600;
SELECT ws.start('flaky') AS p5 \gset
SELECT ws.fail(task, 'busy') FROM ws.claim(ARRAY['d.try'], 'w') c WHERE c.process = :p5;
SELECT * FROM dl_tasks(:p5);
SELECT pg_sleep(0.1);
SELECT ws.tick() AS moved;
SELECT * FROM dl_tasks(:p5);
RESET ws.retry_base;

-- in a failed process deadlines wait for ws.retry
SELECT ws.define('{"name": "frozen", "nodes": [
  {"name": "slow", "action": "d.slow", "start": true, "deadline": "50 milliseconds"},
  {"name": "fragile", "action": "d.fragile", "start": true},
  {"name": "timeout", "action": "d.timeout"},
  {"name": "end", "end": true, "join": "or"}],
  "transitions": [{"from": "slow", "to": "end"}, {"from": "fragile", "to": "end"},
                  {"from": "slow", "to": "timeout", "on": "deadline"}, {"from": "timeout", "to": "end"}]}') IS NOT NULL AS defined;
SELECT ws.start('frozen') AS p6 \gset
SELECT task AS fragile FROM ws.claim(ARRAY['d.fragile'], 'w') c WHERE c.process = :p6 \gset
SELECT ws.fail(:fragile, 'broke');
SELECT pg_sleep(0.1);
SELECT ws.tick() AS moved;
SELECT * FROM dl_tasks(:p6);
SELECT ws.retry(:fragile);
SELECT ws.tick() AS moved;
SELECT * FROM dl_tasks(:p6);

-- a task out of retries takes its node's failure paths, with $.error; the process goes on
SELECT ws.define('{"name": "payment", "nodes": [
  {"name": "charge", "action": "d.charge", "start": true, "retries": 1},
  {"name": "invoice", "action": "d.invoice"},
  {"name": "end", "end": true, "join": "xor"}],
  "transitions": [{"from": "charge", "to": "end"}, {"from": "charge", "to": "invoice", "on": "failure"},
                  {"from": "invoice", "to": "end"}]}') IS NOT NULL AS defined;
SET ws.retry_base = 0.001;
SELECT ws.start('payment') AS p7 \gset
SELECT ws.fail(task, 'card declined') FROM ws.claim(ARRAY['d.charge'], 'w') c WHERE c.process = :p7;
SELECT pg_sleep(0.01);
SELECT ws.tick() AS moved;
SELECT ws.fail(task, 'card declined again') FROM ws.claim(ARRAY['d.charge'], 'w') c WHERE c.process = :p7;
RESET ws.retry_base;
SELECT state, params FROM ws.process WHERE id = :p7;
SELECT * FROM dl_tasks(:p7);
-- a person's task fails the same way
CREATE ROLE ws_dl_clerk;
SELECT ws.define('{"name": "review", "nodes": [
  {"name": "check", "start": true, "role": "ws_dl_clerk"},
  {"name": "escalate", "action": "d.escalate", "end": true},
  {"name": "end", "end": true}],
  "transitions": [{"from": "check", "to": "end"}, {"from": "check", "to": "escalate", "on": "failure"}]}') AS wr \gset
SELECT ws.start(:wr) AS p8 \gset
SELECT ws.fail(t.id, 'cannot decide') FROM ws.task t WHERE t.process = :p8;
SELECT state, params->'error' AS error FROM ws.process WHERE id = :p8;
SELECT * FROM dl_tasks(:p8);
DROP ROLE ws_dl_clerk;

-- bad input: a clear error, nothing stored
SELECT dl_attempt($$SELECT ws.define('{"name": "bad", "nodes": [{"name": "a", "action": "x", "deadline": "-1 hour"}]}')$$);
SELECT dl_attempt($$SELECT ws.define('{"name": "bad", "nodes": [{"name": "a", "action": "x", "deadline": "0 seconds"}]}')$$);
SELECT dl_attempt($$SELECT ws.define('{"name": "bad", "nodes": [{"name": "a", "action": "x", "deadline": "soon"}]}')$$);
SELECT dl_attempt($$SELECT ws.define('{"name": "bad", "nodes": [{"name": "a", "action": "x"}, {"name": "b"}],
  "transitions": [{"from": "a", "to": "b", "on": "later"}]}')$$);
SELECT count(*) AS stored FROM ws.workflow WHERE name = 'bad';
SELECT ws.create_workflow('loose') AS wl \gset
SELECT ws.add_node(:wl, 'a', action => 'x', is_start => true) IS NOT NULL AS added;
SELECT ws.add_node(:wl, 'route') IS NOT NULL AS added;
SELECT ws.add_node(:wl, 'b', action => 'x', "join" => 'and', is_end => true) IS NOT NULL AS added;
SELECT ws.add_transition(:wl, 'a', 'route') IS NOT NULL AS added;
SELECT ws.add_transition(:wl, 'a', 'b', "on" => 'deadline') IS NOT NULL AS added;
SELECT ws.add_transition(:wl, 'route', 'b') IS NOT NULL AS added;
SELECT ws.add_transition(:wl, 'route', 'b', "on" => 'failure') IS NOT NULL AS added;
SELECT * FROM ws.validate(:wl);
SELECT * FROM ws.lint(:wl);

-- the keys go round: export, and DOT out and in; boundary paths are drawn dashed
SELECT ws.export(:w)->'nodes'->0 AS receive, ws.export(:w)->'transitions'->1 AS boundary;
SELECT ws.define_dot(ws.to_dot(:w)) AS w2 \gset
SELECT ws.export(:w2)->'nodes' = ws.export(:w)->'nodes' AS same_nodes,
       ws.export(:w2)->'transitions' = ws.export(:w)->'transitions' AS same_transitions;
SELECT ws.to_dot(:w) LIKE '%"receive" -> "remind" [on=deadline, style=dashed, label="on deadline"]%' AS dashed;
