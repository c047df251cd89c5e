-- What a definition must be, and how a wrong one is refused: ws.validate's AND-join rule
-- (a join that a parent can reach only after it fired never fires), ws.define refusing
-- an invalid document whole, definition errors that name the node or transition (22023,
-- a hint with what is allowed), errors without ws's internal CONTEXT, and the
-- workflow-name forms of ws.validate, ws.lint, ws.to_dot and ws.export.
\set VERBOSITY default
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event RESTART IDENTITY;

------------------------------------------------------------------------------
-- The AND-join rule
------------------------------------------------------------------------------
\set SHOW_CONTEXT never
-- a loop back into an AND join: refused, naming the join and the transition
SELECT ws.define('{"name": "loop", "nodes": [{"name": "a"}, {"name": "j"}, {"name": "b"}, {"name": "end"}],
  "transitions": [{"from": "a", "to": "j"}, {"from": "j", "to": "b"}, {"from": "b", "to": "j", "condition": "$.again == true"},
                  {"from": "b", "to": "end"}]}');
-- a self loop on an AND join
SELECT ws.define('{"name": "self", "nodes": [{"name": "a"}, {"name": "j"}, {"name": "end"}],
  "transitions": [{"from": "a", "to": "j"}, {"from": "j", "to": "j", "condition": "$.again == true"},
                  {"from": "j", "to": "end"}]}');
SELECT count(*) AS workflows FROM ws.workflow;
-- the same graphs with an OR join (synchronizing merge) or an XOR join (plain merge) load
SELECT ws.define('{"name": "loop", "nodes": [{"name": "a"}, {"name": "j", "join": "or"}, {"name": "b"}, {"name": "end"}],
  "transitions": [{"from": "a", "to": "j"}, {"from": "j", "to": "b"}, {"from": "b", "to": "j", "condition": "$.again == true"},
                  {"from": "b", "to": "end"}]}') AS loop_or \gset
SELECT ws.define('{"name": "self", "nodes": [{"name": "a"}, {"name": "j", "join": "xor"}, {"name": "end"}],
  "transitions": [{"from": "a", "to": "j"}, {"from": "j", "to": "j", "condition": "$.again == true"},
                  {"from": "j", "to": "end"}]}') IS NOT NULL AS self_xor;
SELECT ws.start(:loop_or, '{"again": false}') AS p \gset
SELECT state FROM ws.process WHERE id = :p;
-- not refused: an AND join whose parents all run before it (two branches of an AND split),
-- and a start node that is an AND join (the rule is for joins that are not start nodes)
SELECT ws.define('{"name": "diamond", "nodes": [{"name": "s"}, {"name": "l"}, {"name": "r"}, {"name": "j"}],
  "transitions": [{"from": "s", "to": "l"}, {"from": "s", "to": "r"}, {"from": "l", "to": "j"}, {"from": "r", "to": "j"}]}') IS NOT NULL AS diamond;
-- a loop-back parent that is also reached around the join (through a second branch) can
-- deliver before the join fires: accepted
SELECT ws.define('{"name": "around", "nodes": [{"name": "s"}, {"name": "p"}, {"name": "j"}, {"name": "end"}],
  "transitions": [{"from": "s", "to": "p"}, {"from": "s", "to": "j"}, {"from": "p", "to": "j"},
                  {"from": "j", "to": "p", "condition": "$.again == true"}, {"from": "j", "to": "end"}]}') IS NOT NULL AS around;
-- two parallel loop-back transitions from the same parent: one problem, not two
SELECT ws.define('{"name": "twice", "nodes": [{"name": "a"}, {"name": "j"}, {"name": "b"}, {"name": "end"}],
  "transitions": [{"from": "a", "to": "j"}, {"from": "j", "to": "b"}, {"from": "b", "to": "j", "condition": "$.x == 1"},
                  {"from": "b", "to": "j", "condition": "$.x == 2"}, {"from": "b", "to": "end"}]}');
