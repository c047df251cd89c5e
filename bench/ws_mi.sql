-- bench/ws_mi.sql: one instance of a multi-instance node, one transaction: claim one ready
-- task of :action and complete it. When nothing was claimed, start one process of :wf over
-- an array of :items elements (scenario m).
-- pgbench -M prepared -D action=bench.mi10 -D wf=bench.mi10 -D items=10
SELECT count(ws.complete(task, '{}', attempt)) AS n
  FROM ws.claim(ARRAY[CAST(:action AS text)], 'bench', 1) \gset
\if :n = 0
SELECT ws.start(CAST(:wf AS text),
                jsonb_build_object('xs', (SELECT jsonb_agg(i) FROM generate_series(1, CAST(:items AS integer)) i)))
       IS NOT NULL AS started;
\endif
