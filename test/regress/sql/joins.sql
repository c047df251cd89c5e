-- Splits and joins as section 4 of the contract decides them: counted tokens, priority
-- order, depth first, AND joins in loops, XOR joins that cancel, the OR join's
-- inclusive-gateway rule, end nodes, stuck processes and $now.
\set VERBOSITY default
\set SHOW_CONTEXT never
-- each file starts from empty tables, so ids in the output do not depend on the order of files
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event RESTART IDENTITY;

CREATE FUNCTION work(p bigint, node_name text, result jsonb DEFAULT '{}') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    t bigint;
BEGIN
    PERFORM ws.claim(ARRAY['j'], 'crew', 100);
    SELECT k.id INTO STRICT t FROM ws.task k JOIN ws.node n ON n.id = k.node
     WHERE k.process = p AND n.name = node_name AND k.state = 'running';
    PERFORM ws.complete(t, result);
    RETURN node_name || ' done';
END $$;
CREATE FUNCTION tasks(p bigint) RETURNS TABLE (node text, state text)
LANGUAGE sql AS $$
    SELECT n.name, k.state FROM ws.task k JOIN ws.node n ON n.id = k.node WHERE k.process = p ORDER BY k.id
$$;
CREATE FUNCTION tokens(p bigint) RETURNS TABLE (parent text, child text, tokens int)
LANGUAGE sql AS $$
    SELECT a.name, b.name, e.value::int FROM ws.process x, jsonb_each_text(x.tokens) e
      JOIN ws.transition t ON t.id = e.key::bigint JOIN ws.node a ON a.id = t.parent JOIN ws.node b ON b.id = t.child
     WHERE x.id = p ORDER BY t.id
$$;

