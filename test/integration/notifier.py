#!/usr/bin/env python3
"""notifier.py: ws_ready and ws_process sent after commit by the ws notifier
(src/notifier.c), in a cluster where ws is in shared_preload_libraries.

Talks to PostgreSQL through libpq with ctypes (no driver to install). A listener
connection LISTENs; sender connections start and complete processes; every check
looks at what the listener receives and from which backend. What must happen is waited
for up to DEADLINE seconds and the time it took printed as a '#' line: how fast belongs
to bench/, here only whether.
"""
import ctypes
import ctypes.util
import os
import select
import sys
import threading
import time

pq = ctypes.CDLL(ctypes.util.find_library("pq") or "libpq.so.5")
pq.PQconnectdb.restype = ctypes.c_void_p
pq.PQconnectdb.argtypes = [ctypes.c_char_p]
pq.PQstatus.argtypes = [ctypes.c_void_p]
pq.PQerrorMessage.restype = ctypes.c_char_p
pq.PQerrorMessage.argtypes = [ctypes.c_void_p]
pq.PQexec.restype = ctypes.c_void_p
pq.PQexec.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
pq.PQresultStatus.argtypes = [ctypes.c_void_p]
pq.PQresultErrorMessage.restype = ctypes.c_char_p
pq.PQresultErrorMessage.argtypes = [ctypes.c_void_p]
pq.PQntuples.argtypes = [ctypes.c_void_p]
pq.PQgetvalue.restype = ctypes.c_char_p
pq.PQgetvalue.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
pq.PQclear.argtypes = [ctypes.c_void_p]
pq.PQsocket.argtypes = [ctypes.c_void_p]
pq.PQconsumeInput.argtypes = [ctypes.c_void_p]
pq.PQbackendPID.argtypes = [ctypes.c_void_p]
pq.PQfinish.argtypes = [ctypes.c_void_p]


class PGnotify(ctypes.Structure):
    _fields_ = [("relname", ctypes.c_char_p), ("be_pid", ctypes.c_int),
                ("extra", ctypes.c_char_p), ("next", ctypes.c_void_p)]


pq.PQnotifies.restype = ctypes.POINTER(PGnotify)
pq.PQnotifies.argtypes = [ctypes.c_void_p]
pq.PQfreemem.argtypes = [ctypes.c_void_p]

PGRES_COMMAND_OK, PGRES_TUPLES_OK = 1, 2
DEADLINE = 30
passed = failed = 0


def check(ok, what):
    global passed, failed
    if ok:
        passed += 1
        print("ok - " + what)
    else:
        failed += 1
        print("not ok - " + what)


def poll(cond, seconds=DEADLINE):
    """Seconds until cond() was true, or None after seconds."""
    start = time.monotonic()
    while True:
        if cond():
            return time.monotonic() - start
        if time.monotonic() - start > seconds:
            return None
        time.sleep(0.02)


def took(seconds, what):
    if seconds is not None:
        print("# %s: %.3f s" % (what, seconds))


class Conn:
    def __init__(self, db):
        self.c = pq.PQconnectdb(("dbname=%s" % db).encode())
        if pq.PQstatus(self.c) != 0:
            sys.exit("notifier: cannot connect: %s" % pq.PQerrorMessage(self.c).decode())
        self.pid = pq.PQbackendPID(self.c)

    def q(self, sql):
        r = pq.PQexec(self.c, sql.encode())
        st = pq.PQresultStatus(r)
        if st not in (PGRES_COMMAND_OK, PGRES_TUPLES_OK):
            msg = pq.PQresultErrorMessage(r).decode()
            pq.PQclear(r)
            raise RuntimeError(msg)
        rows = [pq.PQgetvalue(r, i, 0).decode() for i in range(pq.PQntuples(r))] \
            if st == PGRES_TUPLES_OK else []
        pq.PQclear(r)
        return rows

    def one(self, sql):
        rows = self.q(sql)
        return rows[0] if rows else None

    def wait(self, seconds, until=None):
        """Notifications (channel, payload, pid) received within seconds, or until one
        for which until() is true arrives (self.took: how long that took)."""
        got = []
        start = time.monotonic()
        end = start + seconds
        self.took = None
        while True:
            pq.PQconsumeInput(self.c)
            while True:
                n = pq.PQnotifies(self.c)
                if not n:
                    break
                got.append((n.contents.relname.decode(), n.contents.extra.decode(),
                            n.contents.be_pid))
                pq.PQfreemem(n)
            if until and any(until(g) for g in got):
                self.took = time.monotonic() - start
                return got
            left = end - time.monotonic()
            if left <= 0:
                return got
            select.select([pq.PQsocket(self.c)], [], [], left)

    def close(self):
        pq.PQfinish(self.c)


