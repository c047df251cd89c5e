-- bench/ws_batch.sql: batched ws worker. Transaction 1 claims up to :batch tasks of
-- :action; transaction 2 completes all of them: with one_call = 1 in one call of
-- ws.complete_batch, else with one ws.complete per task (in one statement). When fewer than :batch were claimed,
-- start :refill processes of :wf.
SELECT count(*) AS n,
       coalesce(array_agg(task ORDER BY task), '{}')::text AS tasks,
       coalesce(array_agg(attempt ORDER BY task), '{}')::text AS attempts
  FROM ws.claim(ARRAY[CAST(:action AS text)], 'bench', CAST(:batch AS integer)) \gset
\if :n > 0
\if :one_call
SELECT ws.complete_batch(CAST(:tasks AS bigint[]), NULL, CAST(:attempts AS integer[]));
\else
SELECT count(ws.complete(t, '{}', a))
  FROM unnest(CAST(:tasks AS bigint[]), CAST(:attempts AS integer[])) AS u(t, a);
\endif
\endif
\if :n < :batch
SELECT count(ws.start(CAST(:wf AS text))) FROM generate_series(1, CAST(:refill AS integer));
\endif
