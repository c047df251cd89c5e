-- People: what users see of their own work (ws.my_processes, ws.process_overview,
-- ws.process_dot), and who does a human task (ws.take, ws.release, ws.assign, the
-- assignee rule, due). Runs in one transaction that is rolled back, roles included.
BEGIN;
SELECT plan(60);

CREATE ROLE tp_admin LOGIN;
CREATE ROLE tp_clerks NOLOGIN;
CREATE ROLE tp_ane LOGIN IN ROLE tp_clerks;
CREATE ROLE tp_bob LOGIN IN ROLE tp_clerks;
CREATE ROLE tp_carla LOGIN IN ROLE tp_clerks;
CREATE ROLE tp_dan LOGIN;                       -- a ws user outside the clerks
CREATE ROLE tp_boss NOLOGIN IN ROLE tp_clerks;  -- an admin who is a clerk (never assigned: NOLOGIN)
-- an authenticator that may SET ROLE to ane (NOINHERIT: no rights of hers), first by name
CREATE ROLE tp_aaa_gate LOGIN NOINHERIT IN ROLE tp_ane;
SELECT ws.grant_admin('tp_admin');
SELECT ws.grant_admin('tp_boss');
SELECT ws.grant_user('tp_clerks');
SELECT ws.grant_user('tp_dan');

SET ROLE tp_admin;
SELECT ws.register_action('tp.form', '{"n": {"type": "integer", "required": true}}');
SELECT ws.define('{"name": "tp people", "nodes": [
  {"name": "approve", "role": "tp_clerks", "due": "2 days"},
  {"name": "count", "action": "tp.form", "role": "tp_clerks"},
  {"name": "end", "end": true}],
  "transitions": [{"from": "approve", "to": "count"}, {"from": "count", "to": "end"}]}');
RESET ROLE;

-- dan starts one process, the admin another
SET ROLE tp_dan;
SELECT ws.start('tp people') AS p_dan \gset
RESET ROLE;
SET ROLE tp_admin;
SELECT ws.start('tp people') AS p_admin \gset
RESET ROLE;
SELECT t.id AS a_dan FROM ws.task t WHERE t.process = :p_dan \gset
SELECT t.id AS a_admin FROM ws.task t WHERE t.process = :p_admin \gset

-- due on a human task: due_at is activation + due, shown in ws.my_tasks
SELECT is((SELECT due_at - created_at FROM ws.task WHERE id = :a_dan), interval '2 days',
          'a human task of a node with due is due that long after activation');
SELECT is((SELECT assignee::text FROM ws.task WHERE id = :a_dan), 'tp_ane', 'the first goes to the first clerk by name');
SELECT is((SELECT assignee::text FROM ws.task WHERE id = :a_admin), 'tp_bob', 'the second to the least loaded one');
SET ROLE tp_ane;
SELECT is((SELECT due_at FROM ws.my_tasks WHERE task = :a_dan), (SELECT created_at + interval '2 days' FROM ws.my_tasks WHERE task = :a_dan),
          'ws.my_tasks shows the due time');
RESET ROLE;

-- my processes: the ones a user started or acted in
SET ROLE tp_dan;
SELECT results_eq('SELECT id FROM ws.my_processes', ARRAY[:p_dan]::bigint[], 'dan sees the process he started, not the admin''s');
SELECT results_eq('SELECT process FROM ws.process_overview', ARRAY[:p_dan]::bigint[], 'and only it in ws.process_overview');
SELECT ok(ws.process_dot(:p_dan) LIKE 'digraph%', 'he draws his own process');
SELECT throws_ok(format('SELECT ws.process_dot(%s)', :p_admin), '42501', NULL, 'but not another''s');
SELECT throws_ok('SELECT ws.process_dot(424242)', '42704', NULL, 'an unknown process is 42704');
SELECT throws_ok(format('SELECT ws.take(%s)', :a_dan), '42501', NULL, 'dan is no clerk: he cannot take its task');
RESET ROLE;
SET ROLE tp_carla;
SELECT is((SELECT count(*)::int FROM ws.my_processes), 0, 'carla has not acted in any process yet');
SELECT throws_ok(format('SELECT ws.process_dot(%s)', :p_dan), '42501', NULL, 'so she cannot draw them');
SELECT is((SELECT count(*)::int FROM ws.my_tasks WHERE state = 'pending'), 2, 'she sees both pending approvals');
-- the assignee rule: an assigned pending task is completed only by its assignee or an admin
SELECT throws_ok(format('SELECT ws.complete(%s)', :a_dan), '42501', NULL,
                 'a clerk cannot complete a task assigned to another');
