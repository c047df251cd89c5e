-- The seed's "Organizing a conference" workflow, with the joins that make it run:
-- an AND join into Publicize, an OR join of the three publicity branches into Receive
-- subscriptions, and the loop through Wait until the starting day.
\set VERBOSITY default
\set SHOW_CONTEXT never
-- each file starts from empty tables, so ids in the output do not depend on the order of files
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event RESTART IDENTITY;

CREATE ROLE ws_conf_organization NOLOGIN;
CREATE ROLE ws_conf_accounting NOLOGIN;
CREATE ROLE ws_conf_ane LOGIN IN ROLE ws_conf_accounting;
CREATE ROLE ws_conf_bob LOGIN IN ROLE ws_conf_accounting;

-- test helpers: claim what is ready, then complete the running task of one node
CREATE FUNCTION work(p bigint, node_name text, result jsonb DEFAULT '{}') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    t bigint;
BEGIN
    PERFORM ws.claim(ARRAY(SELECT DISTINCT action FROM ws.task WHERE action IS NOT NULL), 'crew', 100);
    SELECT k.id INTO STRICT t FROM ws.task k JOIN ws.node n ON n.id = k.node
     WHERE k.process = p AND n.name = node_name AND k.state IN ('running', 'pending');
    PERFORM ws.complete(t, result);
    RETURN node_name || ' done';
END $$;
CREATE FUNCTION tasks(p bigint) RETURNS TABLE (node text, state text, assignee name)
LANGUAGE sql AS $$
    SELECT n.name, k.state, k.assignee FROM ws.task k JOIN ws.node n ON n.id = k.node
     WHERE k.process = p ORDER BY k.id
$$;

SELECT ws.define($${"name": "conference", "params": {"city": "Bilbao"},
  "nodes": [
    {"name": "Send the Call for Papers", "action": "conferencer.tasks.mailing", "role": "ws_conf_organization",
     "start": true, "split": "and"},
    {"name": "Search a location", "action": "conferencer.tasks.search", "role": "ws_conf_organization", "start": true},
    {"name": "Collect papers", "role": "ws_conf_accounting", "join": "and"},
    {"name": "Publicize", "join": "and", "split": "and"},
    {"name": "Mailing", "action": "conferencer.tasks.mailing"},
    {"name": "Newspapers", "action": "conferencer.tasks.newspapers"},
    {"name": "Poster", "action": "conferencer.tasks.poster"},
    {"name": "Receive subscriptions", "action": "conferencer.tasks.subscriptions", "join": "or"},
    {"name": "Wait until the starting day", "action": "conferencer.tasks.calendar", "split": "xor"},
    {"name": "Start the conference", "role": "ws_conf_organization", "end": true}],
  "transitions": [
    {"from": "Send the Call for Papers", "to": "Collect papers"},
    {"from": "Collect papers", "to": "Publicize", "condition": "$.papers >= 10"},
    {"from": "Search a location", "to": "Publicize"},
    {"from": "Publicize", "to": "Mailing"},
    {"from": "Publicize", "to": "Newspapers"},
    {"from": "Publicize", "to": "Poster"},
    {"from": "Mailing", "to": "Receive subscriptions"},
    {"from": "Newspapers", "to": "Receive subscriptions"},
    {"from": "Poster", "to": "Receive subscriptions"},
    {"from": "Receive subscriptions", "to": "Wait until the starting day"},
    {"from": "Wait until the starting day", "to": "Start the conference", "condition": "$.started == true", "priority": 1},
    {"from": "Wait until the starting day", "to": "Receive subscriptions", "priority": 2}]}$$) AS w \gset
SELECT * FROM ws.validate(:w);

SELECT ws.start('conference', '{"year": 2026}') AS p \gset
-- both start nodes at once
SELECT * FROM tasks(:p);
SELECT work(:p, 'Search a location', '{"location": "Euskalduna"}');
-- Publicize waits for its other parent (AND join): one token held
SELECT * FROM tasks(:p);
SELECT (SELECT count(*) FROM jsonb_object_keys(tokens)) AS transitions_holding_tokens,
       (SELECT sum(value::int) FROM jsonb_each_text(tokens)) AS tokens
  FROM ws.process WHERE id = :p;
SELECT work(:p, 'Send the Call for Papers', '{"sent": 120}');
-- Collect papers is a human task: pending, assigned to the accounting member with the
-- fewest open tasks, ties by name
SELECT * FROM tasks(:p);
SELECT work(:p, 'Collect papers', '{"papers": 14}');
-- Publicize (routing) fired and split into the three publicity branches
SELECT * FROM tasks(:p);
SELECT work(:p, 'Newspapers');
SELECT work(:p, 'Mailing');
-- the OR join waits: Poster can still deliver
SELECT * FROM tasks(:p);
SELECT work(:p, 'Poster');
SELECT * FROM tasks(:p);
SELECT work(:p, 'Receive subscriptions', '{"subscriptions": 40}');
SELECT work(:p, 'Wait until the starting day', '{"started": false}');
-- the loop: back to Receive subscriptions, an OR join with a single token and no other source
SELECT * FROM tasks(:p);
SELECT work(:p, 'Receive subscriptions', '{"subscriptions": 95}');
SELECT work(:p, 'Wait until the starting day', '{"started": true}');
SELECT * FROM tasks(:p);
SELECT work(:p, 'Start the conference', '{"opened_by": "the mayor"}');
SELECT state, params, error FROM ws.process WHERE id = :p;
SELECT * FROM tasks(:p);
SELECT count(*) AS events, count(*) FILTER (WHERE task IS NULL) AS process_events
  FROM ws.event WHERE process = :p;

-- a second conference: the process goes on, assignment takes the least loaded member
SELECT ws.start('conference') AS p2 \gset
SELECT work(:p2, 'Search a location');
SELECT work(:p2, 'Send the Call for Papers');
SELECT ws.start('conference') AS p3 \gset
SELECT work(:p3, 'Search a location');
SELECT work(:p3, 'Send the Call for Papers');
SELECT k.process = :p2 AS first_process, k.assignee FROM ws.task k JOIN ws.node n ON n.id = k.node
 WHERE n.name = 'Collect papers' AND k.state = 'pending' ORDER BY k.id;
-- too few papers: Collect papers takes no transition and the process fails, naming the node
SELECT work(:p2, 'Collect papers', '{"papers": 3}');
SELECT state, error FROM ws.process WHERE id = :p2;
SELECT ws.cancel(:p2, 'no papers');
SELECT ws.cancel(:p3, 'venue closed');
SELECT state FROM ws.process WHERE id IN (:p2, :p3) ORDER BY id;
SELECT * FROM tasks(:p3);

DROP FUNCTION work(bigint, text, jsonb);
DROP FUNCTION tasks(bigint);
DROP ROLE ws_conf_ane, ws_conf_bob, ws_conf_accounting, ws_conf_organization;
