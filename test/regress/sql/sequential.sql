-- The seed's Python example (first -> second -> third with dummy tasks) done in SQL,
-- parameter inheritance, the worker protocol, events and notifications.
\set VERBOSITY default
\set SHOW_CONTEXT never
-- each file starts from empty tables, so ids in the output do not depend on the order of files
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event RESTART IDENTITY;

SELECT ws.create_workflow('python example', '{"level": "workflow", "w": 1}') AS w \gset
SELECT ws.add_node(:w, 'first', 'ws.tasks.dummy', is_start => true) AS first \gset
SELECT ws.add_node(:w, 'second', 'ws.tasks.dummy', params => '{"level": "node", "n": 2}') AS second \gset
SELECT ws.add_node(:w, 'third', 'ws.tasks.dummy', is_end => true) AS third \gset
SELECT ws.add_transition(:w, 'first', 'second') AS t1 \gset
SELECT ws.add_transition(:w, 'second', 'third') AS t2 \gset

SELECT ws.start('python example', '{"level": "process", "p": 3}') AS p \gset
SELECT n.name, t.state, t.attempts FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p ORDER BY t.id;

-- nothing to claim for other actions
SELECT count(*) FROM ws.claim(ARRAY['other'], 'worker-1');
-- the effective params: workflow, then process, then node, then task
SELECT task, node, action, params, attempt, lease_until > now() AS leased
  FROM ws.claim(ARRAY['ws.tasks.dummy'], 'worker-1') \gset c_
SELECT :'c_node' AS node, :'c_params' AS params, :c_attempt AS attempt, :'c_leased' AS leased;
SELECT state, worker, attempts FROM ws.task WHERE id = :c_task;
-- claimed tasks are not claimed again
SELECT count(*) FROM ws.claim(ARRAY['ws.tasks.dummy'], 'worker-2');
SELECT ws.progress(:c_task, 40);
SELECT ws.heartbeat(:c_task, '1 hour', 1);
SELECT progress, lease_until > now() + interval '59 minutes' AS extended FROM ws.task WHERE id = :c_task;
SELECT ws.complete(:c_task, '{"first_done": true, "p": 30}', 1);
SELECT params FROM ws.process WHERE id = :p;

SELECT node, params FROM ws.claim(ARRAY['ws.tasks.dummy'], 'worker-1', 10);
SELECT id AS second_task FROM ws.task WHERE process = :p AND node = :second \gset
SELECT ws.complete(:second_task, '{"second_done": true}');
SELECT task AS third_task, node FROM ws.claim(ARRAY['ws.tasks.dummy'], 'worker-1', 10) \gset
SELECT ws.complete(:third_task);

SELECT state, params, ended_at IS NOT NULL AS ended, error FROM ws.process WHERE id = :p;
SELECT n.name, t.state, t.result, t.progress, t.started_at <= t.ended_at AS timed
  FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p ORDER BY t.id;
SELECT e.task IS NULL AS process_event, n.name, e.state, e.actor, e.detail
  FROM ws.event e LEFT JOIN ws.task t ON t.id = e.task LEFT JOIN ws.node n ON n.id = t.node
 WHERE e.process = :p ORDER BY e.id;

-- a workflow of routing nodes only runs to its end inside ws.start
SELECT ws.define('{"name": "routing", "nodes": [{"name": "a"}, {"name": "b"}, {"name": "c"}],
                   "transitions": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}]}') AS r \gset
SELECT ws.start(:r) AS rp \gset
SELECT state FROM ws.process WHERE id = :rp;
SELECT n.name, t.state FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :rp ORDER BY t.id;

-- history levels: full keeps every change, activity the process's and the tasks' ends,
-- none nothing (a superuser setting)
SET ws.history = 'activity';
SELECT ws.start(:w) AS p \gset
SELECT ws.complete(task, '{}', attempt) FROM ws.claim(ARRAY['ws.tasks.dummy'], 'h', 10) WHERE process = :p;
SELECT e.task IS NULL AS process_event, e.state FROM ws.event e WHERE e.process = :p ORDER BY e.id;
SET ws.history = 'none';
SELECT ws.complete(task, '{}', attempt) FROM ws.claim(ARRAY['ws.tasks.dummy'], 'h', 10) WHERE process = :p;
SELECT count(*) AS new_events FROM ws.event e WHERE e.process = :p AND e.task = (SELECT max(id) FROM ws.task WHERE process = :p);
SET ws.history = 'sometimes';
RESET ws.history;
SELECT n.name, t.state FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p ORDER BY t.id;
