#!/usr/bin/env python3
"""
random_joins.py: a randomized differential test of ws's split and join semantics.

It generates random workflows (seeded, reproducible), runs processes of them in the
database, and after every step compares the database (ws.task, ws.process) with an
independent reference model written from the contract (/work/shared/API.md, Semantics
1-6, mainly 3 "Success", 4 "Tokens and joins" and 6 "Termination").

Usage:
  random_joins.py [--seed S] [--workflows N] [--procs P] [--only I] [--quiet]
The database comes from PGHOST/PGPORT/PGUSER/PGDATABASE; ws must be installed in it.
Every workflow i draws from random.Random("<seed>:<i>"), so `--seed S --only I` replays
workflow I of a run alone. The last line is `random_joins: N passed, M failed` (N, M count
workflows); the exit status is 1 when any failed.

Points where the contract can be read more than one way, and the reading used here:
  * A split whose process ends half-way (an end node reached or a split that takes no
    transition, depth first) delivers no token on the transitions it has not followed
    yet: "once the process has ended, nothing further is activated" is read as "nothing
    further is followed", so those transitions get no token either.
  * A token "held on a transition into another join" is a source whose paths start
    with that transition, i.e. at its child node (which is not the join deciding).
    Every node has a join gate, so any node other than the deciding one counts as
    "another join"; in practice only AND joins with several inputs and OR joins hold
    tokens.
  * "Reach ... enters the join node nowhere else": the path may pass through any other
    node, the source's own node included, any number of times.
  * The XOR join's "other parent nodes" are the parent nodes of the join other than the
    parent of the arriving transition; that may include the join's own node when it has
    a self loop.
  * A condition "holds" only when the jsonpath predicate is true; false and unknown
    (e.g. `$.v1 == true` with v1 a string, or v1 absent) do not hold.
  * Conditions see the process variables only (ws.start params merged with results),
    not the workflow's params.
  * Task ids grow in creation order, so the depth-first activation order of section 4
    is checked by comparing the tasks of a process ordered by id.
"""
import argparse
import collections
import json
import os
import random
import subprocess
import sys
import time

ACTIVE = ('waiting', 'pending', 'ready', 'running')
COVER = collections.Counter()   # what the reference model saw happen, for the summary
NVARS = 4          # forward conditions use v0..v3
NLOOPVARS = 2      # loop-back conditions use l0..l1
LOOP_BUDGET = 30   # after this many steps of a process, results set every lK false
HARD_CAP = 250     # after this many steps a process is cancelled
BATCH_SHARE = 0.25  # share of steps that are a ws.complete_batch of several completions


# ---------------------------------------------------------------- database access

class SqlError(Exception):
    pass


class Psql:
    """One long-lived `psql -X -At -v ON_ERROR_STOP=1` fed batches of SQL on stdin.
    Each batch ends with an \\echo marker; an error ends psql (ON_ERROR_STOP), which is
    reported as SqlError with psql's output, and the next batch starts a new psql."""

    MARK = '@@random_joins_batch_end@@'

    def __init__(self):
        self.p = None

    def _spawn(self):
        self.p = subprocess.Popen(
            ['psql', '-X', '-At', '-q', '-v', 'ON_ERROR_STOP=1'],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, bufsize=1)
        self.p.stdin.write("SET client_min_messages = warning;\n")

    def run(self, sql):
        if self.p is None or self.p.poll() is not None:
            self._spawn()
        out = []
        try:
            self.p.stdin.write(sql.rstrip() + "\n\\echo " + self.MARK + "\n")
            self.p.stdin.flush()
        except BrokenPipeError:
            pass
        while True:
            line = self.p.stdout.readline()
            if not line:
                self.p.wait()
                self.p = None
                raise SqlError(''.join(out).strip() or 'psql ended without output')
            if line.rstrip('\n') == self.MARK:
                return [l.rstrip('\n') for l in out]
            out.append(line)

    def close(self):
        if self.p is not None and self.p.poll() is None:
            self.p.stdin.close()
            self.p.wait()
        self.p = None


def lit(s):
    return "'" + s.replace("'", "''") + "'"


def jlit(obj):
    return lit(json.dumps(obj, sort_keys=True)) + '::jsonb'


def tagged(lines, tag):
    return [l[len(tag) + 1:] for l in lines if l.startswith(tag + ' ')]


# ---------------------------------------------------------------- the workflow generator

