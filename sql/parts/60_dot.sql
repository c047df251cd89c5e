------------------------------------------------------------------------------
-- Workflows as pictures and documents: DOT import (C, src/dot/ws_dot.c, its
-- own library ws_dot so the engine library never loads Graphviz), DOT export, process
-- pictures, JSON export, warnings, and the overview of versions.
------------------------------------------------------------------------------

CREATE FUNCTION ws_internal.define_dot(dot text) RETURNS bigint
    AS '$libdir/ws_dot', 'ws_define_dot' LANGUAGE C VOLATILE STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws_internal.define_dot(text) IS 'ws.define_dot''s implementation';

CREATE FUNCTION ws.define_dot(dot text) RETURNS bigint AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STRICT;
COMMENT ON FUNCTION ws.define_dot(text) IS
    'Defines a workflow from a Graphviz digraph (read by Graphviz''s parser), attributes as in ws.define''s document; all or nothing. Returns the workflow id';

-- Graphviz's scanner keeps backslashes in quoted strings except before a quote or a
-- newline, and drops a newline that stands alone before a quote or a backslash. Runs of
-- backslashes and newlines therefore go into HTML-like pieces <...>, where Graphviz keeps
-- everything, joined to the quoted pieces with DOT's + (Graphviz reads them back as one
-- plain string). Nearly every string has neither and is one quoted string.
CREATE FUNCTION ws_internal.dot_quote(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN strpos(s, E'\\') = 0 AND strpos(s, E'\n') = 0
                THEN '"' || replace(s, '"', '\"') || '"'
                ELSE (SELECT string_agg(CASE WHEN r.m[1] ~ E'^[\\\\\n]' THEN '<' || r.m[1] || '>'
                                             ELSE '"' || replace(r.m[1], '"', '\"') || '"' END,
                                        ' + ' ORDER BY r.ord)
                        FROM regexp_matches(s, E'[\\\\\n]+|[^\\\\\n]+', 'g') WITH ORDINALITY AS r(m, ord))
           END
$$;
COMMENT ON FUNCTION ws_internal.dot_quote(text) IS 'A DOT string that Graphviz reads back as exactly s';

-- A label that Graphviz draws as the text s: a backslash is doubled (Graphviz draws \\ as
-- one and reads \n, \N, \l... as escapes), a newline is written \n.
CREATE FUNCTION ws_internal.dot_label(s text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp AS $$
    SELECT '"' || replace(replace(replace(s, E'\\', E'\\\\'), '"', '\"'), E'\n', '\n') || '"'
$$;
COMMENT ON FUNCTION ws_internal.dot_label(text) IS 'A DOT string that Graphviz draws as the text s';

-- The picture of a workflow, and of a process of it when process is given.
-- Workflow attributes first (what ws.define_dot reads back), then drawing attributes
-- (what ws.define_dot ignores):
--   start node: oval with a bold line; end node: double oval; a message wait: a note; a
--   call activity: a rounded box with a double border, its label naming the workflow it
--   calls; a routing node (no action, no role) in between: a diamond, the gateway of BPMN;
--   other nodes: rounded boxes. A multi-instance node has a label line starting with |||
--   (BPMN's marker), naming its item and array, and (sequential) when it is.
--   Gates: a second label line names the join when it has two or more incoming
--   transitions or is not AND, and the split when it has two or more outgoing ones or is
--   not AND. Edges are labelled with their condition, prefixed by #priority when not 0.
--   Process: each node is filled with the colour of the state of its latest task and the
--   state is written under the name, with the number of runs when there were several,
--   and a call's child processes by id (the first five); a child process's title names
--   its parent;
--   transitions holding tokens are drawn bold blue with the count.
CREATE FUNCTION ws_internal.dot(workflow bigint, process bigint) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    WITH w AS (SELECT * FROM ws.workflow x WHERE x.id = dot.workflow),
    p AS (SELECT * FROM ws.process x WHERE x.id = dot.process),
    n AS (
        SELECT n.*,
               (SELECT count(*) FROM ws.transition t WHERE t.child = n.id) AS ins,
               (SELECT count(*) FROM ws.transition t WHERE t.parent = n.id) AS outs,
               k.state, k.runs, coalesce(c.children, 0) AS children, c.child_ids,
               -- foreach drawn without the quotes of plain keys, as conditions are
               regexp_replace(n.foreach::text, '\."([A-Za-z_][A-Za-z0-9_]*)"', '.\1', 'g') AS items
          FROM ws.node n
          LEFT JOIN LATERAL (
              SELECT (SELECT x.state FROM ws.task x WHERE x.process = dot.process AND x.node = n.id
                       ORDER BY x.id DESC LIMIT 1) AS state,
                     (SELECT count(*) FROM ws.task x WHERE x.process = dot.process AND x.node = n.id) AS runs
          ) k ON true
          -- a call's child processes: how many, and the first five ids
          LEFT JOIN LATERAL (
              SELECT count(*) AS children, (array_agg(cp.id ORDER BY cp.id))[1:5] AS child_ids
                FROM ws.task x JOIN ws.process cp ON cp.parent_task = x.id
               WHERE n.call IS NOT NULL AND x.process = dot.process AND x.node = n.id
          ) c ON true
         WHERE n.workflow = dot.workflow),
    node_lines AS (
        SELECT n.id, format('  %s [%s];', ws_internal.dot_quote(n.name), concat_ws(', ',
                   CASE WHEN n.is_start THEN 'start=true' END,
                   CASE WHEN n.is_end THEN 'end=true' END,
                   CASE WHEN n."join" <> 'and' THEN format('join=%s', n."join") END,
                   CASE WHEN n.split <> 'and' THEN format('split=%s', n.split) END,
                   CASE WHEN n.action IS NOT NULL THEN 'action=' || ws_internal.dot_quote(n.action) END,
                   CASE WHEN n.role IS NOT NULL THEN 'role=' || ws_internal.dot_quote(n.role) END,
                   CASE WHEN n.params <> '{}' THEN 'params=' || ws_internal.dot_quote(n.params::text) END,
                   CASE WHEN n.wait IS NOT NULL THEN 'wait=' || ws_internal.dot_quote(n.wait::text) END,
                   CASE WHEN n.wait_until IS NOT NULL THEN 'wait_until=' || ws_internal.dot_quote(n.wait_until::text) END,
                   CASE WHEN n.retries <> 0 THEN format('retries=%s', n.retries) END,
                   CASE WHEN n.due IS NOT NULL THEN 'due=' || ws_internal.dot_quote(n.due::text) END,
                   CASE WHEN n.message IS NOT NULL THEN 'message=' || ws_internal.dot_quote(n.message) END,
                   CASE WHEN n.correlate IS NOT NULL THEN 'correlate=' || ws_internal.dot_quote(n.correlate::text) END,
                   CASE WHEN n.deadline IS NOT NULL THEN 'deadline=' || ws_internal.dot_quote(n.deadline::text) END,
                   CASE WHEN n.call IS NOT NULL THEN 'call=' || ws_internal.dot_quote(n.call) END,
                   CASE WHEN n.foreach IS NOT NULL THEN 'foreach=' || ws_internal.dot_quote(n.foreach::text) END,
                   CASE WHEN n.item IS NOT NULL THEN 'item=' || ws_internal.dot_quote(n.item) END,
                   CASE WHEN n.sequential THEN 'sequential=true' END,
                   CASE WHEN n."as" IS NOT NULL THEN 'as=' || ws_internal.dot_quote(n."as") END,
                   CASE WHEN n.is_start AND n.is_end THEN 'shape=oval, penwidth=2, peripheries=2'
                        WHEN n.is_start THEN 'shape=oval, penwidth=2'
                        WHEN n.is_end THEN 'shape=oval, peripheries=2'
                        WHEN n.message IS NOT NULL THEN 'shape=note'
                        WHEN n.call IS NOT NULL THEN 'peripheries=2'
                        WHEN n.action IS NULL AND n.role IS NULL THEN 'shape=diamond' END,
                   'label=' || ws_internal.dot_label(concat_ws(E'\n', n.name,
                       '✉ ' || n.message,
                       'calls ' || n.call,
                       CASE WHEN n.foreach IS NOT NULL
                            THEN format('||| %s in %s%s', coalesce(n.item, 'item'),
                                        n.items,
                                        CASE WHEN n.sequential THEN ' (sequential)' ELSE '' END) END,
                       'deadline ' || n.deadline::text,
                       nullif(concat_ws(', ',
                           CASE WHEN n.ins > 1 OR n."join" <> 'and' THEN upper(n."join"::text) || ' join' END,
                           CASE WHEN n.outs > 1 OR n.split <> 'and' THEN upper(n.split::text) || ' split' END), ''),
                       CASE WHEN dot.process IS NOT NULL AND n.state IS NOT NULL
                            THEN n.state || CASE WHEN n.runs > 1 THEN format(' (%s runs)', n.runs) ELSE '' END END,
                       CASE WHEN n.children > 0
                            THEN format('child process%s %s%s', CASE WHEN n.children > 1 THEN 'es' ELSE '' END,
                                        array_to_string(n.child_ids, ', '),
                                        CASE WHEN n.children > 5 THEN format(' and %s more', n.children - 5) ELSE '' END) END)),
                   CASE WHEN n.action IS NOT NULL OR n.role IS NOT NULL OR n.message IS NOT NULL OR n.call IS NOT NULL
                             OR n.foreach IS NOT NULL
                        THEN 'tooltip=' || ws_internal.dot_label(concat_ws(', ', 'action: ' || n.action, 'role: ' || n.role,
                                                                          'message: ' || n.message, 'calls: ' || n.call,
                                                                          'for each: ' || n.items,
                                                                          'as: ' || n."as")) END,
                   CASE WHEN dot.process IS NOT NULL THEN 'fillcolor=' || CASE n.state
                        WHEN 'waiting' THEN 'khaki' WHEN 'pending' THEN 'gold' WHEN 'ready' THEN 'lightyellow'
                        WHEN 'running' THEN 'lightblue' WHEN 'succeeded' THEN 'palegreen'
                        WHEN 'failed' THEN 'salmon' WHEN 'cancelled' THEN 'gray80' ELSE 'white' END END
               )) AS line
          FROM n),
    edge_lines AS (
        SELECT t.id, format('  %s -> %s%s;', ws_internal.dot_quote(a.name), ws_internal.dot_quote(b.name),
                   coalesce(' [' || nullif(concat_ws(', ',
                       CASE WHEN t.condition IS NOT NULL THEN 'condition=' || ws_internal.dot_quote(t.condition::text) END,
                       CASE WHEN t.priority <> 0 THEN format('priority=%s', t.priority) END,
                       CASE WHEN t."on" <> 'success' THEN format('on=%s, style=dashed', t."on") END,
                       'label=' || nullif(ws_internal.dot_label(concat_ws(' ',
                           CASE WHEN t."on" <> 'success' THEN 'on ' || t."on" END,
                           CASE WHEN t.priority <> 0 THEN '#' || t.priority END,
                           -- drawn without jsonpath's outer parentheses and quotes of plain keys
                           regexp_replace(regexp_replace(t.condition::text, '^\((.*)\)$', '\1'),
                                          '\."([A-Za-z_][A-Za-z0-9_]*)"', '.\1', 'g'))), '""'),
                       CASE WHEN coalesce(p_tok.k, 0) > 0
                            THEN format('color=blue, penwidth=2, xlabel="%s token%s"', p_tok.k,
                                        CASE WHEN p_tok.k > 1 THEN 's' ELSE '' END) END
                   ), '') || ']', '')) AS line
          FROM ws.transition t
          JOIN ws.node a ON a.id = t.parent
          JOIN ws.node b ON b.id = t.child
          LEFT JOIN LATERAL (SELECT (p.tokens->>t.id::text)::int AS k FROM p) p_tok ON true
         WHERE t.workflow = dot.workflow)
    SELECT format('digraph %s {', ws_internal.dot_quote(w.name)) || E'\n'
        || concat_ws(E'\n',
               CASE WHEN w.description IS NOT NULL THEN '  description=' || ws_internal.dot_quote(w.description) || ';' END,
               CASE WHEN w.params <> '{}' THEN '  params=' || ws_internal.dot_quote(w.params::text) || ';' END,
               '  label=' || ws_internal.dot_label(w.name || ' v' || w.version
                   || coalesce((SELECT format(', process %s%s: %s', p.id, ' (key ' || p.key || ')', p.state)
                                           || coalesce(', called by process '
                                                       || (SELECT c.process FROM ws.task c WHERE c.id = p.parent_task), '')
                                  FROM p), '')) || ';',
               '  labelloc=t; fontname="Helvetica";',
               '  node [shape=box, style="rounded,filled", fillcolor=white, fontname="Helvetica"];',
               '  edge [fontname="Helvetica", fontsize=10];',
               (SELECT string_agg(line, E'\n' ORDER BY id) FROM node_lines),
               (SELECT string_agg(line, E'\n' ORDER BY id) FROM edge_lines))
        || E'\n}\n'
      FROM w
$$;
COMMENT ON FUNCTION ws_internal.dot(bigint, bigint) IS
    'Graphviz source of a workflow, coloured by a process''s tasks when given';

-- to_dot, process_dot, export and lint are VOLATILE although they only read: a VOLATILE
-- function takes a fresh snapshot for each statement, so it sees what an inner call of the
-- same query wrote, as in SELECT ws.export(ws.define(...)) or ws.to_dot(ws.define_dot(...)).
CREATE FUNCTION ws_internal.to_dot(workflow bigint) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
BEGIN
    IF NOT EXISTS (SELECT FROM ws.workflow w WHERE w.id = workflow) THEN
        RAISE EXCEPTION 'workflow % does not exist', workflow
            USING ERRCODE = '42704', HINT = 'See SELECT id, name, version FROM ws.workflow_overview.';
    END IF;
    RETURN ws_internal.dot(workflow, NULL);
END $$;
COMMENT ON FUNCTION ws_internal.to_dot(bigint) IS 'ws.to_dot''s implementation';

CREATE FUNCTION ws.to_dot(workflow bigint) RETURNS text AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.to_dot(bigint) IS
    'The workflow as Graphviz source: readable (shapes, gates, conditions) and read back by ws.define_dot as an equal workflow';

CREATE FUNCTION ws_internal.to_dot(workflow text) RETURNS text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT ws_internal.to_dot(ws_internal.workflow_id(workflow))
$$;
COMMENT ON FUNCTION ws_internal.to_dot(text) IS 'ws.to_dot''s implementation, by name';

CREATE FUNCTION ws.to_dot(workflow text) RETURNS text AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.to_dot(text) IS 'The newest version of the named workflow as Graphviz source';

CREATE FUNCTION ws_internal.process_dot(process bigint) RETURNS text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    p ws.process;
BEGIN
    SELECT * INTO p FROM ws.process x WHERE x.id = process;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'process % does not exist', process
            USING ERRCODE = '42704', HINT = 'See SELECT id, workflow_name, state FROM ws.my_processes.';
    END IF;
    IF NOT ws_internal.is_admin() AND p.started_by <> ws_internal.caller()
       AND NOT EXISTS (SELECT FROM ws.event e WHERE e.process = p.id AND e.actor = ws_internal.caller()) THEN
        RAISE EXCEPTION 'permission denied to see process %', process
            USING ERRCODE = '42501',
                  DETAIL = format('Role "%s" neither started it nor acted in it.', ws_internal.caller()),
                  HINT = 'See SELECT id, workflow_name, state FROM ws.my_processes; an administrator sees every process.';
    END IF;
    RETURN ws_internal.dot(p.workflow, process);
END $$;
COMMENT ON FUNCTION ws_internal.process_dot(bigint) IS 'ws.process_dot''s implementation';

CREATE FUNCTION ws.process_dot(process bigint) RETURNS text AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.process_dot(bigint) IS
    'The workflow of a process as Graphviz source, each node coloured by the state of its latest task, with the number of runs; users see the processes of ws.my_processes';

------------------------------------------------------------------------------
-- Versions at a glance
------------------------------------------------------------------------------

CREATE VIEW ws.workflow_overview AS
SELECT w.id, w.name, w.version,
       w.version = max(w.version) OVER (PARTITION BY w.name) AS newest,
       (SELECT count(*) FROM ws.node n WHERE n.workflow = w.id) AS nodes,
       (SELECT count(*) FROM ws.transition t WHERE t.workflow = w.id) AS transitions,
       count(p.id) FILTER (WHERE p.state = 'running') AS running,
       count(p.id) FILTER (WHERE p.state = 'completed') AS completed,
       count(p.id) FILTER (WHERE p.state = 'failed') AS failed,
       count(p.id) FILTER (WHERE p.state = 'cancelled') AS cancelled,
       w.created_at, w.created_by, w.description
  FROM ws.workflow w
  LEFT JOIN ws.process p ON p.workflow = w.id
 GROUP BY w.id
 ORDER BY w.name, w.version;
COMMENT ON VIEW ws.workflow_overview IS
    'One line a workflow version for psql: its size, whether ws.start(name) takes it (newest), its processes by state';
COMMENT ON COLUMN ws.workflow_overview.id IS 'The workflow version''s id';
COMMENT ON COLUMN ws.workflow_overview.name IS 'The workflow''s name';
COMMENT ON COLUMN ws.workflow_overview.version IS 'The version';
COMMENT ON COLUMN ws.workflow_overview.newest IS 'The version ws.start(name) starts';
COMMENT ON COLUMN ws.workflow_overview.nodes IS 'How many nodes it has';
COMMENT ON COLUMN ws.workflow_overview.transitions IS 'How many transitions it has';
COMMENT ON COLUMN ws.workflow_overview.running IS 'Its running processes';
COMMENT ON COLUMN ws.workflow_overview.completed IS 'Its completed processes';
COMMENT ON COLUMN ws.workflow_overview.failed IS 'Its failed processes';
COMMENT ON COLUMN ws.workflow_overview.cancelled IS 'Its cancelled processes';
COMMENT ON COLUMN ws.workflow_overview.created_at IS 'When it was defined';
COMMENT ON COLUMN ws.workflow_overview.created_by IS 'Who defined it';
COMMENT ON COLUMN ws.workflow_overview.description IS 'Free text';
