#!/usr/bin/env bash
# test/integration/notifier.sh: notifications sent after commit by the ws notifier
# (notifier.py) in a database of its own. Needs PGHOST/PGPORT/PGUSER of a cluster with ws
# in shared_preload_libraries (test/run provides one).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -d /usr/lib/postgresql/15/bin ] && export PATH="/usr/lib/postgresql/15/bin:$PATH"
db=notifier
dropdb --if-exists "$db" >/dev/null 2>&1
createdb "$db" || { echo "notifier: cannot create database $db"; echo "notifier: 0 passed, 1 failed"; exit 1; }
trap 'dropdb --if-exists "$db" >/dev/null 2>&1' EXIT
if ! psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION ws'; then
    echo "notifier: cannot create extension ws"
    echo "notifier: 0 passed, 1 failed"
    exit 1
fi
PGDATABASE="$db" python3 "$here/notifier.py"
