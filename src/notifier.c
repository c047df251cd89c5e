/*
 * notifier.c: the notifications workers and applications LISTEN to, sent after commit
 * from a background worker, which also vacuums the claim queue (queue.c).
 *
 * ws_ready carries an action name, at most once per transaction however many of its
 * tasks become ready; ws_process carries {"process": <id>, "state": "<state>"} when a
 * process ends.
 *
 * WHY
 * PostgreSQL serializes the commits of all transactions that NOTIFY: PreCommit_Notify
 * takes one global lock and keeps it until the transaction has ended, WAL flush included,
 * so notifying transactions cannot share a WAL flush (group commit). A step makes a task
 * ready, so every step notified, and with several clients this lock limited the
 * throughput (bench/README.md has the figures).
 *
 * HOW
 * When ws is in shared_preload_libraries and ws.notifier is on (the default), a step
 * does not NOTIFY. Its notifications are kept in the backend until the transaction ends
 * (dropped with a rolled back subtransaction, merged per action): at pre-commit they get
 * room in a ring in shared memory, one ring per database; after the commit has become
 * visible they are copied there and the database's notifier, a background worker, is
 * woken. It sends everything waiting in one transaction of its own (synchronous_commit
 * off: a notification is not data, and a crash disconnects every listener anyway). A
 * listener is told after the step's changes are visible, as before, and each action at
 * most once per transaction, now often once for many transactions: a note already
 * waiting in the ring is not added again, and under load (more than one commit since its
 * last take) the notifier sends at most once every WS_SEND_GAP_US (half a millisecond),
 * since each of its transactions costs about what a step costs; one commit at a time is
 * sent at once.
 *
 * Everything else falls back to NOTIFY inside the transaction, exactly as without the
 * notifier: ws not preloaded, ws.notifier off, a payload too long for a ring slot, a full
 * ring, a database whose notifier is still starting (it is started by the first commit
 * that needs it), more databases than rings, PREPARE TRANSACTION (PostgreSQL then refuses
 * the PREPARE, as it does for any NOTIFY).
 *
 * A notifier that has had nothing to send for ws.notifier_idle exits, so that it never
 * holds a database that someone wants to drop for long.
 *
 * The notifier also keeps the claim queue short: backends count the queue rows their
 * claims delete here, and once ws.queue_vacuum have gone it runs VACUUM on ws.ready
 * (queue.c says why). Such a count asks for a notifier as a commit with notifications
 * does.
 *
 * A hot standby runs no notifier: one is asked for only by a commit with notifications,
 * that is by a step, and every step is refused there (read-only, src/calls.c); its start
 * time (BgWorkerStart_RecoveryFinished) would hold it back until the end of recovery
 * anyway. The ring's shared memory and the transaction callbacks do nothing meanwhile.
 */
#include "postgres.h"

#include "access/xact.h"
#include "commands/async.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lwlock.h"
#include "storage/proc.h"
#include "storage/shmem.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "notifier.h"
#include "queue.h"
#include "ws.h"

#define WS_RINGS		8		/* databases with a notifier at once */
#define WS_RING_SIZE	1024	/* notifications waiting per database */
#define WS_PAYLOAD_MAX	240		/* a payload longer than this is sent in the transaction */
#define WS_SEND_GAP_US	500		/* under load, at most one notifier transaction this often */

typedef struct WsNote
{
	uint8		channel;		/* 0: ws_ready, 1: ws_process */
	char		payload[WS_PAYLOAD_MAX];
} WsNote;

