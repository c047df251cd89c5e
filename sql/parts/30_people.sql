------------------------------------------------------------------------------
-- Views for people (psql users, applications)
------------------------------------------------------------------------------

-- my_tasks runs as its owner, so users need no grant on the tables; the filter uses
-- current_user, the role of the reader (SET ROLE counts).
CREATE VIEW ws.my_tasks WITH (security_barrier) AS
SELECT t.id AS task, t.process, w.name AS workflow, n.name AS node, t.action, t.state, t.assignee,
       n.role, t.params, w.params || p.params || n.params || t.params AS effective_params,
       (SELECT pg_catalog.array_agg(f.key ORDER BY f.key) FROM ws.action a, pg_catalog.jsonb_each(a.params) f
         WHERE a.name = t.action AND f.value @> '{"required": true}'
           AND NOT (w.params || p.params || n.params || t.params) ? f.key) AS missing,
       t.attempts, t.lease_until, t.due_at, t.created_at,
       t.assignee IS NOT DISTINCT FROM current_user AS assigned_to_me
  FROM ws.task t
  JOIN ws.process p ON p.id = t.process
  JOIN ws.node n ON n.id = t.node
  JOIN ws.workflow w ON w.id = p.workflow
 WHERE t.state IN ('pending', 'ready', 'running')
   AND p.state = 'running'
   AND (n.role IS NULL OR pg_catalog.pg_has_role(current_user, n.role, 'MEMBER'))
 ORDER BY t.assignee IS NOT DISTINCT FROM current_user DESC, t.state = 'pending' DESC, t.id;
COMMENT ON VIEW ws.my_tasks IS
    'The open tasks of running processes that the current user may act on now: assigned to them first, then pending ones; missing lists the required parameters still to fill';

CREATE VIEW ws.process_overview AS
SELECT p.id AS process, w.name AS workflow, w.version, p.state, p.started_by, p.started_at, p.ended_at,
       coalesce(p.ended_at, now()) - p.started_at AS duration,
       count(t.id) FILTER (WHERE t.state IN ('waiting', 'pending', 'ready', 'running')) AS active,
       count(t.id) FILTER (WHERE t.state = 'pending') AS pending,
       count(t.id) FILTER (WHERE t.state = 'running') AS running,
       count(t.id) FILTER (WHERE t.state = 'succeeded') AS succeeded,
       string_agg(DISTINCT n.name, ', ') FILTER (WHERE t.state IN ('waiting', 'pending', 'ready', 'running')) AS at,
       p.error
  FROM ws.process p
  JOIN ws.workflow w ON w.id = p.workflow
  LEFT JOIN ws.task t ON t.process = p.id
  LEFT JOIN ws.node n ON n.id = t.node
 GROUP BY p.id, w.name, w.version;
COMMENT ON VIEW ws.process_overview IS
    'One line a process for psql: where it is (the nodes of its active tasks), counts by state, its error';