class Workflow:
    """A generated graph. Nodes are named n0..n{k-1} in a topological order of the
    forward edges; back edges (loops) go to an earlier or the same node, always to a node
    with an action, so every cycle holds a task that waits for a worker."""

    def __init__(self, rng, name, action):
        self.name = name
        self.action = action
        k = rng.randint(3, 12)
        self.k = k
        names = ['n%d' % i for i in range(k)]
        ends = {k - 1} | {i for i in range(1, k - 1) if rng.random() < 0.12}
        starts = {0} | {i for i in range(1, k) if i not in ends and rng.random() < 0.12}
        routing = {i for i in range(k) if rng.random() < 0.3}
        nodes = []
        for i in range(k):
            nodes.append({'name': names[i],
                          'action': None if i in routing else action,
                          'start': i in starts, 'end': i in ends,
                          'join': rng.choice(['and', 'xor', 'or']),
                          'split': rng.choice(['and', 'and', 'xor', 'or'])})
        edges = []              # (u, v, condition or None, priority)

        def cond():
            if rng.random() < 0.3:
                return ('v%d' % rng.randrange(NVARS), rng.random() < 0.7)
            return None

        def prio():
            return rng.choice([0, 0, 0, 1, 2])

        for u in range(k):
            if u in ends:
                continue
            cand = list(range(u + 1, k))
            m = min(len(cand), rng.choice([1, 1, 2, 2, 2, 3]))
            for v in rng.sample(cand, m):
                edges.append((u, v, cond(), prio()))
        for v in range(1, k):
            if v not in starts and not any(e[1] == v for e in edges):
                u = rng.choice([u for u in range(v) if u not in ends])
                edges.append((u, v, cond(), prio()))
        # parallel transitions now and then
        for e in list(edges):
            if rng.random() < 0.05:
                edges.append((e[0], e[1], cond(), prio()))
        # a split that may take nothing fails the process; mostly give one a way out
        for u in range(k):
            outs = [x for x, e in enumerate(edges) if e[0] == u]
            if outs and all(edges[x][2] for x in outs) and rng.random() < 0.6:
                x = rng.choice(outs)
                edges[x] = edges[x][:2] + (None,) + edges[x][3:]
        # loops, guarded by lK == true
        if rng.random() < 0.6:
            for _ in range(rng.choice([1, 1, 2, 3])):
                joins = [j for j in range(k) if j not in ends and
                         len([e for e in edges if e[1] == j and e[0] not in routing]) >= 1 and
                         len([e for e in edges if e[1] == j]) >= 2]
                if joins and rng.random() < 0.5:
                    # around a join: from it or a node after it back to one of its parents
                    j = rng.choice(joins)
                    after = {j}
                    for e in sorted(edges, key=lambda e: (e[0], e[1])):
                        if e[0] in after:
                            after.add(e[1])
                    u = rng.choice([a for a in after if a not in ends])
                    w = rng.choice([e[0] for e in edges if e[1] == j and e[0] not in routing])
                else:
                    u = rng.choice([u for u in range(k) if u not in ends])
                    ws_ = [w for w in range(0, u + 1) if w not in routing]
                    if not ws_:
                        continue
                    w = rng.choice(ws_)
                edges.append((u, w, ('l%d' % rng.randrange(NLOOPVARS), True), prio()))
        rng.shuffle(edges)
        order = list(range(k))
        rng.shuffle(order)      # node ids are not the topological order
        self.nodes = [nodes[i] for i in order]
        self.trans = [{'from': names[u], 'to': names[v], 'cond': c, 'priority': p}
                      for (u, v, c, p) in edges]
        self.params = {}
        if rng.random() < 0.2:  # workflow params are not process variables
            self.params = {'v%d' % rng.randrange(NVARS): rng.random() < 0.5}
        # ws.define infers start/end nodes when none is marked: sometimes rely on that
        has_in = {t['to'] for t in self.trans}
        has_out = {t['from'] for t in self.trans}
        self.omit_start = (rng.random() < 0.4 and
                           {n['name'] for n in nodes if n['start']} ==
                           {n['name'] for n in nodes if n['name'] not in has_in})
        self.omit_end = (rng.random() < 0.4 and
                         {n['name'] for n in nodes if n['end']} ==
                         {n['name'] for n in nodes if n['name'] not in has_out})
        self.doc = self._doc()

    def never_firing(self):
        """The (join, parent) pairs ws.define must refuse (the contract's AND-join check):
        an AND join that is not a start node, with two or more incoming transitions, one
        of them from a parent that every path from a start node to it passes through the
        join (a parent that is reachable at all)."""
        starts = [n['name'] for n in self.nodes if n['start']]

        def reach(avoid):
            seen = [s for s in starts if s != avoid]
            todo = list(seen)
            while todo:
                u = todo.pop()
                for t in self.trans:
                    if t['from'] == u and t['to'] != avoid and t['to'] not in seen:
                        seen.append(t['to'])
                        todo.append(t['to'])
            return set(seen)

        everywhere = reach(None)
        out = []
        for n in self.nodes:
            ins = [t['from'] for t in self.trans if t['to'] == n['name']]
            if n['join'] != 'and' or n['start'] or len(ins) < 2:
                continue
            around = reach(n['name'])
            for parent in ins:
                if parent in everywhere and parent not in around and (n['name'], parent) not in out:
                    out.append((n['name'], parent))
        return out

    def _doc(self):
        ns = []
        for n in self.nodes:
            d = {'name': n['name'], 'join': n['join'], 'split': n['split']}
            if n['action']:
                d['action'] = n['action']
            if n['start'] and not self.omit_start:
                d['start'] = True
            if n['end'] and not self.omit_end:
                d['end'] = True
            ns.append(d)
        ts = []
        for t in self.trans:
            d = {'from': t['from'], 'to': t['to']}
            if t['cond']:
                d['condition'] = '$.%s == %s' % (t['cond'][0], 'true' if t['cond'][1] else 'false')
            if t['priority']:
                d['priority'] = t['priority']
            ts.append(d)
        doc = {'name': self.name, 'nodes': ns, 'transitions': ts}
        if self.params:
            doc['params'] = self.params
        return doc

    def bind(self, node_ids, trans_ids):
        """Attach the database ids (node name -> id; transition ids in document order)."""
        self.nid = dict(node_ids)
        self.tid = list(trans_ids)
        self.node = {n['name']: n for n in self.nodes}
        self.parent = {}
        self.child = {}
        self.cond = {}
        self.prio = {}
        self.out = collections.defaultdict(list)
        self.inc = collections.defaultdict(list)
        for t, tid in zip(self.trans, self.tid):
            self.parent[tid] = t['from']
            self.child[tid] = t['to']
            self.cond[tid] = t['cond']
            self.prio[tid] = t['priority']
            self.out[t['from']].append(tid)
            self.inc[t['to']].append(tid)
        for n in self.out:
            self.out[n].sort(key=lambda tid: (self.prio[tid], tid))
        self.by_id = sorted(self.node, key=lambda n: self.nid[n])
        self._reach = {}

    def reach(self, j, s):
        """Incoming transitions of join j that a path from node s reaches: the path ends
        with that transition and enters j nowhere else (it may start at j)."""
        key = (j, s)
        if key not in self._reach:
            seen = {s}
            stack = [s]
            while stack:
                u = stack.pop()
                for tid in self.out[u]:
                    c = self.child[tid]
                    if c != j and c not in seen:
                        seen.add(c)
                        stack.append(c)
            self._reach[key] = frozenset(tid for tid in self.inc[j] if self.parent[tid] in seen)
        return self._reach[key]