-- 1. tokens count: two deliveries on a -> j before b arrives are two tokens; the AND join
--    takes one from each input and fires once, one token stays
SELECT ws.define('{"name": "counted", "nodes": [
  {"name": "a", "action": "j", "start": true}, {"name": "b", "action": "j", "start": true},
  {"name": "j", "action": "j", "join": "and"}, {"name": "end", "end": true}],
  "transitions": [{"from": "a", "to": "j"}, {"from": "a", "to": "a", "condition": "$.more == true"},
                  {"from": "b", "to": "j"}, {"from": "j", "to": "end"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT work(:p, 'a', '{"more": true}');
SELECT work(:p, 'a', '{"more": false}');
SELECT * FROM tokens(:p);
SELECT work(:p, 'b');
SELECT * FROM tasks(:p);
SELECT * FROM tokens(:p);
SELECT work(:p, 'j');
SELECT state FROM ws.process WHERE id = :p;

-- 2. an AND join inside a loop fires once per round
SELECT ws.define('{"name": "and loop", "nodes": [
  {"name": "split", "start": true}, {"name": "left", "action": "j"}, {"name": "right", "action": "j"},
  {"name": "meet", "action": "j", "join": "and", "split": "xor"}, {"name": "end", "end": true}],
  "transitions": [{"from": "split", "to": "left"}, {"from": "split", "to": "right"},
                  {"from": "left", "to": "meet"}, {"from": "right", "to": "meet"},
                  {"from": "meet", "to": "split", "condition": "$.round < 2", "priority": 1},
                  {"from": "meet", "to": "end", "priority": 2}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT work(:p, 'right'), work(:p, 'left'), work(:p, 'meet', '{"round": 1}');
SELECT work(:p, 'left'), work(:p, 'right'), work(:p, 'meet', '{"round": 2}');
SELECT * FROM tasks(:p);
SELECT state FROM ws.process WHERE id = :p;

-- 3. split order: XOR takes the first transition that holds by priority, then id; AND and
--    OR take all that hold, followed in priority order, depth first through routing nodes
SELECT ws.define('{"name": "order", "nodes": [
  {"name": "x", "action": "j", "split": "xor"}, {"name": "A", "action": "j"}, {"name": "B", "action": "j"},
  {"name": "C", "action": "j"}, {"name": "end", "end": true, "join": "xor"}],
  "transitions": [{"from": "x", "to": "B", "priority": 2}, {"from": "x", "to": "A", "priority": 1, "condition": "$.a == true"},
                  {"from": "x", "to": "C", "priority": 1},
                  {"from": "A", "to": "end"}, {"from": "B", "to": "end"}, {"from": "C", "to": "end"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT work(:p, 'x', '{"a": true}');
SELECT * FROM tasks(:p);
SELECT ws.start(:w) AS p \gset
SELECT work(:p, 'x', '{"a": false}');
SELECT * FROM tasks(:p);

SELECT ws.define('{"name": "depth first", "nodes": [
  {"name": "s", "split": "or"}, {"name": "r1"}, {"name": "r2"}, {"name": "t1", "action": "j"},
  {"name": "t2", "action": "j"}, {"name": "t3", "action": "j"}, {"name": "never", "action": "j"},
  {"name": "end", "end": true, "join": "xor"}],
  "transitions": [{"from": "s", "to": "r2", "priority": 5}, {"from": "s", "to": "r1", "priority": 1},
                  {"from": "s", "to": "never", "priority": 0, "condition": "$.never == true"},
                  {"from": "r1", "to": "t1"}, {"from": "r1", "to": "t2"}, {"from": "r2", "to": "t3"},
                  {"from": "t1", "to": "end"}, {"from": "t2", "to": "end"}, {"from": "t3", "to": "end"},
                  {"from": "never", "to": "end"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT * FROM tasks(:p);

-- 4. XOR join: fires on every arrival; first the other parents' active tasks are cancelled
SELECT ws.define('{"name": "xor join", "nodes": [
  {"name": "a", "action": "j"}, {"name": "b", "action": "j"}, {"name": "c", "action": "j"},
  {"name": "j", "action": "j", "join": "xor"}, {"name": "end", "end": true}],
  "transitions": [{"from": "a", "to": "j"}, {"from": "b", "to": "j"}, {"from": "c", "to": "end"},
                  {"from": "j", "to": "end"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT work(:p, 'b');
SELECT * FROM tasks(:p);
SELECT e.detail FROM ws.event e JOIN ws.task t ON t.id = e.task JOIN ws.node n ON n.id = t.node
 WHERE e.process = :p AND e.state = 'cancelled';
SELECT ws.define('{"name": "xor twice", "nodes": [
  {"name": "s"}, {"name": "a"}, {"name": "b"}, {"name": "j", "action": "j", "join": "xor"}, {"name": "end", "end": true, "join": "and"}],
  "transitions": [{"from": "s", "to": "a"}, {"from": "s", "to": "b"}, {"from": "a", "to": "j"}, {"from": "b", "to": "j"},
                  {"from": "j", "to": "end"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT * FROM tasks(:p);

-- 5. OR join: one branch taken fires at once; an active task that can still deliver is waited for
SELECT ws.define('{"name": "or join", "nodes": [
  {"name": "a", "action": "j", "split": "or"}, {"name": "b", "action": "j"}, {"name": "c", "action": "j"},
  {"name": "j", "action": "j", "join": "or"}, {"name": "end", "end": true}],
  "transitions": [{"from": "a", "to": "b", "condition": "$.b == true"}, {"from": "a", "to": "c", "condition": "$.c == true"},
                  {"from": "b", "to": "j"}, {"from": "c", "to": "j"}, {"from": "j", "to": "end"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT work(:p, 'a', '{"b": true, "c": false}');
SELECT work(:p, 'b');
SELECT * FROM tasks(:p);
SELECT ws.start(:w) AS p \gset
SELECT work(:p, 'a', '{"b": true, "c": true}');
SELECT work(:p, 'c');
SELECT * FROM tasks(:p);
SELECT * FROM tokens(:p);
SELECT work(:p, 'b');
SELECT * FROM tasks(:p);
SELECT * FROM tokens(:p);

-- 6. OR join: a token held at another join is a source. Once q and p are done, r is the
--    only active task, and it does not hold j back: it can reach j through the AND join A
--    and also through q, whose token is in. The token p left at A can reach j only
--    through A, so j waits for it, and fires once A has fired
SELECT ws.define('{"name": "or waits for and", "nodes": [
  {"name": "p", "action": "j", "start": true}, {"name": "q", "action": "j", "start": true},
  {"name": "r", "action": "j", "start": true},
  {"name": "A", "join": "and"}, {"name": "j", "action": "j", "join": "or"}, {"name": "end", "end": true}],
  "transitions": [{"from": "p", "to": "A"}, {"from": "r", "to": "A"}, {"from": "A", "to": "j"},
                  {"from": "q", "to": "j"}, {"from": "r", "to": "q", "condition": "$.never == true"},
                  {"from": "j", "to": "end"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT work(:p, 'q'), work(:p, 'p');
SELECT * FROM tokens(:p);
SELECT * FROM tasks(:p);
SELECT work(:p, 'r');
SELECT * FROM tasks(:p);
SELECT * FROM tokens(:p);

-- 7. an end node completes the process and cancels every other active task, also one
--    that is no parent of it and has no path to it
SELECT ws.define('{"name": "race to end", "nodes": [
  {"name": "fast", "action": "j"}, {"name": "slow", "action": "j"}, {"name": "end"}, {"name": "later"}],
  "transitions": [{"from": "fast", "to": "end"}, {"from": "slow", "to": "later"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT work(:p, 'fast');
SELECT * FROM tasks(:p);
SELECT e.detail FROM ws.event e JOIN ws.task t ON t.id = e.task JOIN ws.node n ON n.id = t.node
 WHERE e.process = :p AND n.name = 'slow' AND e.state = 'cancelled';
SELECT state FROM ws.process WHERE id = :p;

-- 8. stuck: the AND join waits for a token that can never come, nothing is active
SELECT ws.define('{"name": "stuck", "nodes": [
  {"name": "x", "action": "j", "split": "xor"}, {"name": "c", "action": "j"}, {"name": "d", "action": "j"},
  {"name": "b", "action": "j", "join": "and"}, {"name": "end", "end": true}],
  "transitions": [{"from": "x", "to": "c", "condition": "$.c == true"}, {"from": "x", "to": "d"},
                  {"from": "c", "to": "b"}, {"from": "d", "to": "b"}, {"from": "b", "to": "end"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT work(:p, 'x', '{"c": false}');
SELECT work(:p, 'd');
SELECT state, error FROM ws.process WHERE id = :p;
SELECT e.state, e.detail FROM ws.event e WHERE e.process = :p AND e.task IS NULL ORDER BY e.id;

-- 9. conditions see the process variables and $now
SELECT ws.define('{"name": "now", "nodes": [
  {"name": "x", "action": "j", "split": "xor"}, {"name": "late", "end": true}, {"name": "early", "end": true}],
  "transitions": [{"from": "x", "to": "late", "priority": 1,
                   "condition": "$.deadline.datetime() < $now.datetime() && $now.datetime() > \"2000-01-01T00:00:00+00:00\".datetime()"},
                  {"from": "x", "to": "early", "priority": 2}]}') AS w \gset
SELECT ws.start(:w, '{"deadline": "2001-02-03T04:05:06+00:00"}') AS p \gset
SELECT work(:p, 'x');
SELECT * FROM tasks(:p);
SELECT ws.start(:w, '{"deadline": "2999-02-03T04:05:06+00:00"}') AS p \gset
SELECT work(:p, 'x');
SELECT * FROM tasks(:p);

-- 10. several start nodes, activated in ascending node id
SELECT ws.define('{"name": "starts", "nodes": [
  {"name": "s3", "action": "j", "start": true}, {"name": "s1", "action": "j", "start": true},
  {"name": "s2", "start": true}, {"name": "end", "end": true, "join": "and"}],
  "transitions": [{"from": "s3", "to": "end"}, {"from": "s1", "to": "end"}, {"from": "s2", "to": "end"}]}') AS w \gset
SELECT ws.start(:w) AS p \gset
SELECT * FROM tasks(:p);
SELECT work(:p, 's1'), work(:p, 's3');
SELECT state FROM ws.process WHERE id = :p;

DROP FUNCTION work(bigint, text, jsonb);
DROP FUNCTION tasks(bigint);
DROP FUNCTION tokens(bigint);
