------------------------------------------------------------------------------
-- BPMN 2.0: ws.define_bpmn reads a BPMN file with PostgreSQL's own XML support (the xml
-- type, XMLTABLE over libxml2) into the document of ws.define and defines it with
-- ws.define, so validation and all or nothing are ws.define's; ws.to_bpmn writes a
-- workflow as a BPMN file with diagram interchange (shapes and edges laid out in layers)
-- that the modelers open. The mapping, both ways, is in docs/reference.md ("BPMN").
--
-- Gateways have no node of their own when they can be read as the gate of a neighbour:
-- a gateway with one incoming flow, from a task or event whose only outgoing flow it is,
-- and two or more outgoing flows is that task's split; one with two or more incoming
-- flows and one outgoing flow, to a task or event whose only incoming flow it is, is that
-- task's join. Any other gateway (one that both joins and splits, gateways in a row) is a
-- routing node with that gate as its join and split. ws.to_bpmn writes gates this way, so
-- what it writes reads back as the same workflow; what BPMN has no place for is written
-- in attributes of the namespace urn:ws:bpmn (ws:action, ws:priority, ws:params...),
-- which ws.define_bpmn reads on any flow element.
------------------------------------------------------------------------------

-- The refusal every unsupported construct gets: 22023, naming the element and its id.
CREATE FUNCTION ws_internal.bpmn_refuse(element text, id text, why text, hint text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'BPMN element % "%" is not supported', element, coalesce(id, '(no id)')
        USING ERRCODE = '22023', DETAIL = why || ' Nothing was stored.', HINT = hint;
END $$;
COMMENT ON FUNCTION ws_internal.bpmn_refuse(text, text, text, text) IS
    'Raises 22023 for a BPMN element ws.define_bpmn cannot map, naming the element and its id';

-- A JUEL (${...}) or FEEL (=...) expression of the simple forms as jsonpath: variables
-- (a, a.b), literals (numbers, 'strings' or "strings", true, false, null), comparisons
-- (== != < <= > >=, JUEL's eq ne lt le gt ge, FEEL's =), and, or, not, !, parentheses; a
-- variable alone is the test var == true (false after not). As a path (predicate false),
-- the expression must be one variable: $."a"."b". Anything else raises 22023 naming what.
CREATE FUNCTION ws_internal.bpmn_expression(expr text, what text, predicate boolean) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    body text := btrim(expr, E' \t\r\n');
    feel boolean;
    toks text[];
    n integer;
    i integer := 1;
    out text := '';
    tok text;
    lhs text;
    op text;
    rhs text;
    neg boolean;
    depth integer := 0;
    res text;
BEGIN
    IF body ~ '^[$#]\{.*\}$' THEN
        body := substr(body, 3, length(body) - 3);
        feel := false;
    ELSIF body LIKE '=%' THEN
        body := substr(body, 2);
        feel := true;
    ELSIF NOT predicate AND body ~ '^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$' THEN
        feel := false;
    ELSE
        RAISE EXCEPTION '% is not a JUEL ${...} or FEEL =... expression: %', what, expr
            USING ERRCODE = '22023',
                  HINT = 'Write ${papers >= 10} (JUEL), =papers >= 10 (FEEL), or jsonpath with language="jsonpath". Nothing was stored.';
    END IF;
    SELECT array_agg(m[1] ORDER BY o) INTO toks
      FROM regexp_matches(body, '\s*(\d+(?:\.\d+)?|"(?:[^"\\]|\\.)*"|''(?:[^''\\]|\\.)*''|==|!=|<=|>=|&&|\|\||[<>=!()]|[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|\S)',
                          'g') WITH ORDINALITY AS r(m, o);
    n := coalesce(array_length(toks, 1), 0);
    IF n = 0 THEN
        RAISE EXCEPTION '% is empty', what USING ERRCODE = '22023', HINT = 'Write a condition such as ${papers >= 10}.';
    END IF;
    IF NOT predicate THEN
        IF n = 1 AND toks[1] ~ '^[A-Za-z_]' AND lower(toks[1]) NOT IN ('true', 'false', 'null') THEN
            RETURN (SELECT '$' || string_agg('.' || to_json(s)::text, '' ORDER BY o)
                      FROM unnest(string_to_array(toks[1], '.')) WITH ORDINALITY AS p(s, o));
        END IF;
        RAISE EXCEPTION '% must name one variable, such as ${papers} or =papers: %', what, expr
            USING ERRCODE = '22023', HINT = 'Nothing was stored.';
    END IF;
    -- expecting a term: [not] ( or operand [comparison operand]; then and/or/)
    WHILE i <= n LOOP
        neg := false;
        WHILE i <= n AND (toks[i] = '!' OR lower(toks[i]) = 'not') LOOP
            neg := NOT neg;
            i := i + 1;
        END LOOP;
        IF i <= n AND toks[i] = '(' THEN
            out := out || CASE WHEN neg THEN '!(' ELSE '(' END;
            depth := depth + 1;
            i := i + 1;
            CONTINUE;
        END IF;
        lhs := ws_internal.bpmn_operand(toks[i], feel);
        IF lhs IS NULL OR (i < n AND toks[i + 1] = '(') THEN
            RAISE EXCEPTION '% is not a simple comparison: % (at "%")', what, expr, coalesce(toks[i], 'the end')
                USING ERRCODE = '22023',
                      DETAIL = 'ws translates variables, literals, comparisons (== != < <= > >=), and, or, not and parentheses; not functions or arithmetic.',
                      HINT = 'Simplify the condition, or write it in jsonpath with language="jsonpath". Nothing was stored.';
        END IF;
        i := i + 1;
        op := CASE WHEN i <= n THEN CASE lower(toks[i]) WHEN '==' THEN '==' WHEN 'eq' THEN '==' WHEN '!=' THEN '!='
                  WHEN 'ne' THEN '!=' WHEN '<' THEN '<' WHEN 'lt' THEN '<' WHEN '<=' THEN '<=' WHEN 'le' THEN '<='
                  WHEN '>' THEN '>' WHEN 'gt' THEN '>' WHEN '>=' THEN '>=' WHEN 'ge' THEN '>='
                  WHEN '=' THEN CASE WHEN feel THEN '==' END END END;
        IF op IS NOT NULL THEN
            rhs := CASE WHEN i < n AND NOT (i + 1 < n AND toks[i + 2] = '(') THEN ws_internal.bpmn_operand(toks[i + 1], feel) END;
            IF rhs IS NULL THEN
                RAISE EXCEPTION '% is not a simple comparison: % (at "%")', what, expr, coalesce(toks[i + 1], 'the end')
                    USING ERRCODE = '22023',
                          DETAIL = 'ws translates variables, literals, comparisons (== != < <= > >=), and, or, not and parentheses; not functions or arithmetic.',
                          HINT = 'Simplify the condition, or write it in jsonpath with language="jsonpath". Nothing was stored.';
            END IF;
            out := out || CASE WHEN neg THEN '!(' ELSE '' END || lhs || ' ' || op || ' ' || rhs
                       || CASE WHEN neg THEN ')' ELSE '' END;
            i := i + 2;
        ELSIF lhs LIKE '$%' THEN
            out := out || lhs || CASE WHEN neg THEN ' == false' ELSE ' == true' END;
        ELSE
            RAISE EXCEPTION '% is not a simple comparison: % (at "%")', what, expr, toks[i - 1]
                USING ERRCODE = '22023', DETAIL = 'A literal alone is not a condition.',
                      HINT = 'Leave the condition out for a flow that is always taken. Nothing was stored.';
        END IF;
        -- closing parentheses, then and/or or the end
        WHILE i <= n AND toks[i] = ')' AND depth > 0 LOOP
            out := out || ')';
            depth := depth - 1;
            i := i + 1;
        END LOOP;
        EXIT WHEN i > n;
        tok := lower(toks[i]);
        IF tok IN ('&&', 'and') THEN
            out := out || ' && ';
        ELSIF tok IN ('||', 'or') THEN
            out := out || ' || ';
        ELSE
            RAISE EXCEPTION '% is not a simple comparison: % (at "%")', what, expr, toks[i]
                USING ERRCODE = '22023',
                      DETAIL = 'ws translates variables, literals, comparisons (== != < <= > >=), and, or, not and parentheses; not functions or arithmetic.',
                      HINT = 'Simplify the condition, or write it in jsonpath with language="jsonpath". Nothing was stored.';
        END IF;
        i := i + 1;
        IF i > n THEN
            RAISE EXCEPTION '% is not a simple comparison: % (at the end)', what, expr
                USING ERRCODE = '22023', HINT = 'Nothing was stored.';
        END IF;
    END LOOP;
    IF depth <> 0 THEN
        RAISE EXCEPTION '% has unbalanced parentheses: %', what, expr USING ERRCODE = '22023', HINT = 'Nothing was stored.';
    END IF;
    BEGIN
        res := out::jsonpath::text;
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION '% does not translate to jsonpath: %', what, expr
            USING ERRCODE = '22023', DETAIL = format('The translation %s is not a jsonpath predicate.', out),
                  HINT = 'Write it in jsonpath with language="jsonpath". Nothing was stored.';
    END;
    RETURN res;
END $$;
COMMENT ON FUNCTION ws_internal.bpmn_expression(text, text, boolean) IS
    'A simple JUEL or FEEL expression as a jsonpath predicate (or, not a predicate, a variable as a path); 22023 naming what otherwise';

-- One operand token as jsonpath: a variable path, a number, a string, true, false, null;
-- NULL for anything else.
CREATE FUNCTION ws_internal.bpmn_operand(tok text, feel boolean) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE
        WHEN tok IS NULL THEN NULL
        WHEN lower(tok) IN ('true', 'false', 'null') THEN lower(tok)
        WHEN lower(tok) IN ('and', 'or', 'not', 'eq', 'ne', 'lt', 'le', 'gt', 'ge', 'empty', 'div', 'mod',
                            'instanceof') THEN NULL
        WHEN tok ~ '^\d' THEN tok
        WHEN tok ~ '^[A-Za-z_]' THEN (SELECT '$' || string_agg('.' || to_json(s)::text, '' ORDER BY o)
                                        FROM unnest(string_to_array(tok, '.')) WITH ORDINALITY AS p(s, o))
        WHEN tok ~ '^[''"]' THEN to_json(regexp_replace(substr(tok, 2, length(tok) - 2), '\\(.)', '\1', 'g'))::text
    END
$$;
COMMENT ON FUNCTION ws_internal.bpmn_operand(text, boolean) IS 'One operand of a simple JUEL or FEEL expression as jsonpath, or NULL';

-- The attributes of element n (the element itself, as xml) that are not allowed: each
-- allowed one is written prefix:name with the prefixes bpmn (none), ws, camunda, zeebe, xsi.
CREATE FUNCTION ws_internal.bpmn_check_attributes(n xml, element text, id text, allowed text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    a record;
BEGIN
    FOR a IN
        SELECT CASE x.uri WHEN '' THEN '' WHEN 'urn:ws:bpmn' THEN 'ws:' WHEN 'http://camunda.org/schema/1.0/bpmn' THEN 'camunda:'
                    WHEN 'http://camunda.org/schema/zeebe/1.0' THEN 'zeebe:'
                    WHEN 'http://www.w3.org/2001/XMLSchema-instance' THEN 'xsi:'
                    WHEN 'http://www.omg.org/spec/BPMN/20100524/MODEL' THEN ''
                    ELSE '{' || x.uri || '}' END || x.local AS name, x.v
          FROM xmltable('/*/@*' PASSING n COLUMNS local text PATH 'local-name(.)', uri text PATH 'namespace-uri(.)',
                        v text PATH '.') x
    LOOP
        CONTINUE WHEN a.name = ANY (allowed) OR (a.name LIKE 'ws:%' AND 'ws:*' = ANY (allowed)) OR a.name IN ('id', 'name', 'camunda:asyncBefore', 'camunda:asyncAfter',
                                                           'camunda:exclusive', 'camunda:jobPriority',
                                                           'zeebe:modelerTemplate', 'zeebe:modelerTemplateVersion',
                                                           'zeebe:modelerTemplateIcon');
        CONTINUE WHEN a.name IN ('isForCompensation', 'isInterrupting') AND a.v IN ('false', 'true') AND
                      (a.name = 'isInterrupting' OR a.v = 'false');
        CONTINUE WHEN a.name IN ('startQuantity', 'completionQuantity') AND a.v = '1';
        RAISE EXCEPTION 'attribute % of BPMN element % "%" is not supported', a.name, element, coalesce(id, '(no id)')
            USING ERRCODE = '22023',
                  DETAIL = format('ws has no counterpart of %s="%s"; it is refused rather than ignored. Nothing was stored.', a.name, a.v),
                  HINT = 'Remove the attribute (see the BPMN section of the reference for what ws reads).';
    END LOOP;
END $$;
COMMENT ON FUNCTION ws_internal.bpmn_check_attributes(xml, text, text, text[]) IS
    'Refuses (22023) an attribute of a BPMN element that ws.define_bpmn does not read';

-- The child elements of element n that are not allowed (names as for attributes; the
-- extensionElements children are checked the same way, prefixed with extensionElements/).
CREATE FUNCTION ws_internal.bpmn_check_children(n xml, element text, id text, allowed text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT CASE x.uri WHEN 'http://www.omg.org/spec/BPMN/20100524/MODEL' THEN '' WHEN 'urn:ws:bpmn' THEN 'ws:'
                    WHEN 'http://camunda.org/schema/1.0/bpmn' THEN 'camunda:'
                    WHEN 'http://camunda.org/schema/zeebe/1.0' THEN 'zeebe:'
                    ELSE '{' || x.uri || '}' END || x.local AS name, x.inside, x.cid
          FROM (SELECT y.local, y.uri, false AS inside, y.cid
                  FROM xmltable('/*/*' PASSING n COLUMNS local text PATH 'local-name(.)', uri text PATH 'namespace-uri(.)',
                                cid text PATH '@id') y
                UNION ALL
                SELECT y.local, y.uri, true, y.cid
                  FROM xmltable(xmlnamespaces('http://www.omg.org/spec/BPMN/20100524/MODEL' AS b),
                                '/*/b:extensionElements/*' PASSING n
                                COLUMNS local text PATH 'local-name(.)', uri text PATH 'namespace-uri(.)',
                                        cid text PATH '@id') y) x
    LOOP
        CONTINUE WHEN c.inside AND ('extensionElements/' || c.name) = ANY (allowed);
        CONTINUE WHEN NOT c.inside AND (c.name = ANY (allowed) OR c.name IN ('documentation', 'extensionElements',
                                                                             'incoming', 'outgoing'));
        -- the element's own id when it has one, then the id of the element it is in
        RAISE EXCEPTION 'BPMN element % inside % "%" is not supported',
                        c.name || CASE WHEN c.cid IS NOT NULL THEN format(' "%s"', c.cid) ELSE '' END,
                        element, coalesce(id, '(no id)')
            USING ERRCODE = '22023',
                  DETAIL = format('ws has no counterpart of %s here; it is refused rather than ignored. Nothing was stored.', c.name),
                  HINT = 'Remove it (see the BPMN section of the reference for what ws reads).';
    END LOOP;
END $$;
COMMENT ON FUNCTION ws_internal.bpmn_check_children(xml, text, text, text[]) IS
    'Refuses (22023) a child element of a BPMN element that ws.define_bpmn does not read';

-- One text value of element n at an XPath (namespaces b, bpmn, ws, camunda, zeebe, xsi).
CREATE FUNCTION ws_internal.bpmn_value(n xml, path text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT nullif(x.v, '')
      FROM xmltable(xmlnamespaces('http://www.omg.org/spec/BPMN/20100524/MODEL' AS b, 'urn:ws:bpmn' AS ws,
                                  'http://camunda.org/schema/1.0/bpmn' AS camunda,
                                  'http://camunda.org/schema/zeebe/1.0' AS zeebe,
                                  'http://www.w3.org/2001/XMLSchema-instance' AS xsi),
                    '/*' PASSING n COLUMNS v text PATH path) x
$$;
COMMENT ON FUNCTION ws_internal.bpmn_value(xml, text) IS 'The text at an XPath of a BPMN element, NULL when empty or absent';

-- The ws: attributes of element n as node keys of ws.define (typed as ws.define wants).
CREATE FUNCTION ws_internal.bpmn_ws_keys(n xml, element text, id text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    a record;
    keys jsonb := '{}';
BEGIN
    FOR a IN SELECT x.local, x.v
               FROM xmltable('/*/@*' PASSING n COLUMNS local text PATH 'local-name(.)', uri text PATH 'namespace-uri(.)',
                             v text PATH '.') x
              WHERE x.uri = 'urn:ws:bpmn'
    LOOP
        IF a.local NOT IN ('action', 'role', 'start', 'end', 'join', 'split', 'params', 'wait', 'wait_until', 'retries',
                           'due', 'message', 'correlate', 'deadline', 'call', 'foreach', 'item', 'sequential', 'as') THEN
            RAISE EXCEPTION 'attribute ws:% of BPMN element % "%" is not a node key', a.local, element, id
                USING ERRCODE = '22023',
                      HINT = 'ws: attributes are node keys of ws.define: action, role, start, end, join, split, params, wait, wait_until, retries, due, message, correlate, deadline, call, foreach, item, sequential, as. Nothing was stored.';
        END IF;
        BEGIN
            keys := keys || jsonb_build_object(a.local, CASE
                WHEN a.local IN ('start', 'end', 'sequential') THEN a.v::boolean::text::jsonb
                WHEN a.local = 'retries' THEN a.v::integer::text::jsonb
                WHEN a.local = 'params' THEN a.v::jsonb
                ELSE to_jsonb(a.v) END);
        EXCEPTION WHEN data_exception THEN
            RAISE EXCEPTION 'attribute ws:% of BPMN element % "%" is not valid: %', a.local, element, id, a.v
                USING ERRCODE = '22023',
                      HINT = 'start, end and sequential are true or false, retries an integer, params a JSON object. Nothing was stored.';
        END;
    END LOOP;
    RETURN keys;
END $$;
COMMENT ON FUNCTION ws_internal.bpmn_ws_keys(xml, text, text) IS 'The ws: attributes of a BPMN element as ws.define node keys';

-- The node keys of a timer event definition inside element n: an intermediate timer
-- (timeDuration: wait; timeDate: wait_until) or a boundary timer (timeDuration: deadline).
CREATE FUNCTION ws_internal.bpmn_timer(n xml, element text, id text, boundary boolean) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    duration text := ws_internal.bpmn_value(n, 'b:timerEventDefinition/b:timeDuration');
    date text := ws_internal.bpmn_value(n, 'b:timerEventDefinition/b:timeDate');
    language text := lower(ws_internal.bpmn_value(n, 'b:timerEventDefinition/b:timeDate/@language'));
BEGIN
    IF ws_internal.bpmn_value(n, 'b:timerEventDefinition/b:timeCycle') IS NOT NULL THEN
        PERFORM ws_internal.bpmn_refuse(element, id, 'Its timer is a cycle (timeCycle); a ws timer fires once.',
                                        'Use a timeDuration (PT2H, P3D) or, on an intermediate event, a timeDate.');
    END IF;
    IF duration IS NOT NULL THEN
        BEGIN
            PERFORM duration::interval;
        EXCEPTION WHEN data_exception THEN
            PERFORM ws_internal.bpmn_refuse(element, id, format('Its timeDuration "%s" is not an ISO 8601 duration.', duration),
                                            'Write a duration such as PT90M, P2D or P1DT12H; expressions are not read.');
        END;
        RETURN jsonb_build_object(CASE WHEN boundary THEN 'deadline' ELSE 'wait' END, btrim(duration));
    ELSIF date IS NOT NULL AND NOT boundary THEN
        IF language = 'jsonpath' THEN
            RETURN jsonb_build_object('wait_until', date);
        END IF;
        BEGIN
            PERFORM btrim(date)::timestamptz;
            RETURN jsonb_build_object('wait_until', to_json(btrim(date))::text);
        EXCEPTION WHEN data_exception THEN
            RETURN jsonb_build_object('wait_until',
                                      ws_internal.bpmn_expression(date, format('timeDate of %s "%s"', element, id), false));
        END;
    END IF;
    PERFORM ws_internal.bpmn_refuse(element, id,
        CASE WHEN boundary THEN 'A ws deadline is a duration counted from the task''s activation; its timer has none.'
             ELSE 'Its timer has no time.' END,
        CASE WHEN boundary THEN 'Give the boundary timer a timeDuration such as P3D.'
             ELSE 'Give it a timeDuration (PT2H) or a timeDate (${deadline}, =deadline or a date).' END);
    RETURN NULL;
END $$;
COMMENT ON FUNCTION ws_internal.bpmn_timer(xml, text, text, boolean) IS
    'The node keys of a BPMN timer: wait or wait_until (intermediate), deadline (boundary)';

-- The node keys of the multiInstanceLoopCharacteristics of element n.
CREATE FUNCTION ws_internal.bpmn_loop(n xml, element text, id text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    m xml;
    path text;
    item text;
    what text := format('multiInstanceLoopCharacteristics of %s "%s"', element, id);
BEGIN
    SELECT x.m INTO m FROM xmltable(xmlnamespaces('http://www.omg.org/spec/BPMN/20100524/MODEL' AS b), '/*' PASSING n
                                    COLUMNS m xml PATH 'b:multiInstanceLoopCharacteristics') x;
    PERFORM ws_internal.bpmn_check_attributes(m, 'multiInstanceLoopCharacteristics of ' || element, id,
        ARRAY['isSequential', 'camunda:collection', 'camunda:elementVariable', 'ws:foreach', 'ws:item']);
    PERFORM ws_internal.bpmn_check_children(m, 'multiInstanceLoopCharacteristics of ' || element, id,
        ARRAY['extensionElements/zeebe:loopCharacteristics']);
    IF ws_internal.bpmn_value(m, 'b:extensionElements/zeebe:loopCharacteristics/@outputElement') IS NOT NULL THEN
        PERFORM ws_internal.bpmn_refuse(element, id, 'Its multi-instance has an outputElement; ws collects each instance''s whole result.',
                                        'Remove the output element; the results are an array under the output collection.');
    END IF;
    path := ws_internal.bpmn_value(m, '@ws:foreach');
    IF path IS NULL THEN
        path := coalesce(ws_internal.bpmn_value(m, '@camunda:collection'),
                            ws_internal.bpmn_value(m, 'b:extensionElements/zeebe:loopCharacteristics/@inputCollection'));
        IF path IS NULL THEN
            PERFORM ws_internal.bpmn_refuse(element, id, 'Its multi-instance has no collection; ws runs one instance per element of an array.',
                                            'Set Collection (camunda:collection) or Input collection to the variable that holds the array.');
        END IF;
        path := ws_internal.bpmn_expression(path, 'the collection of ' || what, false);
    END IF;
    item := coalesce(ws_internal.bpmn_value(m, '@ws:item'), ws_internal.bpmn_value(m, '@camunda:elementVariable'),
                     ws_internal.bpmn_value(m, 'b:extensionElements/zeebe:loopCharacteristics/@inputElement'));
    RETURN jsonb_build_object('foreach', path)
        || CASE WHEN item IS NOT NULL THEN jsonb_build_object('item', item) ELSE '{}' END
        || CASE WHEN ws_internal.bpmn_value(m, '@isSequential') = 'true' THEN '{"sequential": true}'::jsonb ELSE '{}' END
        || CASE WHEN ws_internal.bpmn_value(m, 'b:extensionElements/zeebe:loopCharacteristics/@outputCollection') IS NOT NULL
                THEN jsonb_build_object('as', ws_internal.bpmn_value(m, 'b:extensionElements/zeebe:loopCharacteristics/@outputCollection'))
                ELSE '{}' END;
END $$;
COMMENT ON FUNCTION ws_internal.bpmn_loop(xml, text, text) IS 'The node keys of a BPMN multi-instance: foreach, item, sequential, as';

-- ws.define_bpmn: the checks and the mapping are described above and in the reference.
-- Elements are read in document order; a flow node's node keys are, later ones winning:
-- what its kind and BPMN attributes say, the gates of gateways merged into it, its ws:
-- attributes. Transitions are the sequence flows in document order, less the ones that
-- only lead into or out of a merged gateway.
CREATE FUNCTION ws_internal.define_bpmn(bpmn text) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_variable
DECLARE
    doc xml;
    detail text;
    v text;
    w text;
    e record;
    f jsonb;
    g jsonb;
    procs text[] := '{}';
    pname text;
    pxml xml;
    description text;
    wparams jsonb;
    msgs jsonb := '{}';         -- message id -> {name, correlate}
    el jsonb := '{}';           -- flow element id -> {kind, name, node, ws, gate, ...}
    ids text[] := '{}';         -- flow element ids in document order
    flows jsonb[] := '{}';      -- sequence flows in document order
    node jsonb;
    deg jsonb;
    k text;
    x text;
    cnt integer;
    nodes jsonb := '[]';
    names jsonb := '{}';        -- node name -> element id
    transitions jsonb := '[]';
    t jsonb;
    src text;
    tgt text;
    gate text;
    activities constant text[] := ARRAY['task', 'manualTask', 'userTask', 'serviceTask', 'sendTask', 'receiveTask',
                                        'businessRuleTask', 'scriptTask', 'callActivity'];
BEGIN
    IF bpmn IS NULL THEN
        RAISE EXCEPTION 'the BPMN file must not be null' USING ERRCODE = '22004';
    END IF;
    -- a BPMN file has no document type; refusing one keeps entities (and the files or
    -- URLs an external one would name) out of the parse altogether
    IF bpmn ~* '<!DOCTYPE' THEN
        RAISE EXCEPTION 'the BPMN file has a document type declaration (<!DOCTYPE ...>)'
            USING ERRCODE = '22023', HINT = 'BPMN files have none: remove it. Nothing was stored.';
    END IF;
    BEGIN
        doc := xmlparse(document bpmn);
        v := ws_internal.bpmn_value(doc, 'local-name(.)');
    EXCEPTION WHEN SQLSTATE '2200M' OR SQLSTATE '2200N' THEN
        GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL;
        RAISE EXCEPTION 'the BPMN file is not well-formed XML'
            USING ERRCODE = '2200M', DETAIL = detail,
                  HINT = 'Save the diagram again from the modeler (File > Save As, .bpmn). Nothing was stored.';
    END;
    w := ws_internal.bpmn_value(doc, 'namespace-uri(.)');
    IF v IS DISTINCT FROM 'definitions' OR w IS DISTINCT FROM 'http://www.omg.org/spec/BPMN/20100524/MODEL' THEN
        RAISE EXCEPTION 'the file is not a BPMN 2.0 document'
            USING ERRCODE = '22023',
                  DETAIL = format('Its root element is %s of namespace "%s", not definitions of namespace "http://www.omg.org/spec/BPMN/20100524/MODEL".',
                                  v, coalesce(w, '')),
                  HINT = 'Export the diagram as BPMN 2.0 XML. Nothing was stored.';
    END IF;
    SELECT x.v INTO v FROM xmltable('//@id' PASSING doc COLUMNS v text PATH '.') x GROUP BY x.v HAVING count(*) > 1
     ORDER BY x.v LIMIT 1;
    IF v IS NOT NULL THEN
        RAISE EXCEPTION 'the BPMN file has two elements with id "%"', v
            USING ERRCODE = '22023', HINT = 'Ids must be unique in the file. Nothing was stored.';
    END IF;

    -- definitions: one process, messages, errors, the diagram
    FOR e IN SELECT * FROM xmltable(xmlnamespaces('http://www.omg.org/spec/BPMN/20100524/MODEL' AS b), '/b:definitions/*'
                                    PASSING doc COLUMNS local text PATH 'local-name(.)', uri text PATH 'namespace-uri(.)',
                                    id text PATH '@id', name text PATH '@name', n xml PATH '.') x
    LOOP
        IF e.uri = 'http://www.omg.org/spec/BPMN/20100524/DI' AND e.local = 'BPMNDiagram' THEN
            CONTINUE;
        ELSIF e.uri <> 'http://www.omg.org/spec/BPMN/20100524/MODEL' THEN
            RAISE EXCEPTION 'element % of namespace "%" in the BPMN definitions is not supported', e.local, e.uri
                USING ERRCODE = '22023', HINT = 'ws reads BPMN 2.0 elements and the diagram (bpmndi) only. Nothing was stored.';
        ELSIF e.local = 'process' THEN
            procs := procs || coalesce(e.id, '(no id)');
        ELSIF e.local = 'message' THEN
            PERFORM ws_internal.bpmn_check_children(e.n, 'message', e.id, ARRAY['extensionElements/zeebe:subscription']);
            v := ws_internal.bpmn_value(e.n, 'b:extensionElements/zeebe:subscription/@correlationKey');
            msgs := msgs || jsonb_build_object(e.id, jsonb_build_object('name', coalesce(e.name, e.id),
                        'correlate', CASE WHEN v IS NOT NULL THEN
                            ws_internal.bpmn_expression(v, format('correlationKey of message "%s"', e.id), false) END));
        ELSIF e.local = 'collaboration' THEN
            PERFORM ws_internal.bpmn_check_children(e.n, 'collaboration', e.id, ARRAY['participant', 'textAnnotation',
                                                    'association', 'group']);
            SELECT count(*) INTO cnt FROM xmltable(xmlnamespaces('http://www.omg.org/spec/BPMN/20100524/MODEL' AS b),
                                                   '/*/b:participant' PASSING e.n COLUMNS id text PATH '@id') x;
            IF cnt > 1 THEN
                PERFORM ws_internal.bpmn_refuse('collaboration', e.id,
                    format('It has %s participants (pools); a ws workflow is one process.', cnt),
                    'Save each pool''s process in a file of its own and load them one by one; messages between them are ws.send calls.');
            END IF;
        ELSIF e.local NOT IN ('error', 'itemDefinition', 'category', 'signal', 'escalation') THEN
            PERFORM ws_internal.bpmn_refuse(e.local, e.id, format('ws has no counterpart of the BPMN element %s.', e.local),
                                            'Remove it from the file.');
        END IF;
    END LOOP;
    IF cardinality(procs) = 0 THEN
        RAISE EXCEPTION 'the BPMN file has no process'
            USING ERRCODE = '22023', HINT = 'Draw a process (a start event, tasks, an end event) and save it. Nothing was stored.';
    ELSIF cardinality(procs) > 1 THEN
        RAISE EXCEPTION 'the BPMN file has % processes: %', cardinality(procs), array_to_string(procs, ', ')
            USING ERRCODE = '22023',
                  HINT = 'ws.define_bpmn defines one workflow from one process: save each process in a file of its own; a callActivity calls another by its name. Nothing was stored.';
    END IF;

    -- the process and its flow elements
    SELECT x.n, coalesce(nullif(x.name, ''), x.id) INTO pxml, pname
      FROM xmltable(xmlnamespaces('http://www.omg.org/spec/BPMN/20100524/MODEL' AS b), '/b:definitions/b:process'
                    PASSING doc COLUMNS id text PATH '@id', name text PATH '@name', n xml PATH '.') x;
    PERFORM ws_internal.bpmn_check_attributes(pxml, 'process', procs[1],
        ARRAY['isExecutable', 'isClosed', 'processType', 'ws:params', 'camunda:versionTag', 'camunda:historyTimeToLive',
              'camunda:isStartableInTasklist']);
    v := ws_internal.bpmn_value(pxml, '@ws:params');
    IF v IS NOT NULL THEN
        BEGIN
            wparams := v::jsonb;
        EXCEPTION WHEN data_exception THEN
            RAISE EXCEPTION 'attribute ws:params of process "%" is not JSON: %', procs[1], v
                USING ERRCODE = '22023', HINT = 'Write a JSON object such as {"city": "Bilbao"}. Nothing was stored.';
        END;
    END IF;
    FOR e IN SELECT * FROM xmltable(xmlnamespaces('http://www.omg.org/spec/BPMN/20100524/MODEL' AS b),
                                    '/b:definitions/b:process/*' PASSING doc
                                    COLUMNS local text PATH 'local-name(.)', uri text PATH 'namespace-uri(.)',
                                    id text PATH '@id', name text PATH '@name', n xml PATH '.') x
    LOOP
        IF e.uri <> 'http://www.omg.org/spec/BPMN/20100524/MODEL' THEN
            RAISE EXCEPTION 'element % of namespace "%" in process "%" is not supported', e.local, e.uri, procs[1]
                USING ERRCODE = '22023', HINT = 'ws reads BPMN 2.0 elements only. Nothing was stored.';
        END IF;
        IF e.local = 'documentation' THEN
            description := concat_ws(E'\n', description, ws_internal.bpmn_value(e.n, '.'));
            CONTINUE;
        ELSIF e.local = 'extensionElements' THEN
            PERFORM ws_internal.bpmn_check_children(xmlelement(name x, e.n), 'process', procs[1],
                                                    ARRAY['extensionElements/zeebe:versionTag']);
            CONTINUE;
        ELSIF e.local IN ('laneSet', 'textAnnotation', 'association', 'group', 'dataObject', 'dataObjectReference',
                          'dataStoreReference') THEN
            CONTINUE;               -- drawings without behaviour
        END IF;
        IF e.id IS NULL THEN
            RAISE EXCEPTION 'BPMN element % in process "%" has no id', e.local, procs[1]
                USING ERRCODE = '22023', HINT = 'Every flow element needs an id. Nothing was stored.';
        END IF;
        IF e.local = 'sequenceFlow' THEN
            PERFORM ws_internal.bpmn_check_attributes(e.n, e.local, e.id, ARRAY['sourceRef', 'targetRef', 'isImmediate',
                                                                                'ws:priority']);
            PERFORM ws_internal.bpmn_check_children(e.n, e.local, e.id, ARRAY['conditionExpression']);
            v := ws_internal.bpmn_value(e.n, 'b:conditionExpression');
            w := lower(ws_internal.bpmn_value(e.n, 'b:conditionExpression/@language'));
            IF v IS NOT NULL AND w = 'jsonpath' THEN
                BEGIN
                    v := v::jsonpath::text;
                EXCEPTION WHEN OTHERS THEN
                    RAISE EXCEPTION 'condition of sequenceFlow "%" is not a jsonpath: %', e.id, v
                        USING ERRCODE = '22023', HINT = 'Write a jsonpath predicate such as $.papers >= 10. Nothing was stored.';
                END;
            ELSIF v IS NOT NULL AND w IS NOT NULL AND w NOT IN ('juel', 'feel', 'http://www.omg.org/spec/feel/20140401') THEN
                RAISE EXCEPTION 'condition of sequenceFlow "%" is in language "%"', e.id, w
                    USING ERRCODE = '22023', DETAIL = 'ws evaluates jsonpath, and translates simple JUEL and FEEL comparisons; it runs no scripts.',
                          HINT = 'Write the condition as ${papers >= 10}, =papers >= 10 or a jsonpath (language="jsonpath"). Nothing was stored.';
            ELSIF v IS NOT NULL THEN
                v := ws_internal.bpmn_expression(v, format('condition of sequenceFlow "%s"', e.id), true);
            END IF;
            w := ws_internal.bpmn_value(e.n, '@ws:priority');
            IF w !~ '^-?\d{1,9}$' THEN
                RAISE EXCEPTION 'attribute ws:priority of sequenceFlow "%" is not an integer: %', e.id, w
                    USING ERRCODE = '22023', HINT = 'Nothing was stored.';
            END IF;
            flows := flows || jsonb_build_object('id', e.id, 'src', ws_internal.bpmn_value(e.n, '@sourceRef'),
                                                 'tgt', ws_internal.bpmn_value(e.n, '@targetRef'),
                                                 'cond', v, 'priority', w::integer);
            CONTINUE;
        END IF;
        node := '{}';
        g := jsonb_build_object('kind', e.local, 'name', coalesce(nullif(btrim(e.name), ''), e.id));
        IF e.local = 'startEvent' THEN
            PERFORM ws_internal.bpmn_check_attributes(e.n, e.local, e.id, '{ws:*}');
            PERFORM ws_internal.bpmn_check_children(e.n, e.local, e.id, '{}');
            node := '{"start": true}';
        ELSIF e.local = 'endEvent' THEN
            PERFORM ws_internal.bpmn_check_attributes(e.n, e.local, e.id, '{ws:*}');
            PERFORM ws_internal.bpmn_check_children(e.n, e.local, e.id, ARRAY['terminateEventDefinition']);
            node := '{"end": true}';
        ELSIF e.local = 'intermediateThrowEvent' THEN
            PERFORM ws_internal.bpmn_check_attributes(e.n, e.local, e.id, '{ws:*}');
            PERFORM ws_internal.bpmn_check_children(e.n, e.local, e.id, '{}');
        ELSIF e.local IN ('intermediateCatchEvent', 'receiveTask') THEN
            PERFORM ws_internal.bpmn_check_attributes(e.n, e.local, e.id,
                CASE WHEN e.local = 'receiveTask' THEN ARRAY['messageRef', 'instantiate', 'ws:*'] ELSE ARRAY['ws:*'] END);
            PERFORM ws_internal.bpmn_check_children(e.n, e.local, e.id,
                CASE WHEN e.local = 'receiveTask' THEN ARRAY['multiInstanceLoopCharacteristics']
                     ELSE ARRAY['messageEventDefinition', 'timerEventDefinition'] END);
            IF e.local = 'receiveTask' THEN
                v := ws_internal.bpmn_value(e.n, '@messageRef');
                IF ws_internal.bpmn_value(e.n, '@instantiate') = 'true' THEN
                    PERFORM ws_internal.bpmn_refuse(e.local, e.id, 'It instantiates the process; ws starts processes with ws.start.',
                                                    'Draw a start event before it, or remove instantiate="true".');
                END IF;
            ELSE
                IF ws_internal.bpmn_value(e.n, 'count(*[local-name() = "messageEventDefinition" or local-name() = "timerEventDefinition"])')::integer <> 1 THEN
                    PERFORM ws_internal.bpmn_refuse(e.local, e.id, 'It needs exactly one event definition: a message or a timer.',
                                                    'Give it one messageEventDefinition or one timerEventDefinition.');
                END IF;
                v := ws_internal.bpmn_value(e.n, 'b:messageEventDefinition/@messageRef');
            END IF;
            IF e.local = 'receiveTask' OR ws_internal.bpmn_value(e.n, 'count(b:messageEventDefinition)') = '1' THEN
                IF v IS NULL OR NOT msgs ? v THEN
                    PERFORM ws_internal.bpmn_refuse(e.local, e.id,
                        CASE WHEN v IS NULL THEN 'It names no message (messageRef).'
                             ELSE format('Its messageRef "%s" is not a message of the file.', v) END,
                        'Pick or create a global message for it in the modeler.');
                END IF;
                node := jsonb_build_object('message', msgs->v->'name')
                     || CASE WHEN msgs->v->>'correlate' IS NOT NULL THEN jsonb_build_object('correlate', msgs->v->'correlate')
                             ELSE '{}' END;
            ELSE
                node := ws_internal.bpmn_timer(e.n, e.local, e.id, false);
            END IF;
        ELSIF e.local = ANY (activities) THEN
            IF e.local IN ('task', 'manualTask') THEN
                PERFORM ws_internal.bpmn_check_attributes(e.n, e.local, e.id, '{ws:*}');
                PERFORM ws_internal.bpmn_check_children(e.n, e.local, e.id, ARRAY['multiInstanceLoopCharacteristics']);
            ELSIF e.local = 'userTask' THEN
                PERFORM ws_internal.bpmn_check_attributes(e.n, e.local, e.id, ARRAY['camunda:candidateGroups', 'camunda:formKey',
                                                                                    'implementation', 'ws:*']);
                PERFORM ws_internal.bpmn_check_children(e.n, e.local, e.id, ARRAY['multiInstanceLoopCharacteristics',
                    'extensionElements/zeebe:assignmentDefinition', 'extensionElements/zeebe:formDefinition',
                    'extensionElements/zeebe:userTask']);
                v := coalesce(ws_internal.bpmn_value(e.n, '@camunda:candidateGroups'),
                              ws_internal.bpmn_value(e.n, 'b:extensionElements/zeebe:assignmentDefinition/@candidateGroups'));
                IF ws_internal.bpmn_value(e.n, 'b:extensionElements/zeebe:assignmentDefinition/@assignee') IS NOT NULL
                   OR ws_internal.bpmn_value(e.n, 'b:extensionElements/zeebe:assignmentDefinition/@candidateUsers') IS NOT NULL THEN
                    PERFORM ws_internal.bpmn_refuse(e.local, e.id, 'It names an assignee or candidate users; ws assigns a person''s task to a member of one role.',
                                                    'Give it candidateGroups with one group, the ws role.');
                END IF;
                IF v ~ '[,\[\]"=]' THEN
                    PERFORM ws_internal.bpmn_refuse(e.local, e.id, format('Its candidateGroups "%s" is not one group; a ws node has one role.', v),
                                                    'Name one group (a PostgreSQL role), or make a role that the groups are members of.');
                END IF;
                node := CASE WHEN v IS NOT NULL THEN jsonb_build_object('role', btrim(v)) ELSE '{}' END;
                IF v IS NULL AND ws_internal.bpmn_value(e.n, '@ws:role') IS NULL THEN
                    PERFORM ws_internal.bpmn_refuse(e.local, e.id, 'It has no candidate group: a ws task for a person needs a role, or it would run as a routing node.',
                                                    'Set Candidate groups (camunda:candidateGroups) to one PostgreSQL role.');
                END IF;
            ELSIF e.local IN ('serviceTask', 'sendTask', 'businessRuleTask', 'scriptTask') THEN
                PERFORM ws_internal.bpmn_check_attributes(e.n, e.local, e.id, ARRAY['camunda:type', 'camunda:topic',
                                                          'camunda:taskPriority', 'implementation', 'ws:*']);
                PERFORM ws_internal.bpmn_check_children(e.n, e.local, e.id, ARRAY['multiInstanceLoopCharacteristics',
                                                          'extensionElements/zeebe:taskDefinition']);
                IF ws_internal.bpmn_value(e.n, '@camunda:type') IS DISTINCT FROM 'external'
                   AND ws_internal.bpmn_value(e.n, '@camunda:type') IS NOT NULL THEN
                    PERFORM ws_internal.bpmn_refuse(e.local, e.id, format('Its camunda:type is "%s"; ws hands work to workers as external tasks.', ws_internal.bpmn_value(e.n, '@camunda:type')),
                                                    'Set Implementation to External with a topic, the ws action.');
                END IF;
                v := coalesce(ws_internal.bpmn_value(e.n, '@camunda:topic'),
                              ws_internal.bpmn_value(e.n, 'b:extensionElements/zeebe:taskDefinition/@type'));
                IF v LIKE '=%' THEN
                    PERFORM ws_internal.bpmn_refuse(e.local, e.id, format('Its job type "%s" is an expression; a ws action is a name.', v),
                                                    'Write the job type as a plain name.');
                END IF;
                w := ws_internal.bpmn_value(e.n, 'b:extensionElements/zeebe:taskDefinition/@retries');
                IF w IS NOT NULL AND w !~ '^\d{1,6}$' THEN
                    PERFORM ws_internal.bpmn_refuse(e.local, e.id, format('Its retries "%s" are not a number.', w), 'Write a whole number of attempts.');
                END IF;
                node := CASE WHEN v IS NOT NULL THEN jsonb_build_object('action', v) ELSE '{}' END
                     || CASE WHEN w IS NOT NULL THEN jsonb_build_object('retries', greatest(w::integer - 1, 0)) ELSE '{}' END;
                IF v IS NULL AND ws_internal.bpmn_value(e.n, '@ws:action') IS NULL THEN
                    PERFORM ws_internal.bpmn_refuse(e.local, e.id, 'It names no action: ws hands a task to the workers of an action.',
                                                    'Set Implementation to External with a topic (Camunda 7), a job type (zeebe:taskDefinition), or ws:action.');
                END IF;
            ELSE -- callActivity
                PERFORM ws_internal.bpmn_check_attributes(e.n, e.local, e.id, ARRAY['calledElement', 'camunda:calledElementBinding', 'ws:*']);
                PERFORM ws_internal.bpmn_check_children(e.n, e.local, e.id, ARRAY['multiInstanceLoopCharacteristics',
                                                          'extensionElements/zeebe:calledElement']);
                IF ws_internal.bpmn_value(e.n, '@camunda:calledElementBinding') IS DISTINCT FROM 'latest'
                   AND ws_internal.bpmn_value(e.n, '@camunda:calledElementBinding') IS NOT NULL THEN
                    PERFORM ws_internal.bpmn_refuse(e.local, e.id, 'ws calls the newest version of a workflow (binding latest).', 'Set the binding to latest.');
                END IF;
                v := coalesce(ws_internal.bpmn_value(e.n, '@calledElement'),
                              ws_internal.bpmn_value(e.n, 'b:extensionElements/zeebe:calledElement/@processId'));
                IF v IS NULL AND ws_internal.bpmn_value(e.n, '@ws:call') IS NULL THEN
                    PERFORM ws_internal.bpmn_refuse(e.local, e.id, 'It names no called element.', 'Set Called element to the name of a ws workflow.');
                END IF;
                node := CASE WHEN v IS NOT NULL THEN jsonb_build_object('call', v) ELSE '{}' END;
            END IF;
            IF ws_internal.bpmn_value(e.n, 'count(b:multiInstanceLoopCharacteristics)') = '1' THEN
                node := node || ws_internal.bpmn_loop(e.n, e.local, e.id);
            END IF;
        ELSIF e.local IN ('exclusiveGateway', 'parallelGateway', 'inclusiveGateway') THEN
            PERFORM ws_internal.bpmn_check_attributes(e.n, e.local, e.id, ARRAY['default', 'gatewayDirection']);
            PERFORM ws_internal.bpmn_check_children(e.n, e.local, e.id, '{}');
            g := g || jsonb_build_object('gate', CASE e.local WHEN 'exclusiveGateway' THEN 'xor' WHEN 'parallelGateway' THEN 'and'
                                                            ELSE 'or' END);
        ELSIF e.local = 'boundaryEvent' THEN
            PERFORM ws_internal.bpmn_check_attributes(e.n, e.local, e.id, ARRAY['attachedToRef', 'cancelActivity', 'parallelMultiple']);
            PERFORM ws_internal.bpmn_check_children(e.n, e.local, e.id, ARRAY['timerEventDefinition', 'errorEventDefinition']);
            IF ws_internal.bpmn_value(e.n, '@cancelActivity') = 'false' THEN
                PERFORM ws_internal.bpmn_refuse(e.local, e.id, 'It is non-interrupting; a ws deadline or failure ends the task.',
                                                'Make it interrupting (cancelActivity="true"), or draw a parallel path.');
            END IF;
            IF ws_internal.bpmn_value(e.n, 'count(*[local-name() = "timerEventDefinition" or local-name() = "errorEventDefinition"])') <> '1' THEN
                PERFORM ws_internal.bpmn_refuse(e.local, e.id, 'It needs exactly one event definition: a timer or an error.',
                                                'Give it one timerEventDefinition (timeDuration) or one errorEventDefinition.');
            END IF;
            IF ws_internal.bpmn_value(e.n, 'count(b:errorEventDefinition)') = '1' THEN
                IF ws_internal.bpmn_value(e.n, 'b:errorEventDefinition/@errorRef') IS NOT NULL THEN
                    PERFORM ws_internal.bpmn_refuse(e.local, e.id, 'It catches one error (errorRef); a ws failure has no error code, so an error boundary catches every failure.',
                                                    'Remove the error reference (catch all errors), and test $.error.message on the outgoing flows.');
                END IF;
                g := g || '{"on": "failure"}';
            ELSE
                g := g || '{"on": "deadline"}' || jsonb_build_object('deadline', ws_internal.bpmn_timer(e.n, e.local, e.id, true)->'deadline');
            END IF;
            g := g || jsonb_build_object('attached', ws_internal.bpmn_value(e.n, '@attachedToRef'));
        ELSE
            PERFORM ws_internal.bpmn_refuse(e.local, e.id,
                format('ws has no counterpart of the BPMN element %s.', e.local),
                CASE WHEN e.local IN ('subProcess', 'transaction', 'adHocSubProcess')
                         THEN 'Draw its content as a workflow of its own and call it with a callActivity.'
                     WHEN e.local = 'eventBasedGateway'
                         THEN 'Use message waits (receive tasks) with deadlines (interrupting boundary timers) instead.'
                     WHEN e.local = 'complexGateway' THEN 'Use an inclusive gateway.'
                     ELSE 'Supported: start and end events, tasks (task, user, service, send, receive, script, business rule, manual), call activities, exclusive, parallel and inclusive gateways, message and timer catch events, interrupting timer and error boundary events, sequence flows.' END);
        END IF;
        IF e.local NOT IN ('exclusiveGateway', 'parallelGateway', 'inclusiveGateway', 'boundaryEvent') THEN
            g := g || jsonb_build_object('node', node, 'ws', ws_internal.bpmn_ws_keys(e.n, e.local, e.id));
        END IF;
        el := el || jsonb_build_object(e.id, g);
        ids := ids || e.id;
        v := ws_internal.bpmn_value(e.n, '@default');
        IF v IS NOT NULL THEN
            el := jsonb_set(el, ARRAY[e.id, 'default'], to_jsonb(v));
        END IF;
    END LOOP;
    IF cardinality(ids) = 0 THEN
        RAISE EXCEPTION 'process "%" has no flow elements', procs[1]
            USING ERRCODE = '22023', HINT = 'Draw a start event, tasks and an end event. Nothing was stored.';
    END IF;

    -- flows point to flow nodes; degrees
    deg := '{}';
    FOREACH f IN ARRAY flows LOOP
        FOREACH k IN ARRAY ARRAY['src', 'tgt'] LOOP
            IF f->>k IS NULL OR NOT el ? (f->>k) THEN
                RAISE EXCEPTION 'sequenceFlow "%" points to unknown id "%"', f->>'id', coalesce(f->>k, '')
                    USING ERRCODE = '22023',
                          HINT = 'sourceRef and targetRef name flow elements of the same process. Nothing was stored.';
            END IF;
        END LOOP;
        IF el->(f->>'tgt')->>'kind' IN ('boundaryEvent', 'startEvent') THEN
            RAISE EXCEPTION 'sequenceFlow "%" leads into % "%"', f->>'id', el->(f->>'tgt')->>'kind', f->>'tgt'
                USING ERRCODE = '22023', HINT = 'No flow may enter a start or boundary event. Nothing was stored.';
        END IF;
        IF el->(f->>'src')->>'kind' = 'endEvent' THEN
            RAISE EXCEPTION 'sequenceFlow "%" leaves endEvent "%"', f->>'id', f->>'src'
                USING ERRCODE = '22023', HINT = 'No flow may leave an end event. Nothing was stored.';
        END IF;
        IF el->(f->>'src')->>'kind' = 'parallelGateway' AND f->>'cond' IS NOT NULL THEN
            RAISE EXCEPTION 'sequenceFlow "%" leaves parallelGateway "%" with a condition', f->>'id', f->>'src'
                USING ERRCODE = '22023', HINT = 'A parallel gateway takes every flow: use an inclusive gateway for conditions. Nothing was stored.';
        END IF;
        deg := jsonb_set(deg, ARRAY['out' || (f->>'src')], to_jsonb(coalesce((deg->>('out' || (f->>'src')))::integer, 0) + 1));
        deg := jsonb_set(deg, ARRAY['in' || (f->>'tgt')], to_jsonb(coalesce((deg->>('in' || (f->>'tgt')))::integer, 0) + 1));
    END LOOP;
    -- default flows leave their element
    FOREACH k IN ARRAY ids LOOP
        IF el->k ? 'default' AND NOT EXISTS (SELECT FROM unnest(flows) u WHERE u->>'id' = el->k->>'default' AND u->>'src' = k) THEN
            RAISE EXCEPTION 'the default flow "%" of % "%" is not one of its outgoing flows', el->k->>'default', el->k->>'kind', k
                USING ERRCODE = '22023', HINT = 'Nothing was stored.';
        END IF;
    END LOOP;
    -- boundary events: their activity gets the deadline
    FOREACH k IN ARRAY ids LOOP
        CONTINUE WHEN el->k->>'kind' <> 'boundaryEvent';
        x := el->k->>'attached';
        IF x IS NULL OR NOT el ? x OR NOT (el->x->>'kind' = ANY (activities)) THEN
            RAISE EXCEPTION 'boundaryEvent "%" is attached to "%", which is not a task of the process', k, coalesce(x, '')
                USING ERRCODE = '22023', HINT = 'Attach boundary events to tasks or call activities. Nothing was stored.';
        END IF;
        IF coalesce((deg->>('out' || k))::integer, 0) = 0 THEN
            PERFORM ws_internal.bpmn_refuse('boundaryEvent', k, 'It has no outgoing flow; in ws a deadline or failure without a path fails the process.',
                                            'Draw the path that follows it, or remove it (the process then fails when it would fire).');
        END IF;
        IF el->k->>'on' = 'deadline' THEN
            IF el->x->'node' ? 'deadline' THEN
                PERFORM ws_internal.bpmn_refuse('boundaryEvent', k, format('Element "%s" has another timer boundary event; a ws node has one deadline.', x),
                                                'Keep one timer boundary event per task.');
            END IF;
            el := jsonb_set(el, ARRAY[x, 'node', 'deadline'], el->k->'deadline');
        END IF;
    END LOOP;
    -- gateways: merged into a neighbour or routing nodes
    FOREACH k IN ARRAY ids LOOP
        CONTINUE WHEN NOT el->k ? 'gate';
        gate := el->k->>'gate';
        IF coalesce((deg->>('in' || k))::integer, 0) = 1 AND coalesce((deg->>('out' || k))::integer, 0) >= 2 THEN
            SELECT u INTO f FROM unnest(flows) u WHERE u->>'tgt' = k;
            src := f->>'src';
            IF NOT el->src ? 'gate' AND el->src->>'kind' <> 'boundaryEvent' AND (deg->>('out' || src))::integer = 1
               AND f->>'cond' IS NULL AND f->>'priority' IS NULL THEN
                el := jsonb_set(el, ARRAY[k, 'merged'], jsonb_build_object('into', src, 'as', 'split', 'flow', f->>'id'));
                el := jsonb_set(el, ARRAY[src, 'split'], to_jsonb(gate));
                CONTINUE;
            END IF;
        ELSIF coalesce((deg->>('in' || k))::integer, 0) >= 2 AND coalesce((deg->>('out' || k))::integer, 0) = 1 THEN
            SELECT u INTO f FROM unnest(flows) u WHERE u->>'src' = k;
            tgt := f->>'tgt';
            IF NOT el->tgt ? 'gate' AND (deg->>('in' || tgt))::integer = 1 AND f->>'cond' IS NULL AND f->>'priority' IS NULL THEN
                el := jsonb_set(el, ARRAY[k, 'merged'], jsonb_build_object('into', tgt, 'as', 'join', 'flow', f->>'id'));
                el := jsonb_set(el, ARRAY[tgt, 'join'], to_jsonb(gate));
                CONTINUE;
            END IF;
        END IF;
        el := jsonb_set(el, ARRAY[k, 'node'], jsonb_build_object('join', gate, 'split', gate));
        el := jsonb_set(el, ARRAY[k, 'ws'], '{}');
    END LOOP;

    -- nodes, in document order
    FOREACH k IN ARRAY ids LOOP
        CONTINUE WHEN el->k ? 'merged' OR el->k->>'kind' = 'boundaryEvent';
        node := jsonb_build_object('name', el->k->>'name')
             || CASE WHEN coalesce((deg->>('in' || k))::integer, 0) >= 2 AND NOT el->k ? 'gate' THEN '{"join": "xor"}'::jsonb
                     ELSE '{}' END
             || CASE WHEN el->k ? 'join' THEN jsonb_build_object('join', el->k->'join') ELSE '{}' END
             || CASE WHEN el->k ? 'split' THEN jsonb_build_object('split', el->k->'split') ELSE '{}' END
             || (el->k->'node') || (el->k->'ws');
        IF names ? (node->>'name') THEN
            RAISE EXCEPTION 'two elements are named "%"', node->>'name'
                USING ERRCODE = '22023',
                      DETAIL = format('Elements "%s" and "%s"; ws names nodes by the element''s name (its id when it has none).',
                                      names->>(node->>'name'), k),
                      HINT = 'Give the elements different names. Nothing was stored.';
        END IF;
        nodes := nodes || node;
        names := names || jsonb_build_object(node->>'name', k);
    END LOOP;

    -- transitions, in document order
    FOREACH f IN ARRAY flows LOOP
        CONTINUE WHEN EXISTS (SELECT FROM jsonb_each(el) m WHERE m.value->'merged'->>'flow' = f->>'id');
        src := f->>'src';
        tgt := f->>'tgt';
        t := '{}';
        IF el->src->'merged'->>'as' = 'split' THEN
            src := el->src->'merged'->>'into';
        ELSIF el->src->>'kind' = 'boundaryEvent' THEN
            t := jsonb_build_object('on', el->src->'on');
            src := el->src->>'attached';
        END IF;
        IF el->tgt->'merged'->>'as' = 'join' THEN
            tgt := el->tgt->'merged'->>'into';
        END IF;
        t := jsonb_build_object('from', el->src->>'name', 'to', el->tgt->>'name') || t
          || CASE WHEN f->>'cond' IS NOT NULL THEN jsonb_build_object('condition', f->'cond') ELSE '{}' END
          || CASE WHEN f->>'priority' IS NOT NULL THEN jsonb_build_object('priority', f->'priority') ELSE '{}' END;
        IF el->(f->>'src')->>'default' = f->>'id' THEN
            IF f->>'cond' IS NOT NULL THEN
                RAISE EXCEPTION 'the default flow "%" has a condition', f->>'id'
                    USING ERRCODE = '22023', HINT = 'A default flow is taken when no other is: remove its condition. Nothing was stored.';
            END IF;
            gate := coalesce(el->(f->>'src')->>'gate', el->src->>'split', 'and');
            IF gate = 'xor' THEN
                t := t || jsonb_build_object('priority', coalesce((f->>'priority')::integer,
                            (SELECT coalesce(max(coalesce((u->>'priority')::integer, 0)), 0) + 1
                               FROM unnest(flows) u WHERE u->>'src' = f->>'src' AND u->>'id' <> f->>'id')));
            ELSE
                SELECT u->>'id' INTO x FROM unnest(flows) u
                 WHERE u->>'src' = f->>'src' AND u->>'id' <> f->>'id' AND u->>'cond' IS NULL LIMIT 1;
                IF x IS NOT NULL THEN
                    RAISE EXCEPTION 'the default flow "%" can never be taken', f->>'id'
                        USING ERRCODE = '22023', DETAIL = format('The flow "%s" beside it has no condition, so it is always taken.', x),
                              HINT = 'Give the other flows conditions, or remove the default. Nothing was stored.';
                END IF;
                t := t || jsonb_build_object('condition', (SELECT '!(' || string_agg('(' || (u->>'cond') || ')', ' || ') || ')'
                                                             FROM unnest(flows) u
                                                            WHERE u->>'src' = f->>'src' AND u->>'id' <> f->>'id'));
            END IF;
        END IF;
        transitions := transitions || t;
    END LOOP;

    RETURN ws_internal.define(jsonb_build_object('name', pname, 'nodes', nodes, 'transitions', transitions)
        || CASE WHEN description IS NOT NULL THEN jsonb_build_object('description', description) ELSE '{}' END
        || CASE WHEN wparams IS NOT NULL THEN jsonb_build_object('params', wparams) ELSE '{}' END);
END $$;
COMMENT ON FUNCTION ws_internal.define_bpmn(text) IS 'ws.define_bpmn''s implementation';

CREATE FUNCTION ws.define_bpmn(bpmn text) RETURNS bigint AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C;
COMMENT ON FUNCTION ws.define_bpmn(text) IS
    'Defines a workflow from a BPMN 2.0 file (one process) through ws.define, all or nothing; what has no counterpart in ws is refused with 22023 naming the element. Returns the workflow id';

-- Graphviz's dot layout of ws.to_bpmn's boxes (src/dot/ws_layout.c): {"id": [x, y]}, the
-- top-left corners in pixels
CREATE FUNCTION ws_internal.bpmn_layout(ids text[], widths integer[], heights integer[], sources text[],
                                        targets text[]) RETURNS jsonb
    AS '$libdir/ws_dot', 'ws_bpmn_layout' LANGUAGE C IMMUTABLE STRICT SET search_path = pg_catalog, pg_temp;
COMMENT ON FUNCTION ws_internal.bpmn_layout(text[], integer[], integer[], text[], text[]) IS
    'Graphviz''s dot layout (left to right) of boxes of the given sizes joined by edges: the top-left corner of each';

-- ws.to_bpmn: each node is one flow element, chosen by what it does: call activity (call;
-- calledElement is an XML QName, so a workflow name that is not one goes in ws:call),
-- receive task (message), service task (action; camunda:type external, the action as
-- topic), user task (role; candidateGroups), and for routing nodes with nothing else a
-- start event (a start node without incoming transitions), an end event (an end node
-- without outgoing ones), an intermediate timer event (wait or wait_until), a gateway (two
-- or more in and out, one gate both ways), else a plain task. A node's join with two or
-- more incoming transitions is a gateway before it, its split with two or more outgoing
-- ones a gateway after it; boundary paths leave a timer boundary event (deadline) or an
-- error boundary event (failure) on it. Conditions are written in jsonpath
-- (language="jsonpath"); what has no BPMN place is a ws: attribute; intervals are written
-- in ISO 8601. Layout: Graphviz's dot places the boxes left to right (ws_internal.bpmn_layout,
-- in the ws_dot library), and edges are drawn with right angles between them.
CREATE FUNCTION ws_internal.to_bpmn(workflow bigint) RETURNS xml
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET intervalstyle = 'iso_8601' AS $$
#variable_conflict use_variable
DECLARE
    w ws.workflow;
    result xml;
BEGIN
    SELECT * INTO w FROM ws.workflow x WHERE x.id = workflow;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow % does not exist', workflow
            USING ERRCODE = '42704', HINT = 'See SELECT id, name, version FROM ws.workflow_overview.';
    END IF;
    WITH RECURSIVE
    nd AS (
        SELECT x.*,
               (SELECT count(*) FROM ws.transition t WHERE t.child = x.id) AS nin,
               (SELECT count(*) FROM ws.transition t WHERE t.parent = x.id AND t."on" = 'success') AS nout,
               (SELECT count(*) FROM ws.transition t WHERE t.parent = x.id) AS nall,
               EXISTS (SELECT FROM ws.transition t WHERE t.parent = x.id AND t."on" = 'success' AND t.condition IS NOT NULL)
                   AS condout,
               EXISTS (SELECT FROM ws.transition t WHERE t.parent = x.id AND t."on" = 'deadline') AS dpath,
               EXISTS (SELECT FROM ws.transition t WHERE t.parent = x.id AND t."on" = 'failure') AS fpath,
               x.action IS NULL AND x.role IS NULL AND x.message IS NULL AND x.call IS NULL AND x.params = '{}'
                   AND x.retries = 0 AND x.due IS NULL AND x.deadline IS NULL AND x.foreach IS NULL AND x."as" IS NULL
                   AND x.correlate IS NULL AS plain
          FROM ws.node x WHERE x.workflow = w.id),
    n AS (
        SELECT nd.*, CASE
                   WHEN nd.call IS NOT NULL THEN 'callActivity'
                   WHEN nd.message IS NOT NULL THEN 'receiveTask'
                   WHEN nd.action IS NOT NULL THEN 'serviceTask'
                   WHEN nd.role IS NOT NULL THEN 'userTask'
                   WHEN nd.plain AND nd.is_start AND NOT nd.is_end AND nd.nin = 0 AND nd.wait IS NULL
                        AND nd.wait_until IS NULL THEN 'startEvent'
                   WHEN nd.plain AND nd.is_end AND NOT nd.is_start AND nd.nall = 0 AND nd.wait IS NULL
                        AND nd.wait_until IS NULL THEN 'endEvent'
                   WHEN nd.plain AND NOT nd.is_start AND NOT nd.is_end AND (nd.wait IS NOT NULL OR nd.wait_until IS NOT NULL)
                        THEN 'intermediateCatchEvent'
                   WHEN nd.plain AND NOT nd.is_start AND NOT nd.is_end AND nd.wait IS NULL AND nd.wait_until IS NULL
                        AND nd."join" = nd.split AND nd.nin >= 2 AND nd.nout >= 2 AND nd.nall = nd.nout
                        AND NOT (nd.split = 'and' AND nd.condout)
                        THEN CASE nd.split WHEN 'xor' THEN 'exclusiveGateway' WHEN 'and' THEN 'parallelGateway'
                                           ELSE 'inclusiveGateway' END
                   ELSE 'task' END AS kind,
               'Activity_' || nd.id AS eid
          FROM nd),
    -- the boxes: each node, its join and split gateways
    box AS (
        SELECT n.id AS node, n.eid, n.kind, 0 AS part,
               CASE WHEN n.kind LIKE '%Event' THEN 36 WHEN n.kind LIKE '%Gateway' THEN 50 ELSE 100 END AS wd,
               CASE WHEN n.kind LIKE '%Event' THEN 36 WHEN n.kind LIKE '%Gateway' THEN 50 ELSE 80 END AS ht
          FROM n
        UNION ALL
        SELECT n.id, 'Gateway_join_' || n.id,
               CASE n."join" WHEN 'xor' THEN 'exclusiveGateway' WHEN 'and' THEN 'parallelGateway' ELSE 'inclusiveGateway' END,
               1, 50, 50
          FROM n WHERE n.nin >= 2 AND n.kind NOT LIKE '%Gateway'
        UNION ALL
        SELECT n.id, 'Gateway_split_' || n.id,
               CASE WHEN n.split = 'xor' THEN 'exclusiveGateway' WHEN n.split = 'and' AND NOT n.condout THEN 'parallelGateway'
                    ELSE 'inclusiveGateway' END,
               2, 50, 50
          FROM n WHERE n.nout >= 2 AND n.kind NOT LIKE '%Gateway'),
    -- the sequence flows: into split gateways, out of join gateways, then the transitions
    fl AS (
        SELECT 'Flow_split_' || n.id AS fid, n.eid AS src, 'Gateway_split_' || n.id AS tgt, NULL::text AS cond,
               NULL::integer AS priority, false AS dflt, 0 AS part, n.id AS ord, n.eid AS lsrc
          FROM n WHERE n.nout >= 2 AND n.kind NOT LIKE '%Gateway'
        UNION ALL
        SELECT 'Flow_join_' || n.id, 'Gateway_join_' || n.id, n.eid, NULL, NULL, false, 1, n.id, 'Gateway_join_' || n.id
          FROM n WHERE n.nin >= 2 AND n.kind NOT LIKE '%Gateway'
        UNION ALL
        SELECT 'Flow_' || t.id,
               CASE WHEN t."on" = 'deadline' THEN 'Event_deadline_' || a.id
                    WHEN t."on" = 'failure' THEN 'Event_failure_' || a.id
                    WHEN a.nout >= 2 AND a.kind NOT LIKE '%Gateway' THEN 'Gateway_split_' || a.id
                    ELSE a.eid END,
               CASE WHEN b.nin >= 2 AND b.kind NOT LIKE '%Gateway' THEN 'Gateway_join_' || b.id ELSE b.eid END,
               t.condition::text,
               CASE WHEN t.priority <> 0 OR dx.id IS NOT NULL THEN t.priority END,
               dx.id IS NOT NULL, 2, t.id,
               CASE WHEN t."on" <> 'success' THEN a.eid
                    WHEN a.nout >= 2 AND a.kind NOT LIKE '%Gateway' THEN 'Gateway_split_' || a.id
                    ELSE a.eid END
          FROM ws.transition t JOIN n a ON a.id = t.parent JOIN n b ON b.id = t.child
          LEFT JOIN LATERAL (
              -- an XOR split's last transition, without a condition when all the others have one, is its default
              SELECT z.id FROM ws.transition z
               WHERE z.parent = a.id AND z."on" = 'success' AND a.split = 'xor' AND a.nout >= 2 AND z.condition IS NULL
                 AND NOT EXISTS (SELECT FROM ws.transition y WHERE y.parent = a.id AND y."on" = 'success'
                                    AND y.id <> z.id AND (y.condition IS NULL OR (y.priority, y.id) > (z.priority, z.id)))
                 AND z.id = t.id) dx ON true
         WHERE t.workflow = w.id),
    -- Graphviz's dot places the boxes (a boundary path counts as an edge from its task)
    lay AS (
        SELECT ws_internal.bpmn_layout(
                   (SELECT coalesce(array_agg(box.eid ORDER BY box.node, box.part), '{}') FROM box),
                   (SELECT coalesce(array_agg(box.wd ORDER BY box.node, box.part), '{}') FROM box),
                   (SELECT coalesce(array_agg(box.ht ORDER BY box.node, box.part), '{}') FROM box),
                   (SELECT coalesce(array_agg(fl.lsrc ORDER BY fl.part, fl.ord), '{}') FROM fl),
                   (SELECT coalesce(array_agg(fl.tgt ORDER BY fl.part, fl.ord), '{}') FROM fl)) AS at),
    -- every element with its bounds; boundary events on the bottom edge of their task
    el AS (
        SELECT box.node, box.eid, box.kind, box.part, (lay.at->box.eid->>0)::integer AS x,
               (lay.at->box.eid->>1)::integer AS y, box.wd, box.ht
          FROM box, lay
        UNION ALL
        SELECT n.id, 'Event_deadline_' || n.id, 'boundaryEvent', 3, (lay.at->n.eid->>0)::integer + 12,
               (lay.at->n.eid->>1)::integer + 62, 36, 36
          FROM n, lay WHERE n.dpath
        UNION ALL
        SELECT n.id, 'Event_failure_' || n.id, 'boundaryEvent', 4, (lay.at->n.eid->>0)::integer + 52,
               (lay.at->n.eid->>1)::integer + 62, 36, 36
          FROM n, lay WHERE n.fpath),
    -- edges with right angles: forward, from the right side of the source to the left side of
    -- the target, turning just after a gateway (a split fans out) or else just before the
    -- target (flows fan in); from a boundary event, down from it, across under the row, up to
    -- the target; backward, from the bottom of the source under both to the bottom of the target
    wp AS (
        SELECT fl.fid, fl.part, fl.ord,
               CASE WHEN s.kind = 'boundaryEvent' AND g.x > s.x + s.wd
                        THEN ARRAY[s.x + s.wd / 2, s.x + s.wd / 2, g.x - 15, g.x - 15, g.x]
                    WHEN s.kind = 'boundaryEvent' OR g.x <= s.x
                        THEN ARRAY[s.x + s.wd / 2, s.x + s.wd / 2, g.x + g.wd / 2, g.x + g.wd / 2]
                    WHEN s.kind LIKE '%Gateway' THEN ARRAY[s.x + s.wd, s.x + s.wd + 15, s.x + s.wd + 15, g.x]
                    ELSE ARRAY[s.x + s.wd, g.x - 15, g.x - 15, g.x] END AS xs,
               CASE WHEN s.kind = 'boundaryEvent' AND g.x > s.x + s.wd
                        THEN ARRAY[s.y + s.ht, greatest(s.y + s.ht, g.y + g.ht) + 20, greatest(s.y + s.ht, g.y + g.ht) + 20,
                                   g.y + g.ht / 2, g.y + g.ht / 2]
                    WHEN s.kind = 'boundaryEvent' OR g.x <= s.x
                        THEN ARRAY[s.y + s.ht, greatest(s.y + s.ht, g.y + g.ht) + 30, greatest(s.y + s.ht, g.y + g.ht) + 30,
                                   g.y + g.ht]
                    ELSE ARRAY[s.y + s.ht / 2, s.y + s.ht / 2, g.y + g.ht / 2, g.y + g.ht / 2] END AS ys
          FROM fl JOIN el s ON s.eid = fl.src JOIN el g ON g.eid = fl.tgt)
    SELECT xmlelement(name "bpmn:definitions",
        xmlattributes('http://www.omg.org/spec/BPMN/20100524/MODEL' AS "xmlns:bpmn",
                      'http://www.omg.org/spec/BPMN/20100524/DI' AS "xmlns:bpmndi",
                      'http://www.omg.org/spec/DD/20100524/DC' AS "xmlns:dc",
                      'http://www.omg.org/spec/DD/20100524/DI' AS "xmlns:di",
                      'http://www.w3.org/2001/XMLSchema-instance' AS "xmlns:xsi",
                      'http://camunda.org/schema/1.0/bpmn' AS "xmlns:camunda",
                      'urn:ws:bpmn' AS "xmlns:ws",
                      'Definitions_' || w.id AS id, 'http://bpmn.io/schema/bpmn' AS "targetNamespace",
                      'ws' AS exporter,
                      (SELECT e.extversion FROM pg_extension e WHERE e.extname = 'ws') AS "exporterVersion"),
        (SELECT xmlagg(xmlelement(name "bpmn:message", xmlattributes('Message_' || n.id AS id, n.message AS name)) ORDER BY n.id)
           FROM n WHERE n.message IS NOT NULL),
        xmlelement(name "bpmn:process",
            xmlattributes('Process_' || w.id AS id, w.name AS name, 'true' AS "isExecutable",
                          CASE WHEN w.params <> '{}' THEN w.params::text END AS "ws:params"),
            CASE WHEN w.description IS NOT NULL THEN xmlelement(name "bpmn:documentation", w.description) END,
            -- flow nodes in node order, then gateways and boundary events
            (SELECT xmlagg(x.e ORDER BY x.part, x.node) FROM (
                SELECT el.part, el.node, CASE WHEN el.part = 0 THEN
                    xmlelement(name "bpmn:x", xmlattributes(el.eid AS id, n.name AS name,
                        CASE WHEN n.call ~ '^[A-Za-z_][A-Za-z0-9._-]*$' THEN n.call END AS "calledElement",
                        CASE WHEN n.call !~ '^[A-Za-z_][A-Za-z0-9._-]*$' THEN n.call END AS "ws:call",
                        CASE WHEN n.message IS NOT NULL THEN 'Message_' || n.id END AS "messageRef",
                        CASE WHEN n.kind = 'serviceTask' THEN 'external' END AS "camunda:type",
                        CASE WHEN n.kind = 'serviceTask' THEN n.action END AS "camunda:topic",
                        CASE WHEN n.kind = 'userTask' THEN n.role END AS "camunda:candidateGroups",
                        CASE WHEN n.kind <> 'userTask' THEN n.role END AS "ws:role",
                        CASE WHEN n.is_start AND n.kind <> 'startEvent' THEN 'true' END AS "ws:start",
                        CASE WHEN n.is_end AND n.kind <> 'endEvent' THEN 'true' END AS "ws:end",
                        CASE WHEN n.kind NOT LIKE '%Gateway' AND n."join" <> 'and' AND n.nin < 2 THEN n."join"::text END AS "ws:join",
                        CASE WHEN n.kind NOT LIKE '%Gateway' AND ((n.split <> 'and' AND n.nout < 2)
                                  OR (n.split = 'and' AND n.nout >= 2 AND n.condout)) THEN n.split::text END AS "ws:split",
                        CASE WHEN n.params <> '{}' THEN n.params::text END AS "ws:params",
                        CASE WHEN n.kind <> 'intermediateCatchEvent' THEN n.wait::text END AS "ws:wait",
                        CASE WHEN n.kind <> 'intermediateCatchEvent' THEN n.wait_until END AS "ws:wait_until",
                        CASE WHEN n.retries <> 0 THEN n.retries END AS "ws:retries",
                        n.due::text AS "ws:due",
                        n.correlate::text AS "ws:correlate",
                        CASE WHEN NOT n.dpath THEN n.deadline::text END AS "ws:deadline",
                        n."as" AS "ws:as",
                        CASE WHEN n.kind LIKE '%Gateway' THEN (SELECT 'Flow_' || f.ord FROM fl f WHERE f.dflt AND f.src = el.eid) END
                            AS "default"),
                        CASE WHEN n.kind = 'intermediateCatchEvent' THEN
                            xmlelement(name "bpmn:timerEventDefinition", xmlattributes('TimerEventDefinition_' || n.id AS id),
                                CASE WHEN n.wait IS NOT NULL THEN
                                    xmlelement(name "bpmn:timeDuration", xmlattributes('bpmn:tFormalExpression' AS "xsi:type"), n.wait::text)
                                ELSE xmlelement(name "bpmn:timeDate", xmlattributes('bpmn:tFormalExpression' AS "xsi:type",
                                                                                    'jsonpath' AS language), n.wait_until) END) END,
                        CASE WHEN n.foreach IS NOT NULL THEN
                            xmlelement(name "bpmn:multiInstanceLoopCharacteristics",
                                xmlattributes(CASE WHEN n.sequential THEN 'true' END AS "isSequential",
                                              n.foreach::text AS "ws:foreach", n.item AS "ws:item")) END)
                  ELSE xmlelement(name "bpmn:x", xmlattributes(el.eid AS id,
                        CASE WHEN el.part = 3 THEN 'Activity_' || el.node WHEN el.part = 4 THEN 'Activity_' || el.node END
                            AS "attachedToRef",
                        CASE WHEN el.part = 2 THEN (SELECT 'Flow_' || f.ord FROM fl f WHERE f.dflt AND f.src = el.eid) END AS "default"),
                        CASE WHEN el.part = 3 THEN
                            xmlelement(name "bpmn:timerEventDefinition", xmlattributes('TimerEventDefinition_' || el.node AS id),
                                xmlelement(name "bpmn:timeDuration", xmlattributes('bpmn:tFormalExpression' AS "xsi:type"),
                                           n.deadline::text))
                             WHEN el.part = 4 THEN
                            xmlelement(name "bpmn:errorEventDefinition", xmlattributes('ErrorEventDefinition_' || el.node AS id)) END)
                  END AS e_raw, el.kind
                  FROM el JOIN n ON n.id = el.node) y
                CROSS JOIN LATERAL (SELECT replace(replace(y.e_raw::text, '<bpmn:x ', '<bpmn:' || y.kind || ' '),
                                                   '</bpmn:x>', '</bpmn:' || y.kind || '>')::xml AS e,
                                           y.part, y.node) x),
            (SELECT xmlagg(xmlelement(name "bpmn:sequenceFlow",
                        xmlattributes(fl.fid AS id, fl.src AS "sourceRef", fl.tgt AS "targetRef", fl.priority AS "ws:priority"),
                        CASE WHEN fl.cond IS NOT NULL THEN
                            xmlelement(name "bpmn:conditionExpression",
                                       xmlattributes('bpmn:tFormalExpression' AS "xsi:type", 'jsonpath' AS language), fl.cond) END)
                           ORDER BY fl.part, fl.ord) FROM fl)),
        xmlelement(name "bpmndi:BPMNDiagram", xmlattributes('BPMNDiagram_' || w.id AS id),
            xmlelement(name "bpmndi:BPMNPlane", xmlattributes('BPMNPlane_' || w.id AS id, 'Process_' || w.id AS "bpmnElement"),
                (SELECT xmlagg(xmlelement(name "bpmndi:BPMNShape",
                            xmlattributes(el.eid || '_di' AS id, el.eid AS "bpmnElement",
                                          CASE WHEN el.kind = 'exclusiveGateway' THEN 'true' END AS "isMarkerVisible"),
                            xmlelement(name "dc:Bounds", xmlattributes(el.x AS x, el.y AS y, el.wd AS width, el.ht AS height)))
                               ORDER BY el.part, el.node) FROM el),
                (SELECT xmlagg(xmlelement(name "bpmndi:BPMNEdge", xmlattributes(wp.fid || '_di' AS id, wp.fid AS "bpmnElement"),
                            (SELECT xmlagg(xmlelement(name "di:waypoint", xmlattributes(p.x AS x, p.y AS y)) ORDER BY p.o)
                               FROM unnest(wp.xs, wp.ys) WITH ORDINALITY AS p(x, y, o)))
                               ORDER BY wp.part, wp.ord) FROM wp))))
      INTO result;
    RETURN result;
END $$;
COMMENT ON FUNCTION ws_internal.to_bpmn(bigint) IS 'ws.to_bpmn''s implementation';

CREATE FUNCTION ws.to_bpmn(workflow bigint) RETURNS xml AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.to_bpmn(bigint) IS
    'The workflow as a BPMN 2.0 file with its diagram (bpmndi), for Camunda Modeler and bpmn.io; ws.define_bpmn reads it back as an equal workflow';

CREATE FUNCTION ws_internal.to_bpmn(workflow text) RETURNS xml
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT ws_internal.to_bpmn(ws_internal.workflow_id(workflow))
$$;
COMMENT ON FUNCTION ws_internal.to_bpmn(text) IS 'ws.to_bpmn''s implementation, by name';

CREATE FUNCTION ws.to_bpmn(workflow text) RETURNS xml AS 'MODULE_PATHNAME', 'ws_call' LANGUAGE C STABLE;
COMMENT ON FUNCTION ws.to_bpmn(text) IS 'The newest version of the named workflow as a BPMN 2.0 file with its diagram';
