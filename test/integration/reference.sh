#!/usr/bin/env bash
# test/integration/reference.sh: docs/reference.md agrees with the catalog of a fresh
# install. Every function and procedure of schema ws has a heading "### ws.name(args)"
# (args as pg_get_function_arguments prints them) followed by "Returns: ..." (as
# pg_get_function_result prints it, "procedure" for a procedure); every table and view has
# a heading "### ws.name (table)" or "### ws.name (view)" followed by a table
# "| column | type | description |" with its columns in order (types as format_type
# prints them). Also: everything of ws and ws_internal has its comment, nothing of
# ws_internal is granted to anyone, PUBLIC has nothing in ws, no internal helper sits in
# ws, every ws.* setting is documented, and the reference links nothing outside the
# repository. To see the checks fail: WS_REFERENCE names another file to check (a broken
# copy), WS_REFERENCE_SQL is SQL run in the scratch database before the checks (a changed
# catalog). Needs PGHOST/PGPORT/PGUSER (test/run).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib/common.sh"
doc=${WS_REFERENCE:-$here/../../docs/reference.md}
# cq FILE SQL: the rows of SQL, tab-separated, into FILE; when the query fails, FILE says so
# (and the check that reads it fails)
cq() { local f=$1; shift; q -F $'\t' -c "$1" >"$f" 2>"$f.err" || { echo "(the query failed: $(head -1 "$f.err"))" >>"$f"; return 1; }; }
# the first lines of a list, indented, and how many more there are
show() { sed -n '1,10s/^/    /p' "$1"; local n; n=$(wc -l <"$1"); [ "$n" -gt 10 ] && echo "    ... and $((n - 10)) more"; return 0; }

if [ ! -r "$doc" ]; then
    not_ok "the reference $doc is readable"; finish reference; exit 1
fi
ws_scratch_db ws_reference
ws_scratch_dir tmp
if [ -n "${WS_REFERENCE_SQL:-}" ]; then
    q -F $'\t' -c "$WS_REFERENCE_SQL"; ok $? "WS_REFERENCE_SQL ran in the scratch database"
fi

# ---- the reference, parsed (fenced code blocks are skipped) ----
/usr/bin/python3 - "$doc" "$tmp" <<'PY'
import re, sys
doc, out = sys.argv[1], sys.argv[2]
lines = open(doc, encoding="utf-8").read().split("\n")
fn_re = re.compile(r"^### (ws\.[A-Za-z_][A-Za-z0-9_]*\(.*\))\s*$")
rel_re = re.compile(r"^### ws\.([A-Za-z_][A-Za-z0-9_]*) \((table|view)\)\s*$")
funcs, returns, rels, cols, bad = [], [], [], [], []
fence = False
i = 0
def cells(line):
    return [c.strip() for c in line.strip().strip("|").split("|")]
while i < len(lines):
    line = lines[i]
    if line.lstrip().startswith("```"):
        fence = not fence
        i += 1
        continue
    if fence or not line.startswith("### ws."):
        i += 1
        continue
    m, r = fn_re.match(line), rel_re.match(line)
    if m:
        sig = m.group(1)
        funcs.append(sig)
        j = i + 1
        while j < len(lines) and lines[j].strip() == "":
            j += 1
        nxt = lines[j].strip() if j < len(lines) else ""
        returns.append((sig, nxt[len("Returns:"):].strip() if nxt.startswith("Returns:")
                        else "<no Returns: line after the heading>"))
    elif r:
        name, kind = r.group(1), r.group(2)
        rels.append((name, kind))
        # the first table after the heading, before the next heading
        j = i + 1
        while j < len(lines) and not lines[j].startswith("#") and not lines[j].startswith("|"):
            j += 1
        if j >= len(lines) or not lines[j].startswith("|"):
            bad.append("%s: no column table after the heading" % line)
        elif cells(lines[j]) != ["column", "type", "description"]:
            bad.append("%s: the table's header is not | column | type | description | but %s"
                       % (line, lines[j].strip()))
        else:
            j += 2          # the header and the |---| line
            n = 0
            while j < len(lines) and lines[j].startswith("|"):
                c = cells(lines[j])
                if len(c) != 3:
                    bad.append("%s: row %r has %d cells, not 3" % (line, lines[j], len(c)))
                else:
                    n += 1
                    cols.append((name, n, c[0], c[1]))
                j += 1
    else:
        bad.append("%s: neither a function heading ### ws.name(args) nor ### ws.name (table|view)" % line)
    i += 1
