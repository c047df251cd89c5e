-- bench/history.sql: scenario f's history. Inserts about :tasks finished tasks of workflow
-- bench.seq (completed processes a -> b -> c) with their events, written directly as
-- rows, the way the engine would have left them: per process 3 succeeded tasks and 11
-- events (process running, ready/running/succeeded per task, process completed).
-- psql -v tasks=5000000 -f bench/history.sql
\set ON_ERROR_STOP 1
SELECT (:tasks + 2) / 3 AS nproc \gset
SELECT id AS wf FROM ws.workflow WHERE name = 'bench.seq' ORDER BY version DESC LIMIT 1 \gset
SELECT min(id) AS n1, (array_agg(id ORDER BY id))[2] AS n2, max(id) AS n3
  FROM ws.node WHERE workflow = :wf \gset
-- reserve id ranges from the identity sequences
SELECT nextval(pg_get_serial_sequence('ws.process', 'id')) AS pb \gset
SELECT setval(pg_get_serial_sequence('ws.process', 'id'), :pb + :nproc) \gset
SELECT nextval(pg_get_serial_sequence('ws.task', 'id')) AS tb \gset
SELECT setval(pg_get_serial_sequence('ws.task', 'id'), :tb + 3 * :nproc) \gset
SELECT nextval(pg_get_serial_sequence('ws.event', 'id')) AS eb \gset
SELECT setval(pg_get_serial_sequence('ws.event', 'id'), :eb + 11 * :nproc) \gset

BEGIN;
-- the rows are consistent by construction: skip the per-row foreign key triggers
SET LOCAL session_replication_role = replica;
INSERT INTO ws.process (id, workflow, state, params, tokens, started_at, ended_at, started_by)
SELECT :pb + i, :wf, 'completed', '{}', '{}', t, t + interval '3 seconds', 'postgres'
  FROM generate_series(0, :nproc - 1) i,
       LATERAL (SELECT timestamptz '2020-01-01' + i * interval '1 second') s(t);

INSERT INTO ws.task (id, process, node, action, state, params, result, attempts, worker,
                     created_at, started_at, ended_at)
SELECT :tb + 3 * i + k, :pb + i, node, 'bench.seq', 'succeeded', '{}', '{}', 1, 'history', t, t, t
  FROM generate_series(0, :nproc - 1) i,
       LATERAL (VALUES (0, :n1::bigint), (1, :n2::bigint), (2, :n3::bigint)) v(k, node),
       LATERAL (SELECT timestamptz '2020-01-01' + i * interval '1 second' + k * interval '1 second') s(t);
-- (the nested loops yield the rows in id order, which keeps the index inserts appending)

INSERT INTO ws.event (id, at, process, task, state, actor, detail)
SELECT :eb + 11 * i + j, timestamptz '2020-01-01' + i * interval '1 second', :pb + i,
       CASE WHEN j BETWEEN 1 AND 9 THEN :tb + 3 * i + (j - 1) / 3 END,
       state, 'postgres', detail
  FROM generate_series(0, :nproc - 1) i,
       LATERAL (VALUES (0, 'running', 'started workflow "bench.seq" version 1'),
                       (1, 'ready', NULL), (2, 'running', 'claimed by history, attempt 1'), (3, 'succeeded', NULL),
                       (4, 'ready', NULL), (5, 'running', 'claimed by history, attempt 1'), (6, 'succeeded', NULL),
                       (7, 'ready', NULL), (8, 'running', 'claimed by history, attempt 1'), (9, 'succeeded', NULL),
                       (10, 'completed', 'end node "c" reached')) v(j, state, detail);
COMMIT;
VACUUM (ANALYZE) ws.process, ws.task, ws.event;
CHECKPOINT;