SELECT ws.define('{"name": "startjoin", "nodes": [{"name": "s", "start": true}, {"name": "x", "start": true}, {"name": "b"}, {"name": "end", "end": true}],
  "transitions": [{"from": "s", "to": "b"}, {"from": "b", "to": "s", "condition": "$.again == true"},
                  {"from": "x", "to": "s"}, {"from": "b", "to": "end"}]}') IS NOT NULL AS start_and_join;
-- the incremental API stays lenient; ws.validate lists the problem and ws.start refuses
SELECT ws.create_workflow('built') AS wb \gset
SELECT ws.add_node(:wb, 'a', is_start => true) > 0, ws.add_node(:wb, 'j') > 0, ws.add_node(:wb, 'end', is_end => true) > 0;
SELECT ws.add_transition(:wb, 'a', 'j') > 0, ws.add_transition(:wb, 'j', 'j') > 0, ws.add_transition(:wb, 'j', 'end') > 0;
SELECT * FROM ws.validate(:wb);
SELECT ws.start(:wb);
-- a condition that is not a predicate, stored behind ws's back (or by a version before
-- 0.4.0), is listed too; so is one with a trailing method, which yields a string
INSERT INTO ws.transition (workflow, parent, child, condition)
SELECT :wb, a.id, e.id, '$.x' FROM ws.node a, ws.node e WHERE a.workflow = :wb AND a.name = 'a' AND e.workflow = :wb AND e.name = 'end';
INSERT INTO ws.transition (workflow, parent, child, condition)
SELECT :wb, a.id, e.id, '($.x == 1).type()' FROM ws.node a, ws.node e WHERE a.workflow = :wb AND a.name = 'a' AND e.workflow = :wb AND e.name = 'end';
SELECT * FROM ws.validate(:wb);

-- the stuck error names the joins that still hold tokens
SELECT ws.define('{"name": "stuck", "nodes": [{"name": "s", "split": "xor"}, {"name": "l"}, {"name": "r"},
  {"name": "j"}, {"name": "end", "end": true}],
  "transitions": [{"from": "s", "to": "l"}, {"from": "s", "to": "r"}, {"from": "l", "to": "j"}, {"from": "r", "to": "j"},
                  {"from": "j", "to": "end"}]}') IS NOT NULL AS defined;
SELECT ws.start('stuck') AS p \gset
SELECT state, error FROM ws.process WHERE id = :p;

