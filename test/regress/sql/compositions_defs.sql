-- Call activities and multi-instance nodes, the definition side: node keys call, foreach,
-- item, sequential and as in ws.add_node, ws.define, ws.export, ws.to_dot and
-- ws.define_dot; what ws.validate refuses and ws.lint warns about; the pictures; the
-- parent column of ws.process_overview and the child processes in ws.process_dot. How
-- the engine runs them is tested where it is built; no process here runs a call node.
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event, ws.message RESTART IDENTITY;

-- cd_attempt(sql): 'ok', or the SQLSTATE and message of the error it raised, with its
-- detail when it has one
CREATE FUNCTION cd_attempt(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    detail text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(E'\n' || nullif(detail, ''), '');
END $$;
-- cd_nodes(w): the nodes of a workflow version with the keys of this file
CREATE FUNCTION cd_nodes(w bigint)
RETURNS TABLE (name text, action text, call text, foreach text, item text, sequential boolean, "as" text)
LANGUAGE sql AS $$
    SELECT n.name, n.action, n.call, n.foreach::text, n.item, n.sequential, n."as"
      FROM ws.node n WHERE n.workflow = w ORDER BY n.id
$$;
-- cd_same(a, b): 'equal' when two versions have the same nodes (these keys and the
-- others ws.export writes) and transitions, else what differs
CREATE FUNCTION cd_same(a bigint, b bigint) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN (ws.export(a) - 'name') = (ws.export(b) - 'name')
                 AND NOT EXISTS (SELECT * FROM cd_nodes(a) EXCEPT ALL SELECT * FROM cd_nodes(b))
                 AND NOT EXISTS (SELECT * FROM cd_nodes(b) EXCEPT ALL SELECT * FROM cd_nodes(a))
                THEN 'equal' ELSE format('%s <> %s', ws.export(a), ws.export(b)) END
$$;

------------------------------------------------------------------------------
-- The seed's conference, extended: each submitted paper is reviewed by a child process
-- of "Review paper", one at a time; the reviews come back under "reviews"
------------------------------------------------------------------------------
SELECT ws.define('{"name": "Review paper", "nodes": [
  {"name": "Assign reviewer", "action": "cd.assign"},
  {"name": "Review", "action": "cd.review"}],
  "transitions": [{"from": "Assign reviewer", "to": "Review"}]}') AS review \gset
SELECT ws.define('{"name": "cd conference", "params": {"papers": []}, "nodes": [
  {"name": "Open call", "action": "cd.open"},
  {"name": "Collect papers", "call": "Review paper", "foreach": "$.papers", "item": "paper",
   "sequential": true, "as": "reviews"},
  {"name": "Keynote", "call": "Review paper", "as": "keynote"},
  {"name": "Mail authors", "action": "cd.mail", "foreach": "$.authors", "join": "and"},
  {"name": "Publish", "action": "cd.publish"}],
  "transitions": [{"from": "Open call", "to": "Collect papers"}, {"from": "Open call", "to": "Keynote"},
                  {"from": "Collect papers", "to": "Mail authors"}, {"from": "Keynote", "to": "Mail authors"},
                  {"from": "Mail authors", "to": "Publish"}]}') AS conf \gset
SELECT * FROM cd_nodes(:conf);
SELECT * FROM ws.validate(:conf);
SELECT * FROM ws.lint(:conf);

-- ws.export writes the keys that are set (sequential only when true), and ws.define of
-- the export is an equal next version
SELECT jsonb_pretty(ws.export(:conf) -> 'nodes');
SELECT ws.define(ws.export(:conf)) AS conf2 \gset
SELECT version FROM ws.workflow WHERE id = :conf2;
SELECT cd_same(:conf, :conf2);

-- ws.to_dot: the keys as node attributes; a call is a box with a double border naming the
-- workflow it calls, a multi-instance node has a ||| line naming its item and array
SELECT ws.to_dot(:conf);
-- ws.define_dot reads it back as an equal next version
SELECT ws.define_dot(ws.to_dot(:conf)) AS conf3 \gset
SELECT version FROM ws.workflow WHERE id = :conf3;
SELECT cd_same(:conf, :conf3);

