------------------------------------------------------------------------------
-- Views for people (psql users, applications)
------------------------------------------------------------------------------

-- my_tasks runs as its owner, so users need no grant on the tables; the filter uses
-- current_user, the role of the reader (SET ROLE counts). wait IS NOT NULL (the active
-- tasks) lets the running processes' open tasks come from the partial index task_active,
-- since no index of ws.task names state.
CREATE VIEW ws.my_tasks WITH (security_barrier) AS
SELECT t.id AS task, t.process, w.name AS workflow, n.name AS node, t.action, t.state, t.assignee,
       n.role, t.params, w.params || p.params || n.params || t.params AS effective_params,
       (SELECT pg_catalog.array_agg(f.key ORDER BY f.key) FROM ws.action a, pg_catalog.jsonb_each(a.params) f
         WHERE a.name = t.action AND f.value @> '{"required": true}'
           AND coalesce(pg_catalog.jsonb_typeof((w.params || p.params || n.params || t.params) -> f.key), 'null') = 'null'
       ) AS missing,
       t.attempts, t.lease_until, t.due_at, t.created_at,
       t.assignee IS NOT DISTINCT FROM current_user AS assigned_to_me, t.error
  FROM ws.task t
  JOIN ws.process p ON p.id = t.process
  JOIN ws.node n ON n.id = t.node
  JOIN ws.workflow w ON w.id = p.workflow
 WHERE t.state IN ('pending', 'ready', 'running')
   AND t.wait IS NOT NULL
   AND p.state = 'running'
   AND (n.role IS NULL OR pg_catalog.pg_has_role(current_user, n.role, 'MEMBER'))
 ORDER BY t.assignee IS NOT DISTINCT FROM current_user DESC, t.state = 'pending' DESC, t.id;
COMMENT ON VIEW ws.my_tasks IS
    'The open tasks of running processes that the current user may act on now: assigned to them first, then pending ones; missing lists the required parameters still to fill';
COMMENT ON COLUMN ws.my_tasks.task IS 'The task''s id';
COMMENT ON COLUMN ws.my_tasks.process IS 'Its process';
COMMENT ON COLUMN ws.my_tasks.workflow IS 'The workflow''s name';
COMMENT ON COLUMN ws.my_tasks.node IS 'The node''s name';
COMMENT ON COLUMN ws.my_tasks.action IS 'The action to run, NULL for a human task';
COMMENT ON COLUMN ws.my_tasks.state IS 'pending (waits for a person), ready (for a worker to claim) or running';
COMMENT ON COLUMN ws.my_tasks.assignee IS 'The role a pending task is assigned to';
COMMENT ON COLUMN ws.my_tasks.role IS 'The node''s role, whose members may act on it; NULL: any ws user';
COMMENT ON COLUMN ws.my_tasks.params IS 'The task''s own params';
COMMENT ON COLUMN ws.my_tasks.effective_params IS 'Workflow params, then process variables, then node params, then task params';
COMMENT ON COLUMN ws.my_tasks.missing IS 'Required parameters of the action''s form still missing or null (ws.fill supplies them)';
COMMENT ON COLUMN ws.my_tasks.attempts IS 'How many times it was claimed';
COMMENT ON COLUMN ws.my_tasks.lease_until IS 'When the claim of a running task ends unless renewed';
COMMENT ON COLUMN ws.my_tasks.due_at IS 'When a pending task should be done (the node''s due)';
COMMENT ON COLUMN ws.my_tasks.created_at IS 'When the node was activated';
COMMENT ON COLUMN ws.my_tasks.assigned_to_me IS 'Assigned to the current user';
COMMENT ON COLUMN ws.my_tasks.error IS 'What a pending task needs (missing or mistyped params), or the error of its last failed attempt';

-- processes the current user started or acted in (an event of theirs), for users
CREATE VIEW ws.my_processes WITH (security_barrier) AS
SELECT p.id, p.workflow, w.name AS workflow_name, w.version, p.state, p.params, p.started_at, p.ended_at,
       p.error, p.started_by, p.key
  FROM ws.process p
  JOIN ws.workflow w ON w.id = p.workflow
 WHERE p.started_by = current_user
    OR EXISTS (SELECT FROM ws.event e WHERE e.process = p.id AND e.actor = current_user);
