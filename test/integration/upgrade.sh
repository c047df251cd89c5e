#!/usr/bin/env bash
# test/integration/upgrade.sh: ALTER EXTENSION ws UPDATE from every earlier version keeps
# the data, gives the same schema as a fresh install of the current version, and the
# engine works on the upgraded database. Needs PGHOST/PGPORT/PGUSER (test/run).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib/common.sh"

# everything of schemas ws and ws_internal that a version defines, as text (names, types,
# defaults, constraints, indexes, comments, function bodies, settings and attributes, view
# definitions, owners, privileges, the extension's initial privileges and members, what
# pg_dump keeps the data of)
schema() {
    q -d "$1" <<'SQL'
SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
       || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
       || coalesce(' default ' || pg_get_expr(d.adbin, d.adrelid), '')
       || coalesce(' identity ' || nullif(a.attidentity::text, ''), '') || ' #' || a.attnum
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
 WHERE c.relnamespace = ANY (ARRAY['ws'::regnamespace, 'ws_internal'::regnamespace]) AND c.relkind IN ('r', 'v')
UNION ALL
SELECT 'table ' || c.relname || ' ' || coalesce(c.reloptions::text, '')
  FROM pg_class c WHERE c.relnamespace = ANY (ARRAY['ws'::regnamespace, 'ws_internal'::regnamespace]) AND c.relkind = 'r'
UNION ALL
SELECT 'constraint ' || conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = ANY (ARRAY['ws'::regnamespace, 'ws_internal'::regnamespace])
UNION ALL
SELECT 'index ' || pg_get_indexdef(indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
 WHERE c.relnamespace = ANY (ARRAY['ws'::regnamespace, 'ws_internal'::regnamespace])
UNION ALL
SELECT 'comment ' || coalesce(c.relname || '.' || a.attname, c.relname) || ': ' || d.description
  FROM pg_description d JOIN pg_class c ON c.oid = d.objoid AND d.classoid = 'pg_class'::regclass
  LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.objsubid AND d.objsubid > 0
 WHERE c.relnamespace = ANY (ARRAY['ws'::regnamespace, 'ws_internal'::regnamespace])
UNION ALL
SELECT 'function ' || p.oid::regprocedure || ' ' || md5(p.prosrc) || ' '
       || coalesce(array_to_string(p.proconfig, ','), '') || ' ' || coalesce(obj_description(p.oid, 'pg_proc'), '')
       || ' lang ' || l.lanname || ' ' || p.prokind::text || p.provolatile::text
       || CASE WHEN p.prosecdef THEN ' security definer' ELSE '' END
       || CASE WHEN p.proisstrict THEN ' strict' ELSE '' END
       || ' owner ' || pg_get_userbyid(p.proowner) || ' acl ' || coalesce((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(p.proacl) x), 'default')
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = ANY (ARRAY['ws'::regnamespace, 'ws_internal'::regnamespace])
UNION ALL
SELECT 'relation ' || c.oid::regclass || ' owner ' || pg_get_userbyid(c.relowner) || ' acl '
       || coalesce((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(c.relacl) x), 'default')
  FROM pg_class c WHERE c.relnamespace = ANY (ARRAY['ws'::regnamespace, 'ws_internal'::regnamespace])
UNION ALL
SELECT 'schema ' || n.nspname || ' owner ' || pg_get_userbyid(n.nspowner) || ' acl ' || coalesce((SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(n.nspacl) x), 'default')
       || ' ' || coalesce(obj_description(n.oid, 'pg_namespace'), '')
  FROM pg_namespace n WHERE n.nspname IN ('ws', 'ws_internal')
UNION ALL
SELECT 'initial privileges ' || i.classoid::regclass || ' '
       || coalesce(p.oid::regprocedure::text, c.oid::regclass::text, n.nspname) || ' ' || i.privtype::text || ' '
       || (SELECT string_agg(x::text, ',' ORDER BY x::text) FROM unnest(i.initprivs) x)
  FROM pg_init_privs i
  LEFT JOIN pg_proc p ON i.classoid = 'pg_proc'::regclass AND p.oid = i.objoid
  LEFT JOIN pg_class c ON i.classoid = 'pg_class'::regclass AND c.oid = i.objoid
  LEFT JOIN pg_namespace n ON i.classoid = 'pg_namespace'::regclass AND n.oid = i.objoid
 WHERE p.pronamespace = ANY (ARRAY['ws'::regnamespace, 'ws_internal'::regnamespace])
    OR c.relnamespace = ANY (ARRAY['ws'::regnamespace, 'ws_internal'::regnamespace])
    OR n.nspname IN ('ws', 'ws_internal')
UNION ALL
SELECT 'member of the extension ' || pg_describe_object(d.classid, d.objid, d.objsubid)
  FROM pg_depend d WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'ws')
UNION ALL
SELECT 'extension in schema ' || e.extnamespace::regnamespace FROM pg_extension e WHERE e.extname = 'ws'
UNION ALL
SELECT 'dumped with its data ' || u.rel::regclass || coalesce(' where ' || nullif(u.cond, ''), '')
  FROM pg_extension e, unnest(e.extconfig, e.extcondition) AS u(rel, cond) WHERE e.extname = 'ws'
UNION ALL
SELECT 'view ' || c.relname || ' ' || md5(pg_get_viewdef(c.oid))
  FROM pg_class c WHERE c.relnamespace = ANY (ARRAY['ws'::regnamespace, 'ws_internal'::regnamespace]) AND c.relkind = 'v'
UNION ALL
SELECT 'trigger ' || tgrelid::regclass || ' ' || tgname FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = ANY (ARRAY['ws'::regnamespace, 'ws_internal'::regnamespace]) AND NOT tgisinternal
ORDER BY 1
SQL
}

