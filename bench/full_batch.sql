-- bench/full_batch.sql: batched bare-SQL worker with ws's row work (row h2), the rows
-- ws_batch.sql makes ws write, written by plain SQL with no engine logic on the copies of
-- ws's tables (bench.f*, see full_step.sql), in the same two transactions. Transaction 1
-- claims up to :batch queued tasks whose process is running (FOR UPDATE SKIP LOCKED),
-- marks them running with a lease (and lease rows), takes them off the queue and logs
-- "running" for each; transaction 2 (one round trip) locks their processes, marks the
-- tasks succeeded, deletes their lease rows, logs them, inserts their successors (3 steps a chain), queues and logs those, and ends and
-- logs the processes whose third step it was. When fewer than :batch were claimed, start
-- :refill processes the same way (process, first task, queue row, two events).
WITH c AS (SELECT k.id, r.rc
             FROM (SELECT q.task, q.ctid AS rc FROM bench.fready q
                    WHERE q.action = 'fb' ORDER BY q.task) r
            CROSS JOIN LATERAL (SELECT t.id FROM bench.ftask t
                                 WHERE t.id = r.task AND t.state = 'ready'
                                   AND (SELECT p.state FROM bench.fprocess p WHERE p.id = t.process) = 'running'
                                   FOR UPDATE SKIP LOCKED) k
            LIMIT CAST(:batch AS integer)),
     u AS (UPDATE bench.ftask t SET state = 'running', attempts = t.attempts + 1, worker = 'bench',
                  lease_until = now() + interval '5 minutes', started_at = now()
            WHERE t.id = ANY (ARRAY(SELECT id FROM c)) RETURNING t.id, t.process, t.attempts),
     d AS (DELETE FROM bench.fready WHERE ctid = ANY (ARRAY(SELECT rc FROM c))),
     l AS (INSERT INTO bench.flease (until, task) SELECT now() + interval '5 minutes', id FROM u),
     e AS (INSERT INTO bench.fevent (process, task, state, detail)
           SELECT process, id, 'running', 'claimed by bench, attempt ' || attempts FROM u ORDER BY id)
SELECT count(*) AS n, coalesce(array_agg(id ORDER BY id), '{}')::text AS ids FROM u \gset
\if :n > 0
\startpipeline
SELECT 1 FROM bench.fprocess
 WHERE id IN (SELECT process FROM bench.ftask WHERE id = ANY (CAST(:ids AS bigint[])))
 ORDER BY id FOR UPDATE;
WITH u AS (UPDATE bench.ftask SET state = 'succeeded', result = '{}', lease_until = NULL, ended_at = now()
            WHERE id = ANY (CAST(:ids AS bigint[])) AND state = 'running'
           RETURNING id, process, node),
     dl AS (DELETE FROM bench.flease l USING bench.ftask t
             WHERE t.id = ANY (CAST(:ids AS bigint[])) AND l.until = t.lease_until AND l.task = t.id),
     e AS (INSERT INTO bench.fevent (process, task, state) SELECT process, id, 'succeeded' FROM u ORDER BY id),
     n AS (INSERT INTO bench.ftask (process, node, action, state)
           SELECT process, node + 1, 'fb', 'ready' FROM u WHERE node < 3 ORDER BY id RETURNING id, process),
     r AS (INSERT INTO bench.fready (action, task) SELECT 'fb', id FROM n),
     e2 AS (INSERT INTO bench.fevent (process, task, state) SELECT process, id, 'ready' FROM n),
     p AS (UPDATE bench.fprocess f SET state = 'completed', ended_at = now()
             FROM u WHERE f.id = u.process AND u.node = 3 RETURNING f.id),
     e3 AS (INSERT INTO bench.fevent (process, state, detail) SELECT id, 'completed', 'end node "c" reached' FROM p)
SELECT count(*) FROM u;
\endpipeline
\endif
\if :n < :batch
WITH p AS (INSERT INTO bench.fprocess (workflow, state, started_by)
           SELECT 1, 'running', current_user FROM generate_series(1, CAST(:refill AS integer)) RETURNING id),
     t AS (INSERT INTO bench.ftask (process, node, action, state) SELECT id, 1, 'fb', 'ready' FROM p RETURNING id, process),
     r AS (INSERT INTO bench.fready (action, task) SELECT 'fb', id FROM t),
     e AS (INSERT INTO bench.fevent (process, state, detail) SELECT id, 'running', 'started workflow "fb" version 1' FROM p),
     e2 AS (INSERT INTO bench.fevent (process, task, state) SELECT process, id, 'ready' FROM t)
SELECT count(*) FROM t;
\endif
