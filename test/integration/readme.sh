#!/usr/bin/env bash
# test/integration/readme.sh: the README's SQL blocks, pasted in order into one psql session
# in a new database as a superuser, work: each raises exactly the errors it shows (a
# comment line "-- ERROR:  <message>" right after the statement), with those messages, and
# no other. Then the psql worker loop of the Quick start runs until the queue is empty and
# says so without an error. Needs PGHOST/PGPORT/PGUSER (test/run).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib/common.sh"
root="$here/../.."
db=ws_readme
ws_scratch_dir T
# the README's roles, dropped after the database that holds their objects
drop_roles() {
    local r
    for r in ane koldo clerks; do
        psql -X -q -d postgres -c "DROP ROLE IF EXISTS $r" >/dev/null 2>&1
    done
}
on_exit drop_roles
ws_scratch_db --empty "$db"

/usr/bin/python3 - "$root/README.md" "$T" "$db" <<'PY'
import re, subprocess, sys
readme, tmp, db = sys.argv[1:4]
text = open(readme).read()
blocks = re.findall(r'^```sql\n(.*?)^```', text, re.S | re.M)
passed = failed = 0

def ok(cond, what, extra=''):
    global passed, failed
    if cond:
        passed += 1
        print('ok - ' + what)
    else:
        failed += 1
        print('not ok - ' + what + ('\n  ' + extra.replace('\n', '\n  ') if extra else ''))

script = []
for i, b in enumerate(blocks):
    script.append('\\echo @@block %d@@\n' % i)
    script.append(b)
# the worker loop of the Quick start (the block with \if :got) again, until the queue is empty
loop = [b for b in blocks if '\\if :got' in b]
for k in range(3):
    script.append('\\echo @@loop %d@@\n' % k)
    script.append(loop[0] if loop else '')
script.append('\\echo @@end@@\n')
open(tmp + '/readme.sql', 'w').write(''.join(script))
out = subprocess.run(['psql', '-X', '-d', db, '-v', 'ON_ERROR_STOP=0', '-f', tmp + '/readme.sql'],
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
parts = re.split(r'^@@(block \d+|loop \d+|end)@@$', out, flags=re.M)
got = dict(zip(parts[1::2], parts[2::2]))

ok(len(blocks) >= 6, 'the README has its SQL blocks (%d)' % len(blocks))
for i, b in enumerate(blocks):
    seen = [m.strip() for m in re.findall(r'^psql:[^\n]*?ERROR:\s+(.*)$', got.get('block %d' % i, ''), re.M)]
    shown = [m.strip() for m in re.findall(r'^\s*-- ERROR:\s+(.*)$', b, re.M)]
    first = b.strip().splitlines()[0][:70]
    ok(seen == shown, 'block %d (%s): raises exactly the errors it shows (%d)' % (i, first, len(shown)),
       'shown: %s\nraised: %s\noutput:\n%s' % (shown, seen, got.get('block %d' % i, '')[-1500:]))
for k in range(3):
    o = got.get('loop %d' % k, '')
    ok('ERROR' not in o and 'error' not in o, 'worker loop step %d runs without an error' % (k + 1), o)
ok('nothing to do' in got.get('loop 2', ''), 'on an empty queue the worker loop says so',
   got.get('loop 2', ''))
print('readme: %d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
PY
