#!/usr/bin/env bash
# test/integration/web.sh: the web interface (web/) in a real browser. Installs its npm
# packages (web/install.sh: Node 22, PostGraphile 5, playwright-core), creates a database
# with ws and web/schema.sql, roles with passwords (pg_hba.conf asks them theirs, SCRAM,
# while the test runs), an authenticator that may SET ROLE to them, and starts the server;
# then web/test/story.mjs drives Debian's chromium through the story: logins refused and
# accepted, the task list of each member, a form filled wrongly then rightly, completion,
# live updates, an admin's cancel and retry, a user refused admin things by the database,
# uploads (DOT, JSON and BPMN 2.0, good and bad), workflows drawn by bpmn-js from
# ws.to_bpmn, a conference started by the admin whose picture changes while ws-worker
# works, a node name that is HTML, logout, forged, expired and cross-origin requests,
# throttled logins, and the load times of a 1,000-task list and a 200-node process page.
# Screenshots go to the test's directory (and WS_WEB_SHOTS, when set, e.g. docs/web; the
# BPMN ones also to WS_WEB_BPMN_SHOTS, e.g. docs).
set -uo pipefail
cd "$(dirname "$0")/../.."
ROOT=$PWD
. test/integration/lib/common.sh
. web/install.sh
WS_OK_NUMBERED=1

ws_web_install || fail "the web interface's npm packages could not be installed"
[ -x /usr/bin/chromium ] || fail "Debian's chromium is missing (ws_deps installs it)"
ws_scratch_dir T
chmod 755 "$T"
ROLES="web_auth web_ane web_koldo web_boss web_bulk web_outsider web_org web_acc web_bulkers"

drop_roles() {
    for r in $ROLES; do
        psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1
    done
}
dropdb --if-exists --force ws_web_test >/dev/null 2>&1   # a leftover holds grants to the roles
drop_roles
on_exit drop_roles   # after the database is dropped: hooks run last registered first
ws_scratch_db ws_web_test
DB=ws_web_test
SOCK=$(q -c "SHOW unix_socket_directories" | cut -d, -f1)

# the roles: members of two groups, an admin, a bulk user, one the authenticator may not
# become, and the authenticator (NOINHERIT: it has no rights of its own, only SET ROLE)
q >/dev/null <<'SQL' || fail "roles"
CREATE ROLE web_org NOLOGIN;
CREATE ROLE web_acc NOLOGIN;
CREATE ROLE web_bulkers NOLOGIN;
CREATE ROLE web_ane LOGIN PASSWORD 'ane secret' IN ROLE web_org;
CREATE ROLE web_koldo LOGIN PASSWORD 'koldo secret' IN ROLE web_acc;
CREATE ROLE web_boss LOGIN PASSWORD 'boss secret';
CREATE ROLE web_bulk LOGIN PASSWORD 'bulk secret' IN ROLE web_bulkers;
CREATE ROLE web_outsider LOGIN PASSWORD 'outsider secret';
CREATE ROLE web_auth LOGIN NOINHERIT PASSWORD 'auth secret';
GRANT web_ane, web_koldo, web_boss, web_bulk TO web_auth;
SQL
HBA=$(q -c "SHOW hba_file")
cp "$HBA" "$T/pg_hba.conf"
restore_hba() {
    cat "$T/pg_hba.conf" >"$HBA"
    psql -X -Atq -d postgres -c 'SELECT pg_reload_conf()' >/dev/null
}
{ for r in web_auth web_ane web_koldo web_boss web_bulk web_outsider; do echo "local all $r scram-sha-256"; done
  cat "$T/pg_hba.conf"; } >"$HBA"
on_exit restore_hba
q -d postgres -c 'SELECT pg_reload_conf()' >/dev/null

q >/dev/null <<'SQL' || fail "workflows"
SET client_min_messages = warning;
\i web/schema.sql
SELECT ws.grant_user('web_org');
SELECT ws.grant_user('web_acc');
SELECT ws.grant_user('web_bulkers');
SELECT ws.grant_admin('web_boss');
SELECT ws.register_action('web.mailing', '{"to": {"type": "string", "label": "recipients", "required": true},
                                          "copies": {"type": "integer", "label": "copies to print", "required": true},
                                          "urgent": {"type": "boolean", "label": "urgent"}}', 'sends a mailing');
