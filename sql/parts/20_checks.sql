------------------------------------------------------------------------------
-- Checks: what makes a workflow unusable (ws.validate, which ws.start and ws.define
-- refuse) and what is probably a mistake (ws.lint, which blocks nothing)
------------------------------------------------------------------------------

CREATE FUNCTION ws_internal.form_problems(form jsonb, params jsonb, action text, required boolean) RETURNS text
    AS 'MODULE_PATHNAME', 'ws_form_problems' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws_internal.form_problems(jsonb, jsonb, text, boolean) IS
    'What is wrong with params for an action''s form (values of the wrong type; with required, missing required values); NULL when nothing';

CREATE FUNCTION ws_internal.validate(workflow bigint) RETURNS SETOF text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    w ws.workflow;
BEGIN
    SELECT * INTO w FROM ws.workflow WHERE id = workflow;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow % does not exist', workflow
            USING ERRCODE = '42704', HINT = 'See SELECT id, name, version FROM ws.workflow_overview.';
    END IF;
    IF NOT EXISTS (SELECT FROM ws.node n WHERE n.workflow = w.id) THEN
        RETURN NEXT 'the workflow has no nodes';
        RETURN;
    END IF;
    IF NOT EXISTS (SELECT FROM ws.node n WHERE n.workflow = w.id AND n.is_start) THEN
        RETURN NEXT 'no node is a start node';
    END IF;
    IF NOT EXISTS (SELECT FROM ws.node n WHERE n.workflow = w.id AND n.is_end) THEN
        RETURN NEXT 'no node is an end node';
    END IF;
    RETURN QUERY
    WITH RECURSIVE fwd(id) AS (
        SELECT n.id FROM ws.node n WHERE n.workflow = w.id AND n.is_start
        UNION SELECT t.child FROM ws.transition t JOIN fwd ON t.parent = fwd.id WHERE t.workflow = w.id)
    SELECT format('node "%s" cannot be reached from any start node', n.name)
      FROM ws.node n WHERE n.workflow = w.id AND n.id NOT IN (SELECT id FROM fwd) ORDER BY n.id;
    RETURN QUERY
    WITH RECURSIVE back(id) AS (
        SELECT n.id FROM ws.node n WHERE n.workflow = w.id AND n.is_end
        UNION SELECT t.parent FROM ws.transition t JOIN back ON t.child = back.id WHERE t.workflow = w.id)
    SELECT format('no end node can be reached from node "%s"', n.name)
      FROM ws.node n WHERE n.workflow = w.id AND n.id NOT IN (SELECT id FROM back) ORDER BY n.id;
    RETURN QUERY
    SELECT format('node "%s" has both an action and a message: a message wait has no action, its task succeeds with the message', n.name)
      FROM ws.node n WHERE n.workflow = w.id AND n.message IS NOT NULL AND n.action IS NOT NULL ORDER BY n.id;
    RETURN QUERY
    SELECT format('node "%s" has a message and a timer (wait or wait_until): a task waits either for a time or for a message', n.name)
      FROM ws.node n WHERE n.workflow = w.id AND n.message IS NOT NULL
       AND (n.wait IS NOT NULL OR n.wait_until IS NOT NULL) ORDER BY n.id;
    RETURN QUERY
    SELECT format('node "%s" has correlate but no message: correlate says which message key its task waits for', n.name)
      FROM ws.node n WHERE n.workflow = w.id AND n.correlate IS NOT NULL AND n.message IS NULL ORDER BY n.id;
    -- call activities: the calling task waits for its child, started when the node is
    -- activated; its result is the child's
    RETURN QUERY
    SELECT format('node "%s" has both a call and an action: a call activity runs a child process, not an action', n.name)
      FROM ws.node n WHERE n.workflow = w.id AND n.call IS NOT NULL AND n.action IS NOT NULL ORDER BY n.id;
    RETURN QUERY
    SELECT format('node "%s" has both a call and a message: a call activity''s task waits for its child process, not for a message', n.name)
      FROM ws.node n WHERE n.workflow = w.id AND n.call IS NOT NULL AND n.message IS NOT NULL ORDER BY n.id;
    RETURN QUERY
    SELECT format('node "%s" has a call and %s: a call starts its child process when the node is activated, its task never waits for a time or a person',
                  n.name, concat_ws(' and ', CASE WHEN n.wait IS NOT NULL THEN 'wait' END,
                                    CASE WHEN n.wait_until IS NOT NULL THEN 'wait_until' END,
                                    CASE WHEN n.due IS NOT NULL THEN 'due' END))
      FROM ws.node n WHERE n.workflow = w.id AND n.call IS NOT NULL
       AND (n.wait IS NOT NULL OR n.wait_until IS NOT NULL OR n.due IS NOT NULL) ORDER BY n.id;
    RETURN QUERY
    SELECT format('node "%s" calls workflow "%s", which does not exist', n.name, n.call)
      FROM ws.node n WHERE n.workflow = w.id AND n.call IS NOT NULL
       AND NOT EXISTS (SELECT FROM ws.workflow c WHERE c.name = n.call) ORDER BY n.id;
    -- multi-instance: item and sequential say how foreach's instances run; as, where a
    -- call's or a multi-instance node's result goes
    RETURN QUERY
    SELECT format('node "%s" has item "index", which clashes with the position each instance gets under index', n.name)
      FROM ws.node n WHERE n.workflow = w.id AND n.item = 'index' ORDER BY n.id;
    RETURN QUERY
    SELECT format('node "%s" has item but no foreach: item names the param each instance of a multi-instance node gets its element under', n.name)
      FROM ws.node n WHERE n.workflow = w.id AND n.item IS NOT NULL AND n.foreach IS NULL ORDER BY n.id;
    RETURN QUERY
    SELECT format('node "%s" is sequential but has no foreach: sequential runs the instances of a multi-instance node one at a time', n.name)
      FROM ws.node n WHERE n.workflow = w.id AND n.sequential AND n.foreach IS NULL ORDER BY n.id;
    RETURN QUERY
    SELECT format('node "%s" has as but neither call nor foreach: as names the variable that takes a call''s or a multi-instance node''s result', n.name)
      FROM ws.node n WHERE n.workflow = w.id AND n."as" IS NOT NULL AND n.call IS NULL AND n.foreach IS NULL ORDER BY n.id;
    RETURN QUERY
    SELECT format('end node "%s" has outgoing transitions, which are never followed', n.name)
      FROM ws.node n WHERE n.workflow = w.id AND n.is_end
       AND EXISTS (SELECT FROM ws.transition t WHERE t.workflow = w.id AND t.parent = n.id AND t."on" = 'success')
     ORDER BY n.id;
    RETURN QUERY
    SELECT format('transition "%s" -> "%s" is on deadline, but node "%s" has no deadline', a.name, b.name, a.name)
      FROM ws.transition t JOIN ws.node a ON a.id = t.parent JOIN ws.node b ON b.id = t.child
     WHERE t.workflow = w.id AND t."on" = 'deadline' AND a.deadline IS NULL ORDER BY t.id;
    RETURN QUERY
    SELECT format('transition "%s" -> "%s" is on %s, but node "%s" is a routing node (no action, role, message or call): its task never waits, fails or runs late',
                  a.name, b.name, t."on", a.name)
      FROM ws.transition t JOIN ws.node a ON a.id = t.parent JOIN ws.node b ON b.id = t.child
     WHERE t.workflow = w.id AND t."on" <> 'success'
       AND a.action IS NULL AND a.role IS NULL AND a.message IS NULL AND a.call IS NULL ORDER BY t.id;
    -- An AND join (not a start node) waits for a token on each incoming transition. A
    -- parent that runs only after the join has fired (every path from a start node to it
    -- passes through the join, as a loop back into the join does) can never deliver the
    -- first one: the join never fires. Reached without the join: walk from the start
    -- nodes, never entering the join.
    RETURN QUERY
    WITH RECURSIVE joins(id) AS (
        SELECT n.id FROM ws.node n
         WHERE n.workflow = w.id AND n."join" = 'and' AND NOT n.is_start
           AND (SELECT count(*) FROM ws.transition t WHERE t.child = n.id) >= 2),
    around(j, id) AS (
        SELECT j.id, s.id FROM joins j JOIN ws.node s ON s.workflow = w.id AND s.is_start AND s.id <> j.id
        UNION
        SELECT a.j, t.child FROM around a JOIN ws.transition t ON t.parent = a.id WHERE t.child <> a.j),
    fwd(id) AS (
        SELECT n.id FROM ws.node n WHERE n.workflow = w.id AND n.is_start
        UNION SELECT t.child FROM ws.transition t JOIN fwd ON t.parent = fwd.id WHERE t.workflow = w.id)
    SELECT format('AND join "%s" can never fire: its transition from "%s" can only be taken after the join itself has fired (every path from a start node to "%s" passes through "%s"); make it an OR join (join or, a synchronizing merge) or an XOR join (join xor, a plain merge)',
                  j.name, p.name, p.name, j.name)
      FROM (SELECT DISTINCT ON (jj.id, t.parent) jj.id AS j, t.parent AS p, t.id AS t
              FROM joins jj JOIN ws.transition t ON t.child = jj.id
             ORDER BY jj.id, t.parent, t.id) x
      JOIN ws.node j ON j.id = x.j
      JOIN ws.node p ON p.id = x.p
     WHERE p.id IN (SELECT id FROM fwd)
       AND NOT EXISTS (SELECT FROM around a WHERE a.j = j.id AND a.id = p.id)
     ORDER BY j.id, x.t;
    -- conditions stored before ws checked them (or by hand) must still be predicates
    RETURN QUERY
    SELECT format('condition of transition "%s" -> "%s" is not a predicate: %s', a.name, b.name, t.condition)
      FROM ws.transition t JOIN ws.node a ON a.id = t.parent JOIN ws.node b ON b.id = t.child
     WHERE t.workflow = w.id AND t.condition IS NOT NULL AND NOT ws_internal.is_predicate(t.condition)
     ORDER BY t.id;
    RETURN QUERY
    SELECT format('node "%s" has a wait and a wait_until', n.name)
      FROM ws.node n WHERE n.workflow = w.id AND n.wait IS NOT NULL AND n.wait_until IS NOT NULL ORDER BY n.id;
    RETURN QUERY
    SELECT format('action of node "%s" is too long: %s bytes, at most %s', n.name, octet_length(n.action),
                  ws_internal.action_name_max())
      FROM ws.node n WHERE n.workflow = w.id AND octet_length(n.action) > ws_internal.action_name_max() ORDER BY n.id;
    RETURN QUERY
    SELECT format('node "%s" has role "%s", which does not exist', n.name, n.role)
      FROM ws.node n WHERE n.workflow = w.id AND n.role IS NOT NULL
       AND NOT EXISTS (SELECT FROM pg_roles r WHERE r.rolname = n.role) ORDER BY n.id;
    -- the constant params of each node (workflow params, then its own) against its form
    RETURN QUERY
    SELECT format('node "%s": %s', n.name, ws_internal.form_problems(a.params, w.params || n.params, a.name, false))
      FROM ws.node n JOIN ws.action a ON a.name = n.action
     WHERE n.workflow = w.id AND ws_internal.form_problems(a.params, w.params || n.params, a.name, false) IS NOT NULL
     ORDER BY n.id;