------------------------------------------------------------------------------
-- Definition errors: 22023, naming the node or transition, with what is allowed
------------------------------------------------------------------------------
-- err(sql): the SQLSTATE, message, detail, hint and context of the error sql (one line)
-- raises; the context lines of err itself and of its EXECUTE are left out, so any line
-- left would come from inside ws
CREATE FUNCTION err(sql text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    st text; msg text; det text; hint text; ctx text;
BEGIN
    EXECUTE sql;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL,
                            hint = PG_EXCEPTION_HINT, ctx = PG_EXCEPTION_CONTEXT;
    ctx := (SELECT string_agg(l, E'\n') FROM regexp_split_to_table(ctx, E'\n') l
             WHERE l NOT LIKE 'PL/pgSQL function err(text) %' AND l <> format('SQL statement "%s"', sql));
    RETURN concat_ws(E'\n', st || ': ' || msg, 'DETAIL: ' || nullif(det, ''), 'HINT: ' || nullif(hint, ''),
                     'CONTEXT: ' || nullif(ctx, ''));
END $$;
\pset format unaligned
\pset tuples_only on
SELECT err($$SELECT ws.define('{"name": "e", "nodes": [{"name": "a", "join": "xro"}]}')$$);
SELECT err($$SELECT ws.define('{"name": "e", "nodes": [{"name": "a", "split": "maybe"}]}')$$);
SELECT err($$SELECT ws.define('{"name": "e", "nodes": [{"name": "a", "wait": "two days"}]}')$$);
SELECT err($$SELECT ws.define('{"name": "e", "nodes": [{"name": "a", "due": "soonish"}]}')$$);
SELECT err($$SELECT ws.define('{"name": "e", "nodes": [{"name": "a", "due": "-1 day"}]}')$$);
SELECT err($$SELECT ws.define('{"name": "e", "nodes": [{"name": "a", "wait_until": "$.at +"}]}')$$);
SELECT err($$SELECT ws.define('{"name": "e", "nodes": [{"name": "a"}, {"name": "b"}], "transitions": [{"from": "a", "to": "b", "condition": "$.x"}]}')$$);
SELECT err($$SELECT ws.define('{"name": "e", "nodes": [{"name": "a"}, {"name": "b"}], "transitions": [{"from": "a", "to": "b", "condition": "$.x =="}]}')$$);
SELECT err($$SELECT ws.define('{"name": "e", "nodes": [{"name": "a"}, {"name": "b"}], "transitions": [{"from": "a", "to": "b", "priority": "high"}]}')$$);
SELECT err($$SELECT ws.define('{"name": "e", "nodes": [{"name": "a", "retries": 1.5}]}')$$);
SELECT err($$SELECT ws.define('{"name": "e", "nodes": [{"name": "a", "start": "yes"}]}')$$);
SELECT err($$SELECT ws.define('{"name": "e", "nodes": [{"name": "a", "action": 5}]}')$$);
SELECT err(format($$SELECT ws.add_transition(%s, 'a', 'end', '$.x')$$, :wb));
SELECT err(format($$SELECT ws.add_node(%s, 'late', wait_until => '$.at +')$$, :wb));
SELECT err($$SELECT ws.define('{"name": "e", "nodes": [{"name": "a"}, {"name": "b"}], "transitions": [{"from": "a", "to": "b", "condition": "$.x like_regex \"(\""}]}')$$);
-- No CONTEXT from ws's insides: neither a nested ws function, nor a failed cast, nor the
-- DOT import, nor a C engine call shows its PL/pgSQL lines or its SQL
SELECT err($$SELECT ws.define('{"name": "ctx", "nodes": [{"name": "a", "role": "no_such_role"}]}')$$);
SELECT err($$SELECT ws.define('{"name": "ctx", "nodes": [{"name": "a"}, {"name": "a"}]}')$$);
SELECT err($$SELECT ws.define('{"name": "ctx", "nodes": [{"name": "a"}], "transitions": [{"from": "a", "to": "z"}]}')$$);
SELECT err($$SELECT ws.define('{"name": "ctx", "nodes": [{"name": "a", "params": "x"}]}')$$);
SELECT err($$SELECT ws.define_dot('digraph ctx { a -> b [condition="$.x"] }')$$);
SELECT err($$SELECT ws.define_dot('digraph ctx { a -> j -> b -> j }')$$);
SELECT err($$SELECT ws.define_dot('digraph ctx { a [wait="soon"] }')$$);
SELECT err($$SELECT ws.register_action('ctx', '{"a": {"type": "integer", "required": "yes"}}')$$);
SELECT err($$SELECT ws.validate('no such workflow')$$);
SELECT err($$SELECT ws.grant_user('no_such_role')$$);
SELECT err($$SELECT ws.start('no such workflow')$$);
SELECT err(format($$SELECT ws.start(%s)$$, :wb));
-- a NULL where a value is needed is 22004, whichever call it reaches
SELECT err($$SELECT ws.create_workflow(NULL)$$);
SELECT err(format($$SELECT ws.add_node(%s, NULL)$$, :wb));
SELECT err(format($$SELECT ws.add_node(%s, 'x', retries => NULL)$$, :wb));
SELECT err($$SELECT ws.register_action(NULL)$$);
SELECT err($$SELECT ws.grant_user(NULL)$$);
SELECT err($$SELECT ws.define(NULL)$$);
SELECT err($$SELECT ws.start(NULL::text)$$);
SELECT err($$SELECT ws.start(NULL::bigint)$$);
SELECT err($$SELECT ws.complete(NULL)$$);
SELECT err($$SELECT ws.fill(1, NULL)$$);
SELECT err($$SELECT ws.fail(1, NULL)$$);
SELECT err($$SELECT ws.heartbeat(1, NULL)$$);
SELECT err($$SELECT ws.complete_batch(NULL)$$);
SELECT err($$SELECT ws.cancel(NULL)$$);
-- a caller's own PL/pgSQL keeps its context: only ws's part is left out
SELECT err($q$DO $do$ BEGIN PERFORM ws.define('{"name": "ctx", "nodes": [{"name": "a", "join": "xro"}]}'); END $do$$q$);
\pset format aligned
\pset tuples_only off
\set VERBOSITY default
-- gates in any case, a bare boolean and a comparison are conditions
SELECT ws.define('{"name": "case", "nodes": [{"name": "a", "split": "XOR"}, {"name": "b", "join": "Or"}, {"name": "c"}],
  "transitions": [{"from": "a", "to": "b", "condition": "true"}, {"from": "a", "to": "c", "condition": "$.x == 1 && exists($.y)"},
                  {"from": "b", "to": "c"}]}') AS wc \gset
SELECT name, "join", split FROM ws.node WHERE workflow = :wc ORDER BY id;
SELECT count(*) AS workflows_named_e FROM ws.workflow WHERE name = 'e';

------------------------------------------------------------------------------
-- A workflow name (its newest version) where an id is taken
------------------------------------------------------------------------------
SELECT ws.define('{"name": "named", "nodes": [{"name": "a"}, {"name": "b"}], "transitions": [{"from": "a", "to": "b"}]}') AS n1 \gset
SELECT ws.define('{"name": "named", "nodes": [{"name": "a"}, {"name": "c"}], "transitions": [{"from": "a", "to": "c"}]}') AS n2 \gset
SELECT ws.export('named') = ws.export(:n2) AS export_newest, ws.export('named') <> ws.export(:n1) AS not_the_first;
SELECT ws.to_dot('named') = ws.to_dot(:n2) AS to_dot_newest;
SELECT count(*) AS problems FROM ws.validate('named');
SELECT count(*) AS warnings FROM ws.lint('named');
SELECT ws.export('Named');
SELECT ws.lint('nobody');

------------------------------------------------------------------------------
-- Action names that would not fit where an action name goes (the ws_ready payload,
-- the claim queue's index) are refused where a node or an action gets them, not by
-- ws.start
------------------------------------------------------------------------------
SELECT count(*) AS workflows_before FROM ws.workflow \gset
SELECT count(*) AS actions_before FROM ws.action \gset
SELECT ws.register_action(repeat('a', 8000));
SELECT ws.register_action(repeat('é', 501));
SELECT ws.define(jsonb_build_object('name', 'long', 'nodes', jsonb_build_array(
  jsonb_build_object('name', 'n', 'action', repeat('b', 8000)))));
SELECT ws.define(jsonb_build_object('name', 'long', 'nodes', jsonb_build_array(
  jsonb_build_object('name', 'n', 'action', (SELECT string_agg(md5(i::text), '') FROM generate_series(1, 100) i)))));
SELECT ws.define_dot(format('digraph long { n [action="%s"] }', repeat('c', 1001)));
SELECT ws.create_workflow('long') AS wl \gset
SELECT ws.add_node(:wl, 'n', repeat('d', 1001));
SELECT count(*) = :workflows_before + 1 AS only_the_empty_one, count(*) FILTER (WHERE name = 'long') AS long
  FROM ws.workflow;
SELECT count(*) = :actions_before AS no_action_stored FROM ws.action;
-- 1000 bytes is the most, and works all the way through a claim
SELECT ws.register_action(repeat('é', 500));
SELECT count(*) AS registered FROM ws.action WHERE name = repeat('é', 500);
SELECT ws.define(jsonb_build_object('name', 'longest', 'nodes', jsonb_build_array(
  jsonb_build_object('name', 'n', 'action', repeat('e', 1000))))) IS NOT NULL AS defined;
SELECT ws.start('longest') IS NOT NULL AS started;
SELECT length(action) AS claimed FROM ws.claim(ARRAY[repeat('e', 1000)], 'w');
-- a node that got a longer one some other way (a direct write) is a problem of
-- ws.validate, so ws.start refuses it
SELECT ws.add_node(:wl, 'm', 'short', is_start => true, is_end => true) > 0 AS added;
UPDATE ws.node SET action = repeat('f', 1001) WHERE workflow = :wl;
SELECT * FROM ws.validate(:wl);
SELECT ws.start(:wl);