with open(out + "/doc-functions", "w") as f:
    f.writelines(s + "\n" for s in funcs)
with open(out + "/doc-returns", "w") as f:
    f.writelines("%s\t%s\n" % r for r in returns)
with open(out + "/doc-relations", "w") as f:
    f.writelines("%s\t%s\n" % r for r in rels)
with open(out + "/doc-columns", "w") as f:
    f.writelines("%s\t%d\t%s\t%s\n" % c for c in cols)
with open(out + "/doc-bad", "w") as f:
    f.writelines(b + "\n" for b in bad)
PY
ok $? "the reference parses ($doc)"
[ -s "$tmp/doc-bad" ] && { echo "  headings the test cannot read:"; show "$tmp/doc-bad"; }
[ ! -s "$tmp/doc-bad" ]; ok $? "every ### ws. heading of the reference is a function, table or view heading in the agreed form"

# ---- the catalog ----
cq "$tmp/cat-returns" "SELECT 'ws.' || p.proname || '(' || pg_get_function_arguments(p.oid) || ')',
             CASE p.prokind WHEN 'p' THEN 'procedure' ELSE pg_get_function_result(p.oid) END
        FROM pg_proc p WHERE p.pronamespace = 'ws'::regnamespace"
cut -f1 "$tmp/cat-returns" >"$tmp/cat-functions"
cq "$tmp/cat-relations" "SELECT c.relname, CASE WHEN c.relkind IN ('r', 'p') THEN 'table' ELSE 'view' END
        FROM pg_class c WHERE c.relnamespace = 'ws'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')"
cq "$tmp/cat-columns" "SELECT c.relname, row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum), a.attname,
             format_type(a.atttypid, a.atttypmod)
        FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       WHERE c.relnamespace = 'ws'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')"
[ -s "$tmp/cat-functions" ] && [ -s "$tmp/cat-relations" ]
ok $? "the catalog lists $(wc -l <"$tmp/cat-functions") functions and procedures and $(wc -l <"$tmp/cat-relations") tables and views of schema ws"

# ---- (a) one heading per function and procedure, with its exact arguments ----
sort "$tmp/cat-functions" >"$tmp/a-cat"
sort "$tmp/doc-functions" >"$tmp/a-doc"
comm -23 "$tmp/a-cat" <(sort -u "$tmp/a-doc") >"$tmp/a-missing"
comm -13 "$tmp/a-cat" <(sort -u "$tmp/a-doc") >"$tmp/a-extra"
uniq -d "$tmp/a-doc" >"$tmp/a-twice"
[ -s "$tmp/a-missing" ] && { echo "  in the catalog, not in the reference:"; show "$tmp/a-missing"; }
[ -s "$tmp/a-extra" ] && { echo "  in the reference, not in the catalog:"; show "$tmp/a-extra"; }
[ -s "$tmp/a-twice" ] && { echo "  documented twice:"; show "$tmp/a-twice"; }
[ ! -s "$tmp/a-missing" ] && [ ! -s "$tmp/a-extra" ] && [ ! -s "$tmp/a-twice" ]
ok $? "(a) the ### ws.name(args) headings are the $(wc -l <"$tmp/a-cat") functions and procedures of schema ws, exactly ($(wc -l <"$tmp/a-missing") missing, $(wc -l <"$tmp/a-extra") unknown, $(wc -l <"$tmp/a-twice") twice)"

# ---- (b) each heading's Returns: line ----
awk -F'\t' 'NR == FNR { doc[$1] = $2; next }
            ($1 in doc) && doc[$1] != $2 { printf "%s\n      reference: Returns: %s\n      catalog:   Returns: %s\n", $1, doc[$1], $2 }' \
    "$tmp/doc-returns" "$tmp/cat-returns" >"$tmp/b-diff"
[ -s "$tmp/b-diff" ] && { echo "  Returns: lines that differ from the catalog:"; sed -n '1,30s/^/    /p' "$tmp/b-diff"; }
[ ! -s "$tmp/b-diff" ]
ok $? "(b) each function heading is followed by Returns: as pg_get_function_result prints it ($(grep -c '^ws\.' "$tmp/b-diff") differ)"

