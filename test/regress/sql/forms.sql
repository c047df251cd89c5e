-- Action forms are checked everywhere they apply: on activation (a missing required value
-- or a value of the wrong type makes the task pending, the problem in its error column,
-- for a person to fix), by ws.fill (a wrong type is refused and nothing changes), and by
-- ws.validate for the constant params of each node (workflow params, then node params).
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event RESTART IDENTITY;

SELECT ws.register_action('multiply', '{"a": {"type": "integer", "required": true},
                                         "b": {"type": "integer"},
                                         "label": {"type": "string"},
                                         "rate": {"type": "number"},
                                         "urgent": {"type": "boolean"},
                                         "when": {"type": "timestamp"},
                                         "opts": {"type": "object"},
                                         "items": {"type": "array"}}');
SELECT ws.define('{"name": "mult", "nodes": [{"name": "m", "action": "multiply"}]}') AS w \gset

-- every type, right: ready at once
SELECT ws.start('mult', '{"a": 2, "b": 3, "label": "x", "rate": 1.5, "urgent": true,
                          "when": "2026-11-27T10:00:00Z", "opts": {}, "items": [1]}') AS p \gset
SELECT state, error FROM ws.task WHERE process = :p;

-- each type, wrong: pending, every problem named, nothing claimable
SELECT ws.start('mult', '{"a": 2.5, "b": "seven", "label": 1, "rate": "1.5", "urgent": "yes",
                          "when": "soon", "opts": [], "items": {}}') AS p \gset
SELECT state, error FROM ws.task WHERE process = :p;
SELECT e.state, e.detail FROM ws.event e WHERE e.process = :p AND e.task IS NOT NULL ORDER BY e.id;
SELECT count(*) AS claimed FROM ws.claim(ARRAY['multiply'], 'w', 10) c WHERE c.process = :p;

-- the seed's wording of a missing value stays, and both kinds are listed together
SELECT ws.start('mult', '{"b": "seven"}') AS p2 \gset
SELECT state, error FROM ws.task WHERE process = :p2;

-- a time zone PostgreSQL does not know is not a timestamp: pending, not an error
SELECT ws.start('mult', '{"a": 1, "when": "2026-11-27 10:00 Mars/Olympus"}') AS p4 \gset
SELECT state, error FROM ws.task WHERE process = :p4;

-- JSON null passes any type (and does not count as present for a required one)
SELECT ws.start('mult', '{"a": 1, "b": null}') AS p3 \gset
SELECT state, error FROM ws.task WHERE process = :p3;
SELECT ws.start('mult', '{"a": null}') AS p5 \gset
SELECT t.state, t.error, m.missing FROM ws.task t JOIN ws.my_tasks m ON m.task = t.id WHERE t.process = :p5;

-- ws.fill refuses a wrong type, names it, changes nothing; a right one makes it ready,
-- and clears the error
SELECT t.id AS t2 FROM ws.task t WHERE t.process = :p2 \gset
SELECT ws.fill(:t2, '{"a": 2, "b": "eight"}');
SELECT state, params, error FROM ws.task WHERE id = :t2;
SELECT ws.fill(:t2, '{"a": 2}');
SELECT state, params, error FROM ws.task WHERE id = :t2;
-- the task's own params override the process variable of the wrong type
SELECT ws.fill(:t2, '{"b": 8}');
SELECT state, params, error FROM ws.task WHERE id = :t2;
SELECT c.params FROM ws.claim(ARRAY['multiply'], 'w', 10) c WHERE c.task = :t2;

-- at define time: constant params of a node, and workflow params, against its form
SELECT count(*) AS workflows_before FROM ws.workflow \gset
SELECT ws.define('{"name": "bad", "nodes": [{"name": "m", "action": "multiply", "params": {"b": "seven"}}]}');
SELECT ws.define('{"name": "bad", "params": {"when": "tomorrow-ish"}, "nodes": [{"name": "m", "action": "multiply"}]}');
SELECT count(*) = :workflows_before AS nothing_stored FROM ws.workflow;
-- a node's own params override the workflow's: that one is fine
SELECT ws.define('{"name": "good", "params": {"b": "seven"}, "nodes": [{"name": "m", "action": "multiply", "params": {"b": 7}}]}') IS NOT NULL AS defined;
-- the incremental API stays lenient until ws.start, which refuses
SELECT ws.create_workflow('later') AS wl \gset
SELECT ws.add_node(:wl, 'm', 'multiply', is_start => true, is_end => true, params => '{"a": "two"}') IS NOT NULL AS added;
SELECT * FROM ws.validate('later');
SELECT ws.start('later');
-- a form registered (or changed) after the definition counts at the next start
SELECT ws.define('{"name": "reform", "nodes": [{"name": "m", "action": "reformed", "params": {"n": "x"}}]}') AS wr \gset
SELECT * FROM ws.validate(:wr);
SELECT ws.register_action('reformed', '{"n": {"type": "integer"}}');
SELECT * FROM ws.validate(:wr);
SELECT ws.start(:wr);

