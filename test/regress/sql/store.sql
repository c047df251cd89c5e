-- What ws's writes do with what a DBA adds to its tables: foreign keys, defaults,
-- triggers (run as the calling role, skipping rows, with transition tables, calling ws
-- again), rules, and damaged tables. Each either behaves as a plain INSERT, UPDATE or
-- DELETE by the caller would, or is refused before anything is written.
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event RESTART IDENTITY;

-- outcome(sql): 'ok', or the error's SQLSTATE, message, detail and hint
CREATE FUNCTION outcome(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    d text;
    h text;
BEGIN
    EXECUTE sql;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL, h = PG_EXCEPTION_HINT;
    RETURN concat_ws(E'\n', SQLSTATE || ': ' || SQLERRM, nullif('DETAIL: ' || d, 'DETAIL: '),
                     nullif('HINT: ' || h, 'HINT: '));
END $$;
-- everything ws holds of processes, to show that a refused call changed nothing
CREATE FUNCTION ws_state() RETURNS text LANGUAGE sql AS $$
    SELECT md5(concat((SELECT string_agg(concat_ws(',', id, state, params, result, attempts, error), ';' ORDER BY id)
                         FROM ws.task),
                      (SELECT string_agg(concat_ws(',', id, state, params, tokens, error), ';' ORDER BY id) FROM ws.process),
                      (SELECT string_agg(action || ':' || task, ';' ORDER BY task) FROM ws.ready),
                      (SELECT count(*) FROM ws.event)))
$$;

SELECT ws.define('{"name": "line", "nodes": [
  {"name": "a", "action": "st.a", "start": true}, {"name": "b", "action": "st.b"},
  {"name": "end", "end": true}],
  "transitions": [{"from": "a", "to": "b"}, {"from": "b", "to": "end"}]}') AS w \gset

-- a column a DBA adds gets its default in the engine's rows, NOT NULL included
ALTER TABLE ws.task ADD COLUMN tenant text NOT NULL DEFAULT 'acme';
SELECT ws.start('line') AS p \gset
SELECT tenant FROM ws.task WHERE process = :p;

-- a DBA's foreign key is checked: a default naming no tenant is refused, nothing written
CREATE TABLE tenants (name text PRIMARY KEY);
INSERT INTO tenants VALUES ('acme');
ALTER TABLE ws.task ADD FOREIGN KEY (tenant) REFERENCES tenants;
SELECT ws.start('line') AS p \gset
SELECT tenant FROM ws.task WHERE process = :p;
ALTER TABLE ws.task ALTER COLUMN tenant SET DEFAULT 'globex';
SELECT ws_state() AS before \gset
SELECT outcome('SELECT ws.start(''line'')');
SELECT ws_state() = :'before' AS unchanged;
ALTER TABLE ws.task DROP COLUMN tenant;
DROP TABLE tenants;

-- a foreign key from another table onto the claim queue cascades when a claim takes the task
CREATE TABLE queue_notes (action text, task bigint, note text,
                          FOREIGN KEY (action, task) REFERENCES ws.ready ON DELETE CASCADE);
SELECT ws.start('line') AS p \gset
INSERT INTO queue_notes SELECT r.action, r.task, 'urgent' FROM ws.ready r JOIN ws.task t ON t.id = r.task
 WHERE t.process = :p;
SELECT count(*) AS notes_before FROM queue_notes;
SELECT count(*) AS claimed FROM ws.claim(ARRAY['st.a'], 'w', 100);
SELECT count(*) AS notes_after FROM queue_notes;
DROP TABLE queue_notes;

-- a BEFORE UPDATE trigger that skips the engine's update is refused: nothing is claimed
SELECT ws.start('line') AS p \gset
CREATE FUNCTION skip_row() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER skip_updates BEFORE UPDATE ON ws.task FOR EACH ROW EXECUTE FUNCTION skip_row();
SELECT ws_state() AS before \gset
SELECT outcome('SELECT ws.claim(ARRAY[''st.a''], ''w'')');
SELECT ws_state() = :'before' AS unchanged;
DROP TRIGGER skip_updates ON ws.task;
-- as is one that skips an insert of a task or a queue row, or a delete of a queue row
CREATE TRIGGER skip_inserts BEFORE INSERT ON ws.task FOR EACH ROW EXECUTE FUNCTION skip_row();
SELECT outcome('SELECT ws.start(''line'')');
DROP TRIGGER skip_inserts ON ws.task;
CREATE TRIGGER skip_deletes BEFORE DELETE ON ws.ready FOR EACH ROW EXECUTE FUNCTION skip_row();
SELECT outcome('SELECT ws.claim(ARRAY[''st.a''], ''w'')');
DROP TRIGGER skip_deletes ON ws.ready;
-- but events are the DBA's to filter: a skipped event is not written, the step is
CREATE FUNCTION only_ends() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RETURN CASE WHEN NEW.task IS NULL THEN NEW END;
END $$;
CREATE TRIGGER only_ends BEFORE INSERT ON ws.event FOR EACH ROW EXECUTE FUNCTION only_ends();
SELECT ws.start('line') AS p \gset
SELECT state, task IS NULL AS of_process FROM ws.event WHERE process = :p ORDER BY id;
SELECT state FROM ws.task WHERE process = :p;
DROP TRIGGER only_ends ON ws.event;

