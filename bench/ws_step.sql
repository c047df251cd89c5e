-- bench/ws_step.sql: one step of ws, one transaction: claim one ready task of :action and
-- complete it in ONE statement. When nothing was claimed, start :refill processes of :wf.
-- pgbench -M prepared -D action=bench.seq -D wf=bench.seq -D refill=100
SELECT count(ws.complete(task, '{}', attempt)) AS n
  FROM ws.claim(ARRAY[CAST(:action AS text)], 'bench', 1) \gset
\if :n = 0
SELECT count(ws.start(CAST(:wf AS text))) FROM generate_series(1, CAST(:refill AS integer));
\endif
