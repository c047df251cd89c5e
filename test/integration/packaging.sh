#!/usr/bin/env bash
# test/integration/packaging.sh: what PGXN and a packager read agrees with the code: the
# license, META.json (version, files, maintainer contact, resources, supported PostgreSQL
# versions stated as the README states them), ws.control and the Makefile.
set -uo pipefail
cd "$(dirname "$0")/../.."
/usr/bin/python3 - <<'PY'
import json, os, re, subprocess, sys
passed = failed = 0

def ok(cond, what, extra=''):
    global passed, failed
    if cond:
        passed += 1
        print('ok - ' + what)
    else:
        failed += 1
        print('not ok - ' + what + (': ' + extra if extra else ''))

tracked = set(subprocess.run(['git', 'ls-files'], stdout=subprocess.PIPE, text=True).stdout.split())
lic = open('LICENSE').read() if os.path.exists('LICENSE') else ''
ok('LICENSE' in tracked and 'Permission to use, copy, modify, and distribute this software' in lic
   and 'SPECIFICALLY DISCLAIM ANY WARRANTIES' in lic, 'LICENSE holds the PostgreSQL License')
meta = json.load(open('META.json'))
ok(meta.get('license') == 'postgresql', 'META.json says the same license', meta.get('license', ''))
control = open('ws.control').read()
default = re.search(r"^default_version = '([^']+)'", control, re.M).group(1)
extversion = re.search(r'^EXTVERSION = (\S+)', open('Makefile').read(), re.M).group(1)
ok(meta['version'] == default == extversion == meta['provides']['ws']['version'],
   'one version in META.json, ws.control and the Makefile',
   '%s %s %s %s' % (meta['version'], default, extversion, meta['provides']['ws']['version']))
for key in ('file', 'docfile'):
    f = meta['provides']['ws'].get(key)
    ok(f in tracked, 'provides.%s (%s) is a file of the repository' % (key, f))
maint = ' '.join(meta.get('maintainer', []))
ok(re.search(r'<[^@\s>]+@[^@\s>]+>', maint) is not None, 'the maintainer has a contact address', maint)
res = meta.get('resources', {})
ok(bool(res) and all(isinstance(v, dict) and v for v in res.values()), 'META.json lists its resources', str(res))
pg = meta['prereqs']['runtime']['requires']['PostgreSQL']
readme = open('README.md').read()
ok(('`%s`' % pg) in readme, 'the README states the supported PostgreSQL versions as META.json does (%s)' % pg)
ok(re.search(r'>= *15\.0\.0', pg) and re.search(r'< *16\.0\.0', pg), 'which are PostgreSQL 15', pg)
print('packaging: %d passed, %d failed' % (passed, failed))
sys.exit(1 if failed else 0)
PY