-- a BEFORE DELETE trigger on the claim queue sees the row the claim deletes
CREATE TABLE gone (task bigint);
CREATE FUNCTION note_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.gone VALUES (OLD.task);
    RETURN OLD;
END $$;
CREATE TRIGGER note_gone BEFORE DELETE ON ws.ready FOR EACH ROW EXECUTE FUNCTION note_gone();
SELECT ws.start('line') AS p \gset
SELECT task AS t FROM ws.claim(ARRAY['st.a'], 'w', 1) \gset
SELECT array_agg(task) = ARRAY[:t]::bigint[] AS noted FROM gone;
DROP TRIGGER note_gone ON ws.ready;
DROP TABLE gone;

-- (trigger functions run with the search_path of ws's functions, pg_catalog: they name
-- their tables with their schemas, or set a search_path of their own)

-- rules are refused, by name, before anything is written
CREATE TABLE event_copy (LIKE ws.event);
CREATE RULE copy_events AS ON INSERT TO ws.event DO ALSO INSERT INTO event_copy SELECT NEW.*;
SELECT ws_state() AS before \gset
SELECT outcome('SELECT ws.start(''line'')');
SELECT ws_state() = :'before' AS unchanged;
DROP RULE copy_events ON ws.event;
CREATE RULE keep_queue AS ON DELETE TO ws.ready DO INSTEAD NOTHING;
SELECT outcome('SELECT ws.claim(ARRAY[''st.a''], ''w'')');
DROP RULE keep_queue ON ws.ready;
DROP TABLE event_copy;

-- a row trigger with a transition table sees the rows of the write that fired it
CREATE TABLE batch_sizes (n int);
CREATE FUNCTION count_new() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.batch_sizes SELECT count(*) FROM new_events;
    RETURN NULL;
END $$;
CREATE TRIGGER count_new AFTER INSERT ON ws.event REFERENCING NEW TABLE AS new_events
    FOR EACH ROW EXECUTE FUNCTION count_new();
SELECT ws.start('line') AS p \gset
-- the start writes two events (process running, task a ready): each row's trigger sees both
SELECT array_agg(n) AS sizes FROM batch_sizes;
DROP TRIGGER count_new ON ws.event;
DROP TABLE batch_sizes;

-- user code runs as the role that called ws, not as ws's owner: triggers and defaults
CREATE ROLE ws_store_clerk;
SELECT ws.grant_user('ws_store_clerk');
CREATE TABLE who_wrote (role name, via text);
GRANT INSERT ON who_wrote TO ws_store_clerk;
CREATE FUNCTION note_writer() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO public.who_wrote VALUES (current_user, TG_WHEN || ' ' || TG_OP);
    RETURN NEW;
END $$;
CREATE TRIGGER note_before BEFORE INSERT ON ws.task FOR EACH ROW EXECUTE FUNCTION note_writer();
CREATE TRIGGER note_after AFTER UPDATE ON ws.task FOR EACH ROW EXECUTE FUNCTION note_writer();
ALTER TABLE ws.event ADD COLUMN written_as name DEFAULT current_user;
SET ROLE ws_store_clerk;
SELECT ws.start('line') AS p \gset
SELECT task AS t FROM ws.claim(ARRAY['st.a'], 'w', 1) \gset
RESET ROLE;
SELECT role, via, count(*) FROM who_wrote GROUP BY 1, 2 ORDER BY 1, 2;
SELECT DISTINCT written_as, actor FROM ws.event WHERE process = :p;
ALTER TABLE ws.event DROP COLUMN written_as;
DROP TRIGGER note_before ON ws.task;
DROP TRIGGER note_after ON ws.task;
DROP TABLE who_wrote;

-- a trigger may act on the process whose step fired it once that step's writes are
-- done: here each new task is claimed and completed inside the call that made it
CREATE FUNCTION run_at_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state = 'ready' THEN
        PERFORM ws.complete(c.task) FROM ws.claim(ARRAY[NEW.action], 'hook') c;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER run_at_once AFTER INSERT ON ws.task FOR EACH ROW EXECUTE FUNCTION run_at_once();
