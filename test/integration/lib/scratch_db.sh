# test/integration/lib/scratch_db.sh: sourced by integration scripts that run in a
# database of their own. ws_scratch_db NAME creates database NAME with ws in it (dropping
# a leftover first), drops it when the script exits, and on failure prints the
# "NAME: 0 passed, 1 failed" line test/run reads, then exits.
[ -d /usr/lib/postgresql/15/bin ] && export PATH="/usr/lib/postgresql/15/bin:$PATH"

ws_scratch_db() {
    local db=$1
    dropdb --if-exists "$db" >/dev/null 2>&1
    if ! createdb "$db"; then
        echo "$db: cannot create database $db"; echo "$db: 0 passed, 1 failed"; exit 1
    fi
    trap "dropdb --if-exists '$db' >/dev/null 2>&1" EXIT
    if ! psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION ws'; then
        echo "$db: cannot create extension ws"; echo "$db: 0 passed, 1 failed"; exit 1
    fi
    export PGDATABASE="$db"
}
