#!/usr/bin/env bash
# random_joins.sh: the randomized differential test of split/join semantics
# (random_joins.py) in a database of its own. Needs PGHOST/PGPORT/PGUSER of a cluster
# where ws is installed (test/run provides one). RANDOM_JOINS_SEED picks the seed,
# RANDOM_JOINS_WORKFLOWS the number of workflows; extra arguments go to random_joins.py.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib/common.sh"
ws_scratch_db random_joins
/usr/bin/python3 "$here/random_joins.py" --quiet --workflows "${RANDOM_JOINS_WORKFLOWS:-400}" "$@"