typedef struct WsRing
{
	Oid			db;				/* InvalidOid: free */
	pid_t		pid;			/* the running notifier; 0 when there is none */
	Latch	   *latch;
	TimestampTz started;		/* when a notifier was last asked for; 0: ask now */
	uint64		head;			/* notes [tail, head) are not sent yet: [taken, head) */
	uint64		taken;			/* wait, [tail, taken) are being sent; the notifier */
	uint64		tail;			/* moves tail on only once it has sent them */
	uint64		commits;		/* transactions that handed notes over */
	int			reserved;		/* room promised to committing transactions */
	int			failures;		/* notifiers of this ring that died in a row */
	uint64		dequeued;		/* claim queue rows deleted (queue.c) */
	uint64		vacuumed;		/* dequeued when the notifier last vacuumed the queue */
	WsNote		notes[WS_RING_SIZE];
} WsRing;

typedef struct WsNotifyShared
{
	LWLock	   *lock;
	WsRing		rings[WS_RINGS];
} WsNotifyShared;

static const char *const ws_channels[] = {"ws_ready", "ws_process"};

static bool ws_notifier = true;
int			ws_notifier_idle_ms = 2000;

static WsNotifyShared *ws_shared = NULL;
static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* this backend's notifications for the current transaction */
typedef struct WsPending
{
	uint8		channel;
	int			level;			/* transaction nesting level that sent it */
	char	   *payload;
} WsPending;

static WsPending *pending = NULL;	/* in TopMemoryContext, reused */
static int	npending = 0;
static int	maxpending = 0;
static int	reserved_ring = -1;		/* ring holding room for them after pre-commit */
static bool xact_direct = false;	/* NOTIFY directly for the rest of the transaction */

void		ws_notifier_main(Datum arg);

/* ---------- shared memory ---------- */

static void
WsNotifyShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(MAXALIGN(sizeof(WsNotifyShared)));
	RequestNamedLWLockTranche("ws_notifier", 1);
}

static void
WsNotifyShmemStartup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	ws_shared = ShmemInitStruct("ws_notifier", sizeof(WsNotifyShared), &found);
	if (!found)
	{
		memset(ws_shared, 0, sizeof(WsNotifyShared));
		ws_shared->lock = &(GetNamedLWLockTranche("ws_notifier"))->lock;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* The ring of database db, or -1. Caller holds the lock. */
static int
WsRingOf(Oid db)
{
	int			i;

	for (i = 0; i < WS_RINGS; i++)
		if (ws_shared->rings[i].db == db)
			return i;
	return -1;
}

/*
 * A ring no database uses, or -1. A ring whose notifier was asked for a minute ago and
 * never came (its database was dropped meanwhile, say) and that holds nothing is free
 * too. Caller holds the lock.
 */
static int
WsFreeRing(void)
{
	TimestampTz now = GetCurrentTimestamp();
	int			i;

	for (i = 0; i < WS_RINGS; i++)
	{
		WsRing	   *r = &ws_shared->rings[i];

		if (r->db == InvalidOid ||
			(r->pid == 0 && r->head == r->tail && r->reserved == 0 &&
			 TimestampDifferenceExceeds(r->started, now, 60000)))
			return i;
	}
	return -1;
}

/* ---------- the sending side, in every backend ---------- */

/* Send the pending notifications with NOTIFY, inside the transaction. */
static void
WsNotifyNow(void)
{
	int			i;

	for (i = 0; i < npending; i++)
		Async_Notify(ws_channels[pending[i].channel], pending[i].payload);
}

static void
WsPendingReset(void)
{
	int			i;

	for (i = 0; i < npending; i++)
		pfree(pending[i].payload);
	npending = 0;
	reserved_ring = -1;
}

/* Ask the postmaster for a notifier of this database; false if it cannot have one. */
static bool
WsStartNotifier(void)
{
	BackgroundWorker worker;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "ws");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "ws_notifier_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "ws notifier for database %u", MyDatabaseId);
	snprintf(worker.bgw_type, BGW_MAXLEN, "ws notifier");
	worker.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
	worker.bgw_notify_pid = 0;
	return RegisterDynamicBackgroundWorker(&worker, NULL);
}