def notifiers(c, db):
    return c.q("SELECT pid FROM pg_stat_activity WHERE backend_type = 'ws notifier' "
               "AND datname = '%s'" % db)


def sent_by(lis, snd, pid, action):
    """Commit a process of action again until its ws_ready comes from backend pid, for up
    to DEADLINE (a new notifier shows in pg_stat_activity a moment before it takes the
    ring: until then a commit notifies in its transaction). What the last commit sent."""
    got = []

    def one():
        snd.q("SELECT ws.start('%s')" % action)
        got[:] = lis.wait(DEADLINE, lambda g: g[:2] == ("ws_ready", action))
        return any(g[:2] == ("ws_ready", action) and g[2] == pid for g in got)

    poll(one)
    return got


def main():
    db = os.environ.get("PGDATABASE", "notifier")
    admin = Conn(db)
    if admin.one("SHOW ws.notifier") != "on":
        sys.exit("notifier: ws.notifier is off")
    admin.q("""SELECT ws.define(jsonb_build_object('name', w, 'nodes', jsonb_build_array(
                 jsonb_build_object('name', 'a', 'action', w))))
               FROM (VALUES ('n.a'), ('n.b'), ('n.c'), ('n.' || repeat('x', 300)),
                            ('n.s0'), ('n.s1'), ('n.s2'), ('n.s3')) v(w)""")
    lis = Conn(db)
    lis.q("LISTEN ws_ready")
    lis.q("LISTEN ws_process")
    lis.q("LISTEN ws_test_last")
    snd = Conn(db)
    ready = lambda p: (lambda g: g[0] == "ws_ready" and g[1] == p)

    # the first commit that notifies starts the database's notifier
    snd.q("SELECT ws.start('n.a')")
    took(poll(lambda: notifiers(admin, db)), "the first commit to a running notifier")
    pids = notifiers(admin, db)
    check(len(pids) == 1, "one notifier runs for the database after the first commit")
    notifier_pid = int(pids[0]) if pids else -1
    lis.wait(0.3)

    # a commit: ws_ready arrives, sent by the notifier, after the task is visible
    got = sent_by(lis, snd, notifier_pid, "n.a")
    took(lis.took, "a commit to its ws_ready")
    got += lis.wait(0.2)
    hits = [g for g in got if g[:2] == ("ws_ready", "n.a")]
    check(len(hits) == 1 and hits[0][2] == notifier_pid,
          "ws_ready n.a arrives once, from the notifier (got %r)" % got)

    # 50 processes in one transaction: one notification for the action
    snd.q("BEGIN")
    snd.q("SELECT count(ws.start('n.a')) FROM generate_series(1, 50)")
    early = lis.wait(0.3)
    snd.q("COMMIT")
    got = lis.wait(DEADLINE, ready("n.a"))
    time.sleep(0.2)
    got += lis.wait(0.2)
    check(early == [], "nothing arrives before commit (got %r)" % early)
    check([g[:2] for g in got] == [("ws_ready", "n.a")],
          "50 ready tasks of one action in one transaction: one ws_ready (got %r)" % got)

    # a rollback sends nothing
    snd.q("BEGIN")
    snd.q("SELECT ws.start('n.b')")
    snd.q("ROLLBACK")
    got = lis.wait(0.5)
    check(got == [], "a rolled back transaction sends nothing (got %r)" % got)

    # a rolled back subtransaction takes its notifications with it
    snd.q("BEGIN")
    snd.q("SAVEPOINT s")
    snd.q("SELECT ws.start('n.b')")
    snd.q("ROLLBACK TO SAVEPOINT s")
    snd.q("SAVEPOINT t")
    snd.q("SELECT ws.start('n.c')")
    snd.q("RELEASE SAVEPOINT t")
    snd.q("COMMIT")
    got = lis.wait(DEADLINE, ready("n.c"))
    got += lis.wait(0.3)
    check([g[:2] for g in got] == [("ws_ready", "n.c")],
          "a rolled back savepoint drops its notification, a released one keeps it (got %r)" % got)

    # an error inside a PL/pgSQL exception block is a rolled back subtransaction too
    snd.q("""DO $$ BEGIN
               BEGIN PERFORM ws.start('n.b'); PERFORM 1 / 0;
               EXCEPTION WHEN division_by_zero THEN NULL; END;
               PERFORM ws.start('n.c'); END $$""")
    got = lis.wait(DEADLINE, ready("n.c"))
    got += lis.wait(0.3)
    check([g[:2] for g in got] == [("ws_ready", "n.c")],
          "an exception block that caught an error sends nothing of its own (got %r)" % got)

    # ws_process when a process ends, from the notifier
    task = snd.one("SELECT task FROM ws.claim(ARRAY['n.c'], 'test', 1)")
    proc = snd.one("SELECT process FROM ws.task WHERE id = %s" % task)
    lis.wait(0.2)
    snd.q("SELECT ws.complete(%s)" % task)
    want = '{"process": %s, "state": "completed"}' % proc
    got = lis.wait(DEADLINE, lambda g: g[0] == "ws_process" and g[1] == want)
    hits = [g for g in got if g[:2] == ("ws_process", want)]
    check(len(hits) == 1 and hits[0][2] == notifier_pid,
          "ws_process arrives from the notifier when a process completes (got %r)" % got)

    # ws.notifier = off: NOTIFY in the transaction, from the sender itself
    snd.q("SET ws.notifier = off")
    snd.q("SELECT ws.start('n.a')")
    got = lis.wait(DEADLINE, ready("n.a"))
    hits = [g for g in got if g[:2] == ("ws_ready", "n.a")]
    check(len(hits) == 1 and hits[0][2] == snd.pid,
          "with ws.notifier = off the sender notifies itself (got %r)" % got)
    snd.q("RESET ws.notifier")

    # a payload too long for the ring goes by NOTIFY in the transaction
    long_action = "n." + "x" * 300
    snd.q("SELECT ws.start('%s')" % long_action)
    got = lis.wait(DEADLINE, ready(long_action))
    hits = [g for g in got if g[:2] == ("ws_ready", long_action)]
    check(len(hits) == 1 and hits[0][2] == snd.pid,
          "a 302-byte action name is sent by NOTIFY in the transaction")

    # concurrency: 4 senders at once, 200 commits each, each sender its own action, every
    # commit notifies. At most one ws_ready a commit, and none lost at the end: the last
    # commit of each action also sends ws_test_last (before its ws_ready, so that also a
    # NOTIFY in the transaction comes after it) and a ws_ready of that action must arrive
    # after it, that is sent after that commit
    actions = ["n.s%d" % k for k in range(4)]
    senders = [Conn(db) for _ in actions]
    lis.wait(0.2)
    errors = []

    def send(c, action):
        try:
            for _ in range(199):
                c.q("SELECT ws.start('%s')" % action)
            c.q("BEGIN")
            c.q("NOTIFY ws_test_last, '%s'" % action)
            c.q("SELECT ws.start('%s')" % action)
            c.q("COMMIT")
        except RuntimeError as e:
            errors.append(str(e))

    threads = [threading.Thread(target=send, args=(c, a)) for c, a in zip(senders, actions)]
    got = []

    def after_last(action):
        marks = [i for i, g in enumerate(got) if g[:2] == ("ws_test_last", action)]
        return bool(marks) and any(g[:2] == ("ws_ready", action) for g in got[marks[0] + 1:])

    def all_after_last():
        got.extend(lis.wait(0))
        return all(after_last(a) for a in actions)

    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took(time.monotonic() - start, "800 commits from 4 sessions")
    took(poll(all_after_last), "the last commits to a ws_ready of each action after them")
    got.extend(lis.wait(0.3))
    check(errors == [], "800 commits from 4 sessions at once (%r)" % errors[:1])
    for a in actions:
        n = sum(1 for g in got if g[:2] == ("ws_ready", a))
        check(after_last(a) and 1 <= n <= 200,
              "200 commits of %s: a ws_ready arrives after the last; %d delivered, "
              "at most one a commit" % (a, n))
    for s in senders:
        s.close()

    # idle: the notifier exits after ws.notifier_idle, and comes back when needed
    admin.q("ALTER SYSTEM SET ws.notifier_idle = '300ms'")
    admin.q("SELECT pg_reload_conf()")
    # it wakes at least every 300 ms and exits once idle that long: about 0.6 s
    took(poll(lambda: not notifiers(admin, db)), "ws.notifier_idle set to 300ms to the idle notifier's exit")
    check(notifiers(admin, db) == [], "an idle notifier exits after ws.notifier_idle")
    snd.q("SELECT ws.start('n.a')")
    got = lis.wait(DEADLINE, ready("n.a"))
    check(any(g[:2] == ("ws_ready", "n.a") for g in got),
          "the first commit after that notifies (in its transaction) while a notifier starts")
    took(poll(lambda: notifiers(admin, db)), "that commit to a new notifier")
    check(len(notifiers(admin, db)) == 1, "a new notifier started")
    admin.q("ALTER SYSTEM RESET ws.notifier_idle")
    admin.q("SELECT pg_reload_conf()")

    # a killed notifier: the next commits still notify, and a new one starts and sends
    old = notifiers(admin, db)
    admin.q("SELECT pg_terminate_backend(%s)" % old[0])
    poll(lambda: notifiers(admin, db) != old)
    snd.q("SELECT ws.start('n.c')")
    got = lis.wait(DEADLINE, ready("n.c"))
    check(any(g[:2] == ("ws_ready", "n.c") for g in got),
          "after the notifier was terminated, a commit still notifies")
    took(poll(lambda: notifiers(admin, db) not in ([], old)), "that commit to a new notifier")
    new = notifiers(admin, db)
    check(len(new) == 1 and new != old, "a new notifier starts (was %r, now %r)" % (old, new))
    got = sent_by(lis, snd, int(new[0]) if len(new) == 1 else -1, "n.c")
    check(len(new) == 1 and any(g[2] == int(new[0]) for g in got),
          "the new notifier sends the ws_ready of the next commits (last got %r)" % got)

    # the claim queue's upkeep: the notifier vacuums ws.ready every ws.queue_vacuum claims
    # (autovacuum is off for the table here, and nothing else vacuums it)
    admin.q("ALTER TABLE ws.ready SET (autovacuum_enabled = off)")
    vacuums = lambda: int(admin.one("SELECT vacuum_count FROM pg_stat_user_tables "
                                    "WHERE relid = 'ws.ready'::regclass"))

    def claim_all(n):
        snd.q("SELECT count(ws.start('n.b')) FROM generate_series(1, %d)" % n)
        done = 0
        for _ in range(n):
            done += int(snd.one("SELECT count(ws.complete(task, '{}', attempt)) "
                                "FROM ws.claim(ARRAY['n.b'], 'queue', 1)"))
        return done

    admin.q("ALTER SYSTEM SET ws.queue_vacuum = 0")
    admin.q("SELECT pg_reload_conf()")
    time.sleep(0.3)
    v0 = vacuums()
    done = claim_all(300)
    time.sleep(1.5)
    check(done == 300 and vacuums() == v0,
          "ws.queue_vacuum = 0: 300 claims, and nobody vacuums ws.ready (%d claimed, %d vacuums)"
          % (done, vacuums() - v0))
    admin.q("ALTER SYSTEM SET ws.queue_vacuum = 100")
    admin.q("SELECT pg_reload_conf()")
    time.sleep(0.3)
    v0 = vacuums()
    done = claim_all(300)
    took(poll(lambda: vacuums() > v0), "the last of 300 claims to a VACUUM of ws.ready")
    check(done == 300 and vacuums() > v0,
          "ws.queue_vacuum = 100: 300 claims, and the notifier vacuums ws.ready (%d claimed, %d vacuums)"
          % (done, vacuums() - v0))
    check(admin.one("SELECT count(*) FROM ws.ready WHERE action = 'n.b'") == "0" and
          admin.one("SELECT count(*) FROM ws.task t JOIN ws.node n ON n.id = t.node "
                    "WHERE t.action = 'n.b' AND t.state <> 'succeeded'") == "0",
          "every task of those claims succeeded and the queue holds none of them")
    admin.q("ALTER SYSTEM RESET ws.queue_vacuum")
    admin.q("SELECT pg_reload_conf()")
    admin.q("ALTER TABLE ws.ready RESET (autovacuum_enabled)")

    for c in (lis, snd, admin):
        c.close()
    print("notifier: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
