-- bench/full_step.sql: one step of the "same row work" bare-SQL baseline (row d2): the
-- rows ws writes for one step of bench.seq, written by plain SQL with no engine logic, on
-- copies of ws's tables with the same indexes (bench.f*), in one transaction and one
-- round trip (a pipeline; the claimed task passes to the later statements through
-- transaction-local settings): claim the oldest queued task whose process is running
-- (FOR UPDATE SKIP LOCKED), mark it running with a lease (and its lease row), take it off
-- the queue, log "running"; lock its process; mark it succeeded, delete its lease row, log it; insert its successor (3 steps
-- a chain, like bench.seq), queue it, log "ready"; after the third step, end the process
-- and log that. When nothing was claimed, start :refill processes the same way (process,
-- first task, queue row, two events).
\startpipeline
WITH c AS (SELECT k.id, r.rc
             FROM (SELECT q.task, q.ctid AS rc FROM bench.fready q
                    WHERE q.action = 'f' ORDER BY q.task) r
            CROSS JOIN LATERAL (SELECT t.id FROM bench.ftask t
                                 WHERE t.id = r.task AND t.state = 'ready'
                                   AND (SELECT p.state FROM bench.fprocess p WHERE p.id = t.process) = 'running'
                                   FOR UPDATE SKIP LOCKED) k
            LIMIT 1),
     u AS (UPDATE bench.ftask t SET state = 'running', attempts = t.attempts + 1, worker = 'bench',
                  lease_until = now() + interval '5 minutes', started_at = now()
            WHERE t.id = (SELECT id FROM c) RETURNING t.id, t.process, t.attempts),
     d AS (DELETE FROM bench.fready WHERE ctid = (SELECT rc FROM c)),
     l AS (INSERT INTO bench.flease (until, task) SELECT now() + interval '5 minutes', id FROM u),
     e AS (INSERT INTO bench.fevent (process, task, state, detail)
           SELECT process, id, 'running', 'claimed by bench, attempt ' || attempts FROM u)
SELECT set_config('bench.task', coalesce(max(id)::text, '0'), true),
       set_config('bench.process', coalesce(max(process)::text, '0'), true)
  FROM u;
SELECT 1 FROM bench.fprocess WHERE id = CAST(current_setting('bench.process') AS bigint) FOR UPDATE;
WITH u AS (UPDATE bench.ftask SET state = 'succeeded', result = '{}', lease_until = NULL, ended_at = now()
            WHERE id = CAST(current_setting('bench.task') AS bigint) AND state = 'running'
           RETURNING id, process, node),
     dl AS (DELETE FROM bench.flease l USING bench.ftask t
             WHERE t.id = CAST(current_setting('bench.task') AS bigint) AND l.until = t.lease_until AND l.task = t.id),
     e AS (INSERT INTO bench.fevent (process, task, state) SELECT process, id, 'succeeded' FROM u),
     n AS (INSERT INTO bench.ftask (process, node, action, state)
           SELECT process, node + 1, 'f', 'ready' FROM u WHERE node < 3 RETURNING id, process),
     r AS (INSERT INTO bench.fready (action, task) SELECT 'f', id FROM n),
     e2 AS (INSERT INTO bench.fevent (process, task, state) SELECT process, id, 'ready' FROM n),
     p AS (UPDATE bench.fprocess f SET state = 'completed', ended_at = now()
             FROM u WHERE f.id = u.process AND u.node = 3 RETURNING f.id),
     e3 AS (INSERT INTO bench.fevent (process, state, detail) SELECT id, 'completed', 'end node "c" reached' FROM p)
SELECT count(*) FROM u;
WITH p AS (INSERT INTO bench.fprocess (workflow, state, started_by)
           SELECT 1, 'running', current_user FROM generate_series(1, CAST(:refill AS integer))
            WHERE current_setting('bench.task') = '0' RETURNING id),
     t AS (INSERT INTO bench.ftask (process, node, action, state) SELECT id, 1, 'f', 'ready' FROM p RETURNING id, process),
     r AS (INSERT INTO bench.fready (action, task) SELECT 'f', id FROM t),
     e AS (INSERT INTO bench.fevent (process, state, detail) SELECT id, 'running', 'started workflow "f" version 1' FROM p),
     e2 AS (INSERT INTO bench.fevent (process, task, state) SELECT process, id, 'ready' FROM t)
SELECT count(*) FROM t;
\endpipeline