current=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$here/../../ws.control")
ws_scratch_db ws_fresh
ws_scratch_dir tmp
# the roles the old versions' data below grants to, with their grants, so that privileges
# compare too (one name needs quoting)
q -d ws_fresh >/dev/null <<'SQL'
DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ws_upgrade_role') THEN CREATE ROLE ws_upgrade_role; END IF; END $$;
DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ws_upgrade_admin') THEN CREATE ROLE ws_upgrade_admin; END IF; END $$;
DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'Ws Upgrade-User') THEN CREATE ROLE "Ws Upgrade-User"; END IF; END $$;
SELECT ws.grant_user('ws_upgrade_role');
SELECT ws.grant_user('Ws Upgrade-User');
SELECT ws.grant_admin('ws_upgrade_admin');
SQL
schema ws_fresh >"$tmp/schema-fresh.txt"
ok $? "the schema of a fresh install of $current reads ($(wc -l <"$tmp/schema-fresh.txt") lines)"
# every version an upgrade script starts from (CREATE EXTENSION ws VERSION 'x' installs a
# version whose full script is gone by its base version and the upgrade scripts after it)
for from in $(ls "$here/../../sql" | sed -n 's/^ws--\([0-9.]*\)--[0-9.]*\.sql$/\1/p' | sort -uV); do
    [ "$from" = "$current" ] && continue
    db=ws_from_$(echo "$from" | tr . _)
    dropdb --if-exists "$db" >/dev/null 2>&1; createdb "$db"
    q -d "$db" -c "CREATE EXTENSION ws VERSION '$from'"
    # some data of the old version, as its engine left it (the current library expects the
    # current schema, so the rows are written directly): process 1 at a, 2 and 3 at b
    q -d "$db" >/dev/null <<'SQL'
DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ws_upgrade_role') THEN CREATE ROLE ws_upgrade_role; END IF; END $$;
SELECT ws.define('{"name": "up", "nodes": [{"name": "a", "action": "up.a"},
                   {"name": "b", "action": "up.b", "role": "ws_upgrade_role"}],
                   "transitions": [{"from": "a", "to": "b"}]}');