# ---------------------------------------------------------------- the reference model

class Model:
    """One process, as the contract says it moves."""

    def __init__(self, g, params):
        self.g = g
        self.vars = dict(params)
        self.tokens = collections.Counter()
        self.tasks = []            # [node name, state], in creation order
        self.state = 'running'
        self.why = None            # ('split', node) | ('stuck',) | ('task',)

    # -- helpers
    def active(self):
        return [i for i, t in enumerate(self.tasks) if t[1] in ACTIVE]

    def holds(self, tid):
        c = self.g.cond[tid]
        if c is None:
            return True
        var, val = c
        return var in self.vars and self.vars[var] is val

    def running(self):
        return self.state == 'running'

    # -- section 1-3
    def activate(self, n):
        if not self.running():
            return
        node = self.g.node[n]
        if node['action'] is None:          # routing node: no action, no role
            self.tasks.append([n, 'succeeded'])
            self.after_success(n)
        else:
            self.tasks.append([n, 'ready'])

    def after_success(self, n):
        if not self.running():
            return
        if self.g.node[n]['end']:
            self.state = 'completed'
            if self.active():
                COVER['end cancelled tasks'] += 1
            for i in self.active():
                self.tasks[i][1] = 'cancelled'
            return
        taken = []
        for tid in self.g.out[n]:
            if self.holds(tid):
                taken.append(tid)
                if self.g.node[n]['split'] == 'xor':
                    break
        if not taken:
            self.state = 'failed'
            self.why = ('split', n)
            COVER['failed: no transition'] += 1
            if any(t[1] == 'ready' for t in self.tasks):
                COVER['failed with ready tasks left'] += 1
            return
        if len(taken) > 1:
            COVER['split took several'] += 1
        for tid in taken:
            if not self.running():
                COVER['split cut short by the end'] += 1
                break
            if self.g.cond[tid] and self.g.cond[tid][0].startswith('l'):
                COVER['loop taken'] += 1
            self.deliver(tid)

    # -- section 4
    def deliver(self, tid):
        g = self.g
        self.tokens[tid] += 1
        c = g.child[tid]
        join = g.node[c]['join']
        if join == 'and':
            if all(self.tokens[x] > 0 for x in g.inc[c]):
                for x in g.inc[c]:
                    self.tokens[x] -= 1
                COVER['and join fired' if len(g.inc[c]) > 1 else 'plain arrival'] += 1
                self.activate(c)
            else:
                COVER['and join waits'] += 1
        elif join == 'xor':
            self.tokens[tid] -= 1
            others = {g.parent[x] for x in g.inc[c]} - {g.parent[tid]}
            cancelled = 0
            for i in self.active():
                if self.tasks[i][0] in others:
                    self.tasks[i][1] = 'cancelled'
                    cancelled += 1
            COVER['xor join fired'] += 1
            if cancelled:
                COVER['xor join cancelled tasks'] += 1
            self.activate(c)
        # OR joins are decided at the end of the step

    def or_can_fire(self, j):
        g = self.g
        held = {x for x in g.inc[j] if self.tokens[x] > 0}
        empty = {x for x in g.inc[j] if self.tokens[x] == 0}
        if not held:
            return False
        if len(g.inc[j]) == 1:
            COVER['or join, one input, fired'] += 1
            return True
        sources = [self.tasks[i][0] for i in self.active()]
        sources += [g.child[x] for x in self.tokens if self.tokens[x] > 0 and g.child[x] != j]
        for s in sources:
            r = g.reach(j, s)
            if r & empty and not r & held:
                COVER['or join waits for a source'] += 1
                return False
        COVER['or join fired with all inputs' if not empty else 'or join fired with some inputs'] += 1
        return True

    def or_joins(self):
        while self.running():
            for j in self.g.by_id:
                if self.g.node[j]['join'] == 'or' and self.or_can_fire(j):
                    for x in self.g.inc[j]:
                        if self.tokens[x] > 0:
                            self.tokens[x] -= 1
                    self.activate(j)
                    break
            else:
                return

    def step_end(self):
        if self.running():
            self.or_joins()
            if self.running() and not self.active():
                self.state = 'failed'
                self.why = ('stuck',)
                COVER['failed: stuck'] += 1

    # -- the calls
    def start(self):
        for n in self.g.by_id:
            if self.g.node[n]['start']:
                if not self.running():
                    break
                self.activate(n)
        self.step_end()

    def complete(self, i, result):
        assert self.tasks[i][1] == 'running'
        self.tasks[i][1] = 'succeeded'
        self.vars.update(result)
        self.after_success(self.tasks[i][0])
        self.step_end()

    def claim(self):
        """ws.claim of every ready task: only a running process's tasks can be claimed."""
        COVER['most active tasks in a process'] = max(COVER['most active tasks in a process'],
                                                      len(self.active()))
        n = 0
        if self.running():
            for t in self.tasks:
                if t[1] == 'ready':
                    t[1] = 'running'
                    n += 1
        return n

    def cancel(self):
        self.state = 'cancelled'
        for i in self.active():
            self.tasks[i][1] = 'cancelled'

    def expected(self):
        return {'state': self.state, 'vars': self.vars,
                'tokens': {str(k): v for k, v in sorted(self.tokens.items()) if v > 0},
                'tasks': [tuple(t) for t in self.tasks]}


