-- Workflows as pictures (issue 6): ws.define_dot (Graphviz's parser), ws.to_dot and the
-- round trip through it, ws.process_dot, ws.export and its round trip, ws.lint,
-- ws.workflow_overview.
\set VERBOSITY default
\set SHOW_CONTEXT never
-- each file starts from empty tables, so ids in the output do not depend on the order of files
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event RESTART IDENTITY;

CREATE ROLE ws_dot_organization NOLOGIN;
CREATE ROLE ws_dot_accounting NOLOGIN;
CREATE ROLE ws_dot_ane LOGIN IN ROLE ws_dot_accounting;

-- helpers: what a workflow is made of, and how a DOT text fares
CREATE FUNCTION nodes(w bigint) RETURNS TABLE (name text, action text, role name, s boolean, e boolean,
                                              "join" ws.gate, split ws.gate, params jsonb, wait interval,
                                              wait_until text, retries integer)
LANGUAGE sql AS $$
    SELECT name, action, role, is_start, is_end, "join", split, params, wait, wait_until::text, retries
      FROM ws.node WHERE workflow = w ORDER BY id
$$;
CREATE FUNCTION transitions(w bigint) RETURNS TABLE ("from" text, "to" text, condition text, priority integer)
LANGUAGE sql AS $$
    SELECT a.name, b.name, t.condition::text, t.priority
      FROM ws.transition t JOIN ws.node a ON a.id = t.parent JOIN ws.node b ON b.id = t.child
     WHERE t.workflow = w ORDER BY t.id
$$;
-- try(dot): the workflow defined, or the SQLSTATE, message, detail and hint of the error
CREATE FUNCTION try(dot text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    wid bigint;
    detail text;
    hint text;
BEGIN
    wid := ws.define_dot(dot);
    RETURN (SELECT format('ok: "%s" version %s', w.name, w.version) FROM ws.workflow w WHERE w.id = wid);
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(' / ' || nullif(detail, ''), '')
        || coalesce(' (' || nullif(hint, '') || ')', '');
END $$;
-- same(a, b): two workflows with equal nodes and transitions (by name), attributes,
-- conditions, priorities and params; the rows that differ when they are not
CREATE FUNCTION same(a bigint, b bigint) RETURNS text LANGUAGE sql AS $$
    SELECT CASE WHEN count(*) = 0 THEN 'equal' ELSE string_agg(d, '; ') END
      FROM ((SELECT 'node ' || x::text AS d FROM (SELECT * FROM nodes(a) EXCEPT ALL SELECT * FROM nodes(b)) x)
            UNION ALL (SELECT 'node ' || x::text FROM (SELECT * FROM nodes(b) EXCEPT ALL SELECT * FROM nodes(a)) x)
            UNION ALL (SELECT 'transition ' || x::text FROM (SELECT * FROM transitions(a) EXCEPT ALL SELECT * FROM transitions(b)) x)
            UNION ALL (SELECT 'transition ' || x::text FROM (SELECT * FROM transitions(b) EXCEPT ALL SELECT * FROM transitions(a)) x)
            UNION ALL (SELECT 'workflow' FROM ws.workflow x, ws.workflow y
                        WHERE x.id = a AND y.id = b AND (x.params, x.description) IS DISTINCT FROM (y.params, y.description))) diffs
$$;

-- Graphviz lives in the library ws_dot, which only ws.define_dot loads: not yet here
SELECT pg_read_file('/proc/self/maps') LIKE '%libcgraph%' AS graphviz_loaded;

------------------------------------------------------------------------------
-- The seed's digraph, exactly as printed (with its trailing "};")
------------------------------------------------------------------------------
-- Every node is an AND join by default, and "Receive subscriptions" would wait for its
-- own loop-back edge, which only comes after it fired: refused, nothing stored.
SELECT count(*) AS workflows_before FROM ws.workflow \gset
SELECT ws.define_dot($$digraph conference {
    "Send the Call for Papers" -> "Collect papers"
    "Collect papers" -> "Publicize"
    "Search a location" -> "Publicize"
    "Publicize" -> "Mailing"
    "Publicize" -> "Newspapers"
    "Publicize" -> "Poster"
    "Mailing"    -> "Receive subscriptions"
    "Newspapers" -> "Receive subscriptions"
    "Poster"     -> "Receive subscriptions"
    "Receive subscriptions" -> "Wait until the starting day"
    "Wait until the starting day" -> "Receive subscriptions"
    "Wait until the starting day" -> "Start the conference"
};$$);
SELECT count(*) = :workflows_before AS nothing_stored FROM ws.workflow;
-- with the OR join the seed's graph means (a synchronizing merge), it loads
SELECT ws.define_dot($$digraph conference {
    "Send the Call for Papers" -> "Collect papers"
    "Collect papers" -> "Publicize"
    "Search a location" -> "Publicize"
    "Publicize" -> "Mailing"
    "Publicize" -> "Newspapers"
    "Publicize" -> "Poster"
    "Mailing"    -> "Receive subscriptions"
    "Newspapers" -> "Receive subscriptions"
    "Poster"     -> "Receive subscriptions"
    "Receive subscriptions" -> "Wait until the starting day"
    "Wait until the starting day" -> "Receive subscriptions"
    "Wait until the starting day" -> "Start the conference"
    "Receive subscriptions" [join=or]
};$$) AS seed \gset
SELECT name, version FROM ws.workflow WHERE id = :seed;
SELECT pg_read_file('/proc/self/maps') LIKE '%libcgraph%' AS graphviz_loaded;
-- start and end inferred: the nodes without incoming, and without outgoing transitions
SELECT name, s, e, "join", split FROM nodes(:seed);
SELECT * FROM transitions(:seed);
SELECT * FROM ws.validate(:seed);

------------------------------------------------------------------------------
-- Every DOT feature
------------------------------------------------------------------------------
-- bare and quoted ids, numbers as ids, chains, ; optional, three kinds of comment,
-- a name attribute instead of a graph id, escaped quotes, strings joined with +,
-- an HTML-like id, a string over two lines, multi-edges kept
SELECT ws.define_dot($$/* a C comment
   over two lines */
digraph {
    name = "features"   # a shell comment
    first -> "second step" -> 3 -> "4" ; // a C++ comment
    3 -> first; "say \"hi\"" -> "con" + "cat" -> <html id>;
    "two
lines" -> first
    first -> "second step"
    first [join=xor]    # 3 -> first comes back after first: a plain merge
}$$) AS f \gset
SELECT name, version FROM ws.workflow WHERE id = :f;
SELECT name, s, e FROM nodes(:f);
SELECT * FROM transitions(:f);

-- node and edge attribute lists; node [...] and edge [...] defaults apply to what comes
-- after them; a subgraph's defaults stay inside it; a -> {b c}; Graphviz's drawing
-- attributes are ignored (label, shape, color, rankdir, cluster labels...)
SELECT ws.define_dot($$digraph attributes {
    rankdir=LR; label="ignored"; fontsize=10; start=regular
    description="every attribute"; params="{\"currency\": \"EUR\", \"limit\": 1000}"
    ask [action="loan.ask", start=true, shape=box, color=blue, label="Ask for a loan"]
    node [role=pg_monitor, retries=2]
    check [split=xor, params="{\"level\": 2}", wait="1 hour"]
    node [role="", retries=0]
    subgraph cluster_outcome {
        label="outcome"; style=dashed
        node [action="loan.notify"]
        pay [action="loan.pay", join=xor, wait_until="$.pay_at"]
        refuse
    }
    done [end=true, join=or, style=bold]
    ask -> check [penwidth=2]
    check -> pay [condition="$.amount <= $.limit", priority=1, label="small enough", color=green]
    edge [priority=5]
    check -> refuse
    {pay refuse} -> done
}$$) AS a \gset
SELECT name, version, params, description FROM ws.workflow WHERE id = :a;
SELECT * FROM nodes(:a);
SELECT * FROM transitions(:a);

-- strict digraph merges repeated edges; edge chains with attributes set every edge;
-- attribute lists separated by , or ; or nothing; booleans as Graphviz and PostgreSQL
-- write them, gate names in any case
SELECT ws.define_dot($$strict digraph "strict one" {
    a -> b -> c [priority=3]
    a -> b
    a [start=yes; split=XOR] c [end=1 label=C]
}$$) AS st \gset
SELECT name, s, e, split FROM nodes(:st);
SELECT * FROM transitions(:st);

------------------------------------------------------------------------------
-- Errors: the line and Graphviz's message for syntax (42601), 22023 for bad values;
-- nothing is stored
------------------------------------------------------------------------------
SELECT count(*) AS workflows_before FROM ws.workflow \gset
SELECT ws.define_dot($$digraph broken {
    a -> b
    b -> -> c
}$$);
SELECT try($$digraph broken { a -> b }$$ || E'\n\n' || $$digraph second { c }$$);
SELECT try(E'digraph x {\n a -> b\n}\nnonsense');
SELECT try(E'digraph x {\n\n  a [label="never closed]\n}');
SELECT try(E'digraph x {\n  a -> b\n  /* never closed\n}');
SELECT try(E'digraph x {\n  a [label=<b>unbalanced</b]\n}');
SELECT try('digraph x { a -> b; c = }');
SELECT try(E'digraph x {\n  a -> 1b\n}');
SELECT try('');
SELECT try('   /* only a comment */   ');
SELECT try('graph undirected { a -- b }');
SELECT try('digraph { a -> b }');
SELECT ws.define_dot('digraph x { a [colour=red] }');
SELECT try('digraph x { a -> b [weight=2, guard="$.x"] }');
SELECT try('digraph x { version=2; a }');
SELECT try('digraph x { a [condition="$.x"] }');
SELECT try('digraph x { a -> b [retries=1] }');
SELECT try('digraph x { a -> b [start=true] }');
SELECT try('digraph x { a [start=maybe] }');
SELECT try('digraph x { a [end=""] b [end=2] }');
SELECT try('digraph x { a [join=both] }');
SELECT try('digraph x { a [retries=two] }');
SELECT try('digraph x { a [retries=99999999999] }');
SELECT try('digraph x { a -> b [priority=1.5] }');
SELECT try($$digraph x { a [params="{\"x\": 1"] }$$);
SELECT try('digraph x { a [params="[1, 2]"] }');
SELECT try($$digraph x { params="\"text\""; a }$$);
SELECT try('digraph x { a [wait="soon"] }');
SELECT try('digraph x { a [wait_until="$.when +"] }');
SELECT try('digraph x { a -> b [condition="$.papers >>= 10"] }');
-- what ws.define refuses, ws.define_dot refuses the same way
SELECT try('digraph x { a [role=ws_dot_nobody] }');
SELECT try('digraph x { a [retries=-1] }');
SELECT try($$digraph x { a [wait="1 day", wait_until="$.at"] }$$);
SELECT count(*) - :workflows_before AS workflows_added FROM ws.workflow;
-- a later call is not disturbed by what an earlier one left in Graphviz's scanner
SELECT try('digraph after_errors { a -> b };;');
SELECT try('digraph after_errors { c -> d }');

------------------------------------------------------------------------------
-- The conference with everything that makes it run, in DOT; its picture; round trips
------------------------------------------------------------------------------
SELECT ws.define_dot($$digraph conference {
    description="Organizing a conference"; params="{\"city\": \"Bilbao\"}"
    node [role=ws_dot_organization]
    "Send the Call for Papers" [action="conferencer.tasks.mailing", start=true]
    "Search a location" [action="conferencer.tasks.search", start=true]
    node [role=""]
    "Collect papers" [role=ws_dot_accounting]
    Publicize
    Mailing [action="conferencer.tasks.mailing"]
    Newspapers [action="conferencer.tasks.newspapers"]
    Poster [action="conferencer.tasks.poster"]
    "Receive subscriptions" [action="conferencer.tasks.subscriptions", join=or]
    "Wait until the starting day" [action="conferencer.tasks.calendar", split=xor]
    "Start the conference" [role=ws_dot_organization, end=true]

    "Send the Call for Papers" -> "Collect papers"
    "Collect papers" -> Publicize [condition="$.papers >= 10"]
    "Search a location" -> Publicize
    Publicize -> {Mailing Newspapers Poster} -> "Receive subscriptions"
    "Receive subscriptions" -> "Wait until the starting day"
    "Wait until the starting day" -> "Start the conference" [condition="$.started == true", priority=1]
    "Wait until the starting day" -> "Receive subscriptions" [priority=2]
}$$) AS c \gset
SELECT name, version, params, description FROM ws.workflow WHERE id = :c;
SELECT * FROM nodes(:c);
SELECT * FROM transitions(:c);
SELECT * FROM ws.validate(:c);
SELECT * FROM ws.lint(:c);

-- the picture: shapes for start and end nodes, routing nodes as diamonds, gates and
-- conditions in the labels
SELECT ws.to_dot(:c);
-- DOT round trip: the next version, equal
SELECT ws.define_dot(ws.to_dot(:c)) AS c2 \gset
SELECT name, version FROM ws.workflow WHERE id = :c2;
SELECT same(:c, :c2);
-- JSON export and its round trip: equal documents
SELECT jsonb_pretty(ws.export(:c));
SELECT ws.export(ws.define(ws.export(:c))) = ws.export(:c) AS json_round_trip;
-- the features and attributes workflows too, and the seed's; through DOT, then JSON
SELECT w, same(w, ws.define_dot(ws.to_dot(w))) FROM unnest(ARRAY[:seed, :f, :a, :st]::bigint[]) w ORDER BY w;
SELECT w, ws.export(ws.define(ws.export(w))) = ws.export(w) AS json_round_trip
  FROM unnest(ARRAY[:seed, :f, :a, :st]::bigint[]) w ORDER BY w;
SELECT jsonb_pretty(ws.export(:a));
-- names and values that need DOT's escapes: quotes, backslashes, newlines, jsonpath strings
SELECT ws.define('{"name": "odd \"names\" \\ here", "description": "two\nlines", "params": {"q": "say \"hi\"\\"},
  "nodes": [{"name": "back\\", "params": {"path": "C:\\dir\\", "quote": "\""}, "wait": "2 days 03:00:00"},
            {"name": "\"quoted\"\n", "wait_until": "$.\"due at\""},
            {"name": "x\\\"y"}],
  "transitions": [{"from": "back\\", "to": "\"quoted\"\n", "condition": "$.s like_regex \"^a\\\\d\" && $.t == \"\\\"\"", "priority": -1},
                  {"from": "\"quoted\"\n", "to": "x\\\"y"}]}') AS odd \gset
SELECT ws.to_dot(:odd);
SELECT same(:odd, ws.define_dot(ws.to_dot(:odd)));
SELECT ws.export(ws.define(ws.export(:odd))) = ws.export(:odd) AS json_round_trip;

------------------------------------------------------------------------------
-- A finished conference process and its picture
------------------------------------------------------------------------------
CREATE FUNCTION work(p bigint, node_name text, result jsonb DEFAULT '{}') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    t bigint;
BEGIN
    PERFORM ws.claim(ARRAY(SELECT DISTINCT action FROM ws.task WHERE action IS NOT NULL), 'crew', 100);
    SELECT k.id INTO STRICT t FROM ws.task k JOIN ws.node n ON n.id = k.node
     WHERE k.process = p AND n.name = node_name AND k.state IN ('running', 'pending');
    PERFORM ws.complete(t, result);
    RETURN node_name || ' done';
END $$;
SELECT ws.start(:c, '{"year": 2026}') AS p \gset
SELECT work(:p, 'Search a location', '{"location": "Euskalduna"}');
SELECT work(:p, 'Send the Call for Papers');
-- half way: Publicize holds a token from Search a location, Collect papers is pending
SELECT ws.process_dot(:p);
SELECT work(:p, 'Collect papers', '{"papers": 14}');
SELECT work(:p, 'Newspapers');
SELECT work(:p, 'Mailing');
SELECT work(:p, 'Poster');
SELECT work(:p, 'Receive subscriptions', '{"subscriptions": 40}');
SELECT work(:p, 'Wait until the starting day', '{"started": false}');
SELECT work(:p, 'Receive subscriptions', '{"subscriptions": 95}');
SELECT work(:p, 'Wait until the starting day', '{"started": true}');
SELECT work(:p, 'Start the conference');
SELECT state FROM ws.process WHERE id = :p;
-- finished: every node green; the loop ran Receive subscriptions and Wait until the
-- starting day twice
SELECT ws.process_dot(:p);
-- a process picture is still the workflow for ws.define_dot
SELECT same(:c, ws.define_dot(ws.process_dot(:p)));
-- a cancelled one: what ran, what was cancelled, what never ran
SELECT ws.start(:c) AS p2 \gset
SELECT work(:p2, 'Search a location');
SELECT ws.cancel(:p2, 'no venue');
SELECT ws.process_dot(:p2);

SELECT ws.to_dot(424242);
SELECT ws.process_dot(424242);
SELECT ws.export(424242);

------------------------------------------------------------------------------
-- Warnings (ws.lint): allowed, so ws.validate and ws.start accept them
------------------------------------------------------------------------------
SELECT ws.define_dot($$digraph lint {
    a [split=xor]
    a -> b [condition="$.x > 1"]
    a -> c [condition="$.x <= 1"]
    b -> b2 -> d
    c -> d
    d -> e
    e [split=xor]
    e -> f [priority=1]
    e -> g [condition="$.late == true", priority=2]
    f -> end
    g -> end [priority=3]
    end [join=xor]
}$$) AS l \gset
SELECT * FROM ws.validate(:l);
SELECT * FROM ws.lint(:l);
SELECT ws.lint(424242);

------------------------------------------------------------------------------
-- Versions: ws.start(name) takes the newest, processes stay on theirs
------------------------------------------------------------------------------
SELECT ws.start('conference') AS p3 \gset
SELECT ws.define_dot(ws.to_dot(:c)) AS c_next \gset
SELECT ws.start('conference') AS p4 \gset
SELECT p.id = :p3 AS first, w.version FROM ws.process p JOIN ws.workflow w ON w.id = p.workflow
 WHERE p.id IN (:p3, :p4) ORDER BY p.id;
SELECT name, version, newest, nodes, transitions, running, completed, failed, cancelled
  FROM ws.workflow_overview WHERE name IN ('conference', 'features');
SELECT ws.cancel(:p3);
SELECT ws.cancel(:p4);

DROP FUNCTION work(bigint, text, jsonb);
DROP FUNCTION same(bigint, bigint);
DROP FUNCTION try(text);
DROP FUNCTION transitions(bigint);
DROP FUNCTION nodes(bigint);
DROP ROLE ws_dot_ane, ws_dot_accounting, ws_dot_organization;