-- written by hand: the attributes as DOT has them (sequential in any case, as start)
SELECT ws.define_dot('digraph "cd by hand" {
  a [action="cd.a"];
  b [call="Review paper", foreach="$.papers[*] ? (@.accepted == true)", item=paper, sequential=TRUE, as=reviews];
  c [foreach="$.x", sequential=false];
  a -> b -> c }') AS hand \gset
SELECT * FROM cd_nodes(:hand);

-- ws.add_node takes them as parameters named like the keys, appended to the others
SELECT ws.create_workflow('cd nodes') AS wn \gset
SELECT ws.add_node(:wn, 'start', action => 'cd.start', is_start => true) IS NOT NULL AS added;
SELECT ws.add_node(:wn, 'each', call => 'Review paper', foreach => '$.papers', item => 'paper',
                   sequential => true, "as" => 'reviews') IS NOT NULL AS added;
SELECT ws.add_node(:wn, 'end', is_end => true, sequential => NULL) IS NOT NULL AS added;
SELECT ws.add_transition(:wn, 'start', 'each') IS NOT NULL AND ws.add_transition(:wn, 'each', 'end') IS NOT NULL AS added;
SELECT * FROM cd_nodes(:wn);
SELECT * FROM ws.validate(:wn);
-- by position too: the five come after deadline, in this order
SELECT ws.add_node(:wn, 'positional', NULL, NULL, false, false, 'and', 'and', '{}', NULL, NULL, 0, NULL, NULL,
                   NULL, NULL, 'Review paper', '$.list', 'element', true, 'results') IS NOT NULL AS added;
SELECT * FROM cd_nodes(:wn) WHERE name = 'positional';
SELECT pg_get_function_arguments('ws.add_node(bigint, text, text, name, boolean, boolean, ws.gate, ws.gate, jsonb, interval, text, integer, interval, text, text, interval, text, text, text, boolean, text)'::regprocedure) ~
       'deadline interval DEFAULT NULL::interval, call text DEFAULT NULL::text, foreach text DEFAULT NULL::text, item text DEFAULT NULL::text, sequential boolean DEFAULT false, "as" text DEFAULT NULL::text$'
       AS appended_in_order;

------------------------------------------------------------------------------
-- Bad values: a clear error with its SQLSTATE, and nothing stored
------------------------------------------------------------------------------
SELECT count(*) AS nodes_before FROM ws.node \gset
SELECT cd_attempt(format('SELECT ws.add_node(%s, %L, call => %L)', :wn, 'x', ''));
SELECT cd_attempt(format('SELECT ws.add_node(%s, %L, foreach => %L, item => %L)', :wn, 'x', '$.a', ''));
SELECT cd_attempt(format('SELECT ws.add_node(%s, %L, call => %L, "as" => %L)', :wn, 'x', 'Review paper', ''));
SELECT cd_attempt(format('SELECT ws.add_node(%s, %L, foreach => %L)', :wn, 'x', '$.papers['));
SELECT cd_attempt(format('SELECT ws.add_node(%s, %L, foreach => %L)', :wn, 'x', '$.papers.size() > 0'));
SELECT count(*) = :nodes_before AS nothing_stored FROM ws.node;
-- in a document: values of the wrong JSON type, an invalid path
SELECT count(*) AS workflows_before FROM ws.workflow \gset
SELECT cd_attempt($$SELECT ws.define('{"name": "cd bad", "nodes": [{"name": "a", "call": 7}]}')$$);
SELECT cd_attempt($$SELECT ws.define('{"name": "cd bad", "nodes": [{"name": "a", "foreach": ["$.a"]}]}')$$);
SELECT cd_attempt($$SELECT ws.define('{"name": "cd bad", "nodes": [{"name": "a", "foreach": "$.a", "item": {"x": 1}}]}')$$);
SELECT cd_attempt($$SELECT ws.define('{"name": "cd bad", "nodes": [{"name": "a", "foreach": "$.a", "sequential": "yes"}]}')$$);
SELECT cd_attempt($$SELECT ws.define('{"name": "cd bad", "nodes": [{"name": "a", "call": "Review paper", "as": false}]}')$$);
SELECT cd_attempt($$SELECT ws.define('{"name": "cd bad", "nodes": [{"name": "a", "foreach": "$.a ++"}]}')$$);
SELECT cd_attempt($$SELECT ws.define('{"name": "cd bad", "nodes": [{"name": "a", "call": ""}]}')$$);
SELECT cd_attempt($$SELECT ws.define('{"name": "cd bad", "nodes": [{"name": "a", "calls": "Review paper"}]}')$$);
-- and in DOT
SELECT cd_attempt($$SELECT ws.define_dot('digraph "cd bad" { a [foreach="$.a", sequential=maybe] }')$$);
SELECT cd_attempt($$SELECT ws.define_dot('digraph "cd bad" { a [foreach="$.[a"] }')$$);
SELECT cd_attempt($$SELECT ws.define_dot('digraph "cd bad" { a -> b [call="Review paper"] }')$$);
SELECT count(*) = :workflows_before AS nothing_stored FROM ws.workflow;

