-- Business keys: ws.start(workflow, params, key) gives a process a key, unique per
-- workflow name (over all its versions) among the processes not purged. Starting with a
-- key that exists returns that process and starts nothing, so a request retried after a
-- lost answer never starts twice; ws.process_by_key finds it; the overviews and the
-- picture show it. (Two sessions starting one key at once: test/isolation/specs/start_key.spec.)
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event, ws.message RESTART IDENTITY;

-- keys_attempt(sql): 'ok', or the SQLSTATE and message of the error it raised
CREATE FUNCTION keys_attempt(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

SELECT ws.define('{"name": "invoice", "nodes": [{"name": "send", "action": "k.send"}]}') AS v1 \gset
SELECT ws.define('{"name": "refund", "nodes": [{"name": "pay back", "action": "k.pay"}]}') AS r \gset

-- the shop's request for invoice INV-7 starts a process; the retried request gets the same
-- process back, by name or by version, with whatever params: nothing else starts
SELECT ws.start('invoice', '{"amount": 10}', 'INV-7') AS p \gset
SELECT ws.start('invoice', '{"amount": 10}', 'INV-7') = :p AS same,
       ws.start(:v1, '{"amount": 99}', 'INV-7') = :p AS same_by_version;
SELECT count(*) AS processes, count(*) FILTER (WHERE key = 'INV-7') AS keyed,
       (SELECT count(*) FROM ws.task) AS tasks, (SELECT count(*) FROM ws.event) AS events
  FROM ws.process;
SELECT params FROM ws.process WHERE id = :p;
-- it is found by its key
SELECT ws.process_by_key('invoice', 'INV-7') = :p AS found;
SELECT ws.process_by_key('invoice', 'INV-8') AS unknown_key, ws.process_by_key('nothing', 'INV-7') AS unknown_workflow;

-- keys are per workflow name: refund INV-7 is another process
SELECT ws.start('refund', '{}', 'INV-7') <> :p AS other_workflow;
-- and per name, not per version: a new version of invoice still returns the old process
SELECT ws.define('{"name": "invoice", "nodes": [{"name": "send", "action": "k.send2"}]}') AS v2 \gset
SELECT ws.start('invoice', '{}', 'INV-7') = :p AS same_across_versions;
SELECT ws.start('invoice', '{}', 'INV-9') AS p9 \gset
SELECT workflow = :v2 AS newest FROM ws.process WHERE id = :p9;
-- the key stays with the process once it has ended: an ended process is returned too
SELECT ws.complete(task) FROM ws.claim(ARRAY['k.send'], 'w');
SELECT state FROM ws.process WHERE id = :p;
SELECT ws.start('invoice', '{}', 'INV-7') = :p AS still_same;
-- without a key, every start is a new process, as before
SELECT ws.start('invoice') <> ws.start('invoice') AS two_processes;
SELECT ws.start('invoice', '{}', NULL) IS NOT NULL AS null_key;
SELECT count(*) FILTER (WHERE key IS NULL) AS without_key FROM ws.process;

-- bad input: an empty key; errors of the start itself come first and change nothing
SELECT count(*) AS before FROM ws.process \gset
SELECT keys_attempt($$SELECT ws.start('invoice', '{}', '')$$);
SELECT keys_attempt($$SELECT ws.start('nothing', '{}', 'INV-7')$$);
SELECT keys_attempt($$SELECT ws.start('invoice', '[1]', 'INV-10')$$);
SELECT count(*) = :before AS nothing_started FROM ws.process;

-- the key shows in the overviews and the picture's title
SELECT process, workflow, state, key FROM ws.process_overview WHERE key IS NOT NULL ORDER BY process;
SELECT id, workflow_name, key FROM ws.my_processes WHERE key LIKE 'INV%' ORDER BY id;
SELECT substring(ws.process_dot(:p) FROM 'label="[^"]*";') AS title;

-- users start with keys and find their processes by key
CREATE ROLE ws_keys_user;
SELECT ws.grant_user('ws_keys_user');
SET ROLE ws_keys_user;
SELECT ws.start('refund', '{}', 'RF-1') AS rf \gset
SELECT ws.start('refund', '{}', 'RF-1') = :rf AS same, ws.process_by_key('refund', 'RF-1') = :rf AS found;
RESET ROLE;
SELECT started_by, key FROM ws.process WHERE id = :rf;
DROP OWNED BY ws_keys_user;
DROP ROLE ws_keys_user;
