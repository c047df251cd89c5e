-- Read-only transactions: every ws call that writes refuses with 25006 before it does
-- anything (no row, no sequence value, no grant), as PostgreSQL's own commands do, in a
-- READ ONLY transaction and under default_transaction_read_only; the calls that only read
-- keep working. (A hot standby, where every transaction is read-only, is
-- test/integration/standby.sh.)
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event RESTART IDENTITY;

-- try(sql): 'ok', or the SQLSTATE and message of the error it raised
CREATE FUNCTION try(sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- everything a writing call could change: rows, the identity sequences, grants
CREATE FUNCTION fingerprint() RETURNS text LANGUAGE sql AS $$
    SELECT md5(concat((SELECT string_agg(concat_ws(',', id, state, params, result, progress, attempts, error,
                                                  lease_until, due_at, assignee), ';' ORDER BY id) FROM ws.task),
                      (SELECT string_agg(concat_ws(',', id, state, params, tokens, error), ';' ORDER BY id) FROM ws.process),
                      (SELECT string_agg(action || ':' || task, ';' ORDER BY task) FROM ws.ready),
                      (SELECT count(*) FROM ws.event),
                      (SELECT count(*) FROM ws.workflow), (SELECT count(*) FROM ws.node),
                      (SELECT count(*) FROM ws.transition), (SELECT count(*) FROM ws.action),
                      (SELECT count(*) FROM ws.message),
                      (SELECT string_agg(concat_ws(',', s.seqrelid::regclass, pg_sequence_last_value(s.seqrelid)), ';'
                                         ORDER BY s.seqrelid::regclass::text)
                         FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid
                        WHERE c.relnamespace = 'ws'::regnamespace),
                      has_function_privilege('ws_ro_ane', 'ws.claim(text[], text, integer, interval)', 'EXECUTE'),
                      has_table_privilege('ws_ro_ane', 'ws.task', 'SELECT')))
$$;

CREATE ROLE ws_ro_clerks NOLOGIN;
CREATE ROLE ws_ro_ane LOGIN IN ROLE ws_ro_clerks;
SELECT ws.register_action('ro.form', '{"a": {"type": "integer", "required": true}}');
SELECT ws.define('{"name": "ro", "nodes": [
  {"name": "job", "action": "ro.job", "start": true}, {"name": "other", "action": "ro.job", "start": true},
  {"name": "form", "action": "ro.form", "start": true}, {"name": "person", "role": "ws_ro_clerks", "start": true},
  {"name": "later", "action": "ro.job", "wait": "1 hour", "start": true},
  {"name": "end", "end": true, "join": "and"}],
  "transitions": [{"from": "job", "to": "end"}, {"from": "other", "to": "end"}, {"from": "form", "to": "end"},
                  {"from": "person", "to": "end"}, {"from": "later", "to": "end"}]}') AS w \gset
SELECT ws.define('{"name": "ro_fail", "nodes": [{"name": "doomed", "action": "ro.doomed"}]}') AS f \gset
SELECT ws.create_workflow('ro_edit') AS e \gset
SELECT ws.add_node(:e, 'a') > 0 AS added;
SELECT ws.add_node(:e, 'b') > 0 AS added;
SELECT ws.start(:w) AS p \gset
SELECT ws.start(:f) AS p2 \gset
-- in process p: a running task, a ready one, one missing a parameter, a person's task
-- (taken by the caller), a timer that is due, and a task that failed (process p2)
SELECT task AS running, attempt FROM ws.claim(ARRAY['ro.job'], 'w') \gset
SELECT t.id AS form FROM ws.task t WHERE t.process = :p AND t.action = 'ro.form' \gset
SELECT t.id AS person FROM ws.task t WHERE t.process = :p AND t.action IS NULL AND t.state = 'pending' \gset
SELECT ws.take(:person);
UPDATE ws.task SET due_at = now() - interval '1 second' WHERE process = :p AND state = 'waiting';
SELECT task AS doomed FROM ws.claim(ARRAY['ro.doomed'], 'w') \gset
SELECT ws.fail(:doomed, 'out of luck');
SELECT n.name, t.state, t.assignee, p.state AS process FROM ws.task t JOIN ws.node n ON n.id = t.node
  JOIN ws.process p ON p.id = t.process ORDER BY t.id;

