#!/usr/bin/env bash
# test/integration/deps.sh: every dependency probe of test/cluster.sh (ws_probes) looks at
# a file of the package it would install. A probe that looks at a file of another package
# (pg_isolation_regress, say, for the server headers: it comes with the client) passes on
# machines where that package happens to be there and fails on a fresh one; here it fails
# on every machine. dpkg -S is asked for the path, its resolved form, and its /usr-merged
# twin (Debian 12 records some files under /bin, /sbin, /lib). Needs no cluster.
set -uo pipefail
cd "$(dirname "$0")/../.."
. test/cluster.sh
. test/integration/lib/common.sh

# the packages dpkg says own path, one a line
owners() {
    local p=$1 alt
    for alt in "$p" "$(readlink -f "$p")" "${p#/usr}" "/usr$p"; do
        [ -n "$alt" ] || continue
        dpkg -S "$alt" 2>/dev/null | grep -v '^diversion' | sed 's/: .*//' | tr ',' '\n' | sed 's/^ *//; s/:.*//'
    done | sort -u
}

n=0
while read -r pkg file; do
    n=$((n + 1))
    if [ ! -e "$file" ]; then
        ok 1 "probe $n: $file exists (package $pkg; ws_deps should have installed it)"
        continue
    fi
    got=" $(owners "$file" | tr '\n' ' ')"
    [[ $got == *" $pkg "* ]]
    ok $? "probe $n: $file belongs to $pkg (dpkg -S:${got:- no package})"
done < <(ws_probes)
((n >= 15))
ok $? "ws_probes lists the dependencies ($n probes)"

# what the build uses is what is probed: the server headers and pgxs come from pg_config
inc=$("$PGBIN/pg_config" --includedir-server)
probes=$(ws_probes)
grep -qx "postgresql-server-dev-15 $inc/postgres.h" <<<"$probes"
ok $? "the server headers are probed where pg_config --includedir-server says ($inc)"
grep -qx "postgresql-client-15 $("$PGBIN/pg_config" --pgxs)" <<<"$probes"
ok $? "the pgxs makefile is probed where pg_config --pgxs says"

finish deps