INSERT INTO ws.process (workflow) SELECT w.id FROM ws.workflow w, generate_series(1, 3) WHERE w.name = 'up';
INSERT INTO ws.task (process, node, action, state, ended_at)
SELECT p.id, n.id, n.action, CASE WHEN n.name = 'a' AND p.id > 1 THEN 'succeeded' ELSE 'ready' END,
       CASE WHEN n.name = 'a' AND p.id > 1 THEN now() END
  FROM ws.process p JOIN ws.node n ON n.workflow = p.workflow
 WHERE n.name = 'a' OR p.id > 1 ORDER BY p.id, n.id;
INSERT INTO ws.event (process, task, state) SELECT process, id, state FROM ws.task ORDER BY id;
SELECT ws.grant_user('ws_upgrade_role');
SELECT ws.grant_user('Ws Upgrade-User');
SELECT ws.grant_admin('ws_upgrade_admin');
-- from 0.2.0 on, the engine copies the node's role onto the task; from 0.3.0 on, ready
-- tasks are in the claim queue ws.ready
DO $$ BEGIN
    IF EXISTS (SELECT FROM pg_attribute WHERE attrelid = 'ws.task'::regclass AND attname = 'role') THEN
        EXECUTE 'UPDATE ws.task t SET role = n.role FROM ws.node n WHERE n.id = t.node';
    END IF;
    IF to_regclass('ws.ready') IS NOT NULL THEN
        EXECUTE 'INSERT INTO ws.ready (action, task) SELECT action, id FROM ws.task WHERE state = ''ready''';
    END IF;
