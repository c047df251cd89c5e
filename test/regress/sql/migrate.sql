-- Migration: a workflow changes while its processes are half-way through it.
-- The seed's conference (version 1) runs; the organizers add a review of the program
-- before Publicize (version 2) and move the running conference there with ws.migrate,
-- where it finishes. Then what migration refuses, and ws.migrate_all in batches.
\set VERBOSITY default
\set SHOW_CONTEXT never
TRUNCATE ws.workflow, ws.node, ws.transition, ws.action, ws.process, ws.task, ws.event RESTART IDENTITY;

CREATE ROLE ws_mig_organization NOLOGIN;
CREATE ROLE ws_mig_accounting NOLOGIN;
CREATE ROLE ws_mig_ane LOGIN IN ROLE ws_mig_accounting;

-- test helpers: claim what is ready, then complete the running or pending task of one node
CREATE FUNCTION mig_work(p bigint, node_name text, result jsonb DEFAULT '{}') RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    t bigint;
BEGIN
    PERFORM ws.claim(ARRAY(SELECT DISTINCT action FROM ws.task WHERE action IS NOT NULL), 'crew', 1000);
    SELECT k.id INTO STRICT t FROM ws.task k JOIN ws.node n ON n.id = k.node
     WHERE k.process = p AND n.name = node_name AND k.state IN ('running', 'pending');
    PERFORM ws.complete(t, result);
    RETURN node_name || ' done';
END $$;
-- a process's tasks with the version their node belongs to
CREATE FUNCTION mig_tasks(p bigint) RETURNS TABLE (node text, version integer, state text, action text, params jsonb)
LANGUAGE sql AS $$
    SELECT n.name, w.version, k.state, k.action, k.params
      FROM ws.task k JOIN ws.node n ON n.id = k.node JOIN ws.workflow w ON w.id = n.workflow
     WHERE k.process = p ORDER BY k.id
$$;
-- the tokens a process holds, by transition names, and the version of those transitions
CREATE FUNCTION mig_tokens(p bigint) RETURNS TABLE (parent text, child text, version integer, count int)
LANGUAGE sql AS $$
    SELECT a.name, b.name, w.version, h.value::int
      FROM ws.process x, jsonb_each_text(x.tokens) h
      JOIN ws.transition t ON t.id = h.key::bigint
      JOIN ws.node a ON a.id = t.parent JOIN ws.node b ON b.id = t.child
      JOIN ws.workflow w ON w.id = t.workflow
     WHERE x.id = p ORDER BY 1, 2
$$;
-- the conference as a document, with a change applied to it
CREATE FUNCTION mig_conference(extra_nodes jsonb DEFAULT '[]', extra_transitions jsonb DEFAULT '[]',
                               collect text DEFAULT 'Collect papers', review boolean DEFAULT false,
                               search text DEFAULT 'conferencer.tasks.search') RETURNS bigint
LANGUAGE sql AS $$
    SELECT ws.define(jsonb_build_object('name', 'conference', 'params', '{"city": "Bilbao"}'::jsonb,
      'nodes', jsonb_build_array(
        '{"name": "Send the Call for Papers", "action": "conferencer.tasks.mailing", "role": "ws_mig_organization", "start": true}'::jsonb,
        jsonb_build_object('name', 'Search a location', 'action', search, 'role', 'ws_mig_organization', 'start', true),
        jsonb_build_object('name', collect, 'role', 'ws_mig_accounting'),
        '{"name": "Publicize", "join": "and", "split": "and"}'::jsonb,
        '{"name": "Mailing", "action": "conferencer.tasks.mailing"}'::jsonb,
        '{"name": "Newspapers", "action": "conferencer.tasks.newspapers"}'::jsonb,
        '{"name": "Poster", "action": "conferencer.tasks.poster"}'::jsonb,
        '{"name": "Receive subscriptions", "action": "conferencer.tasks.subscriptions", "join": "or"}'::jsonb,
        '{"name": "Start the conference", "role": "ws_mig_organization", "end": true}'::jsonb) || extra_nodes,
      'transitions', jsonb_build_array(
        jsonb_build_object('from', 'Send the Call for Papers', 'to', collect),
        CASE WHEN review THEN jsonb_build_object('from', collect, 'to', 'Review the program')
             ELSE jsonb_build_object('from', collect, 'to', 'Publicize') END,
        '{"from": "Search a location", "to": "Publicize"}'::jsonb,
        '{"from": "Publicize", "to": "Mailing"}'::jsonb,
        '{"from": "Publicize", "to": "Newspapers"}'::jsonb,
        '{"from": "Publicize", "to": "Poster"}'::jsonb,
        '{"from": "Mailing", "to": "Receive subscriptions"}'::jsonb,
        '{"from": "Newspapers", "to": "Receive subscriptions"}'::jsonb,
        '{"from": "Poster", "to": "Receive subscriptions"}'::jsonb,
        '{"from": "Receive subscriptions", "to": "Start the conference"}'::jsonb) || extra_transitions))
