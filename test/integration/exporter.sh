#!/usr/bin/env bash
# contrib/postgres_exporter.yml: each of its queries runs, as a role granted only what the
# file's header says, and returns exactly the columns the file documents (its labels and
# metrics, in order); then prometheus-community's postgres_exporter itself runs the file
# against a database with work in flight, and every documented metric is served with the
# values ws.stats and ws.workflow_stats hold.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib/common.sh"
yml="$here/../../contrib/postgres_exporter.yml"
ws_scratch_db ws_exporter
ws_scratch_dir tmp
role=ws_exporter_reader

q >/dev/null <<SQL || fail "cannot set up the database"
SET client_min_messages = warning;
DROP ROLE IF EXISTS $role;
CREATE ROLE $role LOGIN;
GRANT USAGE ON SCHEMA ws TO $role;
GRANT SELECT ON ws.stats, ws.workflow_stats TO $role;
SELECT ws.define('{"name": "exported", "nodes": [{"name": "a", "action": "e.a"}, {"name": "b", "action": "e.b"}],
                   "transitions": [{"from": "a", "to": "b"}]}');
-- two ready for e.a; one e.a succeeded and its e.b claimed; one completed; one failed
SELECT ws.start('exported') FROM generate_series(1, 5);
SELECT ws.complete(task) FROM ws.claim(ARRAY['e.a'], 'w', 3);
SELECT count(*) FROM ws.claim(ARRAY['e.b'], 'w', 3);
SELECT ws.complete(t.id) FROM ws.task t WHERE t.process = 2 AND t.state = 'running';
SELECT ws.fail(t.id, 'broken') FROM ws.task t WHERE t.process = 3 AND t.state = 'running';
SQL
on_exit "psql -X -q -d postgres -c 'DROP ROLE IF EXISTS $role' >/dev/null 2>&1"

# the queries and their documented columns, one query a file: NAME, then the columns
/usr/bin/python3 - "$yml" "$tmp" <<'PY' || fail "cannot read $yml"
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
with open(sys.argv[2] + '/names', 'w') as names:
    for name, spec in doc.items():
        cols = [list(m.keys())[0] for m in spec['metrics']]
        open(f'{sys.argv[2]}/{name}.sql', 'w').write(spec['query'])
        open(f'{sys.argv[2]}/{name}.columns', 'w').write(' '.join(cols))
        open(f'{sys.argv[2]}/{name}.metrics', 'w').write('\n'.join(
            f'{name}_{list(m.keys())[0]}' for m in spec['metrics']
            if list(m.values())[0]['usage'] != 'LABEL') + '\n')
        names.write(name + '\n')
PY
while read -r name; do
    got=$(psql -X -A -F ' ' -P footer=off -U $role -v ON_ERROR_STOP=1 \
              -c "SELECT * FROM ($(cat "$tmp/$name.sql")) q LIMIT 0" 2>&1)
    [ "$got" = "$(cat "$tmp/$name.columns")" ]
    ok $? "query $name runs as a role granted the two views, with the documented columns (got: $got)"
done < "$tmp/names"

exporter=$(command -v prometheus-postgres-exporter || command -v postgres_exporter || true)
if [ -z "$exporter" ]; then
    not_ok "postgres_exporter is not installed" "apt-get install prometheus-postgres-exporter (test/cluster.sh ws_deps does)"
    finish
    exit
fi
port=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATA_SOURCE_NAME="host=$PGHOST port=$PGPORT user=$role dbname=$PGDATABASE sslmode=disable" \
    "$exporter" --extend.query-path="$yml" --web.listen-address="127.0.0.1:$port" \
    --disable-default-metrics --disable-settings-metrics >"$tmp/exporter.log" 2>&1 &
pid=$!
on_exit "kill $pid 2>/dev/null"
fetch() { /usr/bin/python3 -c "import urllib.request, sys; sys.stdout.write(urllib.request.urlopen('http://127.0.0.1:$port/metrics', timeout=10).read().decode())"; }
for i in $(seq 1 50); do
    fetch >"$tmp/metrics" 2>/dev/null && break
    sleep 0.2
done
grep -q '^ws_stats_ready' "$tmp/metrics"
ok $? "postgres_exporter serves ws's metrics$(grep -q '^ws_stats_ready' "$tmp/metrics" || echo ": $(tail -3 "$tmp/exporter.log" | tr '\n' ' ')")"
missing=$(cat "$tmp"/*.metrics | while read -r m; do grep -q "^$m{" "$tmp/metrics" || echo "$m"; done | tr '\n' ' ')
[ -z "$missing" ]; ok $? "every documented metric is served${missing:+ (missing: $missing)}"
! grep -qi 'error' "$tmp/exporter.log"; ok $? "the exporter logs no error$(grep -i -m1 'error' "$tmp/exporter.log" | sed 's/^/: /')"
# the values are the views' (the exporter adds a label server, left out here)
got=$(sed -E 's/,server="[^"]*"//; s/server="[^"]*",//' "$tmp/metrics" | grep -E '^(ws_stats_ready\{action="e.a"\}|ws_stats_running\{action="e.b"\}|ws_stats_succeeded_last_hour\{action="e.a"\}|ws_stats_failed_last_hour\{action="e.b"\}|ws_workflow_(running|failed|completed_last_day)\{version="1",workflow="exported"\}) ' | sort | tr '\n' ' ')
want=$(q -F ' ' -c "SELECT string_agg(m, ' ' ORDER BY m) || ' ' FROM (
    SELECT format('ws_stats_ready{action=\"e.a\"} %s', ready) AS m FROM ws.stats WHERE action = 'e.a'
    UNION ALL SELECT format('ws_stats_running{action=\"e.b\"} %s', running) FROM ws.stats WHERE action = 'e.b'
    UNION ALL SELECT format('ws_stats_succeeded_last_hour{action=\"e.a\"} %s', succeeded_last_hour) FROM ws.stats WHERE action = 'e.a'
    UNION ALL SELECT format('ws_stats_failed_last_hour{action=\"e.b\"} %s', failed_last_hour) FROM ws.stats WHERE action = 'e.b'
    UNION ALL SELECT format('ws_workflow_%s{version=\"1\",workflow=\"exported\"} %s', k, v)
      FROM ws.workflow_stats, LATERAL (VALUES ('running', running), ('failed', failed), ('completed_last_day', completed_last_day)) x(k, v)
     WHERE name = 'exported') s")
[ "$got" = "$want" ]; ok $? "the metrics hold the views' values (got: $got; want: $want)"
case "$want" in
    *'ws_stats_ready{action="e.a"} 2 '*'ws_workflow_completed_last_day{version="1",workflow="exported"} 1 '*'ws_workflow_failed{version="1",workflow="exported"} 1 '*'ws_workflow_running{version="1",workflow="exported"} 3 '*) ok 0 "the views count the setup's work (2 ready, 1 completed, 1 failed, 3 running)";;
    *) ok 1 "the views count the setup's work: $want";;
esac
finish
