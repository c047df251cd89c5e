#!/usr/bin/env bash
# random_joins.sh: the randomized differential test of split/join semantics
# (random_joins.py) in a database of its own. Needs PGHOST/PGPORT/PGUSER of a cluster
# where ws is installed (test/run provides one). RANDOM_JOINS_SEED picks the seed,
# RANDOM_JOINS_WORKFLOWS the number of workflows; extra arguments go to random_joins.py.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ -d /usr/lib/postgresql/15/bin ] && export PATH="/usr/lib/postgresql/15/bin:$PATH"
db=random_joins
dropdb --if-exists "$db" >/dev/null 2>&1
createdb "$db" || { echo "random_joins: cannot create database $db"; echo "random_joins: 0 passed, 1 failed"; exit 1; }
trap 'dropdb --if-exists "$db" >/dev/null 2>&1' EXIT
if ! psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION ws'; then
    echo "random_joins: cannot create extension ws"
    echo "random_joins: 0 passed, 1 failed"
    exit 1
fi
PGDATABASE="$db" python3 "$here/random_joins.py" --quiet \
    --workflows "${RANDOM_JOINS_WORKFLOWS:-400}" "$@"