$$;

-- Version 1: the seed's conference (without its loop through Wait until the starting day)
SELECT mig_conference() AS v1 \gset
SELECT ws.start('conference', '{"year": 2026}') AS p \gset
SELECT mig_work(:p, 'Search a location', '{"location": "Euskalduna"}');
SELECT mig_work(:p, 'Send the Call for Papers', '{"sent": 120}');
-- half-way: Publicize holds the token from Search a location (an AND join waiting for
-- Collect papers), and Collect papers is a human task assigned to Ane
SELECT id AS collect FROM ws.task WHERE process = :p AND state = 'pending' \gset
SELECT * FROM mig_tasks(:p);
SELECT * FROM mig_tokens(:p);

-- Version 2: the program is reviewed before it is publicized
SELECT mig_conference('[{"name": "Review the program", "action": "conferencer.tasks.review"}]',
                      '[{"from": "Review the program", "to": "Publicize"}]', review => true) AS v2 \gset
-- a conference whose papers were collected before its location was found holds its token
-- on Collect papers -> Publicize, which version 2 does not have: it cannot move
SELECT ws.start(:v1, '{"year": 2027}') AS early \gset
SELECT mig_work(:early, 'Send the Call for Papers');
SELECT mig_work(:early, 'Collect papers', '{"papers": 11}');
SELECT * FROM mig_tokens(:early);
SELECT * FROM ws.migrate(:early, :v2);
SELECT ws.cancel(:early, 'moved to another year');
-- the dry run shows what would move, and moves nothing
SELECT * FROM ws.migrate(:p, :v2, dry_run => true);
SELECT workflow = :v1 AS still_on_version_1 FROM ws.process WHERE id = :p;
-- the migration: the pending task keeps its assignee, the token its join
SELECT * FROM ws.migrate(:p, :v2);
SELECT workflow = :v2 AS on_version_2 FROM ws.process WHERE id = :p;
SELECT * FROM mig_tasks(:p);
SELECT id = :collect AS same_task, assignee FROM ws.task WHERE process = :p AND state = 'pending';
SELECT * FROM mig_tokens(:p);
SELECT state, task, detail, actor = current_user AS by_the_caller FROM ws.event WHERE process = :p AND state = 'migrated';
-- the rest follows version 2: Collect papers now leads to the review, and the review
-- (not Collect papers) completes Publicize's AND join
SELECT mig_work(:p, 'Collect papers', '{"papers": 14}');
SELECT * FROM mig_tasks(:p) WHERE state <> 'succeeded';
SELECT mig_work(:p, 'Review the program', '{"reviewed": true}');
SELECT * FROM mig_tasks(:p) WHERE state <> 'succeeded';
SELECT mig_work(:p, 'Mailing');
SELECT mig_work(:p, 'Newspapers');
SELECT mig_work(:p, 'Poster');
SELECT mig_work(:p, 'Receive subscriptions', '{"subscriptions": 95}');
SELECT mig_work(:p, 'Start the conference');
SELECT state, params FROM ws.process WHERE id = :p;
SELECT node, version, state FROM mig_tasks(:p);

-- Version 3 renames Collect papers to Gather papers. A process waiting in Collect papers
-- has no node to go to: refused, every problem named, nothing changed.
SELECT mig_conference(collect => 'Gather papers') AS v3 \gset
SELECT ws.start(:v2) AS q \gset
SELECT mig_work(:q, 'Send the Call for Papers');
SELECT * FROM mig_tasks(:q) WHERE state <> 'succeeded';
SELECT * FROM ws.migrate(:q, :v3);
SELECT * FROM ws.migrate(:q, :v3, dry_run => true);
SELECT workflow = :v2 AS unchanged, tokens FROM ws.process WHERE id = :q;
SELECT count(*) AS migrated_events FROM ws.event WHERE process = :q AND state = 'migrated';
-- map names the new node of the old one, and it goes
SELECT * FROM ws.migrate(:q, :v3, '{"Collect papers": "Gather papers"}');
SELECT * FROM mig_tasks(:q) WHERE state <> 'succeeded';
SELECT mig_work(:q, 'Search a location');
SELECT mig_work(:q, 'Gather papers', '{"papers": 20}');
SELECT * FROM mig_tasks(:q) WHERE state <> 'succeeded';
-- a ready task whose action changes leaves its old queue and joins the new one
-- (version 4: a scout searches the location)
SELECT mig_conference(collect => 'Gather papers', search => 'conferencer.tasks.scouting') AS v4 \gset
SELECT ws.start(:v3) AS r \gset
SELECT q.action FROM ws.ready q JOIN ws.task k ON k.id = q.task WHERE k.process = :r ORDER BY k.id;
SELECT * FROM ws.migrate(:r, :v4);
SELECT q.action, k.action = q.action AS task_agrees FROM ws.ready q JOIN ws.task k ON k.id = q.task
 WHERE k.process = :r ORDER BY k.id;