COMMENT ON VIEW ws.my_processes IS
    'The processes the current user started or acted in (an event of theirs), with the columns of ws.process';
COMMENT ON COLUMN ws.my_processes.id IS 'The process''s id';
COMMENT ON COLUMN ws.my_processes.workflow IS 'The workflow version it runs';
COMMENT ON COLUMN ws.my_processes.workflow_name IS 'The workflow''s name';
COMMENT ON COLUMN ws.my_processes.version IS 'The workflow''s version';
COMMENT ON COLUMN ws.my_processes.state IS 'running, completed, failed or cancelled';
COMMENT ON COLUMN ws.my_processes.params IS 'The process variables';
COMMENT ON COLUMN ws.my_processes.started_at IS 'When it started';
COMMENT ON COLUMN ws.my_processes.ended_at IS 'When it ended';
COMMENT ON COLUMN ws.my_processes.error IS 'Why it failed';
COMMENT ON COLUMN ws.my_processes.started_by IS 'The role that started it';
COMMENT ON COLUMN ws.my_processes.key IS 'Its business key (ws.start''s key); NULL: none';

CREATE VIEW ws.process_overview WITH (security_barrier) AS
SELECT p.id AS process, w.name AS workflow, w.version, p.state, p.started_by, p.started_at, p.ended_at,
       coalesce(p.ended_at, now()) - p.started_at AS duration,
       count(t.id) FILTER (WHERE t.state IN ('waiting', 'pending', 'ready', 'running')) AS active,
       count(t.id) FILTER (WHERE t.state = 'pending') AS pending,
       count(t.id) FILTER (WHERE t.state = 'running') AS running,
       count(t.id) FILTER (WHERE t.state = 'succeeded') AS succeeded,
       string_agg(DISTINCT n.name, ', ') FILTER (WHERE t.state IN ('waiting', 'pending', 'ready', 'running')) AS at,
       p.error,
       (SELECT c.process FROM ws.task c WHERE c.id = p.parent_task) AS parent,
       p.key
  FROM ws.process p
  JOIN ws.workflow w ON w.id = p.workflow
  LEFT JOIN ws.task t ON t.process = p.id
  LEFT JOIN ws.node n ON n.id = t.node
 WHERE pg_catalog.has_function_privilege('ws.assign(bigint, name)', 'EXECUTE')
    OR p.id IN (SELECT m.id FROM ws.my_processes m)
 GROUP BY p.id, w.name, w.version;
COMMENT ON VIEW ws.process_overview IS
    'One line a process for psql: where it is (the nodes of its active tasks), counts by state, its error; users see the processes of ws.my_processes, administrators all';
COMMENT ON COLUMN ws.process_overview.process IS 'The process''s id';
COMMENT ON COLUMN ws.process_overview.workflow IS 'The workflow''s name';
COMMENT ON COLUMN ws.process_overview.version IS 'The workflow''s version';
COMMENT ON COLUMN ws.process_overview.state IS 'running, completed, failed or cancelled';
COMMENT ON COLUMN ws.process_overview.started_by IS 'The role that started it';
COMMENT ON COLUMN ws.process_overview.started_at IS 'When it started';
COMMENT ON COLUMN ws.process_overview.ended_at IS 'When it ended';
COMMENT ON COLUMN ws.process_overview.duration IS 'How long it ran, or has been running';
COMMENT ON COLUMN ws.process_overview.active IS 'Tasks waiting, pending, ready or running';
COMMENT ON COLUMN ws.process_overview.pending IS 'Tasks waiting for a person';
COMMENT ON COLUMN ws.process_overview.running IS 'Tasks claimed by workers';
COMMENT ON COLUMN ws.process_overview.succeeded IS 'Tasks that succeeded';
COMMENT ON COLUMN ws.process_overview."at" IS 'The nodes of its active tasks';
COMMENT ON COLUMN ws.process_overview.error IS 'Why it failed';
COMMENT ON COLUMN ws.process_overview.parent IS 'A child process: the process whose call activity started it; NULL: a top-level process';
COMMENT ON COLUMN ws.process_overview.key IS 'Its business key (ws.start''s key); NULL: none';

