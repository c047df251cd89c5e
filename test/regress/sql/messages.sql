-- Message waits: a node with message waits (state waiting, no due time) until ws.send
-- delivers that message; correlate takes the key from the task's params; a message that
-- reached no task is kept with a ttl for the first task that starts waiting for it; a
-- node's role limits who may send to it; a failed process is not reached until ws.retry;
-- ws.tick drops expired messages.
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event, ws.message RESTART IDENTITY;

-- attempt(sql): 'ok', or the SQLSTATE and message of the error it raised
CREATE FUNCTION attempt(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- the state of process p's tasks, by node name
CREATE FUNCTION tasks_of(p bigint) RETURNS TABLE (node text, state text, result jsonb, error text)
LANGUAGE sql AS $$
    SELECT n.name, t.state, t.result, t.error FROM ws.task t JOIN ws.node n ON n.id = t.node
     WHERE t.process = p ORDER BY t.id
$$;

-- an order waits for the bank's confirmation of its invoice
SELECT ws.define('{"name": "order", "nodes": [
  {"name": "invoice", "action": "m.invoice", "start": true},
  {"name": "paid", "message": "payment", "correlate": "$.invoice"},
  {"name": "ship", "action": "m.ship"},
  {"name": "end", "end": true}],
  "transitions": [{"from": "invoice", "to": "paid"}, {"from": "paid", "to": "ship"},
                  {"from": "ship", "to": "end"}]}') AS w \gset
SELECT ws.start('order', '{"invoice": "A-1"}') AS p1 \gset
SELECT ws.start('order', '{"invoice": "A-2"}') AS p2 \gset
SELECT count(ws.complete(task)) AS invoiced FROM ws.claim(ARRAY['m.invoice'], 'w', 10);
-- both wait, with no due time, each for the key its params give
SELECT t.process, t.state, t.due_at, t.message, t.message_key
  FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE n.name = 'paid' ORDER BY t.id;
-- ws.tick does not move a message wait
SELECT ws.tick() AS moved;
-- a message for A-2 reaches that order only: its task succeeds with the payload
SELECT ws.send('payment', 'A-2', '{"amount": 120}') AS reached;
SELECT * FROM tasks_of(:p2);
SELECT params FROM ws.process WHERE id = :p2;
SELECT e.state, e.actor = current_user AS by_sender, e.detail
  FROM ws.event e JOIN ws.task t ON t.id = e.task JOIN ws.node n ON n.id = t.node
 WHERE e.process = :p2 AND n.name = 'paid' ORDER BY e.id;
SELECT * FROM tasks_of(:p1);
-- a second one for A-2 finds nobody waiting, and without a ttl nothing is kept
SELECT ws.send('payment', 'A-2', '{"amount": 120}') AS reached;
SELECT count(*) AS kept FROM ws.message;

-- with a ttl, a message that reached nobody is kept; the order that starts waiting for
-- A-3 takes it at once, and only one order does
SELECT ws.send('payment', 'A-3', '{"amount": 7}', '1 hour') AS reached;
SELECT name, key, payload, expires_at > now() + interval '59 minutes' AS in_an_hour, sent_by = current_user AS by_me
  FROM ws.message;
SELECT ws.start('order', '{"invoice": "A-3"}') AS p3 \gset
SELECT ws.start('order', '{"invoice": "A-3"}') AS p4 \gset
SELECT count(ws.complete(task)) AS invoiced FROM ws.claim(ARRAY['m.invoice'], 'w', 10);
SELECT * FROM tasks_of(:p3);
SELECT e.state, e.detail FROM ws.event e JOIN ws.task t ON t.id = e.task JOIN ws.node n ON n.id = t.node
 WHERE e.process = :p3 AND n.name = 'paid' ORDER BY e.id;
SELECT * FROM tasks_of(:p4);
SELECT count(*) AS kept FROM ws.message;
-- a message that reaches a task is not kept, ttl or not
SELECT ws.send('payment', 'A-3', '{"amount": 8}', '1 hour') AS reached;
SELECT count(*) AS kept FROM ws.message;

-- a message without a key reaches the waits without correlate, and those only
SELECT ws.define('{"name": "pinged", "nodes": [
  {"name": "ping", "message": "ping", "start": true}, {"name": "end", "end": true}],
  "transitions": [{"from": "ping", "to": "end"}]}') IS NOT NULL AS defined;
SELECT ws.start('pinged') AS pp \gset
SELECT ws.send('ping', 'some key') AS reached_with_key;
SELECT ws.send('ping') AS reached;
SELECT state FROM ws.process WHERE id = :pp;
-- a correlate that yields nothing: the task waits, says so, and no message reaches it
SELECT ws.start('order', '{}') AS p5 \gset
SELECT ws.complete(task) FROM ws.claim(ARRAY['m.invoice'], 'w') c WHERE c.process = :p5;
SELECT * FROM tasks_of(:p5);
SELECT ws.send('payment') AS reached;
SELECT count(*) AS kept FROM ws.message;