SELECT count(*) AS claimed_under_the_old_action FROM ws.claim(ARRAY['conferencer.tasks.search'], 'crew');
SELECT c.node, c.process = :r AS same_process FROM ws.claim(ARRAY['conferencer.tasks.scouting'], 'crew') c;

-- A waiting timer keeps its due time, a running task its lease and attempt, a pending
-- task its fills
SELECT ws.register_action('mail.send', '{"to": {"type": "string", "required": true},
                                         "subject": {"type": "string", "required": true}}');
CREATE FUNCTION mig_reminder(wait text) RETURNS bigint LANGUAGE sql AS $$
    SELECT ws.define(format('{"name": "reminder", "nodes": [
      {"name": "Wait", "wait": "%s", "start": true},
      {"name": "Send", "action": "mail.send", "start": true},
      {"name": "Print", "action": "print.run", "start": true},
      {"name": "Done", "end": true, "join": "and"}],
      "transitions": [{"from": "Wait", "to": "Done"}, {"from": "Send", "to": "Done"},
                      {"from": "Print", "to": "Done"}]}', wait)::jsonb)
$$;
SELECT mig_reminder('1 day') AS r1 \gset
SELECT mig_reminder('2 days') AS r2 \gset
SELECT ws.start(:r1) AS t \gset
SELECT count(*) AS claimed FROM ws.claim(ARRAY['print.run'], 'printer', lease => '5 minutes');
SELECT ws.fill(k.id, '{"to": "ane@example.com"}') FROM ws.task k WHERE k.process = :t AND k.state = 'pending';
CREATE TEMP TABLE mig_before AS SELECT * FROM ws.task WHERE process = :t;
SELECT * FROM ws.migrate(:t, :r2);
SELECT k.state, k.params, k.error, k.due_at = b.due_at AS same_due, k.lease_until = b.lease_until AS same_lease,
       k.attempts, k.worker, n.workflow = :r2 AS new_node
  FROM ws.task k JOIN mig_before b ON b.id = k.id JOIN ws.node n ON n.id = k.node ORDER BY k.id;
-- and they all finish on version 2
SELECT ws.fill(k.id, '{"subject": "Reminder"}') FROM ws.task k WHERE k.process = :t AND k.state = 'pending';
SELECT mig_work(:t, 'Send');
SELECT mig_work(:t, 'Print');
UPDATE ws.task SET due_at = now() - interval '1 second' WHERE process = :t AND state = 'waiting';
SELECT ws.tick() > 0 AS ticked;
SELECT state FROM ws.process WHERE id = :t;
SELECT node, version, state FROM mig_tasks(:t);

-- A multi-instance node's instances move together, and only to a multi-instance node
CREATE FUNCTION mig_mail(foreach boolean, action text) RETURNS bigint LANGUAGE sql AS $$
    SELECT ws.define(jsonb_build_object('name', 'mail', 'nodes', jsonb_build_array(
      jsonb_build_object('name', 'Send', 'action', action, 'start', true)
        || CASE WHEN foreach THEN '{"foreach": "$.to"}'::jsonb ELSE '{}' END,
      '{"name": "Sent", "end": true}'::jsonb),
      'transitions', '[{"from": "Send", "to": "Sent"}]'::jsonb))
$$;
SELECT mig_mail(true, 'm.send') AS m1 \gset
SELECT mig_mail(false, 'm.send') AS m2 \gset
SELECT mig_mail(true, 'm.post') AS m3 \gset
SELECT ws.start(:m1, '{"to": ["ann", "bob", "cy"]}') AS mail \gset
SELECT count(*) AS claimed FROM ws.claim(ARRAY['m.send'], 'postman');
SELECT * FROM ws.migrate(:mail, :m2, dry_run => true);
SELECT * FROM ws.migrate(:mail, :m3);
SELECT k.instance, k.state, k.action, q.action AS queued FROM ws.task k LEFT JOIN ws.ready q ON q.task = k.id
 WHERE k.process = :mail ORDER BY k.id;
