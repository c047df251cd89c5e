#!/usr/bin/env bash
# test/integration/shards.sh: ws sharded over three PostgreSQL clusters behind the router
# (sql/router/ws_router.sql, PL/Proxy). Three throwaway clusters, each a shard (ws.set_shard
# k of 3), and a router database in the test's own cluster. Through the router only: an
# administrator registers an action and defines a workflow (the same ids on every shard); a
# user starts processes by business key (the same key always lands on the same shard, the
# keys spread over all three), workers claim and complete, a person completes the human
# step (another user, not in its role, is refused by the shard with 42501), every process
# completes; ids never collide across shards, and a shard restored from pg_dump goes on
# numbering its own way. A definition that one shard refuses (a role missing there) is
# stored on none. A shard killed with SIGKILL: starts by key for the other shards go on,
# those for it fail, a call gathered from all fails as a whole, workers on the other shards
# go on; after its restart every process completes, each step once. The router's other
# routes: ws.tick (every shard, summed), ws.process_by_key (the shard of the key),
# ws.migrate (the process's shard), ws.migrate_all (every shard, checked on all first) and
# ws.purge (every shard, summed). Bad input: a NULL key, an id from no shard, a task no
# shard has, shrinking the shards while they hold processes, the shards given out of order:
# each a clear error that changes nothing. Last, under load: 3,000 conference processes
# (WS_SHARDS_PROCESSES) started through the router with random keys (the same every run),
# spread within 10% of even; two ws-workers, each connected to all three shards (--dsn
# three times), complete them while shard 2's postmaster is killed with SIGKILL (a tenth
# of the way) and
# restarted: the other two go on meanwhile, and on every shard each task succeeds exactly
# once and each process completes once; ids never collide.
set -uo pipefail
: "${PGHOST:?run from test/run or after ws_cluster_start}"
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib/common.sh"
. "$here/lib/clusters.sh"
router_sql="$here/../../sql/router/ws_router.sql"
WS_OK_NUMBERED=1
ws_scratch_dir tmp
chmod 755 "$tmp"

ROUTER=ws_router_test
ROLES="ws_sh_admin, ws_sh_clerk, ws_sh_ann, ws_sh_bob, ws_sh_reviewers"
N=60        # processes

# ---- three shards ----
for k in 0 1 2; do
    ws_extra_cluster "shard$k"
done
sdsn() { local v="shard${1}_dsn"; echo "${!v} dbname=ws_shard"; }
sq() { local k=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -d "$(sdsn "$k")" "$@"; }
for k in 0 1 2; do
    v="shard${k}_dsn"
    psql -X -q -d "${!v} dbname=postgres" -c "CREATE DATABASE ws_shard" >/dev/null || fail "cannot create shard $k's database"
    sq "$k" >/dev/null <<SQL || fail "cannot set up shard $k"
CREATE EXTENSION ws;
SELECT ws.set_shard($k, 3);
CREATE ROLE ws_sh_reviewers NOLOGIN;
CREATE ROLE ws_sh_admin LOGIN;
CREATE ROLE ws_sh_clerk LOGIN;
CREATE ROLE ws_sh_ann LOGIN IN ROLE ws_sh_reviewers;
CREATE ROLE ws_sh_bob LOGIN;
SELECT ws.grant_admin('ws_sh_admin');
SELECT ws.grant_user(r) FROM unnest(ARRAY['ws_sh_clerk', 'ws_sh_ann', 'ws_sh_bob']) r;
SQL
done
# a role that exists on shards 0 and 1 only: a definition naming it is refused by shard 2
sq 0 -c "CREATE ROLE ws_sh_only01 NOLOGIN" && sq 1 -c "CREATE ROLE ws_sh_only01 NOLOGIN" \
    || fail "cannot create ws_sh_only01"

# ---- the router ----
ws_scratch_db --empty "$ROUTER"
q -v ON_ERROR_STOP=1 -f "$router_sql" >/dev/null 2>"$tmp/router.err"
ok $? "sql/router/ws_router.sql installs in an empty database$( [ -s "$tmp/router.err" ] && echo ": $(head -1 "$tmp/router.err")")"
on_exit "psql -X -q -d postgres -c 'DROP ROLE IF EXISTS $ROLES' >/dev/null 2>&1"
q >/dev/null <<SQL || fail "cannot set up the router's roles"
SET client_min_messages = warning;
DROP ROLE IF EXISTS $ROLES;
CREATE ROLE ws_sh_reviewers NOLOGIN;
CREATE ROLE ws_sh_admin LOGIN;
CREATE ROLE ws_sh_clerk LOGIN;
CREATE ROLE ws_sh_ann LOGIN IN ROLE ws_sh_reviewers;
CREATE ROLE ws_sh_bob LOGIN;
SQL
shards="ARRAY['$(sdsn 0)', '$(sdsn 1)', '$(sdsn 2)']"
q -c "SELECT ws_router.set_shards($shards)" >/dev/null 2>"$tmp/set.err"
ok $? "ws_router.set_shards takes the three shards$( [ -s "$tmp/set.err" ] && echo ": $(head -1 "$tmp/set.err")")"
q -c "SELECT ws_router.grant_user(r) FROM unnest(ARRAY['ws_sh_admin', 'ws_sh_clerk', 'ws_sh_ann', 'ws_sh_bob']) r" >/dev/null \
    || fail "cannot grant the router to the users"
