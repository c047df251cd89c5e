-- Definitions: workflows, versions, nodes, transitions, ws.define, ws.validate,
-- actions, and every way to get them wrong (each error changes nothing).
\set VERBOSITY default
\set SHOW_CONTEXT never
-- each file starts from empty tables, so ids in the output do not depend on the order of files
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event RESTART IDENTITY;

SELECT ws.create_workflow('loan', '{"currency": "EUR"}', 'approve a loan') AS w1 \gset
SELECT ws.create_workflow('loan') AS w2 \gset
SELECT name, version, params, description FROM ws.workflow ORDER BY id;

SELECT ws.add_node(:w1, 'ask', 'loan.ask', is_start => true) > 0 AS added;
SELECT ws.add_node(:w1, 'decide', NULL, 'pg_monitor', split => 'xor') > 0 AS added;
SELECT ws.add_node(:w1, 'pay', 'loan.pay', params => '{"account": "main"}', retries => 2) > 0 AS added;
SELECT ws.add_node(:w1, 'refuse', 'loan.refuse', is_end => true) > 0 AS added;
SELECT ws.add_node(:w1, 'done', is_end => true, "join" => 'xor') > 0 AS added;
SELECT ws.add_transition(:w1, 'ask', 'decide') > 0 AS added;
SELECT ws.add_transition(:w1, 'decide', 'pay', '$.amount < 1000', 1) > 0 AS added;
SELECT ws.add_transition(:w1, 'decide', 'refuse', priority => 2) > 0 AS added;
SELECT ws.add_transition(:w1, 'pay', 'done') > 0 AS added;
SELECT name, action, role, is_start, is_end, "join", split, params, retries
  FROM ws.node WHERE workflow = :w1 ORDER BY id;
SELECT p.name AS parent, c.name AS child, t.condition, t.priority
  FROM ws.transition t JOIN ws.node p ON p.id = t.parent JOIN ws.node c ON c.id = t.child
 WHERE t.workflow = :w1 ORDER BY t.id;
SELECT * FROM ws.validate(:w1);

-- errors: nothing is stored by any of these
SELECT count(*) AS nodes_before FROM ws.node \gset
SELECT ws.add_node(999999, 'x');
SELECT ws.add_node(:w1, 'ask');
SELECT ws.add_node(:w1, '');
SELECT ws.add_node(:w1, 'x', role => 'no_such_role');
SELECT ws.add_node(:w1, 'x', params => '[1, 2]');
SELECT ws.add_node(:w1, 'x', retries => -1);
SELECT ws.add_node(:w1, 'x', wait_until => '$.a ==');
SELECT ws.add_node(:w1, 'x', wait => '1 hour', wait_until => '$.at');
SELECT ws.add_node(:w1, 'x', "join" => 'nand');
SELECT ws.add_transition(:w1, 'ask', 'nowhere');
SELECT ws.add_transition(:w1, 'nowhere', 'ask');
SELECT ws.add_transition(:w1, 'ask', 'pay', '$.amount <');
SELECT ws.add_transition(999999, 'ask', 'pay');
SELECT ws.create_workflow('');
SELECT ws.create_workflow('x', '"not an object"');
SELECT count(*) = :nodes_before AS nothing_stored FROM ws.node;
SELECT count(*) AS workflows FROM ws.workflow;

-- a transition can never tie two workflows: names resolve inside one workflow, and the
-- table refuses it too
SELECT ws.add_node(:w2, 'other', is_start => true, is_end => true) AS other \gset
INSERT INTO ws.transition (workflow, parent, child)
SELECT :w1, (SELECT id FROM ws.node WHERE workflow = :w1 AND name = 'ask'), :other;