SELECT count(*) AS claimed FROM ws.claim(ARRAY['m.post'], 'postman', 10);
SELECT ws.complete(id, jsonb_build_object('sent', instance)) FROM ws.task WHERE process = :mail ORDER BY id;
SELECT state, params FROM ws.process WHERE id = :mail;

-- A failed process moves too, with its failed task, which ws.retry then runs again on
-- the new version
CREATE FUNCTION mig_pay(receipt boolean) RETURNS bigint LANGUAGE sql AS $$
    SELECT ws.define(jsonb_build_object('name', 'pay', 'nodes',
      '[{"name": "Charge", "action": "p.charge", "start": true}, {"name": "Done", "end": true}]'::jsonb
        || CASE WHEN receipt THEN '[{"name": "Receipt", "action": "p.receipt"}]'::jsonb ELSE '[]' END,
      'transitions', CASE WHEN receipt
        THEN '[{"from": "Charge", "to": "Receipt"}, {"from": "Receipt", "to": "Done"}]'::jsonb
        ELSE '[{"from": "Charge", "to": "Done"}]'::jsonb END))
$$;
SELECT mig_pay(false) AS pay1 \gset
SELECT mig_pay(true) AS pay2 \gset
SELECT ws.start(:pay1) AS pay \gset
SELECT c.task AS charge FROM ws.claim(ARRAY['p.charge'], 'till') c \gset
SELECT ws.fail(:charge, 'card declined');
SELECT state, error FROM ws.process WHERE id = :pay;
SELECT * FROM ws.migrate(:pay, :pay2);
SELECT ws.retry(:charge);
SELECT mig_work(:pay, 'Charge', '{"charged": 30}');
SELECT * FROM mig_tasks(:pay);
SELECT mig_work(:pay, 'Receipt');
SELECT state FROM ws.process WHERE id = :pay;

-- A call activity: the parent moves with its calling task, and its child (a process of
-- another workflow) stays where it is until it is migrated itself (locking its tree's
-- root first, as every step of a tree does)
SELECT ws.define('{"name": "check", "nodes": [
  {"name": "Read", "action": "k.read", "start": true}, {"name": "Checked", "end": true}],
  "transitions": [{"from": "Read", "to": "Checked"}]}') AS check1 \gset
CREATE FUNCTION mig_journal(edit boolean) RETURNS bigint LANGUAGE sql AS $$
    SELECT ws.define(jsonb_build_object('name', 'journal', 'nodes',
      '[{"name": "Check", "call": "check", "start": true}, {"name": "Published", "end": true}]'::jsonb
        || CASE WHEN edit THEN '[{"name": "Edit", "action": "j.edit"}]'::jsonb ELSE '[]' END,
      'transitions', CASE WHEN edit
        THEN '[{"from": "Check", "to": "Edit"}, {"from": "Edit", "to": "Published"}]'::jsonb
        ELSE '[{"from": "Check", "to": "Published"}]'::jsonb END))
$$;
SELECT mig_journal(false) AS j1 \gset
SELECT mig_journal(true) AS j2 \gset
SELECT ws.start(:j1) AS journal \gset
SELECT id AS child FROM ws.process WHERE root = :journal \gset
SELECT ws.define('{"name": "check", "nodes": [
  {"name": "Read", "action": "k.read", "start": true}, {"name": "Sign", "action": "k.sign"},
  {"name": "Checked", "end": true}],
  "transitions": [{"from": "Read", "to": "Sign"}, {"from": "Sign", "to": "Checked"}]}') AS check2 \gset
SELECT * FROM ws.migrate(:journal, :j2);
SELECT x.id = :child AS the_child, w.name, w.version, x.parent_task IS NOT NULL AS called
  FROM ws.process x JOIN ws.workflow w ON w.id = x.workflow WHERE x.root = :journal;
SELECT * FROM ws.migrate(:child, :check2);
SELECT mig_work(:child, 'Read');
SELECT * FROM mig_tasks(:child);
SELECT mig_work(:child, 'Sign');
-- the child's end completes the calling task, and the parent goes on on its version 2
SELECT * FROM mig_tasks(:journal);
SELECT mig_work(:journal, 'Edit');
SELECT state FROM ws.process WHERE id IN (:journal, :child) ORDER BY id;