SELECT ws.define('{"name": "hooked", "nodes": [
  {"name": "a", "action": "hk.a", "start": true}, {"name": "b", "action": "hk.b"},
  {"name": "end", "end": true}],
  "transitions": [{"from": "a", "to": "b"}, {"from": "b", "to": "end"}]}') AS hooked \gset
SELECT ws.start('hooked') AS p \gset
SELECT state, tokens FROM ws.process WHERE id = :p;
SELECT n.name, t.state, t.attempts FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p ORDER BY t.id;
SELECT state, task IS NULL AS of_process FROM ws.event WHERE process = :p ORDER BY id;
-- but not in the middle of a step: the start writes task a before it assigns the human
-- task h (the count of a person's open tasks includes this step's), and a second step
-- completing a then would work from the process as the first one found it, and one
-- would overwrite the other. Refused, nothing written.
SELECT ws.define('{"name": "mixed", "nodes": [
  {"name": "a", "action": "hk.mixed", "start": true}, {"name": "h", "role": "ws_store_clerk", "start": true},
  {"name": "end", "end": true, "join": "and"}],
  "transitions": [{"from": "a", "to": "end"}, {"from": "h", "to": "end"}]}') AS mixed \gset
SELECT ws_state() AS before \gset
SELECT outcome('SELECT ws.start(''mixed'')');
SELECT ws_state() = :'before' AS unchanged;
DROP TRIGGER run_at_once ON ws.task;
-- a hook on the history may start other processes: each gets its own step
SELECT ws.define('{"name": "audit", "nodes": [{"name": "log", "action": "st.log", "start": true}]}') AS audit \gset
CREATE FUNCTION audit_ends() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.task IS NULL AND NEW.state = 'completed' THEN
        PERFORM ws.start('audit', jsonb_build_object('of', NEW.process));
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER audit_ends AFTER INSERT ON ws.event FOR EACH ROW EXECUTE FUNCTION audit_ends();
SELECT ws.start('line') AS p \gset
SELECT ws.complete(task) FROM ws.claim(ARRAY['st.a'], 'w', 100) c WHERE c.process = :p;
SELECT ws.complete(task) FROM ws.claim(ARRAY['st.b'], 'w', 100) c WHERE c.process = :p;
SELECT state FROM ws.process WHERE id = :p;
SELECT count(*) AS audits FROM ws.process WHERE workflow = :audit AND params->>'of' = :'p';
DROP TRIGGER audit_ends ON ws.event;

-- a BEFORE trigger that changes the row ws is about to write under it: 27000
CREATE FUNCTION touch_process() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE ws.process SET params = params || '{"touched": true}' WHERE id = NEW.process;
    RETURN NEW;
END $$;
CREATE TRIGGER touch_process BEFORE INSERT ON ws.event FOR EACH ROW EXECUTE FUNCTION touch_process();
SELECT ws.start('line') AS p \gset
SELECT task AS t FROM ws.claim(ARRAY['st.a'], 'w', 100) c WHERE c.process = :p \gset
SELECT ws_state() AS before \gset
-- (a result changes the process variables: ws writes the process row after the events)
SELECT outcome(format('SELECT ws.complete(%s, ''{"x": 1}'')', :t));
SELECT ws_state() = :'before' AS unchanged;
DROP TRIGGER touch_process ON ws.event;

-- a damaged table: the error names what differs and how to put it back, never a DROP
SELECT ws.start('line') AS p \gset
SELECT task AS t FROM ws.claim(ARRAY['st.a'], 'w', 100) c WHERE c.process = :p \gset
BEGIN;
ALTER INDEX ws.task_active RENAME TO task_by_process;
SELECT outcome(format('SELECT ws.cancel(%s)', :p));
ROLLBACK;
SELECT ws.start('line') AS p \gset
BEGIN;
ALTER TABLE ws.task ALTER COLUMN worker TYPE varchar;
SELECT outcome('SELECT ws.claim(ARRAY[''st.a''], ''w'')');
ROLLBACK;
BEGIN;
ALTER TABLE ws.ready DROP CONSTRAINT ready_pkey;
SELECT outcome('SELECT ws.claim(ARRAY[''st.a''], ''w'')');
ROLLBACK;
-- a plain table only, but for ws.event
BEGIN;
ALTER TABLE ws.task RENAME TO task_old;
CREATE TABLE ws.task (LIKE ws.task_old INCLUDING ALL) PARTITION BY HASH (id);
SELECT outcome('SELECT ws.start(''line'')');
ROLLBACK;

DROP OWNED BY ws_store_clerk;
DROP ROLE ws_store_clerk;