# ---- (c) one heading per table and view, its columns in order ----
sort "$tmp/cat-relations" >"$tmp/c-cat"
sort "$tmp/doc-relations" >"$tmp/c-doc"
comm -23 "$tmp/c-cat" <(sort -u "$tmp/c-doc") >"$tmp/c-missing"
comm -13 "$tmp/c-cat" <(sort -u "$tmp/c-doc") >"$tmp/c-extra"
uniq -d "$tmp/c-doc" >"$tmp/c-twice"
[ -s "$tmp/c-missing" ] && { echo "  in the catalog, not in the reference:"; show "$tmp/c-missing"; }
[ -s "$tmp/c-extra" ] && { echo "  in the reference, not in the catalog:"; show "$tmp/c-extra"; }
[ -s "$tmp/c-twice" ] && { echo "  documented twice:"; show "$tmp/c-twice"; }
[ ! -s "$tmp/c-missing" ] && [ ! -s "$tmp/c-extra" ] && [ ! -s "$tmp/c-twice" ]
ok $? "(c) the ### ws.name (table|view) headings are the $(wc -l <"$tmp/c-cat") tables and views of schema ws, exactly"
while IFS=$'\t' read -r rel kind; do
    grep -q "^$rel"$'\t' "$tmp/doc-relations" || continue
    awk -F'\t' -v r="$rel" '$1 == r { print $2 "\t" $3 "\t" $4 }' "$tmp/cat-columns" | sort -n >"$tmp/c-cat-$rel"
    awk -F'\t' -v r="$rel" '$1 == r { print $2 "\t" $3 "\t" $4 }' "$tmp/doc-columns" | sort -n >"$tmp/c-doc-$rel"
    if diff "$tmp/c-cat-$rel" "$tmp/c-doc-$rel" >/dev/null; then
        ok 0 "(c) ws.$rel ($kind): its $(wc -l <"$tmp/c-cat-$rel") columns, in order, with their types"
    else
        ok 1 "(c) ws.$rel ($kind): its columns, in order, with their types"
        # the positions that differ, from the first (at most 10)
        awk -F'\t' 'NR == FNR { c[FNR] = $2 " " $3; nc = FNR; next }
                    { d[FNR] = $2 " " $3; nd = FNR }
                    END { m = nc > nd ? nc : nd
                          for (i = 1; i <= m && shown < 10; i++)
                              if (i > nc || i > nd || c[i] != d[i]) {
                                  printf "    column %d: catalog \"%s\", reference \"%s\"\n", i,
                                         i <= nc ? c[i] : "(none)", i <= nd ? d[i] : "(none)"
                                  shown++ } }' "$tmp/c-cat-$rel" "$tmp/c-doc-$rel"
    fi
done <"$tmp/c-cat"

# ---- (d) comments on everything ----
cq "$tmp/d-columns" "SELECT c.relname || '.' || a.attname FROM pg_class c
        JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
       WHERE c.relnamespace = 'ws'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')
         AND col_description(c.oid, a.attnum) IS NULL ORDER BY 1"
[ -s "$tmp/d-columns" ] && { echo "  columns without a comment:"; show "$tmp/d-columns"; }
[ ! -s "$tmp/d-columns" ]; ok $? "(d) every column of every table and view of schema ws has a comment"
cq "$tmp/d-relations" "SELECT c.oid::regclass FROM pg_class c WHERE c.relnamespace = 'ws'::regnamespace
         AND c.relkind IN ('r', 'p', 'v', 'm') AND obj_description(c.oid, 'pg_class') IS NULL ORDER BY 1"
[ -s "$tmp/d-relations" ] && { echo "  tables and views without a comment:"; show "$tmp/d-relations"; }
[ ! -s "$tmp/d-relations" ]; ok $? "(d) every table and view of schema ws has a comment"
cq "$tmp/d-functions" "SELECT p.oid::regprocedure FROM pg_proc p
       WHERE p.pronamespace IN ('ws'::regnamespace, 'ws_internal'::regnamespace)
         AND obj_description(p.oid, 'pg_proc') IS NULL ORDER BY 1"
[ -s "$tmp/d-functions" ] && { echo "  functions without a comment:"; show "$tmp/d-functions"; }
[ ! -s "$tmp/d-functions" ]; ok $? "(d) every function and procedure of schemas ws and ws_internal has a comment"