SELECT ws.register_action('web.check', '{}', 'a check that fails');
SELECT ws.define($${"name": "story", "nodes": [
    {"name": "Address the mailing", "action": "web.mailing", "role": "web_org", "start": true},
    {"name": "Check the budget", "role": "web_acc", "start": true},
    {"name": "Approve", "role": "web_org"},
    {"name": "<img src=x onerror=alert(1)>", "role": "web_org", "join": "and"},
    {"name": "Done", "end": true}],
  "transitions": [{"from": "Address the mailing", "to": "Approve"},
                  {"from": "Approve", "to": "<img src=x onerror=alert(1)>"},
                  {"from": "Check the budget", "to": "<img src=x onerror=alert(1)>"},
                  {"from": "<img src=x onerror=alert(1)>", "to": "Done"}]}$$);
SELECT ws.define('{"name": "fragile", "nodes": [{"name": "Check", "action": "web.check"}, {"name": "End"}],
                   "transitions": [{"from": "Check", "to": "End"}]}');
SELECT ws.define('{"name": "bulk", "nodes": [{"name": "Sign", "role": "web_bulkers"}, {"name": "End"}],
                   "transitions": [{"from": "Sign", "to": "End"}]}');
-- a call activity and multi-instance nodes (drawn by bpmn-js from ws.to_bpmn)
SELECT ws.define('{"name": "review", "nodes": [{"name": "Read the paper", "role": "web_org"}, {"name": "Reviewed", "end": true}],
                   "transitions": [{"from": "Read the paper", "to": "Reviewed"}]}');
SELECT ws.define('{"name": "reviews", "nodes": [
    {"name": "Collect the papers", "role": "web_acc", "start": true},
    {"name": "Review each paper", "call": "review", "foreach": "$.papers", "item": "paper", "as": "reviews"},
    {"name": "Mail each author", "action": "web.mailing", "foreach": "$.authors", "item": "to", "sequential": true},
    {"name": "Reviews sent", "end": true}],
  "transitions": [{"from": "Collect the papers", "to": "Review each paper"}, {"from": "Review each paper", "to": "Mail each author"},
                  {"from": "Mail each author", "to": "Reviews sent"}]}');
-- a chain of 200 nodes
SELECT ws.define(jsonb_build_object('name', 'long',
    'nodes', (SELECT jsonb_agg(jsonb_build_object('name', 'step ' || i, 'role', 'web_org') ORDER BY i) FROM generate_series(1, 200) i),
    'transitions', (SELECT jsonb_agg(jsonb_build_object('from', 'step ' || i, 'to', 'step ' || (i + 1)) ORDER BY i) FROM generate_series(1, 199) i)));
SQL
# processes: the story's, one to cancel, a failed one to retry, 1,000 open tasks, the long one
P_STORY=$(q -c "SET ROLE web_ane; SELECT ws.start('story', '{\"year\": 2026}')")
P_CANCEL=$(q -c "SET ROLE web_ane; SELECT ws.start('story')")
P_FAIL=$(q -c "SELECT ws.start('fragile')")
q -c "SELECT ws.fail(c.task, 'the check failed', c.attempt) FROM ws.claim('{web.check}', 'test') c" >/dev/null
q -c "SELECT ws.start('bulk') FROM generate_series(1, 1000)" >/dev/null
P_LONG=$(q -c "SELECT ws.start('long')")
q -c "SELECT ws.complete(t.id, '{}') FROM ws.task t JOIN ws.node n ON n.id = t.node
       WHERE t.process = $P_LONG AND n.name = 'step 1'" >/dev/null
is_() { local got; got=$(q -c "$2"); [ "$got" = "$3" ]; ok $? "$1 (got: $got)"; }
is_ "the failed process is failed" "SELECT state FROM ws.process WHERE id = $P_FAIL" failed