------------------------------------------------------------------------------
-- ws.validate: what makes a call or a multi-instance node unusable
------------------------------------------------------------------------------
SELECT ws.create_workflow('cd invalid') AS wi \gset
SELECT ws.add_node(:wi, 'start', is_start => true) IS NOT NULL AS added;
SELECT ws.add_node(:wi, 'call and action', action => 'cd.a', call => 'Review paper') IS NOT NULL AS added;
SELECT ws.add_node(:wi, 'call and message', message => 'paid', call => 'Review paper') IS NOT NULL AS added;
SELECT ws.add_node(:wi, 'message and action', message => 'paid', action => 'cd.a') IS NOT NULL AS added;
SELECT ws.add_node(:wi, 'unknown call', call => 'No such workflow') IS NOT NULL AS added;
SELECT ws.add_node(:wi, 'item index', foreach => '$.a', item => 'index') IS NOT NULL AS added;
SELECT ws.add_node(:wi, 'item alone', action => 'cd.a', item => 'paper') IS NOT NULL AS added;
SELECT ws.add_node(:wi, 'sequential alone', action => 'cd.a', sequential => true) IS NOT NULL AS added;
SELECT ws.add_node(:wi, 'as alone', action => 'cd.a', "as" => 'result') IS NOT NULL AS added;
SELECT ws.add_node(:wi, 'call and wait', call => 'Review paper', wait => '1 day') IS NOT NULL AS added;
SELECT ws.add_node(:wi, 'call and timers', call => 'Review paper', wait_until => '$.when', due => '1 day') IS NOT NULL AS added;
SELECT ws.add_node(:wi, 'end', is_end => true, "join" => 'or') IS NOT NULL AS added;
SELECT ws.add_transition(:wi, 'start', n.name) IS NOT NULL AND ws.add_transition(:wi, n.name, 'end') IS NOT NULL AS added
  FROM ws.node n WHERE n.workflow = :wi AND n.name NOT IN ('start', 'end') ORDER BY n.id;
SELECT * FROM ws.validate(:wi);
-- ws.start refuses it (its detail lists the same problems), and starts nothing
SELECT split_part(cd_attempt($$SELECT ws.start('cd invalid')$$), E'\n', 1) AS start;
SELECT count(*) AS processes FROM ws.process;
-- ws.define refuses such a document whole: nothing stored
SELECT cd_attempt($$SELECT ws.define('{"name": "cd invalid 2", "nodes": [
  {"name": "a", "call": "Review paper", "action": "cd.a", "item": "index", "as": "r"}]}')$$);
SELECT count(*) AS stored FROM ws.workflow WHERE name = 'cd invalid 2';
-- a call names a workflow of any version, by name; a workflow may call itself (ws.start
-- starts the newest version of the called name)
SELECT ws.define('{"name": "cd recursive", "nodes": [
  {"name": "check", "action": "cd.check", "split": "xor"},
  {"name": "again", "call": "cd recursive", "as": "inner"},
  {"name": "done", "join": "xor"}],
  "transitions": [{"from": "check", "to": "again", "condition": "$.depth < 3"}, {"from": "check", "to": "done"},
                  {"from": "again", "to": "done"}]}') IS NOT NULL AS defined;