-- validation finds what is wrong, one readable row each
SELECT ws.create_workflow('broken') AS b \gset
SELECT * FROM ws.validate(:b);
SELECT ws.add_node(:b, 'a') AS n1, ws.add_node(:b, 'b') AS n2, ws.add_node(:b, 'c') AS n3, ws.add_node(:b, 'island') AS n4 \gset
SELECT ws.add_transition(:b, 'a', 'b') AS t1, ws.add_transition(:b, 'b', 'a') AS t2 \gset
SELECT * FROM ws.validate(:b);
SELECT ws.add_node(:b, 'start', is_start => true) AS n5, ws.add_node(:b, 'end', is_end => true) AS n6 \gset
SELECT ws.add_transition(:b, 'start', 'a') AS t3, ws.add_transition(:b, 'end', 'c') AS t4 \gset
SELECT * FROM ws.validate(:b);
SELECT ws.validate(424242);
-- ws.start refuses an invalid workflow
SELECT ws.start(:b);
SELECT count(*) AS processes FROM ws.process;

-- ws.define: the whole document or nothing
SELECT ws.define('{"name": "doc", "params": {"city": "Bilbao"},
  "nodes": [{"name": "a", "action": "doc.a"}, {"name": "b", "action": "doc.b", "join": "or", "retries": 1},
            {"name": "c", "wait": "5 minutes"}],
  "transitions": [{"from": "a", "to": "b", "condition": "$.go == true", "priority": 1}, {"from": "b", "to": "c"}]}') AS d \gset
SELECT w.name, w.version, w.params FROM ws.workflow w WHERE id = :d;
SELECT name, action, is_start, is_end, "join", retries, wait FROM ws.node WHERE workflow = :d ORDER BY id;
SELECT * FROM ws.validate(:d);
SELECT count(*) AS workflows_before FROM ws.workflow \gset
SELECT ws.define('{"name": "half", "nodes": [{"name": "a"}, {"name": "b"}], "transitions": [{"from": "a", "to": "zzz"}]}');
SELECT ws.define('{"name": "half", "nodes": [{"name": "a", "strat": true}]}');
SELECT ws.define('{"name": "half", "nodes": [{"name": "a"}, {"name": "a"}]}');
SELECT ws.define('{"name": "half", "nodes": [{"name": "a", "join": "maybe"}]}');
SELECT ws.define('{"name": "half", "nodes": []}');
SELECT ws.define('{"nodes": [{"name": "a"}]}');
SELECT ws.define('{"name": "half", "nodes": [{"name": "a"}], "transitions": [{"from": "a", "to": "a", "condition": "$$"}]}');
SELECT count(*) = :workflows_before AS nothing_stored FROM ws.workflow;
SELECT count(*) AS half_nodes FROM ws.node n JOIN ws.workflow w ON w.id = n.workflow WHERE w.name = 'half';

-- versions: start(name) takes the newest; a version with processes is frozen
SELECT ws.define('{"name": "v", "nodes": [{"name": "only", "action": "v.one"}]}') AS v1 \gset
SELECT ws.define('{"name": "v", "nodes": [{"name": "only", "action": "v.two"}]}') AS v2 \gset
SELECT ws.start('v') AS pv \gset
SELECT p.workflow = :v2 AS newest, w.version FROM ws.process p JOIN ws.workflow w ON w.id = p.workflow WHERE p.id = :pv;
SELECT ws.add_node(:v2, 'late');
SELECT ws.add_transition(:v2, 'only', 'only');
SELECT ws.add_node(:v1, 'late') > 0 AS older_version_still_editable;
SELECT ws.start('no such workflow');
SELECT ws.start(987654);
SELECT ws.start('v', '[]');

-- actions and their forms
SELECT ws.register_action('math.multiply', '{"a": {"type": "integer", "label": "first number", "required": true},
                                              "b": {"type": "integer", "label": "second number", "required": true}}',
                          'multiplies a by b');
SELECT name, params, description FROM ws.action;
SELECT ws.register_action('math.bad', '{"a": {"type": "complex"}}');
SELECT ws.register_action('math.bad', '{"a": "integer"}');
SELECT ws.register_action('math.bad', '{"a": {"type": "integer", "required": "yes"}}');
SELECT ws.register_action('', '{}');
SELECT count(*) AS actions FROM ws.action;

-- a stranger can neither read nor call anything
CREATE ROLE ws_stranger;
SET ROLE ws_stranger;
SELECT count(*) FROM ws.workflow;
SELECT ws.create_workflow('sneaky');
SELECT ws.start('v');
RESET ROLE;
DROP ROLE ws_stranger;