SELECT throws_ok(format('SELECT ws.complete_batch(ARRAY[%s])', :a_dan), '42501', NULL, 'nor in a batch');
SELECT throws_ok(format('SELECT ws.release(%s)', :a_dan), '42501', NULL, 'nor release it');
-- take: any member takes a pending task, whoever it is assigned to
SELECT lives_ok(format('SELECT ws.take(%s)', :a_dan), 'a clerk takes it');
RESET ROLE;
SELECT is((SELECT assignee::text FROM ws.task WHERE id = :a_dan), 'tp_carla', 'it is hers now');
SELECT is((SELECT detail FROM ws.event WHERE task = :a_dan ORDER BY id DESC LIMIT 1),
          'taken by "tp_carla"; assigned to "tp_carla", was assigned to "tp_ane"', 'the event says who took it from whom');
SELECT is((SELECT actor::text FROM ws.event WHERE task = :a_dan ORDER BY id DESC LIMIT 1), 'tp_carla', 'by her');
SELECT is((SELECT state FROM ws.task WHERE id = :a_dan), 'pending', 'it stays pending');
SELECT is((SELECT due_at - created_at FROM ws.task WHERE id = :a_dan), interval '2 days', 'and keeps its due time');
SET ROLE tp_carla;
SELECT is((SELECT id FROM ws.my_processes), :p_dan::bigint, 'having acted in it, carla sees the process');
SELECT ok(ws.process_dot(:p_dan) LIKE 'digraph%', 'and may draw it');
SELECT lives_ok(format('SELECT ws.take(%s)', :a_dan), 'taking it again changes nothing');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM ws.event WHERE task = :a_dan), 2, 'and records nothing');
-- the previous assignee lost it
SET ROLE tp_ane;
SELECT throws_ok(format('SELECT ws.complete(%s)', :a_dan), '42501', NULL, 'ane no longer may complete it');
RESET ROLE;
-- release: back to the least loaded other member
SET ROLE tp_carla;
SELECT lives_ok(format('SELECT ws.release(%s)', :a_dan), 'carla gives it back');
RESET ROLE;
SELECT is((SELECT assignee::text FROM ws.task WHERE id = :a_dan), 'tp_ane',
          'it goes to the least loaded member but her (ane: 0 open, bob: 1)');
SELECT is((SELECT detail FROM ws.event WHERE task = :a_dan ORDER BY id DESC LIMIT 1),
          'released by "tp_carla"; assigned to "tp_ane", was assigned to "tp_carla"', 'the event says so');
-- assign: admins only, to a member of the node's role
SET ROLE tp_ane;
SELECT throws_ok(format($$SELECT ws.assign(%s, 'tp_bob')$$, :a_dan), '42501', NULL, 'a user cannot assign');
RESET ROLE;
SET ROLE tp_admin;
SELECT throws_ok(format($$SELECT ws.assign(%s, 'tp_dan')$$, :a_dan), '22023', NULL,
                 'an admin cannot assign to a role outside the node''s role');
SELECT throws_ok(format($$SELECT ws.assign(%s, 'tp_nobody')$$, :a_dan), '42704', NULL, 'nor to a role that does not exist');
SELECT lives_ok(format($$SELECT ws.assign(%s, 'tp_bob')$$, :a_dan), 'an admin assigns it to bob');
SELECT lives_ok(format($$SELECT ws.assign(%s, NULL)$$, :a_admin), 'and leaves the other unassigned');
RESET ROLE;
SELECT is((SELECT assignee::text FROM ws.task WHERE id = :a_dan), 'tp_bob', 'bob has it');
SELECT is((SELECT assignee FROM ws.task WHERE id = :a_admin), NULL, 'the other is nobody''s');
-- an unassigned pending task: any member completes it
SET ROLE tp_carla;
SELECT lives_ok(format('SELECT ws.complete(%s)', :a_admin), 'a member completes an unassigned task');
RESET ROLE;
-- the assignee completes; an admin may complete anyone's
SET ROLE tp_bob;
SELECT lives_ok(format('SELECT ws.complete(%s)', :a_dan), 'the assignee completes it');
RESET ROLE;
SELECT is((SELECT state FROM ws.task WHERE id = :a_dan), 'succeeded', 'it succeeded');

-- the assignee rule for ws.fill too; an admin fills anyone's
SELECT t.id AS c_dan FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = :p_dan AND n.name = 'count' \gset
SELECT t.assignee AS c_who FROM ws.task t WHERE t.id = :c_dan \gset
SELECT is((SELECT state FROM ws.task WHERE id = :c_dan), 'pending', 'count waits for its n');
SET ROLE tp_dan;
SELECT throws_ok(format($$SELECT ws.fill(%s, '{"n": 1}')$$, :c_dan), '42501', NULL, 'a non-member cannot fill');
RESET ROLE;
SELECT CASE WHEN :'c_who' = 'tp_carla' THEN 'tp_bob' ELSE 'tp_carla' END AS other \gset
SET ROLE :other;
SELECT throws_ok(format($$SELECT ws.fill(%s, '{"n": 1}')$$, :c_dan), '42501', NULL,
                 'a member who is not the assignee cannot fill an assigned task');