-- a fill that leaves a required value missing is taken, and the task stays pending with
-- the error naming what is left; only a pending task can be filled (not a ready or a
-- running one), and a refused fill changes nothing
SELECT ws.register_action('pair', '{"x": {"type": "integer", "required": true},
                                     "y": {"type": "integer", "required": true}}');
SELECT ws.define('{"name": "pair", "nodes": [{"name": "m", "action": "pair"}]}') IS NOT NULL AS defined;
SELECT ws.start('pair') AS p6 \gset
SELECT t.id AS t6 FROM ws.task t WHERE t.process = :p6 \gset
SELECT ws.fill(:t6, '{"x": 1}');
SELECT state, params, error FROM ws.task WHERE id = :t6;
SELECT count(*) AS claimed FROM ws.claim(ARRAY['pair'], 'w', 10);
SELECT ws.fill(:t6, '{"y": 2}');
SELECT state, params, error FROM ws.task WHERE id = :t6;
SELECT ws.fill(:t6, '{"y": 3}');
SELECT task AS t6 FROM ws.claim(ARRAY['pair'], 'w', 1) \gset
SELECT ws.fill(:t6, '{"y": 3}');
SELECT state, params, error FROM ws.task WHERE id = :t6;

-- ws.fill sets only the parameters of the action's form that the workflow and the node
-- leave open: a value either fixes is the designer's, not the filler's. Anything else is
-- refused, every key named, and nothing changes.
SELECT ws.register_action('pay', '{"memo": {"type": "string", "required": true}, "amount": {"type": "number"},
                                   "account": {"type": "string"}, "currency": {"type": "string"}}');
SELECT ws.define('{"name": "payment", "params": {"currency": "EUR"},
  "nodes": [{"name": "pay", "action": "pay", "params": {"account": "COMPANY"}}]}') AS wp \gset
SELECT ws.start('payment', '{"amount": "a lot"}') AS pp \gset
SELECT id AS tp FROM ws.task WHERE process = :pp \gset
SELECT state, error FROM ws.task WHERE id = :tp;
SELECT ws.fill(:tp, '{"memo": "ok", "account": "BOB"}');
SELECT ws.fill(:tp, '{"memo": "ok", "currency": "USD"}');
SELECT ws.fill(:tp, '{"memo": "ok", "tip": 5}');
SELECT ws.fill(:tp, '{"tip": 5, "memo": "ok", "account": "BOB", "currency": "USD", "bank": "x"}');
SELECT state, params, error FROM ws.task WHERE id = :tp;
-- what is open: the form's other parameters, a process variable among them
SELECT ws.fill(:tp, '{"memo": "ok", "amount": 12.5}');
SELECT c.params FROM ws.claim(ARRAY['pay'], 'w') c WHERE c.task = :tp;
-- a workflow param stays fixed when the process overrides it (here with a value of the
-- wrong type): not the filler's to change; with nothing else in the form, nothing is
SELECT ws.register_action('memo_only', '{"memo": {"type": "string"}}');
SELECT ws.define('{"name": "fixed", "params": {"memo": "standard"}, "nodes": [{"name": "m", "action": "memo_only"}]}') IS NOT NULL AS defined;
SELECT ws.start('fixed', '{"memo": 7}') AS pf \gset
SELECT ws.fill(t.id, '{"memo": "mine"}') FROM ws.task t WHERE t.process = :pf;
-- a form removed since the task became pending: nothing to fill, {} checks it again
SELECT ws.register_action('reformable', '{"n": {"type": "integer", "required": true}}');
SELECT ws.define('{"name": "reformable", "nodes": [{"name": "r", "action": "reformable"}]}') IS NOT NULL AS defined;
SELECT ws.start('reformable') AS pr \gset
SELECT ws.register_action('reformable', '{}');
SELECT ws.fill(t.id, '{"n": 1}') FROM ws.task t WHERE t.process = :pr;
SELECT ws.fill(t.id, '{}') FROM ws.task t WHERE t.process = :pr;
SELECT state, params FROM ws.task WHERE process = :pr;
-- a human task has no action, so no form: it is completed, never filled
CREATE ROLE ws_forms_clerk NOLOGIN;
SELECT ws.define('{"name": "approval", "nodes": [{"name": "approve", "role": "ws_forms_clerk"}]}') IS NOT NULL AS defined;
SELECT ws.start('approval') AS pa \gset
SELECT ws.fill(t.id, '{"memo": "ok"}') FROM ws.task t WHERE t.process = :pa;
DROP ROLE ws_forms_clerk;