-- a call can run late or fail, so it may have boundary paths; a multi-instance node
-- without action, role, message or call is still a routing node, which may not
SELECT ws.define('{"name": "cd boundaries", "nodes": [
  {"name": "review", "call": "Review paper", "deadline": "3 days"},
  {"name": "chase", "action": "cd.chase"},
  {"name": "done", "join": "xor"}],
  "transitions": [{"from": "review", "to": "done"}, {"from": "review", "to": "chase", "on": "deadline"},
                  {"from": "review", "to": "chase", "on": "failure"}, {"from": "chase", "to": "done"}]}') IS NOT NULL AS defined;
SELECT cd_attempt($$SELECT ws.define('{"name": "cd boundaries 2", "nodes": [
  {"name": "each", "foreach": "$.a"}, {"name": "chase", "action": "cd.chase"}, {"name": "done", "join": "xor"}],
  "transitions": [{"from": "each", "to": "done"}, {"from": "each", "to": "chase", "on": "failure"},
                  {"from": "chase", "to": "done"}]}')$$);

------------------------------------------------------------------------------
-- ws.lint: a call of a workflow whose newest version has no end node
------------------------------------------------------------------------------
SELECT ws.create_workflow('cd endless') AS endless \gset
SELECT ws.add_node(:endless, 'loop', action => 'cd.loop', is_start => true) IS NOT NULL AS added;
SELECT ws.define('{"name": "cd caller", "nodes": [
  {"name": "first", "action": "cd.first"},
  {"name": "forever", "call": "cd endless", "foreach": "$.items"},
  {"name": "fine", "call": "Review paper"}],
  "transitions": [{"from": "first", "to": "forever"}, {"from": "forever", "to": "fine"}]}') AS caller \gset
SELECT * FROM ws.lint(:caller);
-- a newer version with an end node: no warning
SELECT ws.define('{"name": "cd endless", "nodes": [{"name": "loop", "action": "cd.loop"}]}') IS NOT NULL AS defined;
SELECT * FROM ws.lint(:caller);

------------------------------------------------------------------------------
-- A parent process and its children, as the engine records them (ws.process.parent_task,
-- root): the rows are written by hand here, the engine's own tests start real ones
------------------------------------------------------------------------------
INSERT INTO ws.process (id, workflow, params) VALUES (100, :conf, '{"papers": ["p1", "p2"]}');
INSERT INTO ws.task (id, process, node, state, instance, instance_of, instance_items)
SELECT 1000 + i, 100, n.id, CASE WHEN i = 0 THEN 'succeeded' ELSE 'running' END, i, 1000, CASE WHEN i = 0 THEN '["p1", "p2"]'::jsonb END
  FROM ws.node n, generate_series(0, 1) i WHERE n.workflow = :conf AND n.name = 'Collect papers';
INSERT INTO ws.task (id, process, node, state)
SELECT 1002, 100, n.id, 'running' FROM ws.node n WHERE n.workflow = :conf AND n.name = 'Keynote';
INSERT INTO ws.process (id, workflow, state, parent_task, root)
VALUES (101, :review, 'completed', 1000, 100), (102, :review, 'running', 1001, 100), (103, :review, 'running', 1002, 100);
-- the calling task's process is the child's parent; top-level processes have none
SELECT process, workflow, state, parent FROM ws.process_overview ORDER BY process;
-- the parent's picture names the child processes of each calling node
SELECT line FROM regexp_split_to_table(ws.process_dot(100), E'\n') line WHERE line ~ '^  "(Collect papers|Keynote)" \[';
-- a child's picture names its parent in the title
SELECT line FROM regexp_split_to_table(ws.process_dot(102), E'\n') line WHERE line ~ '^  label=';
SELECT line FROM regexp_split_to_table(ws.process_dot(100), E'\n') line WHERE line ~ '^  label=';
-- many children: the first five ids, and how many more
INSERT INTO ws.process (id, workflow, state, parent_task, root)
SELECT 200 + i, :review, 'completed', 1002, 100 FROM generate_series(1, 6) i;
SELECT substring(ws.process_dot(100) FROM 'Keynote\\n[^"]*');
DELETE FROM ws.process WHERE id >= 100;