# ---------------------------------------------------------------- the driver

STATE_SQL = (
    "SELECT 'S ' || json_build_object("
    " 'id', p.id, 'state', p.state, 'vars', p.params, 'tokens', p.tokens, 'error', p.error,"
    " 'tasks', coalesce((SELECT json_agg(json_build_array(t.id, n.name, t.state) ORDER BY t.id)"
    "                      FROM ws.task t JOIN ws.node n ON n.id = t.node"
    "                     WHERE t.process = p.id), '[]'))::text"
    "  FROM ws.process p WHERE p.id = %d;")


class Proc:
    def __init__(self, g, params, number):
        self.g = g
        self.params = params
        self.number = number
        self.model = Model(g, params)
        self.pid = None
        self.ids = []           # database task ids, parallel to model.tasks
        self.steps = []         # readable log
        self.repro = []         # SQL that replays this process alone
        self.nsteps = 0
        self.broken = False


class Run:
    def __init__(self, args):
        self.args = args
        self.db = Psql()
        self.passed = 0
        self.failed = 0
        self.nprocs = 0
        self.nsteps = 0
        self.nchecks = 0
        self.printed = 0
        self.outcomes = collections.Counter()

    def log(self, msg):
        if not self.args.quiet:
            print(msg, flush=True)

    def report(self, g, title, proc=None, expected=None, actual=None, extra=None):
        self.printed += 1
        if self.printed > self.args.max_reports:
            return
        w = sys.stdout.write
        w('\n==== FAILURE in workflow %s: %s\n' % (g.name, title))
        w('workflow document:\n%s\n' % json.dumps(g.doc, sort_keys=True))
        if hasattr(g, 'nid'):
            w('node ids: %s\n' % ', '.join('%s=%d' % (n, g.nid[n]) for n in g.by_id))
            w('transition ids: %s\n' % ', '.join(
                '%d=%s->%s' % (tid, g.parent[tid], g.child[tid]) for tid in g.tid))
        if extra:
            w('%s\n' % extra)
        if proc is not None:
            w('process %d (the #%d of this workflow), steps:\n' % (proc.pid or 0, proc.number))
            for s in proc.steps:
                w('  %s\n' % s)
            w('replay of this process alone (psql script, needs the workflow defined as above):\n')
            w('\\set wf <workflow id>\n')
            for s in proc.repro:
                w('%s\n' % s)
        if expected is not None:
            w('expected (reference model):\n  %s\n' % json.dumps(expected, sort_keys=True))
            w('actual (database):\n  %s\n' % json.dumps(actual, sort_keys=True))
            for k in ('state', 'vars', 'tokens'):
                if expected[k] != actual.get(k):
                    w('  differs: %s: expected %s, actual %s\n' % (
                        k, json.dumps(expected[k], sort_keys=True), json.dumps(actual.get(k), sort_keys=True)))
            et, at = expected['tasks'], actual.get('tasks', [])
            if et != at:
                if sorted(et) == sorted(at):
                    w('  differs: tasks: same multiset, different order\n')
                else:
                    ec, ac = collections.Counter(et), collections.Counter(at)
                    w('  differs: tasks: only expected %s; only actual %s\n' % (
                        sorted((ec - ac).elements()), sorted((ac - ec).elements())))
        sys.stdout.flush()

    # -- one batch ending in a state read of proc (and a claim)
    def check(self, g, proc, lines):
        """Compare the state line of proc with the model; returns True when equal."""
        self.nchecks += 1
        st = [json.loads(s) for s in tagged(lines, 'S')]
        if len(st) != 1:
            self.report(g, 'no state row for process %s' % proc.pid, proc)
            return False
        a = st[0]
        actual = {'state': a['state'], 'vars': a['vars'], 'tokens': a['tokens'],
                  'tasks': [(t[1], t[2]) for t in a['tasks']]}
        exp = proc.model.expected()
        ok = exp == actual
        if ok and proc.model.why and a['state'] == 'failed':
            err = a.get('error') or ''
            why = proc.model.why
            if why[0] == 'split' and ('"%s"' % why[1]) not in err:
                ok = False
                self.report(g, 'the failure error does not name node %s: %r' % (why[1], err), proc)
                proc.broken = True
                return False
            if why[0] == 'stuck' and 'stuck' not in err:
                ok = False
                self.report(g, 'the failure error does not say stuck: %r' % err, proc)
                proc.broken = True
                return False
        if not ok:
            self.report(g, 'state of process %d differs after: %s' % (proc.pid, proc.steps[-1]),
                        proc, exp, actual)
            proc.broken = True
            return False
        proc.ids = [t[0] for t in a['tasks']]
        return True

    def claim(self, g, procs, lines, after):
        got = tagged(lines, 'C')
        want = 0
        for p in procs:
            if not p.broken:
                n = p.model.claim()
                want += n
                if n:
                    p.steps.append('claim all ready tasks (%d of this process)' % n)
                    p.repro.append("SELECT count(*) FROM ws.claim(ARRAY[%s], 'rj', 100000);" % lit(g.action))
        if len(got) != 1 or int(got[0]) != want:
            if not any(p.broken for p in procs):
                self.report(g, 'ws.claim after %s claimed %s tasks, the model %d' % (
                    after, got, want), extra='model states: ' + json.dumps(
                        [p.model.expected() for p in procs], sort_keys=True))
                for p in procs:
                    p.broken = True
            return False
        return True

    def sql(self, g, text, proc=None):
        try:
            return self.db.run(text)
        except SqlError as e:
            self.report(g, 'SQL error', proc, extra='SQL:\n%s\nerror:\n%s' % (text, e))
            if proc is not None:
                proc.broken = True
            return None

    def claim_sql(self, g):
        return "SELECT 'C ' || count(*) FROM ws.claim(ARRAY[%s], 'rj', 100000);" % lit(g.action)

    def result(self, rng, p):
        """A random result for a completion of a task of p."""
        result = {}
        for v in range(NVARS):
            r = rng.random()
            if r < 0.4:
                result['v%d' % v] = rng.random() < 0.5
            elif r < 0.43:
                result['v%d' % v] = rng.choice(['yes', 1, None])
        for v in range(NLOOPVARS):
            if p.nsteps >= LOOP_BUDGET:
                result['l%d' % v] = False
            elif rng.random() < 0.5:
                result['l%d' % v] = rng.random() < 0.8
        return result

    def batch_step(self, g, procs, rng):
        """ws.complete_batch of 2-6 completions across the workflow's processes, each valid
        after the ones before it (the model applies them in order, as the batch must)."""
        ids, results, touched = [], [], []
        for _ in range(rng.randint(2, 6)):
            live = [p for p in procs if not p.broken and p.model.running() and p.nsteps < HARD_CAP
                    and any(i < len(p.ids) for i in p.model.active())]
            if not live:
                break
            p = rng.choice(live)
            i = rng.choice([i for i in p.model.active() if i < len(p.ids)])
            result = self.result(rng, p)
            p.nsteps += 1
            self.nsteps += 1
            p.steps.append('complete task #%d (node %s, id %d) with %s, in a ws.complete_batch' % (
                i, p.model.tasks[i][0], p.ids[i], json.dumps(result, sort_keys=True)))
            p.repro.append("SELECT ws.complete((SELECT id FROM ws.task WHERE process = :p ORDER BY id "
                           "OFFSET %d LIMIT 1), %s);" % (i, jlit(result)))
            p.model.complete(i, result)
            ids.append(p.ids[i])
            results.append(result)
            if p not in touched:
                touched.append(p)
        if not ids:
            return True
        COVER['complete_batch of %d' % len(ids)] += 1
        lines = self.sql(g, "SELECT ws.complete_batch(ARRAY[%s]::bigint[], ARRAY[%s]::jsonb[]) IS NULL;\n%s\n%s" % (
            ', '.join(str(x) for x in ids), ', '.join(jlit(r) for r in results),
            '\n'.join(STATE_SQL % p.pid for p in touched), self.claim_sql(g)), touched[0])
        if lines is None:
            for p in touched:
                p.broken = True
            return False
        rows = {json.loads(x)['id']: x for x in tagged(lines, 'S')}
        ok = True
        for p in touched:
            if not self.check(g, p, ['S ' + rows.get(p.pid, 'null')]):
                ok = False
                self.sql(g, "SELECT ws.cancel(p.id) FROM ws.process p WHERE p.id = %d "
                            "AND p.state IN ('running', 'failed');" % p.pid)
        if ok and not self.claim(g, procs, lines, 'a ws.complete_batch of %d' % len(ids)):
            ok = False
        return ok

    def workflow(self, index):
        rng = random.Random('%d:%d' % (self.args.seed, index))
        tag = 'rj%d_%d' % (self.args.seed, index)
        g = Workflow(rng, tag, tag)
        # define, read back ids, validate
        refused = g.never_firing()
        if refused:
            # ws.define refuses the document, names each such join and parent, and stores
            # nothing; then the same graph with those joins made OR or XOR joins is defined
            try:
                self.db.run("SELECT ws.define(%s::jsonb);" % lit(json.dumps(g.doc, sort_keys=True)))
                self.report(g, 'ws.define stored a workflow whose AND joins never fire: %s' % refused)
                return False
            except SqlError as e:
                msg = str(e)
                missing = [jp for jp in refused
                           if 'AND join "%s" can never fire: its transition from "%s"' % jp not in msg]
                if 'is not valid' not in msg or 'Nothing was stored' not in msg or missing:
                    self.report(g, 'ws.define refused the document, but not as expected',
                                extra='expected to name %s\nerror:\n%s' % (missing or refused, msg))
                    return False
            COVER['define refused: AND join never fires'] += 1
            for n in g.nodes:
                if any(n['name'] == jp[0] for jp in refused):
                    n['join'] = rng.choice(['or', 'xor'])
            g.doc = g._doc()
        doc = json.dumps(g.doc, sort_keys=True)
        lines = self.sql(g,
                         "SELECT ws.define(%s::jsonb) AS wf \\gset\n"
                         "SELECT 'D ' || json_build_object("
                         " 'wf', :wf,"
                         " 'nodes', (SELECT json_agg(json_build_array(name, id, is_start, is_end) ORDER BY id)"
                         "             FROM ws.node WHERE workflow = :wf),"
                         " 'trans', (SELECT json_agg(id ORDER BY id) FROM ws.transition WHERE workflow = :wf),"
                         " 'problems', (SELECT json_agg(p) FROM ws.validate(:wf) p))::text;" % lit(doc))
        if lines is None:
            return False
        d = json.loads(tagged(lines, 'D')[0])
        g.wf = d['wf']
        g.bind([(n[0], n[1]) for n in d['nodes']], d['trans'] or [])
        bad = []
        for name, _, is_start, is_end in d['nodes']:
            if is_start != g.node[name]['start'] or is_end != g.node[name]['end']:
                bad.append('%s: start/end %s/%s, expected %s/%s' % (
                    name, is_start, is_end, g.node[name]['start'], g.node[name]['end']))
        if d['problems']:
            bad.append('ws.validate: %s' % d['problems'])
        if len(g.tid) != len(g.trans):
            bad.append('%d transitions stored, %d defined' % (len(g.tid), len(g.trans)))
        if bad:
            self.report(g, 'definition differs', extra='\n'.join(bad))
            return False

        procs = []
        ok = True
        nprocs = self.args.procs if self.args.procs else rng.randint(2, 4)
        for k in range(nprocs):
            params = {}
            for v in range(NVARS):
                if rng.random() < 0.5:
                    params['v%d' % v] = rng.random() < 0.5
            for v in range(NLOOPVARS):
                if rng.random() < 0.5:
                    params['l%d' % v] = rng.random() < 0.5
            p = Proc(g, params, k + 1)
            procs.append(p)
            p.steps.append('ws.start(%d, %s)' % (g.wf, json.dumps(params, sort_keys=True)))
            p.repro.append('SELECT ws.start(:wf, %s) AS p \\gset' % jlit(params))
            p.model.start()
            lines = self.sql(g, "SELECT 'P ' || ws.start(%d, %s);\n" % (g.wf, jlit(params)), p)
            if lines is None:
                ok = False
                continue
            p.pid = int(tagged(lines, 'P')[0])
            self.nsteps += 1
            lines = self.sql(g, (STATE_SQL % p.pid) + "\n" + self.claim_sql(g), p)
            if lines is None or not self.check(g, p, lines):
                ok = False
                continue
            self.claim(g, procs, lines, 'starting process %d' % p.pid)

        while True:
            live = [p for p in procs if not p.broken and p.model.running()]
            if not live:
                break
            p = rng.choice(live)
            m = p.model
            if p.nsteps >= HARD_CAP:
                p.steps.append('ws.cancel (step cap)')
                p.repro.append('SELECT ws.cancel(:p);')
                m.cancel()
                lines = self.sql(g, "SELECT ws.cancel(%d) IS NULL;\n%s" % (p.pid, STATE_SQL % p.pid), p)
                if lines is None or not self.check(g, p, lines):
                    ok = False
                continue
            act = m.active()
            assert act and all(m.tasks[i][1] == 'running' for i in act), m.tasks
            if rng.random() < BATCH_SHARE:
                if not self.batch_step(g, procs, rng):
                    ok = False
                continue
            i = rng.choice(act)
            result = self.result(rng, p)
            p.nsteps += 1
            self.nsteps += 1
            p.steps.append('complete task #%d (node %s, id %d) with %s' % (
                i, m.tasks[i][0], p.ids[i], json.dumps(result, sort_keys=True)))
            p.repro.append("SELECT ws.complete((SELECT id FROM ws.task WHERE process = :p ORDER BY id "
                           "OFFSET %d LIMIT 1), %s);" % (i, jlit(result)))
            m.complete(i, result)
            lines = self.sql(g, "SELECT ws.complete(%d, %s) IS NULL;\n%s\n%s" % (
                p.ids[i], jlit(result), STATE_SQL % p.pid, self.claim_sql(g)), p)
            if lines is None or not self.check(g, p, lines):
                ok = False
                if lines is None:
                    continue
                # take the broken process out of the way of the others' claims
                self.sql(g, "SELECT ws.cancel(p.id) FROM ws.process p WHERE p.id = %d "
                            "AND p.state IN ('running', 'failed');" % p.pid)
                continue
            if not self.claim(g, procs, lines, 'step "%s"' % p.steps[-1]):
                ok = False

        # every process once more at the end: nothing moved behind the model's back
        if ok:
            lines = self.sql(g, '\n'.join(STATE_SQL % p.pid for p in procs))
            if lines is None:
                ok = False
            else:
                rows = {json.loads(s)['id']: s for s in tagged(lines, 'S')}
                for p in procs:
                    p.steps.append('(final read of all processes of the workflow)')
                    if not self.check(g, p, ['S ' + rows.get(p.pid, 'null')]):
                        ok = False
        for p in procs:
            self.outcomes[p.model.state] += 1
        self.nprocs += len(procs)
        self.log('%-14s %2d nodes %2d transitions %d processes: %s%s' % (
            g.name, g.k, len(g.trans), len(procs),
            ' '.join('%s/%d' % (p.model.state, p.nsteps) for p in procs),
            '' if ok else '  FAILED'))
        return ok

    def write_trace(self, path):
        """Everything the engine wrote, but times: processes, tasks, events and the claim
        queue, by id. Two runs with the same seed in new databases write the same trace
        when the engine behaves the same (used to show that a refactoring changed nothing)."""
        lines = self.db.run(
            "SELECT 'T ' || x FROM ("
            " SELECT 1 AS k, id, json_build_array('process', id, workflow, state, params, tokens, error,"
            "        started_by)::text AS x FROM ws.process"
            " UNION ALL SELECT 2, id, json_build_array('task', id, process, node, action, state, params, result,"
            "        progress, assignee, attempts, error, worker, role, ended_at IS NULL, started_at IS NULL,"
            "        due_at IS NULL, lease_until IS NULL)::text FROM ws.task"
            " UNION ALL SELECT 3, id, json_build_array('event', id, process, task, state, actor, detail)::text"
            "        FROM ws.event"
            " UNION ALL SELECT 4, task, json_build_array('ready', action, task)::text FROM ws.ready) t"
            " ORDER BY k, id;")
        with open(path, 'w') as f:
            for l in tagged(lines, 'T'):
                f.write(l + '\n')
        print('random_joins: trace of %d rows in %s' % (len(tagged(lines, 'T')), path))

    def main(self):
        t0 = time.time()
        print('random_joins: seed %d, %d workflows' % (self.args.seed, self.args.workflows), flush=True)
        indices = [self.args.only] if self.args.only is not None else range(self.args.workflows)
        for i in indices:
            if self.workflow(i):
                self.passed += 1
            else:
                self.failed += 1
                if self.failed >= self.args.stop_after:
                    print('random_joins: stopping after %d failed workflows' % self.failed)
                    break
        # the claim queue holds exactly the ready tasks, whatever the steps did to them
        lines = self.db.run(
            "SELECT 'Q ' || count(*) FILTER (WHERE r.task IS NULL) || ' '"
            "       || count(*) FILTER (WHERE t.id IS NULL OR t.state <> 'ready')"
            "       || ' ' || count(*) FILTER (WHERE t.state = 'ready' AND r.task IS NOT NULL)"
            "  FROM (SELECT * FROM ws.task WHERE state = 'ready') t"
            "  FULL JOIN ws.ready r ON r.task = t.id;")
        missing, stale, queued = (int(x) for x in tagged(lines, 'Q')[0].split())
        if missing or stale:
            print('random_joins: FAILURE: the claim queue ws.ready disagrees with ws.task: '
                  '%d ready tasks missing from it, %d rows of tasks not ready' % (missing, stale))
            self.failed += 1
        else:
            print('random_joins: the claim queue holds exactly the %d ready tasks' % queued)
        if self.args.trace:
            self.write_trace(self.args.trace)
        self.db.close()
        print('random_joins: seed %d: %d workflows, %d processes (%s), %d steps, %d state checks in %.1f s'
              % (self.args.seed, self.passed + self.failed, self.nprocs,
                 ', '.join('%s %d' % kv for kv in sorted(self.outcomes.items())),
                 self.nsteps, self.nchecks, time.time() - t0))
        print('random_joins: seen: %s' % ', '.join('%s %d' % kv for kv in sorted(COVER.items())))
        if self.failed:
            print('random_joins: replay a failed workflow with: %s --seed %d --only <index>'
                  % (sys.argv[0], self.args.seed))
        print('random_joins: %d passed, %d failed' % (self.passed, self.failed))
        return 1 if self.failed else 0


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--seed', type=int, default=None,
                    help='random seed (default: $RANDOM_JOINS_SEED or the clock)')
    ap.add_argument('--workflows', type=int, default=250)
    ap.add_argument('--procs', type=int, default=0, help='processes per workflow (default 2-4)')
    ap.add_argument('--only', type=int, default=None, help='run only workflow number ONLY')
    ap.add_argument('--quiet', action='store_true', help='no line per workflow')
    ap.add_argument('--max-reports', type=int, default=5, help='print at most this many failure reports')
    ap.add_argument('--stop-after', type=int, default=50, help='stop after this many failed workflows')
    ap.add_argument('--trace', default=None, help='write what the engine wrote (no times) to this file at the end')
    a = ap.parse_args()
    if a.seed is None:
        a.seed = int(os.environ.get('RANDOM_JOINS_SEED') or int(time.time()) % 1000000)
    return a


if __name__ == '__main__':
    run = Run(parse())
    try:
        sys.exit(run.main())
    except Exception:
        import traceback
        traceback.print_exc(file=sys.stdout)
        print('random_joins: the test program itself failed (above)')
        print('random_joins: %d passed, %d failed' % (run.passed, run.failed + 1))
        sys.exit(2)