# ---- (e) no internal helper in ws; ws_internal closed; nothing for PUBLIC ----
cq "$tmp/e-helpers" "SELECT p.oid::regprocedure || ' (' || CASE WHEN p.proname LIKE '\_%' THEN 'name starts with _'
                                             ELSE 'returns trigger' END || ')'
        FROM pg_proc p WHERE p.pronamespace = 'ws'::regnamespace
         AND (p.proname LIKE '\_%' OR p.prorettype = 'trigger'::regtype) ORDER BY 1"
[ -s "$tmp/e-helpers" ] && { echo "  internal helpers in schema ws:"; show "$tmp/e-helpers"; }
[ ! -s "$tmp/e-helpers" ]; ok $? "(e) no function of schema ws is an internal helper (a name starting with _, or returning trigger)"
cq "$tmp/e-internal" "SELECT what || ': ' || CASE WHEN g.grantee = 0 THEN 'PUBLIC' ELSE g.grantee::regrole::text END
             || ' has ' || g.privilege_type
        FROM (SELECT p.oid::regprocedure::text AS what, p.proowner AS owner,
                     coalesce(p.proacl, acldefault('f', p.proowner)) AS acl
                FROM pg_proc p WHERE p.pronamespace = 'ws_internal'::regnamespace
              UNION ALL
              SELECT c.oid::regclass::text, c.relowner,
                     coalesce(c.relacl, CASE WHEN c.relkind = 'S' THEN acldefault('s', c.relowner)
                                                ELSE acldefault('r', c.relowner) END)
                FROM pg_class c WHERE c.relnamespace = 'ws_internal'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
              UNION ALL
              SELECT 'schema ws_internal', n.nspowner, coalesce(n.nspacl, acldefault('n', n.nspowner))
                FROM pg_namespace n WHERE n.nspname = 'ws_internal') x,
             aclexplode(x.acl) g
       WHERE g.grantee <> x.owner ORDER BY 1"
[ -s "$tmp/e-internal" ] && { echo "  privileges in ws_internal for others than its owner:"; show "$tmp/e-internal"; }
[ ! -s "$tmp/e-internal" ]; ok $? "(e) nothing in schema ws_internal is granted to anyone but its owner"
cq "$tmp/e-public" "SELECT what || ': PUBLIC has ' || g.privilege_type
        FROM (SELECT p.oid::regprocedure::text AS what, coalesce(p.proacl, acldefault('f', p.proowner)) AS acl
                FROM pg_proc p WHERE p.pronamespace = 'ws'::regnamespace
              UNION ALL
              SELECT c.oid::regclass::text, coalesce(c.relacl, acldefault('r', c.relowner))
                FROM pg_class c WHERE c.relnamespace = 'ws'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')) x,
             aclexplode(x.acl) g
       WHERE g.grantee = 0 ORDER BY 1"
[ -s "$tmp/e-public" ] && { echo "  privileges of PUBLIC in schema ws:"; show "$tmp/e-public"; }
[ ! -s "$tmp/e-public" ]; ok $? "(e) PUBLIC has no privilege on any table, view, function or procedure of schema ws"

# ---- (f) nothing outside the repository ----
grep -nF -e '../shared' -e '/work/shared' "$doc" >"$tmp/f-links"
[ -s "$tmp/f-links" ] && { echo "  lines that point outside the repository:"; show "$tmp/f-links"; }
[ ! -s "$tmp/f-links" ]; ok $? "(f) the reference does not mention ../shared or /work/shared"

# ---- every ws.* setting has its row in the settings table (| ws.name | ...) ----
q -c "SELECT ws.tick()" >/dev/null    # loads the library, which defines the settings
cq "$tmp/g-settings" "SELECT name FROM pg_settings WHERE name LIKE 'ws.%' ORDER BY 1"
while read -r s; do
    grep -qE "^\| *\`?${s//./\\.}\`? *\|" "$doc" || echo "$s"
done <"$tmp/g-settings" >"$tmp/g-missing"
[ -s "$tmp/g-missing" ] && { echo "  settings without a row | ws.name | ... in the reference:"; show "$tmp/g-missing"; }
[ -s "$tmp/g-settings" ] && [ ! -s "$tmp/g-missing" ]
ok $? "every ws.* setting ($(paste -sd' ' "$tmp/g-settings")) has its row in the reference"

finish reference