RESET ROLE;
SET ROLE tp_admin;
SELECT throws_ok(format($$SELECT ws.fill(%s, '{"n": 1}')$$, :c_dan), '42501', NULL,
                 'an admin outside the node''s role cannot fill: the role rule holds for everyone');
RESET ROLE;
SET ROLE tp_boss;
SELECT lives_ok(format($$SELECT ws.fill(%s, '{"n": 1}')$$, :c_dan), 'an admin who is a member fills another''s task');
RESET ROLE;
SELECT is((SELECT state FROM ws.task WHERE id = :c_dan), 'ready', 'it is ready');

-- take, release, assign only move pending tasks
SET ROLE tp_carla;
SELECT throws_ok(format('SELECT ws.take(%s)', :c_dan), '55000', NULL, 'a ready task cannot be taken');
RESET ROLE;

-- ws.fail follows the assignee rule too; an admin who is a member completes anyone's
SET ROLE tp_admin;
SELECT ws.define('{"name": "tp more", "nodes": [{"name": "check", "role": "tp_clerks"},
  {"name": "end", "end": true}], "transitions": [{"from": "check", "to": "end"}]}');
SELECT ok(ws.define_dot('digraph "tp dot" { a -> b }') > 0, 'an admin who is no superuser defines through ws.define_dot');
SELECT ok(ws.define_bpmn(ws.to_bpmn('tp more')::text) > 0,
          'an admin who is no superuser exports to BPMN and defines through ws.define_bpmn');
RESET ROLE;
SET ROLE tp_dan;
SELECT throws_ok('SELECT ws.define_bpmn(''<x/>'')', '42501', NULL, 'a user who is no admin may not define from BPMN');
RESET ROLE;
SELECT ws.start('tp more') AS p_more \gset
SELECT t.id AS k1, t.assignee AS k1_who FROM ws.task t WHERE t.process = :p_more \gset
SELECT CASE WHEN :'k1_who' = 'tp_carla' THEN 'tp_bob' ELSE 'tp_carla' END AS not_k1 \gset
SET ROLE :not_k1;
SELECT throws_ok(format($$SELECT ws.fail(%s, 'no')$$, :k1), '42501', NULL,
                 'a member who is not the assignee cannot fail an assigned task');
RESET ROLE;
SET ROLE tp_boss;
SELECT lives_ok(format('SELECT ws.complete(%s)', :k1), 'an admin who is a member completes a task assigned to another');
RESET ROLE;
SELECT is((SELECT state FROM ws.process WHERE id = :p_more), 'completed', 'and the process goes on');

-- release with no other member who can log in: nobody's
CREATE ROLE tp_solo NOLOGIN;
GRANT tp_solo TO tp_ane;
SELECT ws.grant_user('tp_solo');
SET ROLE tp_admin;
SELECT ws.define('{"name": "tp solo", "nodes": [{"name": "alone", "role": "tp_solo"}]}');
RESET ROLE;
SELECT ws.start('tp solo') AS p_solo \gset
SELECT t.id AS s1 FROM ws.task t WHERE t.process = :p_solo \gset
SELECT is((SELECT assignee::text FROM ws.task WHERE id = :s1), 'tp_ane', 'the only member has it');
SET ROLE tp_ane;
SELECT lives_ok(format('SELECT ws.release(%s)', :s1), 'she gives it back');
RESET ROLE;
SELECT is((SELECT assignee FROM ws.task WHERE id = :s1), NULL, 'with nobody else to take it, it is nobody''s');
SELECT is((SELECT detail FROM ws.event WHERE task = :s1 ORDER BY id DESC LIMIT 1),
          'released by "tp_ane"; unassigned, was assigned to "tp_ane"', 'the event says so');
SET ROLE tp_admin;
SELECT throws_ok(format($$SELECT ws.assign(%s, 'tp_solo')$$, :s1), '22023', NULL,
                 'an admin cannot assign to a role that cannot log in');
RESET ROLE;

-- a human task that waited for a timer: pending with no due time, not the timer's
SET ROLE tp_admin;
SELECT ws.define('{"name": "tp later", "nodes": [{"name": "later", "role": "tp_clerks", "wait": "1 millisecond"}]}');
RESET ROLE;
SELECT ws.start('tp later') AS p_later \gset
SELECT pg_sleep(0.01);
SELECT ws.tick();
SELECT is((SELECT state || ' ' || coalesce(due_at::text, 'no due') FROM ws.task WHERE process = :p_later), 'pending no due',
          'after its timer a pending task of a node without due has no due time');

SELECT is((SELECT count(*)::int FROM ws.task WHERE assignee = 'tp_aaa_gate'), 0,
          'a NOINHERIT role granted a member (an authenticator) is never assigned a task');
SELECT * FROM finish();
ROLLBACK;
