-- bench/base_step.sql: one step of the bare-SQL baseline, one transaction, no engine:
-- claim one ready row (FOR UPDATE SKIP LOCKED), mark it done, insert its successor
-- (3 steps a chain, like bench.seq). When nothing was claimed, insert :refill new chains.
WITH c AS (SELECT id FROM bench.q WHERE state = 'ready' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED),
     d AS (UPDATE bench.q q SET state = 'done', result = '{}', done_at = now()
             FROM c WHERE q.id = c.id RETURNING q.chain, q.step),
     i AS (INSERT INTO bench.q (chain, step, state) SELECT chain, step + 1, 'ready' FROM d WHERE step < 3)
SELECT count(*) AS n FROM d \gset
\if :n = 0
INSERT INTO bench.q (chain, step, state)
SELECT nextval('bench.chain'), 1, 'ready' FROM generate_series(1, CAST(:refill AS integer));
\endif