END $$;
SQL
    out=$(q -d "$db" -c "SELECT ws.tick()" 2>&1)
    [[ $out == *"ws library is version $current but this database has ws $from"*"ALTER EXTENSION ws UPDATE"* ]] \
        || [[ $out == *"ws library is version $current but this database has ws $from"* && $out == *HINT* ]]
    ok $? "from $from: before the update the engine refuses with a clear error ($(echo "$out" | head -1))"
    before=$(q -d "$db" -c "SELECT (SELECT count(*) FROM ws.task) || '/' || (SELECT count(*) FROM ws.event) || '/' || (SELECT count(*) FROM ws.process)")
    q -d "$db" -c "ALTER EXTENSION ws UPDATE"; ok $? "ALTER EXTENSION ws UPDATE from $from"
    after=$(q -d "$db" -c "SELECT (SELECT count(*) FROM ws.task) || '/' || (SELECT count(*) FROM ws.event) || '/' || (SELECT count(*) FROM ws.process)")
    [ "$before" = "$after" ]; ok $? "from $from: tasks/events/processes kept ($before -> $after)"
    v=$(q -d "$db" -c "SELECT extversion FROM pg_extension WHERE extname = 'ws'")
    [ "$v" = "$current" ]; ok $? "from $from: now version $v"
    schema "$db" >"$tmp/schema-$from.txt" || echo "schema of $db unreadable" >>"$tmp/schema-$from.txt"
    diff -u "$tmp/schema-fresh.txt" "$tmp/schema-$from.txt" >"$tmp/schema-$from.diff"
    ok $? "from $from: the schema equals a fresh install of $current"
    [ -s "$tmp/schema-$from.diff" ] && head -40 "$tmp/schema-$from.diff"
    r=$(q -d "$db" -c "SELECT count(*) FROM ws.task t JOIN ws.node n ON n.id = t.node
                        WHERE t.role IS DISTINCT FROM n.role")
    [ "$r" = 0 ]; ok $? "from $from: every task carries its node's role"
    g=$(q -d "$db" -c "SELECT has_function_privilege('ws_upgrade_role', 'ws.complete_batch(bigint[], jsonb[], integer[])', 'EXECUTE')")
    [ "$g" = t ]; ok $? "from $from: a role granted ws.complete before the update may call ws.complete_batch"
    g=$(q -d "$db" -c "SELECT has_table_privilege('ws_upgrade_admin', 'ws.ready', 'SELECT')")
    [ "$g" = t ]; ok $? "from $from: an admin granted before the update may read ws.ready"
    g=$(q -d "$db" -c "SELECT has_function_privilege('ws_upgrade_role', 'ws.take(bigint)', 'EXECUTE')
                         AND has_table_privilege('ws_upgrade_role', 'ws.my_processes', 'SELECT')
                         AND has_function_privilege('ws_upgrade_role', 'ws.process_dot(bigint)', 'EXECUTE')
                         AND NOT has_function_privilege('ws_upgrade_role', 'ws.define(jsonb)', 'EXECUTE')")
    [ "$g" = t ]; ok $? "from $from: a user granted before the update has what ws.grant_user gives in $current, and no more"
    g=$(q -d "$db" -c "SELECT has_function_privilege('ws_upgrade_admin', 'ws.assign(bigint, name)', 'EXECUTE')
                         AND has_function_privilege('ws_upgrade_admin', 'ws.define(jsonb)', 'EXECUTE')
                         AND has_function_privilege('ws_upgrade_admin', 'ws.validate(text)', 'EXECUTE')")
    [ "$g" = t ]; ok $? "from $from: an admin granted before the update has what ws.grant_admin gives in $current"
    # the engine on the upgraded data: claim and complete what the old version left
    n=$(q -d "$db" -c "SELECT count(ws.complete(task)) FROM ws.claim(ARRAY['up.a'], 'w', 10)")
    m=$(q -d "$db" -c "SELECT count(ws.complete(task)) FROM ws.claim(ARRAY['up.b'], 'w', 10)")
    s=$(q -d "$db" -c "SELECT string_agg(state, ',' ORDER BY id) FROM ws.process")
    [ "$n" = 1 ] && [ "$m" = 3 ] && [ "$s" = "completed,completed,completed" ]
    ok $? "from $from: the old processes finish on the new engine (a: $n, b: $m, processes: $s)"
    # a dump of the upgraded database restores with the users' grants (the extension's
    # initial privileges do not include them, so pg_dump writes them)
    dropdb --if-exists "${db}_restored" >/dev/null 2>&1; createdb "${db}_restored"
    pg_dump -d "$db" >"$tmp/dump-$from.sql" && psql -X -q -v ON_ERROR_STOP=1 -d "${db}_restored" -f "$tmp/dump-$from.sql" >/dev/null 2>&1
    g=$(q -d "${db}_restored" -c "SELECT has_schema_privilege('Ws Upgrade-User', 'ws', 'USAGE')
                                   AND has_function_privilege('Ws Upgrade-User', 'ws.take(bigint)', 'EXECUTE')
                                   AND has_function_privilege('ws_upgrade_role', 'ws.claim(text[], text, integer, interval)', 'EXECUTE')
                                   AND has_function_privilege('ws_upgrade_admin', 'ws.define(jsonb)', 'EXECUTE')
                                   AND (SELECT count(*) = 3 FROM ws.process)" 2>&1)
    [ "$g" = t ]; ok $? "from $from: a dump of the upgraded database restores with its data and the users' grants ($g)"
    g=$(q -d "${db}_restored" -c "SELECT ws.start('up')" 2>&1)
    [ "$g" = 4 ]; ok $? "from $from: and its identities continue: a new process is number 4 ($g)"
    dropdb --if-exists "${db}_restored" >/dev/null 2>&1
    q -d "$db" -c "DROP EXTENSION ws" >/dev/null
    left=$(q -d "$db" -c "SELECT string_agg(nspname, ', ') FROM pg_namespace WHERE nspname IN ('ws', 'ws_internal')")
    [ -z "$left" ]; ok $? "from $from: DROP EXTENSION ws leaves no schema of ws (left: ${left:-none})"
    dropdb "$db"
done
finish upgrade