-- every writing call, in a READ ONLY transaction that then commits, with ws.history none
-- (the engine then writes no event either)
SELECT fingerprint() AS before \gset
SET ws.history = none;
BEGIN READ ONLY;
SELECT try($$SELECT ws.create_workflow('ro_new')$$);
SELECT try(format($$SELECT ws.add_node(%s, 'c')$$, :e));
SELECT try(format($$SELECT ws.add_transition(%s, 'a', 'b')$$, :e));
SELECT try($$SELECT ws.register_action('ro.new')$$);
SELECT try($$SELECT ws.define('{"name": "ro_new", "nodes": [{"name": "a"}]}')$$);
SELECT try($$SELECT ws.define_dot('digraph ro_dot { a -> b }')$$);
SELECT try($$SELECT ws.schedule_tick()$$);
SELECT try($$SELECT ws.unschedule_tick()$$);
SELECT try($$SELECT ws.grant_user('ws_ro_ane')$$);
SELECT try($$SELECT ws.grant_admin('ws_ro_ane')$$);
SELECT try(format($$SELECT ws.start(%s)$$, :w));
SELECT try($$SELECT ws.start('ro', '{"x": 1}')$$);
SELECT try($$SELECT ws.claim(ARRAY['ro.job'], 'w')$$);
SELECT try(format($$SELECT ws.complete(%s, '{}', %s)$$, :running, :attempt));
SELECT try(format($$SELECT ws.complete_batch(ARRAY[%s]::bigint[])$$, :running));
SELECT try(format($$SELECT ws.fail(%s, 'no')$$, :running));
SELECT try(format($$SELECT ws.heartbeat(%s)$$, :running));
SELECT try(format($$SELECT ws.progress(%s, 50)$$, :running));
SELECT try(format($$SELECT ws.fill(%s, '{"a": 1}')$$, :form));
SELECT try(format($$SELECT ws.take(%s)$$, :person));
SELECT try(format($$SELECT ws.release(%s)$$, :person));
SELECT try(format($$SELECT ws.assign(%s, 'ws_ro_ane')$$, :person));
SELECT try(format($$SELECT ws.complete(%s)$$, :person));
SELECT try($$SELECT ws.tick()$$);
SELECT try(format($$SELECT ws.retry(%s)$$, :doomed));
SELECT try(format($$SELECT ws.cancel(%s)$$, :p));
SELECT try($$SELECT ws.send('ro.go', NULL, '{}', '1 hour')$$);
COMMIT;
RESET ws.history;
SELECT fingerprint() = :'before' AS nothing_written;

-- the same under default_transaction_read_only, each call its own transaction
SET default_transaction_read_only = on;
SELECT try($$SELECT ws.create_workflow('ro_new')$$);
SELECT try(format($$SELECT ws.add_node(%s, 'c')$$, :e));
SELECT try(format($$SELECT ws.add_transition(%s, 'a', 'b')$$, :e));
SELECT try($$SELECT ws.register_action('ro.new')$$);
SELECT try($$SELECT ws.define('{"name": "ro_new", "nodes": [{"name": "a"}]}')$$);
SELECT try($$SELECT ws.define_dot('digraph ro_dot { a -> b }')$$);
SELECT try($$SELECT ws.schedule_tick()$$);
SELECT try($$SELECT ws.unschedule_tick()$$);
SELECT try($$SELECT ws.grant_user('ws_ro_ane')$$);
SELECT try($$SELECT ws.grant_admin('ws_ro_ane')$$);
SELECT try(format($$SELECT ws.start(%s)$$, :w));
SELECT try($$SELECT ws.start('ro', '{"x": 1}')$$);
SELECT try($$SELECT ws.claim(ARRAY['ro.job'], 'w')$$);
SELECT try(format($$SELECT ws.complete(%s, '{}', %s)$$, :running, :attempt));
SELECT try(format($$SELECT ws.complete_batch(ARRAY[%s]::bigint[])$$, :running));
SELECT try(format($$SELECT ws.fail(%s, 'no')$$, :running));
SELECT try(format($$SELECT ws.heartbeat(%s)$$, :running));
SELECT try(format($$SELECT ws.progress(%s, 50)$$, :running));
SELECT try(format($$SELECT ws.fill(%s, '{"a": 1}')$$, :form));
SELECT try(format($$SELECT ws.take(%s)$$, :person));
SELECT try(format($$SELECT ws.release(%s)$$, :person));
SELECT try(format($$SELECT ws.assign(%s, 'ws_ro_ane')$$, :person));
SELECT try(format($$SELECT ws.complete(%s)$$, :person));
SELECT try($$SELECT ws.tick()$$);
SELECT try(format($$SELECT ws.retry(%s)$$, :doomed));
SELECT try(format($$SELECT ws.cancel(%s)$$, :p));
SELECT try($$SELECT ws.send('ro.go', NULL, '{}', '1 hour')$$);
-- as psql shows it, with its detail and hint; ws.run_ticks calls ws.tick
SELECT ws.cancel(:p);
CALL ws.run_ticks(0);
-- what only reads works
SELECT count(*) AS problems FROM ws.validate(:w);
SELECT count(*) AS problems FROM ws.validate('ro');
SELECT count(*) AS warnings FROM ws.lint(:w);
SELECT count(*) AS warnings FROM ws.lint('ro');
SELECT length(ws.to_dot(:w)) > 0 AS dot, length(ws.to_dot('ro')) > 0 AS dot_by_name,
       length(ws.process_dot(:p)) > 0 AS process_dot;
SELECT ws.export(:w) = ws.export('ro') AS exported;
SELECT count(*) AS my_tasks FROM ws.my_tasks;
SELECT count(*) AS my_processes FROM ws.my_processes;
SELECT count(*) AS overview FROM ws.process_overview;
SELECT count(*) AS workflows FROM ws.workflow_overview;
SET default_transaction_read_only = off;
SELECT fingerprint() = :'before' AS nothing_written;

-- and the reading calls in a READ ONLY transaction
BEGIN READ ONLY;
SELECT count(*) AS problems FROM ws.validate(:w);
SELECT count(*) AS warnings FROM ws.lint(:w);
SELECT length(ws.to_dot(:w)) > 0 AS dot, length(ws.process_dot(:p)) > 0 AS process_dot;
SELECT ws.export('ro') ->> 'name' AS exported;
COMMIT;

-- read-write again: the same calls write
SELECT ws.complete(:running, '{}', :attempt);
SELECT ws.cancel(:p);
SELECT state FROM ws.process WHERE id = :p;

DROP ROLE ws_ro_ane, ws_ro_clerks;
DROP FUNCTION try(text);
DROP FUNCTION fingerprint();
