-- Retention: ws.purge(older_than, batch) deletes top-level processes that ended before
-- now() - older_than, oldest first, up to batch a call, with their child processes (every
-- process whose root is one of them), tasks, claim queue rows, events and tokens. Running
-- processes and the children of running processes stay, whatever their age; a purged
-- process's business key is free again. Bad arguments change nothing.
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event, ws.message RESTART IDENTITY;

-- retention_attempt(sql): 'ok', or the SQLSTATE and message of the error it raised
CREATE FUNCTION retention_attempt(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- what is left of process p: its row, tasks, events, claim queue rows
CREATE FUNCTION retention_left(p bigint) RETURNS text LANGUAGE sql AS $$
    SELECT format('process %s: %s row, %s tasks, %s events, %s ready', p,
                  (SELECT count(*) FROM ws.process x WHERE x.id = p),
                  (SELECT count(*) FROM ws.task t WHERE t.process = p),
                  (SELECT count(*) FROM ws.event e WHERE e.process = p),
                  (SELECT count(*) FROM ws.ready r JOIN ws.task t ON t.id = r.task WHERE t.process = p))
$$;
-- every row of ws's history tables, to show that a refused call changed nothing
CREATE FUNCTION retention_rows() RETURNS text LANGUAGE sql AS $$
    SELECT format('%s processes, %s tasks, %s events, %s ready',
                  (SELECT count(*) FROM ws.process), (SELECT count(*) FROM ws.task),
                  (SELECT count(*) FROM ws.event), (SELECT count(*) FROM ws.ready))
$$;

-- an order: pick, pack, ship; a worker runs each step
SELECT ws.define('{"name": "shop order", "nodes": [
  {"name": "pick", "action": "r.pick"}, {"name": "pack", "action": "r.pack"},
  {"name": "ship", "action": "r.ship", "retries": 0}],
  "transitions": [{"from": "pick", "to": "pack"}, {"from": "pack", "to": "ship"}]}') AS w \gset
-- five orders, each with a business key
SELECT ws.start('shop order', '{}', 'order-' || i) FROM generate_series(1, 5) i;
-- orders 1, 2 and 3 go all the way; 4 is cancelled; 5 stops at ship, which fails
CREATE FUNCTION retention_work(a text, n integer) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(ws.complete(c.task)) FROM ws.claim(ARRAY[a], 'worker', n) c
$$;
SELECT ws.cancel(4, 'customer changed their mind');
SELECT retention_work('r.pick', 10) AS picked, retention_work('r.pack', 10) AS packed;
SELECT count(ws.complete(c.task)) AS shipped FROM ws.claim(ARRAY['r.ship'], 'worker', 10) c WHERE c.process <= 3;
SELECT ws.fail(t.id, 'no courier') FROM ws.task t WHERE t.process = 5 AND t.state = 'running';
-- and a sixth order, still running, with a ready task in the claim queue
SELECT ws.start('shop order', '{}', 'order-6') AS running \gset
SELECT id, key, state, ended_at IS NOT NULL AS ended FROM ws.process ORDER BY id;

-- Child processes (call activities): a child has parent_task, its calling task, and root,
-- the top-level process of its tree. Made here by hand: 7 is a child of order 1
-- (completed), 8 a grandchild in the same tree, 9 a child of the running order 6 that
-- completed long ago itself.
INSERT INTO ws.process (id, workflow, state, started_at, ended_at, parent_task, root) VALUES
  (7, :w, 'completed', now() - interval '61 days', now() - interval '61 days',
   (SELECT min(id) FROM ws.task WHERE process = 1), 1),
  (8, :w, 'completed', now() - interval '61 days', now() - interval '61 days', NULL, 1),
  (9, :w, 'completed', now() - interval '61 days', now() - interval '61 days',
   (SELECT min(id) FROM ws.task WHERE process = :running), :running);
UPDATE ws.process SET parent_task = (SELECT min(id) FROM ws.task WHERE process = 7) WHERE id = 8;
INSERT INTO ws.task (process, node, action, state, ended_at)
SELECT p, (SELECT min(id) FROM ws.node WHERE workflow = :w), 'r.pick', 'succeeded', now() - interval '61 days'
  FROM generate_series(7, 9) p;