/* The ring of this database, taken now if it has none; -1 if none is free. Caller holds the lock. */
static int
WsMyRing(void)
{
	int			i = WsRingOf(MyDatabaseId);

	if (i < 0)
	{
		i = WsFreeRing();
		if (i >= 0)
		{
			memset(&ws_shared->rings[i], 0, offsetof(WsRing, notes));
			ws_shared->rings[i].db = MyDatabaseId;
		}
	}
	return i;
}

/*
 * Should the caller ask for a notifier for ring r: none runs, and none was asked for, or
 * the last one asked for never came? Notes that it is being asked for. Caller holds the
 * lock.
 */
static bool
WsAskNotifier(WsRing *r)
{
	if (r->pid != 0 ||
		(r->started != 0 && !TimestampDifferenceExceeds(r->started, GetCurrentTimestamp(), 10000)))
		return false;
	r->started = GetCurrentTimestamp();
	return true;
}

/*
 * Pre-commit: get room in this database's ring for the pending notifications, or send
 * them with NOTIFY now. Starts the database's notifier when it has none.
 */
static void
WsPreCommit(void)
{
	WsRing	   *r;
	int			i;
	bool		start = false;

	LWLockAcquire(ws_shared->lock, LW_EXCLUSIVE);
	i = WsMyRing();
	if (i >= 0)
	{
		r = &ws_shared->rings[i];
		if (r->pid != 0 && r->head - r->tail + r->reserved + npending <= WS_RING_SIZE)
		{
			r->reserved += npending;
			reserved_ring = i;
		}
		else
			start = WsAskNotifier(r);
	}
	LWLockRelease(ws_shared->lock);

	if (start && !WsStartNotifier())
		ereport(DEBUG1,
				(errmsg("ws: no background worker slot for a notifier; notifying in the transaction")));
	if (reserved_ring < 0)
	{
		WsNotifyNow();
		WsPendingReset();
	}
}

/*
 * This backend deleted n more rows of the claim queue (queue.c): count them in the ring,
 * and wake the notifier (or ask for one) once ws.queue_vacuum have gone since its last
 * VACUUM of the queue. Without the notifier's shared memory: nothing.
 */
void
WsNotifierDequeued(int n)
{
	WsRing	   *r;
	Latch	   *latch = NULL;
	bool		start = false;
	int			i;

	if (ws_shared == NULL)
		return;
	LWLockAcquire(ws_shared->lock, LW_EXCLUSIVE);
	i = WsMyRing();
	if (i >= 0)
	{
		r = &ws_shared->rings[i];
		r->dequeued += n;
		if (r->dequeued - r->vacuumed >= (uint64) ws_queue_vacuum)
		{
			latch = r->latch;
			if (latch == NULL)
				start = WsAskNotifier(r);
		}
	}
	LWLockRelease(ws_shared->lock);
	if (latch)
		SetLatch(latch);
	else if (start)
		(void) WsStartNotifier();
}

/* Is a note (channel, payload) waiting in ring r, not yet taken by the notifier? Caller holds the lock. */
static bool
WsNoteWaiting(WsRing *r, uint8 channel, const char *payload)
{
	uint64		k;

	for (k = r->taken; k < r->head; k++)
	{
		WsNote	   *n = &r->notes[k % WS_RING_SIZE];

		if (n->channel == channel && strcmp(n->payload, payload) == 0)
			return true;
	}
	return false;
}

/*
 * After commit: hand the notifications to the notifier. One that is waiting in the ring
 * already, not yet taken, is not added again: the notifier sends it after this commit
 * too. The notifier is woken only when nothing was waiting: otherwise it has been woken
 * already, and takes what waits, this transaction's notes included, when it wakes. Must
 * not fail.
 */
