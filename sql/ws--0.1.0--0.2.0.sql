-- ws 0.1.0 -> 0.2.0: the schema changes that made a step cheaper (issue 7).
-- Every statement here keeps the data; ALTER EXTENSION ws UPDATE runs it.
\echo Use "ALTER EXTENSION ws UPDATE TO '0.2.0'" to load this file. \quit

-- Tables every step writes lose their CHECK constraints: PostgreSQL re-reads them from
-- their stored text at every INSERT and UPDATE. The engine, their only writer, validates
-- what it stores (see the comment above CREATE TABLE ws.process in ws--0.2.0.sql).
ALTER TABLE ws.process DROP CONSTRAINT process_state_check,
                       DROP CONSTRAINT process_params_check;
ALTER TABLE ws.task DROP CONSTRAINT task_state_check,
                    DROP CONSTRAINT task_params_check,
                    DROP CONSTRAINT task_progress_check,
                    -- node ids come from a frozen version: no key check per inserted task
                    DROP CONSTRAINT task_node_fkey;

-- The node's role, copied onto the task so ws.claim checks it without reading the node.
ALTER TABLE ws.task ADD COLUMN role name;
UPDATE ws.task t SET role = n.role FROM ws.node n WHERE n.id = t.node AND n.role IS NOT NULL;
COMMENT ON COLUMN ws.task.action IS 'The node''s action, copied when the task is created (a version with processes never changes)';
COMMENT ON COLUMN ws.task.role IS 'The node''s role, copied when the task is created, so ws.claim checks it without reading the node';

-- One index on ws.event instead of two: the key is (process, id).
ALTER TABLE ws.event DROP CONSTRAINT event_pkey;
DROP INDEX ws.event_process_id_idx;
ALTER TABLE ws.event ADD PRIMARY KEY (process, id);