# the servers: one with the usual sessions, one whose sessions last 2 seconds
port() { local p=$((20000 + RANDOM % 20000)); while ss -ltn | grep -q ":$p "; do p=$((p + 1)); done; echo $p; }
DSN="postgres://web_auth:auth%20secret@/$DB?host=$SOCK&port=$PGPORT"
PORT=$(port)
GRAPHILE_ENV=production "$WS_WEB_NODE" web/server.js --dsn "$DSN" --listen "127.0.0.1:$PORT" >"$T/server.log" 2>&1 &
SERVER=$!
PORT2=$((PORT + 1))
while ss -ltn | grep -q ":$PORT2 "; do PORT2=$((PORT2 + 1)); done
GRAPHILE_ENV=production "$WS_WEB_NODE" web/server.js --dsn "$DSN" --listen "127.0.0.1:$PORT2" --session-seconds 2 >"$T/server2.log" 2>&1 &
SERVER2=$!
on_exit "kill $SERVER $SERVER2 2>/dev/null; wait $SERVER $SERVER2 2>/dev/null"
for i in $(seq 1 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/me" && curl -s -o /dev/null "http://127.0.0.1:$PORT2/me" && break
    sleep 0.1
done
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")
[ "$code" = 200 ]
ok $? "the server answers (HTTP $code)"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: evil.example:$PORT" "http://127.0.0.1:$PORT/me")
[ "$code" = 421 ]
ok $? "a request for another host name (DNS rebinding) is refused (HTTP $code)"

# the story, in chromium; it prints TAP lines ("ok - ..."/"not ok - ...") and the timings
export WS_WEB_URL="http://127.0.0.1:$PORT" WS_WEB_URL2="http://127.0.0.1:$PORT2" WS_WEB_OUT="$T"
export WS_WEB_P_STORY=$P_STORY WS_WEB_P_CANCEL=$P_CANCEL WS_WEB_P_FAIL=$P_FAIL WS_WEB_P_LONG=$P_LONG
export WS_WEB_PSQL="psql -X -q -At -v ON_ERROR_STOP=1 -d $DB"
WS_WEB_WORKER=$ROOT/worker/ws-worker
[ -x "$WS_WEB_WORKER" ] || WS_WEB_WORKER=$(command -v ws-worker || true)
[ -n "$WS_WEB_WORKER" ] || fail "ws-worker is not built (make)"
export WS_WEB_WORKER
"$WS_WEB_NODE" web/test/story.mjs >"$T/story.out" 2>&1
status=$?
cat "$T/story.out"
while read -r line; do
    case $line in
        "ok - "*) tally 0 ;;
        "not ok - "*) tally 1 ;;
    esac
done <"$T/story.out"
ok $status "the browser story ran to its end (exit $status)"
grep -q "^ok - " "$T/story.out"
ok $? "the browser story made its checks"

# what the database says after the story
is_ "the story's process completed" "SELECT state FROM ws.process WHERE id = $P_STORY" completed
is_ "the filled parameters are the right ones" \
    "SELECT t.params FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = $P_STORY AND n.name = 'Address the mailing'" \
    '{"to": "everyone@example.org", "copies": 3}'
is_ "the admin's cancel stands" "SELECT state FROM ws.process WHERE id = $P_CANCEL" cancelled
is_ "the admin's retry put the process back to running" "SELECT state FROM ws.process WHERE id = $P_FAIL" running
is_ "the cancel was made by the admin's own role" \
    "SELECT actor FROM ws.event WHERE process = $P_CANCEL AND task IS NULL AND state = 'cancelled'" web_boss
is_ "the retry was made by the admin's own role" \
    "SELECT actor || ' ' || state FROM ws.event WHERE process = $P_FAIL AND task IS NOT NULL ORDER BY id DESC LIMIT 1" "web_boss ready"
is_ "the tasks were completed by the members' own roles" \
    "SELECT string_agg(e.actor, ',' ORDER BY e.id) FROM ws.event e WHERE e.process = $P_STORY AND e.state = 'succeeded' AND e.actor LIKE 'web_%'" \
    "web_ane,web_koldo,web_ane,web_ane"
is_ "the uploaded conference was defined by the admin" "SELECT count(*) FROM ws.workflow WHERE name = 'conference'" 1
if [ -n "${WS_WEB_SHOTS:-}" ]; then
    mkdir -p "$WS_WEB_SHOTS" && cp "$T"/shots/*.png "$WS_WEB_SHOTS"/
fi
# the BPMN pictures of the README's BPMN section: WS_WEB_BPMN_SHOTS=docs
if [ -n "${WS_WEB_BPMN_SHOTS:-}" ]; then
    mkdir -p "$WS_WEB_BPMN_SHOTS" && cp "$T"/shots/bpmn-*.png "$WS_WEB_BPMN_SHOTS"/
fi
finish