static void
WsCommitted(void)
{
	WsRing	   *r = &ws_shared->rings[reserved_ring];
	Latch	   *latch;
	bool		start,
				wake;
	int			i;

	LWLockAcquire(ws_shared->lock, LW_EXCLUSIVE);
	wake = r->taken == r->head;
	for (i = 0; i < npending; i++)
	{
		WsNote	   *n;

		if (WsNoteWaiting(r, pending[i].channel, pending[i].payload))
			continue;
		n = &r->notes[r->head % WS_RING_SIZE];
		n->channel = pending[i].channel;
		strlcpy(n->payload, pending[i].payload, WS_PAYLOAD_MAX);
		r->head++;
	}
	r->reserved -= npending;
	r->commits++;
	latch = r->latch;
	/* the notifier went away since pre-commit: these notes need a new one */
	start = (r->pid == 0 && r->started == 0);
	if (start)
		r->started = GetCurrentTimestamp();
	LWLockRelease(ws_shared->lock);
	if (latch && wake)
		SetLatch(latch);
	else if (start)
		(void) WsStartNotifier();
}

/* Give back room promised at pre-commit to a transaction that then failed. */
static void
WsUnreserve(void)
{
	LWLockAcquire(ws_shared->lock, LW_EXCLUSIVE);
	ws_shared->rings[reserved_ring].reserved -= npending;
	LWLockRelease(ws_shared->lock);
}

static void
WsXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
			if (npending > 0)
				WsPreCommit();
			/* what is sent from here on goes by NOTIFY: its room was not reserved */
			xact_direct = true;
			break;
		case XACT_EVENT_PRE_PREPARE:
			/* PostgreSQL refuses to PREPARE a transaction that notified: so do we */
			WsNotifyNow();
			WsPendingReset();
			xact_direct = true;
			break;
		case XACT_EVENT_COMMIT:
			if (reserved_ring >= 0)
				WsCommitted();
			WsPendingReset();
			xact_direct = false;
			break;
		case XACT_EVENT_ABORT:
			if (reserved_ring >= 0)
				WsUnreserve();
			WsPendingReset();
			xact_direct = false;
			break;
		case XACT_EVENT_PREPARE:
			WsPendingReset();
			xact_direct = false;
			break;
		default:
			break;
	}
}

static void
WsSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
				  SubTransactionId parentSubid, void *arg)
{
	int			level = GetCurrentTransactionNestLevel();
	int			i,
				kept = 0;

	if (npending == 0)
		return;
	if (event == SUBXACT_EVENT_COMMIT_SUB)
	{
		for (i = 0; i < npending; i++)
			if (pending[i].level >= level)
				pending[i].level = level - 1;
	}
	else if (event == SUBXACT_EVENT_ABORT_SUB)
	{
		for (i = 0; i < npending; i++)
		{
			if (pending[i].level >= level)
				pfree(pending[i].payload);
			else
				pending[kept++] = pending[i];
		}
		npending = kept;
	}
}

/*
 * Notify channel (0: ws_ready, 1: ws_process) with payload, through the notifier when
 * possible (see the top of this file), else with NOTIFY in the transaction.
 */
static void
WsNotifySend(int channel, const char *payload)
{
	int			level = GetCurrentTransactionNestLevel();
	int			i;

	if (ws_shared == NULL || !ws_notifier || xact_direct || strlen(payload) >= WS_PAYLOAD_MAX)
	{
		Async_Notify(ws_channels[channel], payload);
		return;
	}
	/* ws_ready once per action; each ws_process payload is about another process */
	if (channel == 0)
		for (i = 0; i < npending; i++)
			if (pending[i].channel == 0 && strcmp(pending[i].payload, payload) == 0)
			{
				pending[i].level = Min(pending[i].level, level);
				return;
			}
	if (npending == WS_RING_SIZE)
	{
		/* more than a ring holds: NOTIFY (which has its own hash) from now on */
		WsNotifyNow();
		WsPendingReset();
		xact_direct = true;
		Async_Notify(ws_channels[channel], payload);
		return;
	}
	if (npending == maxpending)
	{
		maxpending = Max(16, maxpending * 2);
		pending = pending
			? repalloc(pending, sizeof(WsPending) * maxpending)
			: MemoryContextAlloc(TopMemoryContext, sizeof(WsPending) * maxpending);
	}
	pending[npending].channel = (uint8) channel;
	pending[npending].level = level;
	pending[npending].payload = MemoryContextStrdup(TopMemoryContext, payload);
	npending++;
}

