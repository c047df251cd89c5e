-- bench/ws_start.sql: one ws.start of :wf in a transaction, its start params {"xs": [1..:items]}
-- (scenarios s and t: workflows of SQL actions, which run to their end inside the call)
-- pgbench -M prepared -D wf=bench.sql3 -D items=1
SELECT ws.start(CAST(:wf AS text),
                jsonb_build_object('xs', (SELECT jsonb_agg(i) FROM generate_series(1, CAST(:items AS integer)) i)))
       IS NOT NULL AS started;