-- What migration refuses, each changing nothing
SELECT ws.define('{"name": "other", "nodes": [{"name": "a", "start": true, "end": true, "action": "x"}]}') AS other \gset
SELECT ws.start(:v3) AS s \gset
SELECT ws.migrate(:s, :other);                       -- a version of another workflow
SELECT ws.migrate(:s, :v3);                          -- its own version
SELECT ws.create_workflow('conference') AS broken \gset
SELECT ws.add_node(:broken, 'Search a location', 'conferencer.tasks.search', is_start => true) IS NOT NULL AS added;
SELECT ws.migrate(:s, :broken);                      -- a version that is not valid (no end node)
SELECT ws.migrate(:s, 999999);                       -- no such version
SELECT ws.migrate(999999, :v3);                      -- no such process
SELECT ws.migrate(:p, :v3);                          -- a completed process
SELECT ws.cancel(:s, 'postponed');
SELECT ws.migrate(:s, :v4);                          -- a cancelled process
SELECT ws.start(:v3) AS s \gset
SELECT ws.migrate(:s, :v4, '{"Collect papers": "Gather papers", "Gather papers": "Sort papers"}');
SELECT ws.migrate(:s, :v4, '{"Search a location": 1}');
SELECT ws.migrate(:s, :v4, '["Search a location"]');
SELECT ws.migrate(:s, :v4, NULL);
SELECT ws.migrate_all(:v3, :v4, batch => 0);
SELECT ws.migrate_all(:v3, :other);
SELECT workflow = :v3 AS unchanged FROM ws.process WHERE id = :s;
SELECT count(*) AS migrated_events FROM ws.event WHERE process = :s AND state = 'migrated';
-- only administrators migrate
SELECT ws.grant_user('ws_mig_ane');
SET ROLE ws_mig_ane;
SELECT ws.migrate(:s, :v4);
SELECT ws.migrate_all(:v3, :v4);
RESET ROLE;

-- ws.migrate_all: every process of version 3 is checked first. Two of them wait in
-- Gather papers, which version 2 does not have: nothing moves, both are named.
SELECT ws.start(:v3) AS s2 \gset
SELECT mig_work(:s, 'Send the Call for Papers');
SELECT mig_work(:s2, 'Send the Call for Papers');
SELECT count(ws.start(:v3)) AS started FROM generate_series(1, 298);
SELECT count(*) AS on_version_3 FROM ws.process WHERE workflow = :v3 AND state = 'running';
SELECT ws.migrate_all(:v3, :v2);
SELECT ws.migrate_all(:v3, :v2, dry_run => true);
SELECT count(*) AS on_version_3 FROM ws.process WHERE workflow = :v3 AND state = 'running';
SELECT ws.migrate_all(:v3, :v4, dry_run => true, batch => 120) AS would_move;
-- in batches: each call moves up to 120 and says how many are left; call until 0
SELECT ws.migrate_all(:v3, :v4, batch => 120) AS moved;
SELECT ws.migrate_all(:v3, :v4, batch => 120) AS moved;
SELECT ws.migrate_all(:v3, :v4, batch => 120) AS moved;
SELECT ws.migrate_all(:v3, :v4, batch => 120) AS moved;
SELECT workflow = :v4 AS on_version_4, state, count(*) FROM ws.process WHERE workflow IN (:v3, :v4)
 GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) AS without_their_event FROM ws.process x WHERE x.workflow = :v4
   AND NOT EXISTS (SELECT FROM ws.event e WHERE e.process = x.id AND e.state = 'migrated'
                      AND e.detail LIKE '%version 3 (id ' || :v3 || ') to version 4 (id ' || :v4 || ').');
-- the queue follows: every ready task of version 4 is in the queue under its new action
-- (a missing one would count under an empty action)
SELECT q.action, count(*) FROM ws.task k JOIN ws.process x ON x.id = k.process
  LEFT JOIN ws.ready q ON q.task = k.id AND q.action = k.action
 WHERE x.workflow = :v4 AND k.state = 'ready' GROUP BY 1 ORDER BY 1;

DROP FUNCTION mig_work(bigint, text, jsonb);
DROP FUNCTION mig_tasks(bigint);
DROP FUNCTION mig_tokens(bigint);
DROP FUNCTION mig_conference(jsonb, jsonb, text, boolean, text);
DROP FUNCTION mig_reminder(text);
DROP FUNCTION mig_mail(boolean, text);
DROP FUNCTION mig_pay(boolean);
DROP FUNCTION mig_journal(boolean);
DROP OWNED BY ws_mig_ane;
DROP ROLE ws_mig_ane, ws_mig_accounting, ws_mig_organization;