# rq ROLE SQL...: psql on the router as ROLE (PL/Proxy then connects to the shards as ROLE)
rq() { local r=$1; shift; psql -X -q -At -v ON_ERROR_STOP=1 -U "$r" "$@"; }
# sqlstate ROLE SQL: the SQLSTATE the router answers with, "ok" when it succeeds
sqlstate() {
    local err
    err=$(rq "$1" -v VERBOSITY=sqlstate -c "$2" 2>&1 >/dev/null) && { echo ok; return; }
    sed -n 's/^ERROR:  *//p' <<<"$err" | head -1
}
# every shard's answer to SQL, one line each
each() { local k; for k in 0 1 2; do echo "$k: $(sq "$k" -c "$1" 2>&1 | tr '\n' ' ')"; done; }

# ---- definitions through the router: the same everywhere ----
wf=$(rq ws_sh_admin 2>"$tmp/define.err" <<'SQL'
SELECT ws.register_action('sh.review', '{"verdict": {"type": "string"}}', 'a person reviews');
SELECT ws.define('{"name": "paper", "params": {"venue": "ws"},
  "nodes": [{"name": "submit", "action": "sh.submit", "start": true},
            {"name": "check", "action": "sh.check"}, {"name": "format", "action": "sh.format"},
            {"name": "review", "role": "ws_sh_reviewers"},
            {"name": "publish", "action": "sh.publish", "join": "and"},
            {"name": "done", "end": true}],
  "transitions": [{"from": "submit", "to": "check"}, {"from": "submit", "to": "format"},
                  {"from": "check", "to": "review"}, {"from": "review", "to": "publish"},
                  {"from": "format", "to": "publish"}, {"from": "publish", "to": "done"}]}');
SQL
)
wf=$(tail -1 <<<"$wf")
[ "$wf" = 1 ]; ok $? "an administrator defines a workflow through the router: id $wf$( [ -s "$tmp/define.err" ] && echo ": $(head -1 "$tmp/define.err")")"
defs="SELECT md5(concat_ws('|', (SELECT string_agg(concat_ws(',', id, name, version, params), ';' ORDER BY id) FROM ws.workflow),
    (SELECT string_agg(concat_ws(',', id, workflow, name, action, role, \"join\", split), ';' ORDER BY id) FROM ws.node),
    (SELECT string_agg(concat_ws(',', id, workflow, parent, child), ';' ORDER BY id) FROM ws.transition),
    (SELECT string_agg(concat_ws(',', name, params, description), ';' ORDER BY name) FROM ws.action)))"
got=$(each "$defs")
[ "$(cut -d' ' -f2 <<<"$got" | sort -u | wc -l)" = 1 ] && [ "$(sq 0 -c "SELECT count(*) FROM ws.node")" = 6 ]
ok $? "workflows, nodes, transitions and actions are identical on every shard, ids included"
got=$(rq ws_sh_admin -c "SELECT count(*) FROM ws.validate('paper')" -c "SELECT ws.export('paper') ->> 'name'" | tr '\n' ' ')
[ "$got" = "0 paper " ]; ok $? "ws.validate and ws.export answer through the router ($got)"

# ---- processes started by key ----
rq ws_sh_clerk -c "SELECT ws.start('paper', jsonb_build_object('n', i), 'paper-' || i) FROM generate_series(1, $N) i" \
    >"$tmp/started" 2>"$tmp/start.err"
[ "$(sort -u "$tmp/started" | wc -l)" = $N ]; ok $? "a user starts $N processes through the router, each with its business key$( [ -s "$tmp/start.err" ] && echo ": $(head -1 "$tmp/start.err")")"
spread=$(for k in 0 1 2; do sq "$k" -c "SELECT count(*) FROM ws.process"; done | tr '\n' ' ')
read -r c0 c1 c2 <<<"$spread"
[ $((c0 + c1 + c2)) = $N ] && [ "$c0" -ge 10 ] && [ "$c1" -ge 10 ] && [ "$c2" -ge 10 ]
ok $? "the keys spread over the three shards ($spread)"
wrong=$(for k in 0 1 2; do sq "$k" -c "SELECT string_agg(id::text, ',') FROM ws.process WHERE id % 3 <> $k OR params ->> 'n' IS NULL
    OR abs(hashtext('paper-' || (params ->> 'n')) % 3) <> $k"; done | tr -d '\n')
[ -z "$wrong" ]; ok $? "each process is on the shard of its key's hash, its id congruent to the shard${wrong:+ (not: $wrong)}"
# the same key again: the same shard
again=$(rq ws_sh_clerk -c "SELECT ws.start('paper', '{\"n\": 7}', 'paper-7') % 3, ws.start('paper', '{\"n\": 7}', 'paper-7') % 3, abs(hashtext('paper-7') % 3)" 2>&1)
[ "$(tr '|' '\n' <<<"$again" | sort -u | wc -l)" = 1 ]; ok $? "the same key lands on the same shard every time ($again)"
keyed=$(q -c "SELECT keyed FROM ws_router.config")
if [ "$keyed" = t ]; then
    n7=$(for k in 0 1 2; do sq "$k" -c "SELECT count(*) FROM ws.process WHERE params ->> 'n' = '7'"; done | awk '{s += $1} END {print s}')
    [ "$n7" = 1 ]; ok $? "the shards take business keys: starting key paper-7 again started nothing ($n7 process)"
    p7=$(sq "$(cut -d'|' -f1 <<<"$again")" -c "SELECT id FROM ws.process WHERE key = 'paper-7'")
    got=$(rq ws_sh_clerk -c "SELECT ws.process_by_key('paper', 'paper-7')" \
             -c "SELECT ws.process_by_key('paper', 'paper-' || i) % 3 = abs(hashtext('paper-' || i) % 3) FROM generate_series(1, $N) i" \
             -c "SELECT ws.process_by_key('paper', 'no such key') IS NULL, ws.process_by_key('paper', NULL) IS NULL" 2>&1 | sort | uniq -c | tr -s ' \n' ' ')
    [ -n "$p7" ] && [ "$got" = " 1 $p7 $N t 1 t|t " ]
    ok $? "ws.process_by_key through the router finds each key's process on the shard the key hashes to, NULL for an unknown or NULL key ($got)"
else
    # the shards' ws.start takes no key (before ws 0.4.0's business keys): the router routes
    # by the key and calls ws.start(workflow, params); the two extra starts are cancelled
    extra=$(sq "$(cut -d'|' -f1 <<<"$again")" -c "SELECT string_agg(id::text, ',') FROM ws.process WHERE params ->> 'n' = '7' AND id > (SELECT min(id) FROM ws.process WHERE params ->> 'n' = '7')")
    rq ws_sh_admin -c "SELECT ws.cancel(p, 'started twice') FROM unnest('{$extra}'::bigint[]) p" >/dev/null
    ok $? "the shards' ws.start takes no key: the router routed by it, and cancels the two extra starts ($extra) on their shard"
fi

# ---- ws.tick through the router: every shard's, summed ----
# tasks claimed with a lease that has ended: one on shard 0, two on shard 1
for k in 0 1; do
    sq "$k" -c "SELECT count(*) FROM ws.claim(ARRAY['sh.submit'], 'lost', $((k + 1)), '1 millisecond')" >/dev/null
done
sleep 0.1
moved=$(rq ws_sh_admin -c "SELECT ws.tick()" 2>&1)
left=$(for k in 0 1 2; do sq "$k" -c "SELECT count(*) FROM ws.task WHERE worker = 'lost' AND state = 'running'"; done | tr '\n' ' ')
[ "$moved" = 3 ] && [ "$left" = "0 0 0 " ]
ok $? "ws.tick through the router ticks every shard and returns the sum: 1 + 2 leases ended ($moved; still running: $left)"

# ---- work through the router ----
# workers: claim on every shard, complete on the owning shard
work() {
    local i
    for i in $(seq 30); do
        rq ws_sh_clerk -c "SELECT ws.complete(task, jsonb_build_object(node || '_by', 'w'), attempt) FROM ws.claim(ARRAY['sh.submit', 'sh.check', 'sh.format', 'sh.publish'], 'w', 50)" \
            >/dev/null 2>>"$tmp/work.err" || return 1
        [ "$(rq ws_sh_clerk -c "SELECT count(*) FROM ws.my_tasks WHERE state = 'ready'")" = 0 ] && return 0
    done
}
work; ok $? "workers claim and complete through the router until nothing is ready$( [ -s "$tmp/work.err" ] && echo ": $(head -1 "$tmp/work.err")")"
reviews=$(rq ws_sh_ann -c "SELECT count(*) FROM ws.my_tasks WHERE node = 'review' AND state = 'pending'")
[ "$reviews" = $N ]; ok $? "the reviewer sees every review task, on all shards, in ws.my_tasks through the router ($reviews)"
one=$(rq ws_sh_ann -c "SELECT task FROM ws.my_tasks WHERE node = 'review' ORDER BY task LIMIT 1")
[ "$(rq ws_sh_bob -c "SELECT count(*) FROM ws.my_tasks")" = 0 ]; ok $? "a user outside the role sees none of them"
s=$(sqlstate ws_sh_bob "SELECT ws.complete($one, '{\"verdict\": \"mine\"}')")
[ "$s" = 42501 ]; ok $? "he cannot complete one: the shard's role check refuses him, as himself ($s)"
[ "$(sq $((one % 3)) -c "SELECT state || ' ' || (result IS NULL OR result = '{}') FROM ws.task WHERE id = $one")" = "pending true" ]
ok $? "and the task is as it was"
# ---- migrating to a new version through the router: ws.migrate on the process's shard,
# ws.migrate_all on every shard, checked on all before any moves ----
v2=$(rq ws_sh_admin -c "SELECT ws.define(ws.export('paper'))" 2>&1)
running() { each "SELECT count(*) FILTER (WHERE workflow = $wf) || '/' || count(*) FILTER (WHERE workflow = $v2) FROM ws.process WHERE state = 'running'"; }
r0=$(running)
dry=$(rq ws_sh_admin -c "SELECT ws.migrate_all($wf, $v2, '{}', true)" 2>&1)
total=$(awk '{ split($2, a, "/"); s += a[1] } END { print s }' <<<"$r0")
[ "$v2" -gt "$wf" ] && [ "$dry" = "$total" ] && [ "$(running)" = "$r0" ]
ok $? "ws.migrate_all dry run through the router counts the processes of every shard ($dry of $total) and moves none"
s=$(sqlstate ws_sh_admin "SELECT ws.migrate_all($wf, $v2, '{\"review\": \"no such node\"}')")
[ "$s" = 22023 ] && [ "$(running)" = "$r0" ]; ok $? "a migration that the shards refuse moves nothing on any shard ($s)"
# shard 2 alone refuses (the administrator may not migrate there): shards 0 and 1, which
# would have moved theirs, move none either
mig="FUNCTION ws.migrate_all(bigint, bigint, jsonb, boolean, integer)"
sq 2 -c "REVOKE EXECUTE ON $mig FROM ws_sh_admin" >/dev/null
s=$(sqlstate ws_sh_admin "SELECT ws.migrate_all($wf, $v2)")
sq 2 -c "GRANT EXECUTE ON $mig TO ws_sh_admin" >/dev/null
[ "$s" = 42501 ] && [ "$(running)" = "$r0" ]
ok $? "a migration one shard refuses moves nothing on the others either: all are checked first ($s; $(running | tr '\n' ' '))"
mp=$(sq 1 -c "SELECT min(id) FROM ws.process WHERE state = 'running'")
plan=$(rq ws_sh_admin -c "SELECT count(*) FROM ws.migrate($mp, $v2)" 2>&1)
[ "$plan" -gt 0 ] 2>/dev/null && [ "$(sq 1 -c "SELECT workflow FROM ws.process WHERE id = $mp")" = "$v2" ]
ok $? "ws.migrate through the router moves one process on its shard ($mp: $plan lines of plan)"
moved=$(rq ws_sh_admin -c "SELECT ws.migrate_all($wf, $v2)" 2>"$tmp/migrate.err")
[ "$moved" = $((total - 1)) ] && [ -z "$(running | grep -v ': 0/')" ]
ok $? "ws.migrate_all through the router moves the rest on every shard, summed ($moved; $(running | tr '\n' ' ')$(grep -v NOTICE "$tmp/migrate.err" | head -1))"

actor=$(rq ws_sh_ann -c "SELECT ws.complete(task, '{\"verdict\": \"accept\"}') FROM ws.my_tasks WHERE node = 'review'" 2>&1 >/dev/null)
[ -z "$actor" ]; ok $? "the reviewer completes every review through the router${actor:+: $actor}"
who=$(sq $((one % 3)) -c "SELECT actor FROM ws.event WHERE task = $one AND state = 'succeeded'")
[ "$who" = ws_sh_ann ]; ok $? "the shard recorded the real user as the actor ($who)"
rm -f "$tmp/work.err"
work; ok $? "workers publish$( [ -s "$tmp/work.err" ] && echo ": $(head -1 "$tmp/work.err")")"
states=$(rq ws_sh_admin -c "SELECT string_agg(state || ' ' || n, ', ' ORDER BY state) FROM (SELECT state, count(*) n FROM ws.process_overview GROUP BY state) s")
expect="completed $N"
[ "$keyed" = t ] || expect="cancelled 2, completed $N"
[ "$states" = "$expect" ]; ok $? "every process completes, seen through the router's ws.process_overview ($states)"
double=$(for k in 0 1 2; do sq "$k" -c "SELECT count(*) FROM (SELECT process, node FROM ws.task WHERE state = 'succeeded' GROUP BY 1, 2 HAVING count(*) > 1) d"; done | tr '\n' ' ')
[ "$double" = "0 0 0 " ]; ok $? "no step succeeded twice ($double)"

# ---- ids across shards ----
for k in 0 1 2; do
    sq "$k" -c "SELECT 'p' || id FROM ws.process UNION ALL SELECT 't' || id FROM ws.task UNION ALL SELECT 'e' || id FROM ws.event"
done >"$tmp/ids"
total=$(wc -l <"$tmp/ids"); uniq=$(sort -u "$tmp/ids" | wc -l)
[ "$total" = "$uniq" ] && [ "$total" -gt $((N * 20)) ]; ok $? "process, task and event ids never collide across shards ($total ids, $uniq distinct)"
res=$(each "SELECT string_agg(DISTINCT (id % 3)::text, ',') FROM (SELECT id FROM ws.process UNION ALL SELECT id FROM ws.task UNION ALL SELECT id FROM ws.event) x")
[ "$res" = $'0: 0 \n1: 1 \n2: 2 ' ]; ok $? "every id of shard k is congruent to k modulo 3 ($(tr '\n' ' ' <<<"$res"))"

# ---- a shard restored from a dump keeps its numbering ----
pg_dump -Fc -f "$tmp/shard1.dump" -d "$(sdsn 1)" 2>"$tmp/dump.err"; ok $? "pg_dump of shard 1$( [ -s "$tmp/dump.err" ] && echo ": $(head -1 "$tmp/dump.err")")"
psql -X -q -d "$shard1_dsn dbname=postgres" -c "CREATE DATABASE ws_shard_restored" || fail "cannot create the restore target"
pg_restore -d "$shard1_dsn dbname=ws_shard_restored" "$tmp/shard1.dump" 2>"$tmp/restore.err"
ok $? "pg_restore into a new database$( [ -s "$tmp/restore.err" ] && echo ": $(head -1 "$tmp/restore.err")")"
rsq() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$shard1_dsn dbname=ws_shard_restored" "$@"; }
maxes=$(sq 1 -c "SELECT (SELECT max(id) FROM ws.process), (SELECT max(id) FROM ws.task), (SELECT max(id) FROM ws.event)")
got=$(rsq -c "SELECT shard || ' of ' || shards FROM ws.shard" \
          -c "SELECT ws.start('paper', '{\"n\": 0}') FROM generate_series(1, 3)" \
          -c "SELECT string_agg(DISTINCT (id % 3)::text, ',') FROM (SELECT id FROM ws.process UNION ALL SELECT id FROM ws.task UNION ALL SELECT id FROM ws.event) x" \
          -c "SELECT (SELECT max(id) FROM ws.process WHERE params ->> 'n' <> '0'), (SELECT min(id) FROM ws.task WHERE process IN (SELECT id FROM ws.process WHERE params ->> 'n' = '0')) > $(cut -d'|' -f2 <<<"$maxes")" 2>&1 | tr '\n' ' ')
pmax=$(cut -d'|' -f1 <<<"$maxes")
[ "$got" = "1 of 3 $((pmax + 3)) $((pmax + 6)) $((pmax + 9)) 1 $pmax|t " ]
ok $? "the restored shard is shard 1 of 3 again and numbers new processes, tasks and events 1 modulo 3 after the old ones ($got)"

# ---- a definition one shard refuses is stored on none ----
before=$(each "SELECT count(*) FROM ws.workflow")
err=$(rq ws_sh_admin -c "SELECT ws.define('{\"name\": \"only01\", \"nodes\": [{\"name\": \"a\", \"action\": \"sh.a\"}, {\"name\": \"b\", \"role\": \"ws_sh_only01\"}], \"transitions\": [{\"from\": \"a\", \"to\": \"b\"}]}')" 2>&1)
grep -q 'ws_sh_only01' <<<"$err"; ok $? "a define naming a role that shard 2 lacks fails through the router: $(grep ERROR <<<"$err" | head -1)"
after=$(each "SELECT count(*) FROM ws.workflow")
[ "$after" = "$before" ]; ok $? "and no shard stored any of it ($(tr '\n' ' ' <<<"$after"))"
err=$(rq ws_sh_admin -c "SELECT ws.register_action('sh.bad', '{\"a\": 1}')" 2>&1 >/dev/null)
[ "$(each "SELECT count(*) FROM ws.action WHERE name = 'sh.bad'")" = $'0: 0 \n1: 0 \n2: 0 ' ] && [ -n "$err" ]
ok $? "a refused register_action is stored on no shard"
sq 2 -c "REVOKE EXECUTE ON FUNCTION ws.register_action(text, jsonb, text, regprocedure) FROM ws_sh_admin" >/dev/null
err=$(rq ws_sh_admin -v VERBOSITY=sqlstate -c "SELECT ws.register_action('sh.new', '{}')" 2>&1 >/dev/null)
[ "$(each "SELECT count(*) FROM ws.action WHERE name = 'sh.new'")" = $'0: 0 \n1: 0 \n2: 0 ' ] && grep -q 42501 <<<"$err"
ok $? "an administrator that shard 2 does not let register actions registers none anywhere (${err:-no error})"
sq 2 -c "GRANT EXECUTE ON FUNCTION ws.register_action(text, jsonb, text, regprocedure) TO ws_sh_admin" >/dev/null
# a shard whose definition sequences ran ahead (as a check cancelled half-way leaves them)
sq 1 -c "SELECT nextval('ws.workflow_id_seq'), nextval('ws.node_id_seq') FROM generate_series(1, 3)" >/dev/null
wf2=$(rq ws_sh_admin -c "SELECT ws.define('{\"name\": \"paper\", \"nodes\": [{\"name\": \"submit\", \"action\": \"sh.submit\"}]}')" 2>&1)
got=$(each "$defs")
[ "$wf2" -gt 1 ] && [ "$(cut -d' ' -f2 <<<"$got" | sort -u | wc -l)" = 1 ]
ok $? "the next definition gets the same ids on every shard, one of them having run ahead ($wf2), the shards identical still"

# ---- a shard that dies after the check, during the second phase of a define ----
# Shard 2's backend is killed (SIGKILL: its postmaster restarts it with crash recovery) when
# it inserts the workflow the second time, in ws.define after the check passed everywhere.
pid2=$(head -1 "$shard2_dir/data/postmaster.pid")
sq 2 >/dev/null <<SQL || fail "cannot set up the crash on shard 2"
CREATE SEQUENCE public.sh_die_at;
CREATE FUNCTION public.sh_die() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS \$\$
BEGIN
    IF nextval('public.sh_die_at') = 2 THEN
        PERFORM pg_sleep(0.5);      -- the other shards have committed by then
        COPY (SELECT 1) TO PROGRAM 'kill -KILL \$PPID';
    END IF;
    RETURN NULL;
END \$\$;
GRANT USAGE ON SEQUENCE public.sh_die_at TO PUBLIC;
CREATE TRIGGER sh_die AFTER INSERT ON ws.workflow FOR EACH ROW EXECUTE FUNCTION public.sh_die();
SQL
doc='{"name": "crashy", "nodes": [{"name": "a", "action": "sh.a"}, {"name": "b", "action": "sh.b"}], "transitions": [{"from": "a", "to": "b"}]}'
err=$(rq ws_sh_admin -c "SELECT ws.define('$doc')" 2>&1)
rc=$?
for _ in $(seq 60); do sq 2 -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.5; done
sq 2 -c "DROP TRIGGER sh_die ON ws.workflow; DROP FUNCTION public.sh_die(); DROP SEQUENCE public.sh_die_at" >/dev/null
has=$(each "SELECT count(*) FROM ws.workflow WHERE name = 'crashy'")
[ $rc != 0 ] && [ "$has" = $'0: 1 \n1: 1 \n2: 0 ' ] && [ "$(head -1 "$shard2_dir/data/postmaster.pid")" = "$pid2" ]
ok $? "shard 2 crashing in the second phase of a define: the router reports it ($(grep -m1 ERROR <<<"$err")), shards 0 and 1 stored it, shard 2 did not ($(tr '\n' ' ' <<<"$has"))"
# the README's repair: on a shard that stored it, where the sequences stood before it; on
# shard 2, as a superuser, set them there and define the same document
at=$(sq 0 -c "SELECT w.id - 1, (SELECT min(id) - 1 FROM ws.node WHERE workflow = w.id), (SELECT min(id) - 1 FROM ws.transition WHERE workflow = w.id)
                FROM ws.workflow w WHERE w.name = 'crashy' ORDER BY w.version DESC LIMIT 1")
IFS='|' read -r aw an at_ <<<"$at"
fixed=$(sq 2 -c "SELECT setval('ws.workflow_id_seq', $aw), setval('ws.node_id_seq', $an), setval('ws.transition_id_seq', $at_)" \
             -c "SET ROLE ws_sh_admin" -c "SELECT ws.define('$doc')" 2>&1 | tail -1)
got=$(each "$defs")
[ "$fixed" = $((aw + 1)) ] && [ "$(cut -d' ' -f2 <<<"$got" | sort -u | wc -l)" = 1 ]
ok $? "repaired as the README says: shard 2 defines it with the same ids ($fixed), the shards identical again"
wf3=$(rq ws_sh_admin -c "SELECT ws.define('{\"name\": \"crashy\", \"nodes\": [{\"name\": \"a\", \"action\": \"sh.a\"}]}')" 2>&1)
got=$(each "$defs")
[ "$wf3" = $((aw + 2)) ] && [ "$(cut -d' ' -f2 <<<"$got" | sort -u | wc -l)" = 1 ]
ok $? "and the next definition through the router gets the same ids everywhere ($wf3)"

# ---- a shard killed with SIGKILL: the others go on; after its restart all completes once ----
rq ws_sh_clerk -c "SELECT ws.start('paper', jsonb_build_object('late', i), 'late-' || i) FROM generate_series(1, 30) i" >/dev/null \
    || fail "cannot start the processes before the kill"
kill -KILL "$(head -1 "$shard2_dir/data/postmaster.pid")"; ok $? "SIGKILL to shard 2's postmaster"
sleep 0.5
started=0; refused=0
for i in $(seq 31 60); do
    if rq ws_sh_clerk -c "SELECT ws.start('paper', jsonb_build_object('late', $i), 'late-$i')" >/dev/null 2>>"$tmp/down.err"; then
        started=$((started + 1))
    else
        refused=$((refused + 1))
    fi
done
down=$(for i in $(seq 31 60); do q -c "SELECT abs(hashtext('late-$i') % 3) = 2"; done | grep -c t)
[ "$refused" = "$down" ] && [ "$started" = $((30 - down)) ]
ok $? "with shard 2 down, starts by key go on for the other shards ($started started) and fail for shard 2's keys only ($refused: $(head -1 "$tmp/down.err"))"
s=$(sqlstate ws_sh_clerk "SELECT count(*) FROM ws.my_tasks")
[ "$s" != ok ]; ok $? "while it is down, a call gathered from every shard fails as a whole, with no partial answer ($s)"
for k in 0 1; do
    sq "$k" -c "SELECT ws.complete(task, '{}', attempt) FROM ws.claim(ARRAY['sh.submit', 'sh.check', 'sh.format', 'sh.publish'], 'w', 100)" >/dev/null
done
ready=$(for k in 0 1; do sq "$k" -c "SELECT count(*) FROM ws.task WHERE state = 'ready'"; done | tr '\n' ' ')
[ "$ready" = "0 0 " ]; ok $? "workers on shards 0 and 1 go on meanwhile (ready left there: $ready)"
# (the killed postmaster's backends leave on their own; until the last has, its shared
# memory is in use and a new postmaster refuses to start: try again)
restarted=1
for _ in $(seq 30); do
    ws_extra_pg shard2 -l "$shard2_dir/server.log" -w -t 60 start >/dev/null 2>&1 && { restarted=0; break; }
    sleep 1
done
ok $restarted "shard 2 restarts (crash recovery)"
rm -f "$tmp/work.err"
work; ok $? "after the restart, work through the router goes on on every shard$( [ -s "$tmp/work.err" ] && echo ": $(head -1 "$tmp/work.err")")"
rq ws_sh_ann -c "SELECT ws.complete(task, '{\"verdict\": \"late\"}') FROM ws.my_tasks WHERE node = 'review'" >/dev/null
work
left=$(rq ws_sh_admin -c "SELECT count(*) FROM ws.process_overview WHERE state = 'running'")
double=$(for k in 0 1 2; do sq "$k" -c "SELECT count(*) FROM (SELECT process, node FROM ws.task WHERE state = 'succeeded' GROUP BY 1, 2 HAVING count(*) > 1) d"; done | tr '\n' ' ')
late=$(for k in 0 1 2; do sq "$k" -c "SELECT count(*) FROM ws.process WHERE state = 'completed' AND params ? 'late'"; done | awk '{s += $1} END {print s}')
[ "$left" = 0 ] && [ "$double" = "0 0 0 " ] && [ "$late" = $((30 + started)) ]
ok $? "every process completes, each step once ($late started around the kill completed, running $left, doubles $double)"

# ---- bad input ----
s=$(sqlstate ws_sh_clerk "SELECT ws.start('paper', '{}', NULL)"); [ "$s" = 22004 ]; ok $? "a NULL key is refused with 22004 ($s)"
s=$(sqlstate ws_sh_clerk "SELECT ws.complete(0)"); [ "$s" = 22023 ]; ok $? "an id of no shard is refused with 22023 ($s)"
s=$(sqlstate ws_sh_clerk "SELECT ws.complete(3000001)"); [ "$s" = 42704 ] || [ "$s" = 55000 ]
ok $? "a task no shard has: its shard says so ($s)"
s=$(sqlstate ws_sh_clerk "SELECT ws.send('x', NULL, '{}', '1 hour')"); [ "$s" = 22023 ]; ok $? "a keyless message with a ttl is refused with 22023 ($s)"
cfg() { q -c "SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'ws_shards'"; }
c0=$(cfg)
s=$(sqlstate postgres "SELECT ws_router.set_shards(ARRAY['$(sdsn 0)', '$(sdsn 1)'])")
[ "$s" = 55000 ] && [ "$(cfg)" = "$c0" ]; ok $? "shrinking to two shards while they hold processes is refused with 55000, nothing changed ($s)"
s=$(sqlstate postgres "SELECT ws_router.set_shards(ARRAY['$(sdsn 1)', '$(sdsn 0)', '$(sdsn 2)'])")
[ "$s" = 55000 ] && [ "$(cfg)" = "$c0" ]; ok $? "shards given out of order are refused with 55000, nothing changed ($s)"
s=$(sqlstate postgres "SELECT ws_router.set_shards(ARRAY['$(sdsn 0) user=postgres', '$(sdsn 1)', '$(sdsn 2)'])")
[ "$s" = 22023 ]; ok $? "a connect string naming a user is refused with 22023 ($s)"
s=$(sqlstate ws_sh_clerk "SELECT ws_router.set_shards($shards)")
[ "$s" = 42501 ]; ok $? "a user cannot change the shards ($s)"

# ---- under load: 3,000 conference processes, two ws-workers on all three shards, one
# shard killed with SIGKILL half-way ----
# The seed's conference, its loop left out: two starting branches (three steps for a
# worker), AND joins, a three-way split and an OR join; every process runs all nine nodes.
M=${WS_SHARDS_PROCESSES:-3000}
conf=$(rq ws_sh_admin -c "SELECT ws.define('{\"name\": \"conference\", \"nodes\": [
    {\"name\": \"Send the Call for Papers\", \"action\": \"conf.mailing\", \"start\": true},
    {\"name\": \"Search a location\", \"action\": \"conf.search\", \"start\": true},
    {\"name\": \"Collect papers\"},
    {\"name\": \"Publicize\", \"join\": \"and\"},
    {\"name\": \"Mailing\", \"action\": \"conf.mailing\"}, {\"name\": \"Newspapers\"}, {\"name\": \"Poster\"},
    {\"name\": \"Receive subscriptions\", \"join\": \"or\"},
    {\"name\": \"Start the conference\", \"end\": true}],
  \"transitions\": [
    {\"from\": \"Send the Call for Papers\", \"to\": \"Collect papers\"}, {\"from\": \"Collect papers\", \"to\": \"Publicize\"},
    {\"from\": \"Search a location\", \"to\": \"Publicize\"},
    {\"from\": \"Publicize\", \"to\": \"Mailing\"}, {\"from\": \"Publicize\", \"to\": \"Newspapers\"}, {\"from\": \"Publicize\", \"to\": \"Poster\"},
    {\"from\": \"Mailing\", \"to\": \"Receive subscriptions\"}, {\"from\": \"Newspapers\", \"to\": \"Receive subscriptions\"},
    {\"from\": \"Poster\", \"to\": \"Receive subscriptions\"}, {\"from\": \"Receive subscriptions\", \"to\": \"Start the conference\"}]}')" 2>&1)
[ "$conf" -gt 0 ] 2>/dev/null || fail "cannot define the conference: $conf"
t0=$(date +%s.%N)
# random keys, the same on every run: md5 of the number
rq ws_sh_clerk -c "SELECT count(ws.start('conference', jsonb_build_object('n', i), md5('conference ' || i))) FROM generate_series(1, $M) i" \
    >"$tmp/cstarted" 2>&1
t1=$(date +%s.%N)
cdone() { sq "$1" -c "SELECT count(*) FILTER (WHERE state = 'completed') FROM ws.process WHERE workflow = $conf" 2>/dev/null; }
spread=$(for k in 0 1 2; do sq "$k" -c "SELECT count(*) FROM ws.process WHERE workflow = $conf"; done | tr '\n' ' ')
read -r c0 c1 c2 <<<"$spread"
lo=$((M * 9 / 30)); hi=$((M * 11 / 30))
[ "$(cat "$tmp/cstarted")" = "$M" ] && [ $((c0 + c1 + c2)) = "$M" ] &&
    [ "$c0" -ge $lo ] && [ "$c0" -le $hi ] && [ "$c1" -ge $lo ] && [ "$c1" -le $hi ] && [ "$c2" -ge $lo ] && [ "$c2" -le $hi ]
ok $? "$M conference processes started through the router with random keys in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, spread within 10% of even: $spread"

# two workers, each connected to the three shards (as ws_sh_clerk), a ticker through the router
WORKER=$here/../../worker/ws-worker
[ -x "$WORKER" ] || WORKER=$(command -v ws-worker)
wdsn=(--dsn "$(sdsn 0) user=ws_sh_clerk" --dsn "$(sdsn 1) user=ws_sh_clerk" --dsn "$(sdsn 2) user=ws_sh_clerk")
declare -a wpids=()
for w in 1 2; do
    "$WORKER" "${wdsn[@]}" --name "cw$w" --action conf.mailing --action conf.search --concurrency 4 --lease 4 --poll 1 \
        --quiet -- true >"$tmp/cw$w.log" 2>&1 &
    wpids+=($!)
done
(while :; do rq ws_sh_admin -c "SELECT ws.tick()" >/dev/null 2>&1; sleep 1; done) &
ticker=$!
on_exit "kill ${wpids[*]} $ticker 2>/dev/null"
# when a tenth of the processes have completed, shard 2's postmaster is killed
end=$((SECONDS + 60))
until [ $(( $(cdone 0) + $(cdone 1) + $(cdone 2) )) -ge $((M / 10)) ] || [ $SECONDS -ge $end ]; do sleep 0.2; done
before=$(for k in 0 1 2; do cdone "$k"; done | tr '\n' ' ')
kill -KILL "$(head -1 "$shard2_dir/data/postmaster.pid")"
tk=$(date +%s.%N)
sleep 0.5
a0=$(cdone 0); a1=$(cdone 1)
sleep 1
b0=$(cdone 0); b1=$(cdone 1)
s2=$(sq 2 -c "SELECT 1" 2>&1 | head -1)
[ "$b0" -gt "$a0" ] && [ "$b1" -gt "$a1" ] && [ -n "$s2" ] && [ "$s2" != 1 ]
ok $? "with shard 2 killed (done before: $before), the workers go on on shards 0 and 1: completed there $a0 -> $b0 and $a1 -> $b1 in 1 s"
restarted=1
for _ in $(seq 30); do
    ws_extra_pg shard2 -l "$shard2_dir/server.log" -w -t 60 start >/dev/null 2>&1 && { restarted=0; break; }
    sleep 0.5
done
tr_=$(date +%s.%N)
ok $restarted "shard 2 restarts ($(awk -v a="$tk" -v b="$tr_" 'BEGIN { printf "%.1f", b - a }') s after the kill)"
end=$((SECONDS + 120))
until [ "$(cdone 0) $(cdone 1) $(cdone 2)" = "$c0 $c1 $c2" ] || [ $SECONDS -ge $end ]; do sleep 0.5; done
t2=$(date +%s.%N)
got="$(cdone 0) $(cdone 1) $(cdone 2)"
[ "$got" = "$c0 $c1 $c2" ]
ok $? "every conference process completes ($got of $spread) in $(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.1f", b - a }') s of work, the kill and restart included"
kill "${wpids[@]}" "$ticker" 2>/dev/null
wait "${wpids[@]}" 2>/dev/null
# per shard: every task of every conference process succeeded exactly once (nine nodes,
# one task each), one succeeded event per task, one completed event per process
once=$(each "SELECT (SELECT count(*) FROM ws.process p WHERE p.workflow = $conf AND
                      (SELECT count(*) FROM ws.task t WHERE t.process = p.id AND t.state = 'succeeded') <> 9)
             || ' ' || (SELECT count(*) FROM ws.task t JOIN ws.process p ON p.id = t.process WHERE p.workflow = $conf AND t.state <> 'succeeded')
             || ' ' || (SELECT count(*) FROM (SELECT e.task FROM ws.event e JOIN ws.process p ON p.id = e.process
                         WHERE p.workflow = $conf AND e.task IS NOT NULL AND e.state = 'succeeded' GROUP BY e.task HAVING count(*) > 1) d)
             || ' ' || (SELECT count(*) FROM ws.process p WHERE p.workflow = $conf AND
                         (SELECT count(*) FROM ws.event e WHERE e.process = p.id AND e.task IS NULL AND e.state = 'completed') <> 1)")
[ "$once" = $'0: 0 0 0 0 \n1: 0 0 0 0 \n2: 0 0 0 0 ' ]
ok $? "on every shard each task succeeded exactly once, with one event of its success, and each process completed once (shard: wrong count, not succeeded, double events, processes not completed once: $(tr '\n' ' ' <<<"$once"))"
for k in 0 1 2; do
    sq "$k" -c "SELECT 'p' || id FROM ws.process UNION ALL SELECT 't' || id FROM ws.task UNION ALL SELECT 'e' || id FROM ws.event"
done >"$tmp/ids"
total=$(wc -l <"$tmp/ids"); uniq=$(sort -u "$tmp/ids" | wc -l)
[ "$total" = "$uniq" ] && [ "$total" -gt $((M * 20)) ]; ok $? "ids never collide across the shards ($total ids, $uniq distinct)"
lost=$(cat "$tmp"/cw*.log | grep -c 'connection lost\|cannot connect')
others=$(cat "$tmp"/cw*.log | grep 'connection lost\|cannot connect' | grep -vc 'dsn 3:')
[ "$lost" -ge 2 ] && [ "$others" = 0 ]
ok $? "the workers lost and retried the connection to shard 2 only ($lost log lines, $others for the others)"

# ---- ws.purge through the router: every shard, summed; batch is per shard ----
ended=$(for k in 0 1 2; do sq "$k" -c "SELECT count(*) FROM ws.process WHERE state IN ('completed', 'failed', 'cancelled') AND parent_task IS NULL"; done | tr '\n' ' ')
read -r e0 e1 e2 <<<"$ended"
first=$(rq ws_sh_admin -c "SELECT ws.purge('0 seconds', 200)" 2>&1)
rest=0
for _ in $(seq 30); do
    n=$(rq ws_sh_admin -c "SELECT ws.purge('0 seconds')" 2>&1) || break
    [ "$n" = 0 ] && break
    rest=$((rest + n))
done
after=$(each "SELECT count(*) FROM ws.process WHERE state <> 'running'")
[ "$first" = 600 ] && [ $((first + rest)) = $((e0 + e1 + e2)) ] && [ "$after" = $'0: 0 \n1: 0 \n2: 0 ' ]
ok $? "ws.purge through the router purges on every shard: up to 200 from each first ($first), then the rest ($rest; ended before: $ended)"

finish
