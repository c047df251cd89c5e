-- bench/base_batch.sql: batched bare-SQL worker, the same row work as ws_batch.sql without
-- the engine. Transaction 1 claims up to :batch ready rows (FOR UPDATE SKIP LOCKED) and
-- marks them running; transaction 2 marks them done and inserts their successors (3 steps
-- a chain). When fewer than :batch were claimed, insert :refill new chains.
WITH c AS (SELECT id FROM bench.qb WHERE state = 'ready' ORDER BY id
             LIMIT CAST(:batch AS integer) FOR UPDATE SKIP LOCKED),
     u AS (UPDATE bench.qb q SET state = 'running' FROM c WHERE q.id = c.id RETURNING q.id)
SELECT count(*) AS n, coalesce(array_agg(id ORDER BY id), '{}')::text AS ids FROM u \gset
\if :n > 0
WITH d AS (UPDATE bench.qb q SET state = 'done', result = '{}', done_at = now()
             WHERE q.id = ANY (CAST(:ids AS bigint[])) AND q.state = 'running'
             RETURNING q.chain, q.step),
     i AS (INSERT INTO bench.qb (chain, step, state) SELECT chain, step + 1, 'ready' FROM d WHERE step < 3)
SELECT count(*) FROM d;
\endif
\if :n < :batch
INSERT INTO bench.qb (chain, step, state)
SELECT nextval('bench.chain'), 1, 'ready' FROM generate_series(1, CAST(:refill AS integer));
\endif