INSERT INTO ws.event (process, task, state, at)
SELECT t.process, t.id, 'succeeded', now() - interval '61 days' FROM ws.task t WHERE t.process BETWEEN 7 AND 9;
ALTER SEQUENCE ws.process_id_seq RESTART WITH 10;

-- the history grows old: orders 1 to 5 ended 40 to 60 days ago (1 the oldest)
UPDATE ws.process SET ended_at = now() - (65 - 5 * id) * interval '1 day', started_at = started_at - interval '70 days'
 WHERE id <= 5;
SELECT id, state, date_part('day', now() - ended_at) AS days_ago FROM ws.process WHERE id <= 5 ORDER BY id;

-- bad arguments: a clear error each, and nothing deleted
SELECT retention_rows() AS before \gset
SELECT retention_attempt($$SELECT ws.purge('-1 day')$$);
SELECT retention_attempt($$SELECT ws.purge(NULL)$$);
SELECT retention_attempt($$SELECT ws.purge('30 days', 0)$$);
SELECT retention_attempt($$SELECT ws.purge('30 days', -5)$$);
SELECT retention_attempt($$SELECT ws.purge('30 days', NULL)$$);
SELECT retention_attempt($$CALL ws.run_purge('-1 day')$$);
SELECT retention_attempt($$CALL ws.run_purge('1 day', 10, -1)$$);
SELECT retention_rows() = :'before' AS nothing_changed;

-- nothing ended more than 90 days ago
SELECT ws.purge('90 days') AS purged;
-- four ended more than 42 days ago: batches of 2, the oldest first, then nothing more
SELECT ws.purge('42 days', 2) AS purged;
SELECT id FROM ws.process ORDER BY id;
SELECT ws.purge('42 days', 2) AS purged;
SELECT ws.purge('42 days', 2) AS purged;
SELECT id FROM ws.process ORDER BY id;
-- order 1 went with its whole tree: children 7 and 8, their tasks and events
SELECT retention_left(p) FROM generate_series(1, 4) p;
SELECT retention_left(p) FROM generate_series(7, 8) p;
-- the child 9 of the running order stays, old as it is, and so does the running order
SELECT retention_left(9), retention_left(:running);

-- the failed order 5 (ended 40 days ago), which ws.retry could still resume, goes too
SELECT retention_left(5);
SELECT ws.purge('30 days') AS purged;
SELECT id, key, state FROM ws.process ORDER BY id;
SELECT retention_left(5);

-- a key that was purged is free: order-1 starts anew; order-6 still returns the running one
SELECT ws.process_by_key('shop order', 'order-1') AS purged_key;
SELECT ws.start('shop order', '{}', 'order-1') > :running AS started_anew;
SELECT ws.start('shop order', '{}', 'order-6') = :running AS same_as_before;

-- what ended just now is purged with older_than zero; running processes never are
SELECT ws.cancel(ws.process_by_key('shop order', 'order-1'));
SELECT ws.purge('0') AS purged;
SELECT id, state FROM ws.process ORDER BY id;
SELECT ws.purge('0') AS purged;

-- the procedure the pg_cron job runs: batches of its size, each committed and followed by a
-- rest, until none is left; here 5 cancelled orders in batches of 2
SELECT count(ws.cancel(ws.start('shop order'))) AS cancelled FROM generate_series(1, 5);
CALL ws.run_purge('0', 2);
SELECT count(*) AS left_ended FROM ws.process WHERE state <> 'running';

-- scheduling needs pg_cron in this database: a clear error that says how
SELECT retention_attempt($$SELECT ws.schedule_purge('90 days')$$) ~ '^55000: pg_cron is not installed in database' AS no_cron;
SELECT retention_attempt($$SELECT ws.schedule_purge('-90 days')$$);

-- only administrators purge
CREATE ROLE ws_retention_user;
SELECT ws.grant_user('ws_retention_user');
SET ROLE ws_retention_user;
SELECT retention_attempt($$SELECT ws.purge('0')$$);
RESET ROLE;
SELECT ws.grant_admin('ws_retention_user');
SET ROLE ws_retention_user;
SELECT ws.purge('0') AS purged;
RESET ROLE;
DROP OWNED BY ws_retention_user;
DROP ROLE ws_retention_user;