-- a node's role limits who may send to its tasks: another role's message does not reach
-- it (no error, not counted), nor is it taken when kept
CREATE ROLE ws_msg_bank;
CREATE ROLE ws_msg_shop;
SELECT ws.grant_user('ws_msg_bank');
SELECT ws.grant_user('ws_msg_shop');
SELECT ws.define('{"name": "approval", "nodes": [
  {"name": "approved", "message": "approval", "role": "ws_msg_bank", "start": true}, {"name": "end", "end": true}],
  "transitions": [{"from": "approved", "to": "end"}]}') IS NOT NULL AS defined;
SELECT ws.start('approval') AS pa \gset
SET ROLE ws_msg_shop;
SELECT ws.send('approval', NULL, '{"by": "shop"}', '1 hour') AS reached;
RESET ROLE;
SELECT state FROM ws.process WHERE id = :pa;
SELECT ws.start('approval') AS pb \gset
SELECT state FROM ws.process WHERE id = :pb;
SET ROLE ws_msg_bank;
SELECT ws.send('approval', NULL, '{"by": "bank"}') AS reached;
RESET ROLE;
SELECT id, state, params FROM ws.process WHERE id IN (:pa, :pb) ORDER BY id;
-- the shop's kept message is still there, for nobody
SELECT payload, sent_by FROM ws.message WHERE name = 'approval';
DELETE FROM ws.message;

-- a failed process is neither reached nor counted; ws.retry resumes its waits, which
-- then take a kept message
SELECT ws.define('{"name": "split", "nodes": [
  {"name": "job", "action": "m.job", "start": true},
  {"name": "wait", "message": "go", "start": true},
  {"name": "end", "end": true, "join": "and"}],
  "transitions": [{"from": "job", "to": "end"}, {"from": "wait", "to": "end"}]}') IS NOT NULL AS defined;
SELECT ws.start('split') AS ps \gset
SELECT task AS job FROM ws.claim(ARRAY['m.job'], 'w') \gset
SELECT ws.fail(:job, 'broken');
SELECT state FROM ws.process WHERE id = :ps;
SELECT ws.send('go', NULL, '{"went": true}', '1 hour') AS reached;
SELECT * FROM tasks_of(:ps);
SELECT ws.retry(:job);
SELECT * FROM tasks_of(:ps);
SELECT count(*) AS kept FROM ws.message;
SELECT ws.complete(task) FROM ws.claim(ARRAY['m.job'], 'w') c WHERE c.process = :ps;
SELECT state, params FROM ws.process WHERE id = :ps;

-- an expired message is never taken, and ws.tick drops it
SELECT ws.send('late', NULL, '{}', '1 millisecond') AS reached;
SELECT pg_sleep(0.01);
SELECT ws.define('{"name": "late", "nodes": [
  {"name": "w", "message": "late", "start": true}, {"name": "end", "end": true}],
  "transitions": [{"from": "w", "to": "end"}]}') IS NOT NULL AS defined;
SELECT ws.start('late') AS pl \gset
SELECT * FROM tasks_of(:pl);
SELECT count(*) AS kept_before_tick FROM ws.message;
SELECT ws.tick() AS moved;
SELECT count(*) AS kept_after_tick FROM ws.message;

-- a cancelled wait gets nothing
SELECT ws.cancel(:pl);
SELECT ws.send('late') AS reached;

-- bad input: a clear error, nothing changes
SELECT attempt($$SELECT ws.send(NULL)$$);
SELECT attempt($$SELECT ws.send('ping', NULL, NULL)$$);
SELECT attempt($$SELECT ws.send('ping', NULL, '[1]')$$);
SELECT attempt($$SELECT ws.send('ping', NULL, '{}', '-1 hour')$$);
SELECT attempt($$SELECT ws.send('ping', NULL, '{}', '0 seconds')$$);
SELECT count(*) AS kept FROM ws.message;
SELECT attempt($$SELECT ws.define('{"name": "bad", "nodes": [{"name": "a", "message": ""}]}')$$);
SELECT attempt($$SELECT ws.define('{"name": "bad", "nodes": [{"name": "a", "message": "m", "correlate": "$.."}]}')$$);
SELECT attempt($$SELECT ws.define('{"name": "bad", "nodes": [{"name": "a", "message": 7}]}')$$);
SELECT ws.create_workflow('bad') AS wb \gset
SELECT ws.add_node(:wb, 'both', action => 'x', message => 'm', is_start => true, is_end => true) IS NOT NULL AS added;
SELECT ws.add_node(:wb, 'timed', message => 'm', wait => '1 hour') IS NOT NULL AS added;
SELECT ws.add_node(:wb, 'keyed', correlate => '$.k') IS NOT NULL AS added;
SELECT * FROM ws.validate(:wb);

-- the keys go round: export, and DOT out and in
SELECT jsonb_path_query(ws.export('order'), '$.nodes[*] ? (@.name == "paid")');
SELECT ws.define_dot(ws.to_dot(:w)) AS w2 \gset
SELECT :w2 <> :w AS a_new_version, ws.export(:w2)->'nodes' = ws.export(:w)->'nodes' AS same_nodes;
SELECT ws.to_dot(:w) LIKE '%"paid" [message="payment", correlate=%, shape=note, label="paid%✉ payment"%' AS drawn;

DROP OWNED BY ws_msg_bank;
DROP OWNED BY ws_msg_shop;
DROP ROLE ws_msg_bank;
DROP ROLE ws_msg_shop;