/* Tell workers that tasks of action are ready. */
void
WsNotifyReady(const char *action)
{
	if (ws_notify)
		WsNotifySend(0, action);
}

/* Tell listeners that process ended in state. */
void
WsNotifyProcess(int64 process, const char *state)
{
	char		payload[128];

	if (!ws_notify)
		return;
	snprintf(payload, sizeof(payload), "{\"process\": " INT64_FORMAT ", \"state\": \"%s\"}",
			 process, state);
	WsNotifySend(1, payload);
}

/*
 * Called from _PG_init: the settings, the transaction callbacks, and when preloaded the
 * shared memory (backends forked later inherit ws_shared and the callbacks).
 */
void
WsNotifierInit(void)
{
	DefineCustomBoolVariable("ws.notifier",
							 "Send notifications from the ws notifier after commit.",
							 "Needs ws in shared_preload_libraries. Off: NOTIFY inside the "
							 "transaction, whose commit then waits for PostgreSQL's global "
							 "NOTIFY lock.",
							 &ws_notifier, true, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("ws.notifier_idle",
							"How long a notifier with nothing to send waits before it exits.",
							NULL,
							&ws_notifier_idle_ms, 2000, 10, 3600 * 1000,
							PGC_SIGHUP, GUC_UNIT_MS, NULL, NULL, NULL);
	RegisterXactCallback(WsXactCallback, NULL);
	RegisterSubXactCallback(WsSubXactCallback, NULL);
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = WsNotifyShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = WsNotifyShmemStartup;
}

/* ---------- the notifier ---------- */

static int	my_ring = -1;

static void
WsNotifierExit(int code, Datum arg)
{
	WsRing	   *r;
	bool		start = false;

	if (my_ring < 0)
		return;
	r = &ws_shared->rings[my_ring];
	LWLockAcquire(ws_shared->lock, LW_EXCLUSIVE);
	if (r->pid == MyProcPid)
	{
		r->pid = 0;
		r->latch = NULL;
		r->started = 0;			/* the next commit asks for a new one */
		r->failures++;
		if (r->head == r->tail && r->reserved == 0)
			r->db = InvalidOid;
		else
		{
			/* notes of committed transactions wait: ask for a successor now */
			r->started = GetCurrentTimestamp();
			start = true;
		}
	}
	LWLockRelease(ws_shared->lock);
	my_ring = -1;
	if (start)
		(void) WsStartNotifier();
}

/* Have ws.queue_vacuum claims gone since the notifier of ring r last vacuumed the queue? */
static bool
WsQueueVacuumDue(WsRing *r)
{
	bool		due;

	LWLockAcquire(ws_shared->lock, LW_EXCLUSIVE);
	due = ws_queue_vacuum > 0 && r->dequeued - r->vacuumed >= (uint64) ws_queue_vacuum;
	if (due)
		r->vacuumed = r->dequeued;
	LWLockRelease(ws_shared->lock);
	return due;
}

/*
 * Under load, gather: a notifier transaction costs about what a step does, so when more
 * than one transaction has handed notes over to ring r since the last take (when it had
 * commits_taken), send at most once per WS_SEND_GAP_US after the last send (sent), and let
 * the notes of the steps that commit meanwhile wait, merged (WsCommitted). One commit at
 * a time is sent at once.
 */
static void
WsGather(WsRing *r, TimestampTz sent, uint64 commits_taken)
{
	long		secs;
	int			us;

	if (sent == 0 || r->commits - commits_taken <= 1)
		return;
	TimestampDifference(sent, GetCurrentTimestamp(), &secs, &us);
	if (secs == 0 && us < WS_SEND_GAP_US)
		pg_usleep(WS_SEND_GAP_US - us);
}

/* Background worker main: send the notifications of database arg until idle. */
void
ws_notifier_main(Datum arg)
{
	Oid			db = DatumGetObjectId(arg);
	WsNote	   *batch;
	TimestampTz last = GetCurrentTimestamp();
	TimestampTz sent = 0;		/* when the last notifications were sent */
	uint64		commits_taken = 0;	/* the ring's commits at the last take */

	pqsignal(SIGTERM, die);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	BackgroundWorkerUnblockSignals();
	if (ws_shared == NULL)
		proc_exit(0);
	BackgroundWorkerInitializeConnectionByOid(db, InvalidOid, 0);
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_OVERRIDE);
	SetConfigOption("application_name", "ws notifier", PGC_USERSET, PGC_S_OVERRIDE);

	LWLockAcquire(ws_shared->lock, LW_EXCLUSIVE);
	my_ring = WsRingOf(db);
	if (my_ring >= 0 && ws_shared->rings[my_ring].pid == 0)
	{
		ws_shared->rings[my_ring].pid = MyProcPid;
		ws_shared->rings[my_ring].latch = MyLatch;
		/* what a notifier that died had taken and not sent is sent again */
		ws_shared->rings[my_ring].taken = ws_shared->rings[my_ring].tail;
	}
	else
		my_ring = -1;			/* another notifier serves it, or nobody wants one */
	LWLockRelease(ws_shared->lock);
	if (my_ring < 0)
		proc_exit(0);
	before_shmem_exit(WsNotifierExit, (Datum) 0);

	/* after notifiers of this ring died in a row, do not spin: wait a little first */
	if (ws_shared->rings[my_ring].failures > 1)
	{
		(void) WaitLatch(MyLatch, WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(ws_shared->rings[my_ring].failures - 1, 10) * 1000L,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}

	batch = MemoryContextAlloc(TopMemoryContext, sizeof(WsNote) * WS_RING_SIZE);
	for (;;)
	{
		WsRing	   *r = &ws_shared->rings[my_ring];
		int			n = 0;
		int			i;

		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
						 Min(ws_notifier_idle_ms, 1000), PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}

		/* the claim queue's upkeep (queue.c) first: claims are waiting for it */
		if (WsQueueVacuumDue(r))
		{
			WsQueueVacuum();
			last = GetCurrentTimestamp();
		}
		WsGather(r, sent, commits_taken);

		LWLockAcquire(ws_shared->lock, LW_EXCLUSIVE);
		while (r->taken + n < r->head && n < WS_RING_SIZE)
		{
			batch[n] = r->notes[(r->taken + n) % WS_RING_SIZE];
			n++;
		}
		r->taken += n;
		commits_taken = r->commits;
		if (n == 0 && r->reserved == 0 &&
			TimestampDifferenceExceeds(last, GetCurrentTimestamp(), ws_notifier_idle_ms))
		{
			/* idle: give the ring back and leave */
			r->pid = 0;
			r->latch = NULL;
			r->started = 0;
			r->db = InvalidOid;
			my_ring = -1;
			LWLockRelease(ws_shared->lock);
			proc_exit(0);
		}
		LWLockRelease(ws_shared->lock);
		if (n == 0)
			continue;

		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		pgstat_report_activity(STATE_RUNNING, "sending ws notifications");
		for (i = 0; i < n; i++)
			Async_Notify(ws_channels[batch[i].channel], batch[i].payload);
		CommitTransactionCommand();
		pgstat_report_activity(STATE_IDLE, NULL);
		/* sent: only now give their room back (a notifier that died re-sends them) */
		LWLockAcquire(ws_shared->lock, LW_EXCLUSIVE);
		r->tail += n;
		r->failures = 0;
		LWLockRelease(ws_shared->lock);
		last = sent = GetCurrentTimestamp();
	}
}