END $$;
COMMENT ON FUNCTION ws_internal.validate(bigint) IS 'ws.validate''s implementation';

CREATE FUNCTION ws.validate(workflow bigint) RETURNS SETOF text AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.validate(bigint) IS
    'The problems of a workflow version, one readable row each; no row means valid (ws.start refuses an invalid one)';

CREATE FUNCTION ws_internal.validate(workflow text) RETURNS SETOF text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT ws_internal.validate(ws_internal.workflow_id(workflow))
$$;
COMMENT ON FUNCTION ws_internal.validate(text) IS 'ws.validate''s implementation, by name';

CREATE FUNCTION ws.validate(workflow text) RETURNS SETOF text AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.validate(text) IS
    'The problems of the newest version of the named workflow, one readable row each; no row means valid';

------------------------------------------------------------------------------
-- Warnings: what ws.start accepts but is probably a mistake
------------------------------------------------------------------------------

-- ws.validate lists what makes a workflow unusable, and ws.start refuses a workflow while
-- it lists anything; ws.lint lists what is allowed but suspicious, so it never blocks.
CREATE FUNCTION ws_internal.lint(workflow bigint) RETURNS SETOF text
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
BEGIN
    IF NOT EXISTS (SELECT FROM ws.workflow w WHERE w.id = workflow) THEN
        RAISE EXCEPTION 'workflow % does not exist', workflow
            USING ERRCODE = '42704', HINT = 'See SELECT id, name, version FROM ws.workflow_overview.';
    END IF;
    -- An AND join waits for a token on every incoming transition. Walk back from each of
    -- them through nodes with a single incoming transition and no XOR split; two walks
    -- that reach the same XOR split through different outgoing transitions are branches
    -- of which one run takes only one: the join waits for the other forever.
    RETURN QUERY
    WITH RECURSIVE walk(j, tin, node, via, seen) AS (
        SELECT j.id, t.id, t.parent, t.id, ARRAY[t.parent]
          FROM ws.node j JOIN ws.transition t ON t.child = j.id
         WHERE j.workflow = workflow AND j."join" = 'and'
           AND (SELECT count(*) FROM ws.transition x WHERE x.child = j.id) > 1
        UNION ALL
        SELECT w.j, w.tin, t.parent, t.id, w.seen || t.parent
          FROM walk w
          JOIN ws.node n ON n.id = w.node AND n.split <> 'xor'
          JOIN ws.transition t ON t.child = n.id
         WHERE (SELECT count(*) FROM ws.transition x WHERE x.child = n.id) = 1
           AND NOT t.parent = ANY (w.seen))
    SELECT format('AND join "%s" waits for branches of XOR split "%s" (through "%s" and "%s"), which takes only one of them: the join can never fire',
                  j.name, x.name, ca.name, cb.name)
      FROM (SELECT DISTINCT ON (a.j, a.node) a.j, a.node, a.via AS va, b.via AS vb
              FROM walk a JOIN walk b ON b.j = a.j AND b.node = a.node AND a.tin < b.tin AND a.via <> b.via
             ORDER BY a.j, a.node, a.tin, b.tin) f
      JOIN ws.node j ON j.id = f.j
      JOIN ws.node x ON x.id = f.node AND x.split = 'xor'
      JOIN ws.transition ta ON ta.id = f.va JOIN ws.node ca ON ca.id = ta.child
      JOIN ws.transition tb ON tb.id = f.vb JOIN ws.node cb ON cb.id = tb.child
     ORDER BY j.id, x.id;
    -- An XOR split whose every transition has a condition fails the process when none holds.
    RETURN QUERY
    SELECT format('XOR split "%s" has no transition without a condition: when no condition holds, the process fails', n.name)
      FROM ws.node n
     WHERE n.workflow = workflow AND n.split = 'xor' AND NOT n.is_end
       AND EXISTS (SELECT FROM ws.transition t WHERE t.parent = n.id AND t."on" = 'success')
       AND NOT EXISTS (SELECT FROM ws.transition t
                        WHERE t.parent = n.id AND t."on" = 'success' AND t.condition IS NULL)
     ORDER BY n.id;
    -- After an unconditioned transition of an XOR split, the split takes nothing further.
    RETURN QUERY
    SELECT format('transition "%s" -> "%s" is never taken: XOR split "%s" takes "%s" -> "%s" first, which has no condition',
                  n.name, c.name, n.name, n.name, fc.name)
      FROM ws.node n
      JOIN ws.transition t ON t.parent = n.id AND t."on" = 'success'
      JOIN ws.node c ON c.id = t.child
      JOIN LATERAL (SELECT f.priority, f.id, f.child FROM ws.transition f
                     WHERE f.parent = n.id AND f."on" = 'success' AND f.condition IS NULL
                     ORDER BY f.priority, f.id LIMIT 1) fb ON true
      JOIN ws.node fc ON fc.id = fb.child
     WHERE n.workflow = workflow AND n.split = 'xor' AND NOT n.is_end
       AND (t.priority, t.id) > (fb.priority, fb.id)
     ORDER BY n.id, t.priority, t.id;
    -- An AND join waits for a token on every incoming transition, boundary paths included:
    -- one fed by a path taken only when a deadline passes or a task fails usually waits
    -- for ever.
    RETURN QUERY
    SELECT format('AND join "%s" is fed by boundary path "%s" -> "%s" (on %s), which is taken only when that happens: the join waits for it; an OR or XOR join is probably meant',
                  j.name, p.name, j.name, t."on")
      FROM ws.transition t JOIN ws.node j ON j.id = t.child JOIN ws.node p ON p.id = t.parent
     WHERE t.workflow = workflow AND t."on" <> 'success' AND j."join" = 'and'
       AND (SELECT count(*) FROM ws.transition x WHERE x.child = j.id) >= 2
     ORDER BY t.id;
    -- A call starts the newest version of its workflow; without an end node the child
    -- never completes (ws.validate lists a call of a workflow that does not exist).
    RETURN QUERY
    SELECT format('node "%s" calls workflow "%s", whose newest version (%s) has no end node: its child processes never complete, so the calling task waits for ever',
                  n.name, n.call, c.version)
      FROM ws.node n
      JOIN LATERAL (SELECT x.id, x.version FROM ws.workflow x WHERE x.name = n.call
                     ORDER BY x.version DESC LIMIT 1) c ON true
     WHERE n.workflow = workflow AND n.call IS NOT NULL
       AND NOT EXISTS (SELECT FROM ws.node e WHERE e.workflow = c.id AND e.is_end)
     ORDER BY n.id;
END $$;
COMMENT ON FUNCTION ws_internal.lint(bigint) IS 'ws.lint''s implementation';

CREATE FUNCTION ws.lint(workflow bigint) RETURNS SETOF text AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.lint(bigint) IS
    'Warnings about a workflow, one readable row each: what ws.start accepts but is probably a mistake (ws.validate lists what it refuses)';

CREATE FUNCTION ws_internal.lint(workflow text) RETURNS SETOF text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT ws_internal.lint(ws_internal.workflow_id(workflow))
$$;
COMMENT ON FUNCTION ws_internal.lint(text) IS 'ws.lint''s implementation, by name';

CREATE FUNCTION ws.lint(workflow text) RETURNS SETOF text AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.lint(text) IS 'Warnings about the newest version of the named workflow, one readable row each';
