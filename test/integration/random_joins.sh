#!/usr/bin/env bash
# random_joins.sh: the randomized differential test of splits, joins, call activities,
# multi-instance nodes, deadlines, boundary paths and the calls that move tasks
# (random_joins.py) in a database of its own: one run with a pinned seed, one with a
# random seed (printed, so a failure can be replayed). Needs PGHOST/PGPORT/PGUSER of a
# cluster where ws is installed, as a superuser (test/run provides one).
# RANDOM_JOINS_SEED picks the second seed, RANDOM_JOINS_WORKFLOWS the workflows of each
# run; extra arguments go to both runs of random_joins.py.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib/common.sh"
pinned=2401
# the roles random_joins.py makes, should it stop before dropping them (after the database)
on_exit "psql -X -q -d postgres -c 'DROP ROLE IF EXISTS rj_a1, rj_a2, rj_b1, rj_c1, rj_nl, rj_sub, rj_ga, rj_gb' >/dev/null 2>&1"
ws_scratch_db random_joins
n=${RANDOM_JOINS_WORKFLOWS:-100}
/usr/bin/python3 "$here/random_joins.py" --quiet --seed "$pinned" --workflows "$n" "$@"
tally $?
/usr/bin/python3 "$here/random_joins.py" --quiet --no-floors --seed "${RANDOM_JOINS_SEED:-$(( $(date +%s) % 1000000 ))}" --workflows "$n" "$@"
tally $?
[ "$failed" = 0 ]
