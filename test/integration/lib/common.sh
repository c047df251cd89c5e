# test/integration/lib/common.sh: what the integration scripts share. Each script sources it
# after `set -uo pipefail`; the server is the one PGHOST/PGPORT/PGUSER name (test/run and
# `make check-integration` provide a throwaway cluster).
#
#   q ARGS...                psql -X -q -At -v ON_ERROR_STOP=1 ARGS, in PGDATABASE unless -d
#   ok STATUS MESSAGE        one check: "ok - MESSAGE" when STATUS is 0, else "not ok - MESSAGE"
#   not_ok MESSAGE [DETAIL]  a failed check, and "#   DETAIL" below it when given
#   tally STATUS             a check counted without a line of its own (scripts that are one check)
#   fail MESSAGE             "NAME: MESSAGE", the summary line counting this failure, exit 1
#   finish [NAME]            "NAME: N passed, M failed"; returns 1 when a check failed
#   on_exit COMMAND          runs COMMAND (a string for eval) when the script exits; hooks run
#                            last registered first, and each runs even if another one fails
#   ws_scratch_db [--empty] DB   database DB (a leftover dropped first), with ws unless
#                            --empty, dropped on exit; it becomes PGDATABASE
#   ws_scratch_dir VAR       a new directory in /tmp, its path in VAR, removed on exit
#
# NAME is WS_TEST_NAME, by default the script's name without .sh. WS_OK_NUMBERED=1 numbers
# the lines ("ok 3 - MESSAGE").

if [ -d "${WS_PGBIN:-/usr/lib/postgresql/15/bin}" ]; then
    export PATH="${WS_PGBIN:-/usr/lib/postgresql/15/bin}:$PATH"
fi
# a private copy of PostgreSQL (test/cluster.sh ws_pg_copy) has its own /usr/local/bin
if [ -n "${WS_PGBIN:-}" ]; then
    export PATH="$(cd "$WS_PGBIN/../../../../.." && pwd)/usr/local/bin:$PATH"
fi
WS_TEST_NAME=${WS_TEST_NAME:-$(basename "$0" .sh)}
WS_OK_NUMBERED=${WS_OK_NUMBERED:-0}
passed=0
failed=0

q() { psql -X -q -At -v ON_ERROR_STOP=1 "$@"; }

tally() {
    if [ "$1" = 0 ]; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
}

# _ws_line WORD MESSAGE: "WORD - MESSAGE", numbered when WS_OK_NUMBERED=1
_ws_line() {
    if [ "$WS_OK_NUMBERED" = 1 ]; then
        echo "$1 $((passed + failed)) - $2"
    else
        echo "$1 - $2"
    fi
}

ok() {
    tally "$1"
    if [ "$1" = 0 ]; then _ws_line ok "$2"; else _ws_line "not ok" "$2"; fi
}

not_ok() {
    tally 1
    _ws_line "not ok" "$1"
    if [ -n "${2:-}" ]; then echo "#   $2"; fi
}

finish() {
    echo "${1:-$WS_TEST_NAME}: $passed passed, $failed failed"
    [ "$failed" = 0 ]
}

fail() {
    echo "$WS_TEST_NAME: $*"
    tally 1
    finish
    exit 1
}

# The hooks belong to the shell that registered them: a subshell (a command substitution, a
# script's ( ... )) that calls on_exit starts a list and an EXIT trap of its own.
_ws_exit_hooks=()
_ws_exit_pid=
on_exit() {
    if [ "$_ws_exit_pid" != "$BASHPID" ]; then
        _ws_exit_hooks=()
        _ws_exit_pid=$BASHPID
        trap _ws_run_exit_hooks EXIT
    fi
    _ws_exit_hooks+=("$*")
}
_ws_run_exit_hooks() {
    local i
    for ((i = ${#_ws_exit_hooks[@]} - 1; i >= 0; i--)); do
        eval "${_ws_exit_hooks[i]}" || true
    done
}

ws_scratch_db() {
    local empty=0 db
    if [ "$1" = --empty ]; then empty=1; shift; fi
    db=$1
    dropdb --if-exists --force "$db" >/dev/null 2>&1 || true
    createdb "$db" || fail "cannot create database $db"
    on_exit "dropdb --if-exists --force '$db' >/dev/null 2>&1"
    if [ $empty = 0 ] && ! psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c 'CREATE EXTENSION ws'; then
        fail "cannot create extension ws"
    fi
    export PGDATABASE="$db"
}

ws_scratch_dir() {
    local dir
    dir=$(mktemp -d "/tmp/ws-$WS_TEST_NAME.XXXXXX") || fail "cannot create a directory in /tmp"
    on_exit "rm -rf '$dir'"
    printf -v "$1" '%s' "$dir"
}
