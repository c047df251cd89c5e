/*
 * engine.c: processes and steps. Activation, completion, failure, cancellation, timers,
 * and the split/join evaluator.
 *
 * STATES
 * A task is waiting (timer or retry back-off), pending (needs a person: a human task, or
 * a required parameter is missing), ready (a worker may claim it), running (claimed, under
 * a lease), or ended: succeeded, failed, cancelled. The first four are "active". A process
 * is running, completed, failed or cancelled; only a running process moves.
 *
 * STEPS
 * Every call that changes state (ws.start, ws.complete, ws.fail, ws.fill, ws.cancel,
 * ws.retry, ws.take, ws.release, ws.assign, each process handled by ws.tick) is one step
 * of one process. The assignee of a pending task is read under the process lock, so the
 * rule that only the assignee (or an admin) completes, fails or fills it holds against a
 * concurrent take. A step
 *   1. locks the process row (as FOR UPDATE does; WsStepLoad) and reads its variables,
 *      its tokens and its active tasks into a WsStep;
 *   2. does its change, which activates nodes depth first: a split follows its taken
 *      transitions in ascending priority, then id; each delivery may fire the child's join,
 *      and a routing child (no action, no role) succeeds at once and splits in turn before
 *      the next transition is followed. Once the process has ended nothing is activated;
 *   3. at its end fires the OR joins that can fire (lowest node id first, again until none
 *      can), then fails the process as stuck if nothing is active and no end was reached,
 *      and writes everything it changed in one write (WsFlush, through store.c: row by
 *      row, no planned statement): the task rows (new
 *      ones get their ids from the sequence when they are created, several changes of
 *      one task add up to one row write), the events in the order they happened, and the
 *      process row (state, variables, tokens) when that changed, and the claim queue
 *      ws.ready (a task made ready joins it, a task moved on leaves it). What reads ws.task
 *      in the middle of a step (tick re-reading a task, choosing an assignee) flushes
 *      first.
 * ws.complete_batch runs one such step per completion, in array order; the completions
 * of one process continue one WsStep, and every step's writes go out in one write at
 * the end (WsBatch).
 *
 * TOKENS
 * process.tokens maps a transition id to the number of tokens it holds. A taken
 * transition adds one. An AND join fires when every incoming transition holds one and takes
 * one from each; an XOR join fires on every arrival, taking that token, after cancelling
 * the active tasks of its other parent nodes; an OR join is decided at the end of the step
 * by the inclusive gateway rule (WsOrCanFire below). Tokens that stay are those waiting
 * at AND and OR joins.
 *
 * LOCKING ORDER
 * process row, then task rows, then their rows in ws.ready (every writer of the queue
 * locks the task first). A batch locks its processes in ascending id. Every change of a
 * task's state happens under its process lock, with one exception: ws.claim moves
 * ready -> running while holding only the task row (FOR UPDATE SKIP LOCKED), so claimers
 * never wait for each other or for steps.
 * This is safe because no step depends on the difference between ready and running (both
 * are active), and every step rewrites a task with an UPDATE whose WHERE clause
 * re-checks the state under the row lock. ws.heartbeat and ws.progress touch only the
 * lease and the progress of a running task, under its row lock. So steps of one process
 * are serialized, different processes run in parallel, and a claim never blocks.
 * Definitions: ws.add_node and friends lock the workflow row FOR UPDATE and refuse once
 * a process exists; ws.start takes FOR KEY SHARE on it first, so a version is frozen from
 * the moment its first process is inserted.
 */
#include "ws.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/fmgrprotos.h"
#include "utils/inval.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"

typedef struct WsActive
{
	int64		task;
	int			node;
} WsActive;

typedef struct WsStep
{
	WsCaller   *who;
	WsGraph    *g;
	int64		process;
	const char *state;			/* the process state when the step began */
	Jsonb	   *vars;			/* process variables */
	int		   *tokens;			/* per transition index */
	WsActive   *active;
	int			nactive;
	int			maxactive;
	const char *state0;			/* the state, variables and tokens as read: the */
	Jsonb	   *vars0;			/* process row is written only when they changed */
	int		   *tokens0;
	const char *ended;			/* NULL, or the state this step ended the process in */
	char	   *error;
	Jsonb	   *now_vars;		/* {"now": <transaction timestamp>} for conditions */
	struct WsWrite *writes;		/* task rows to write at the end of the step */
	int			nwrites;
	int			maxwrites;
	struct WsEventRow *events;	/* ws.event rows to write, in order */
	int			nevents;
	int			maxevents;
	struct WsBatch *batch;		/* the batch the step belongs to (ws.complete_batch), or NULL */
} WsStep;

/*
 * ws.complete_batch: one step per process, all written in one flush at the end (and by
 * every flush in the middle of a step). touched records the state each step gives a task,
 * so a later completion in the batch sees what the earlier ones did.
 */
typedef struct WsTouched
{
	int64		task;
	const char *state;			/* the state the last step that changed it gave it */
	int			node;			/* node index */
	WsStep	   *st;				/* its process's step */
} WsTouched;

typedef struct WsBatch
{
	WsStep	  **steps;
	int			nsteps;
	WsTouched  *touched;		/* every task a step of the batch created or changed */
	int			ntouched;
	int			maxtouched;
	int			nevents;		/* events so far, to write them in the order they happened */
} WsBatch;

/*
 * A task row as the step leaves it: a new task (insert), or what the step's successive
 * changes of an existing one add up to. Written by WsFlush with the step's events and
 * the process row.
 */
typedef struct WsWrite
{
	int64		task;
	bool		insert;
	int			node;			/* node index */
	const char *state;			/* the last state the step gave it */
	const char *first;			/* the first: what the guard on the old state checks */
	Jsonb	   *result;
	bool		error_set;		/* error is (maybe NULL) the task's new error */
	char	   *error;
	bool		assignee_set;	/* made pending: assignee is (maybe NULL) its assignee */
	char	   *assignee;
	bool		due_set;		/* made waiting (or pending with a due): due_at is due (0: NULL) */
	TimestampTz due;
	bool		started;		/* made succeeded: started_at is set if it was not */
} WsWrite;

typedef struct WsEventRow
{
	int			seq;			/* order among the events of the flush */
	int64		task;			/* 0: the process's own */
	const char *state;
	char	   *detail;
} WsEventRow;

static SPIPlanPtr plan_assign, plan_assignee, plan_task_row,
			plan_validate, plan_due_until, plan_tick_due,
			plan_fill;

static void WsActivate(WsStep *st, int ni);
static void WsAfterSuccess(WsStep *st, int ni);
static Jsonb *WsTokensJsonb(WsStep *st);

#define ACTIVE_STATES "('waiting', 'pending', 'ready', 'running')"

/* ---------- writes ---------- */

/* Add a ws.event row (task 0: the process's own) to the step's writes. */
static void
WsStepEvent(WsStep *st, int64 task, const char *state, const char *detail)
{
	WsEventRow *e;

	if (!WsKeepEvent(state, task != 0))
		return;
	if (st->nevents == st->maxevents)
	{
		st->maxevents = Max(8, st->maxevents * 2);
		st->events = st->events ? repalloc(st->events, sizeof(WsEventRow) * st->maxevents)
			: palloc(sizeof(WsEventRow) * st->maxevents);
	}
	e = &st->events[st->nevents];
	e->seq = st->batch ? st->batch->nevents++ : st->nevents;
	st->nevents++;
	e->task = task;
	e->state = state;
	e->detail = detail ? pstrdup(detail) : NULL;
}

typedef struct WsEventRef
{
	WsEventRow *e;
	int64		process;
} WsEventRef;

static int
WsEventRefCmp(const void *a, const void *b)
{
	return ((const WsEventRef *) a)->e->seq - ((const WsEventRef *) b)->e->seq;
}

/* A name datum of s */
static Datum
WsNameDatum(const char *s)
{
	Name		n = palloc(NAMEDATALEN);

	namestrcpy(n, s);
	return NameGetDatum(n);
}

/* The active task states, as ACTIVE_STATES lists them for SQL */
static const char *const ws_active_states[] = {"waiting", "pending", "ready", "running"};

static bool
WsActiveState(const char *state)
{
	int			i;

	for (i = 0; i < lengthof(ws_active_states); i++)
		if (strcmp(state, ws_active_states[i]) == 0)
			return true;
	return false;
}

/* ws_active_states as a text[] (kept for the backend's life) */
static Datum
WsActiveStatesArray(void)
{
	static ArrayType *a = NULL;

	if (a == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
		Datum		d[lengthof(ws_active_states)];
		int			i;

		for (i = 0; i < lengthof(ws_active_states); i++)
			d[i] = CStringGetTextDatum(ws_active_states[i]);
		a = construct_array(d, lengthof(ws_active_states), TEXTOID, -1, false, TYPALIGN_INT);
		MemoryContextSwitchTo(old);
	}
	return PointerGetDatum(a);
}

/* A task row a step's load read: an active task of its process, or (batch) its own. */
typedef struct WsTaskRead
{
	int64		process;
	int64		id;
	int64		node;
	bool		active;
	const char *state;
	int			attempts;
} WsTaskRead;

static int
WsTaskReadCmp(const void *a, const void *b)
{
	const WsTaskRead *x = a,
			   *y = b;

	if (x->process != y->process)
		return x->process < y->process ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/*
 * Append to rows (*n used of *room) the active tasks of the np processes pids, read in
 * one scan of the index on (process, state): process = ANY (pids) AND state = ANY (the
 * active states). rows ends sorted by (process, id).
 */
static WsTaskRead *
WsReadActive(WsStore *store, const int64 *pids, int np, WsTaskRead *rows, int *n, int *room)
{
	Datum	   *pd = palloc(sizeof(Datum) * Max(np, 1));
	Datum		keys[2];
	WsStoreScan *sc;
	int			i,
				c_process,
				c_id,
				c_node,
				c_state,
				c_attempts;

	for (i = 0; i < np; i++)
		pd[i] = Int64GetDatum(pids[i]);
	keys[0] = np == 1 ? pd[0] :
		PointerGetDatum(construct_array(pd, np, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
										TYPALIGN_DOUBLE));
	keys[1] = WsActiveStatesArray();
	sc = WsStoreScanBegin(store, WS_TASK, "task_process", keys, 2, np == 1 ? 2 : 3);
	c_process = WsStoreScanCol(sc, "process");
	c_id = WsStoreScanCol(sc, "id");
	c_node = WsStoreScanCol(sc, "node");
	c_state = WsStoreScanCol(sc, "state");
	c_attempts = WsStoreScanCol(sc, "attempts");
	while (WsStoreScanNext(sc))
	{
		WsTaskRead *r;
		bool		isnull;

		if (*n == *room)
		{
			*room = Max(16, *room * 2);
			rows = rows ? repalloc(rows, sizeof(WsTaskRead) * *room)
				: palloc(sizeof(WsTaskRead) * *room);
		}
		r = &rows[(*n)++];
		r->process = DatumGetInt64(WsStoreScanGetAt(sc, c_process, &isnull));
		r->id = DatumGetInt64(WsStoreScanGetAt(sc, c_id, &isnull));
		r->node = DatumGetInt64(WsStoreScanGetAt(sc, c_node, &isnull));
		r->active = true;
		r->state = TextDatumGetCString(WsStoreScanGetAt(sc, c_state, &isnull));
		r->attempts = DatumGetInt32(WsStoreScanGetAt(sc, c_attempts, &isnull));
	}
	WsStoreScanEnd(sc);
	if (*n > 1)
		qsort(rows, *n, sizeof(WsTaskRead), WsTaskReadCmp);
	return rows;
}

/*
 * The claim queue follows the task's new state: a task made ready joins ws.ready (unless
 * its row is there already: a step never re-readies a ready task, but the queue must not
 * fail on it); a task moved to any other state leaves it, whatever it was before, so a
 * row that should not be there cannot outlive the task's next change. The task row is
 * locked by now: every writer of ws.ready locks the task first.
 */
static void
WsWriteQueue(WsStore *store, int64 task, Datum action, bool ready, bool inserted)
{
	Datum		keys[2] = {action, Int64GetDatum(task)};
	/*
	 * A task inserted by this write has no row yet: nothing to look for. Otherwise the
	 * task is locked (WsWriteTask), and every writer of ws.ready locks the task first:
	 * its queue row, if any, is read and changed with no lock of its own.
	 */
	bool		there = !inserted && WsStoreFind(store, WS_READY, keys, WS_FIND_READ);

	if (ready && !there)
	{
		WsStoreNew(store, WS_READY);
		WsStoreSet(store, WS_READY, "action", TEXTOID, action, false);
		WsStoreSet(store, WS_READY, "task", INT8OID, Int64GetDatum(task), false);
		WsStoreInsert(store, WS_READY);
	}
	else if (!ready && there)
		WsStoreDelete(store, WS_READY);
}

/* Write one task row of st: insert a new task, or update one under its row lock. */
static void
WsWriteTask(WsStore *store, WsStep *st, WsWrite *w)
{
	WsNode	   *node = w->node >= 0 ? &st->g->nodes[w->node] : NULL;
	Datum		now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	Datum		id = Int64GetDatum(w->task);
	Datum		action;
	bool		noaction;
	bool		ended = WsTerminalState(w->state);

	if (w->insert)
	{
		WsStoreNew(store, WS_TASK);
		WsStoreSet(store, WS_TASK, "id", INT8OID, id, false);
		WsStoreSet(store, WS_TASK, "process", INT8OID, Int64GetDatum(st->process), false);
		WsStoreSet(store, WS_TASK, "node", INT8OID, Int64GetDatum(node ? node->id : 0), false);
		noaction = !(node && node->action);
		action = noaction ? (Datum) 0 : CStringGetTextDatum(node->action);
		WsStoreSet(store, WS_TASK, "action", TEXTOID, action, noaction);
		WsStoreSet(store, WS_TASK, "role", NAMEOID,
				   node && node->role ? WsNameDatum(node->role) : (Datum) 0,
				   !(node && node->role));
		WsStoreSet(store, WS_TASK, "params", JSONBOID, JsonbPGetDatum(WsEmptyJsonb()), false);
		WsStoreSet(store, WS_TASK, "progress", NUMERICOID,
				   DirectFunctionCall1(int4_numeric, Int32GetDatum(0)), false);
		WsStoreSet(store, WS_TASK, "attempts", INT4OID, Int32GetDatum(0), false);
		WsStoreSet(store, WS_TASK, "created_at", TIMESTAMPTZOID, now, false);
		if (w->started)
			WsStoreSet(store, WS_TASK, "started_at", TIMESTAMPTZOID, now, false);
	}
	else
	{
		bool		isnull;
		char	   *old;

		if (!WsStoreFind(store, WS_TASK, &id, WS_FIND_WRITE))
			old = NULL;
		else
			old = TextDatumGetCString(WsStoreGet(store, WS_TASK, "state", &isnull));
		/* the old state re-checked under the row lock; the process lock makes this moot */
		if (old == NULL ||
			!(WsActiveState(old) ||
			  (strcmp(old, "failed") == 0 &&
			   (strcmp(w->first, "ready") == 0 || strcmp(w->first, "pending") == 0))))
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("a task of process " INT64_FORMAT " changed state concurrently",
							st->process),
					 errdetail("Task " INT64_FORMAT " is %s.", w->task, old ? old : "gone"),
					 errhint("Retry the call.")));
		action = WsStoreGet(store, WS_TASK, "action", &noaction);
		if (!noaction)
			action = PointerGetDatum(PG_DETOAST_DATUM_COPY(action));
		WsStoreChange(store, WS_TASK);
		WsStoreSet(store, WS_TASK, "lease_until", TIMESTAMPTZOID, (Datum) 0, true);
		if (w->started)
		{
			WsStoreGet(store, WS_TASK, "started_at", &isnull);
			if (isnull)
				WsStoreSet(store, WS_TASK, "started_at", TIMESTAMPTZOID, now, false);
		}
	}
	WsStoreSet(store, WS_TASK, "state", TEXTOID, CStringGetTextDatum(w->state), false);
	if (w->result || w->insert)
		WsStoreSet(store, WS_TASK, "result", JSONBOID, JsonbPGetDatum(w->result), w->result == NULL);
	if (w->error_set || w->insert)
		WsStoreSet(store, WS_TASK, "error", TEXTOID,
				   w->error ? CStringGetTextDatum(w->error) : (Datum) 0, w->error == NULL);
	if (w->assignee_set)
		WsStoreSet(store, WS_TASK, "assignee", NAMEOID,
				   w->assignee ? WsNameDatum(w->assignee) : (Datum) 0, w->assignee == NULL);
	if (w->due_set)
		WsStoreSet(store, WS_TASK, "due_at", TIMESTAMPTZOID, TimestampTzGetDatum(w->due), w->due == 0);
	WsStoreSet(store, WS_TASK, "ended_at", TIMESTAMPTZOID, now, !ended);
	if (w->insert)
		WsStoreInsert(store, WS_TASK);
	else
		WsStoreUpdate(store, WS_TASK);
	/* routing nodes never queue; a new task that is not ready has nothing to do there */
	if (!noaction && (!w->insert || strcmp(w->state, "ready") == 0))
		WsWriteQueue(store, w->task, action, strcmp(w->state, "ready") == 0, w->insert);
}

/* Write st's process row: its state, variables, tokens, error and end. */
static void
WsWriteProcess(WsStore *store, WsStep *st)
{
	Datum		id = Int64GetDatum(st->process);
	const char *state = st->ended ? st->ended : st->state;
	bool		running = strcmp(state, "running") == 0;
	bool		isnull;

	if (!WsStoreFind(store, WS_PROCESS, &id, WS_FIND_WRITE))
		elog(ERROR, "ws: process " INT64_FORMAT " vanished under its lock", st->process);
	WsStoreChange(store, WS_PROCESS);
	WsStoreSet(store, WS_PROCESS, "state", TEXTOID, CStringGetTextDatum(state), false);
	WsStoreSet(store, WS_PROCESS, "params", JSONBOID, JsonbPGetDatum(st->vars), false);
	WsStoreSet(store, WS_PROCESS, "tokens", JSONBOID, JsonbPGetDatum(WsTokensJsonb(st)), false);
	if (running)
	{
		WsStoreSet(store, WS_PROCESS, "error", TEXTOID, (Datum) 0, true);
		WsStoreSet(store, WS_PROCESS, "ended_at", TIMESTAMPTZOID, (Datum) 0, true);
	}
	else
	{
		if (st->error)
			WsStoreSet(store, WS_PROCESS, "error", TEXTOID, CStringGetTextDatum(st->error), false);
		WsStoreGet(store, WS_PROCESS, "ended_at", &isnull);
		if (isnull)
			WsStoreSet(store, WS_PROCESS, "ended_at", TIMESTAMPTZOID,
					   TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()), false);
	}
	WsStoreUpdate(store, WS_PROCESS);
}

/* Append one ws.event row (task 0: the process's own). */
void
WsWriteEvent(WsStore *store, int64 process, int64 task, const char *state, const char *actor,
			 const char *detail)
{
	WsStoreNew(store, WS_EVENT);
	WsStoreSet(store, WS_EVENT, "id", INT8OID, Int64GetDatum(WsStoreNextId(WS_EVENT)), false);
	WsStoreSet(store, WS_EVENT, "at", TIMESTAMPTZOID,
			   TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()), false);
	WsStoreSet(store, WS_EVENT, "process", INT8OID, Int64GetDatum(process), false);
	WsStoreSet(store, WS_EVENT, "task", INT8OID, Int64GetDatum(task), task == 0);
	WsStoreSet(store, WS_EVENT, "state", TEXTOID, CStringGetTextDatum(state), false);
	WsStoreSet(store, WS_EVENT, "actor", NAMEOID, WsNameDatum(actor), false);
	WsStoreSet(store, WS_EVENT, "detail", TEXTOID, detail ? CStringGetTextDatum(detail) : (Datum) 0,
			   detail == NULL);
	WsStoreInsert(store, WS_EVENT);
}

/*
 * Write what the steps have changed (one step, or the steps of a batch, one per process):
 * their task rows, with the claim queue, in the order the steps made them; their events
 * in the order they happened; and (at the end, when it changed) each process row. Steps
 * read task rows only at their start (under the process lock), so the writes can wait;
 * whatever reads ws.task during a step flushes first (WsReadTask, WsAssign). A task
 * update re-checks the old state under the row lock; a task that moved anyway refuses
 * the step.
 */
static void
WsFlushSteps(WsStep **steps, int nsteps, bool end)
{
	int			m = 0,
				i,
				s;
	bool	   *write_process = palloc0(sizeof(bool) * nsteps);
	bool		any = false;
	WsEventRef *ev;
	WsStore    *store;

	for (s = 0; s < nsteps; s++)
	{
		WsStep	   *st = steps[s];
		const char *state = st->ended ? st->ended : st->state;

		if (end)
			write_process[s] = !(st->state0 != NULL && strcmp(state, st->state0) == 0 &&
								 WsJsonbSame(st->vars, st->vars0) &&
								 memcmp(st->tokens, st->tokens0, sizeof(int) * st->g->ntrans) == 0);
		m += st->nevents;
		any |= st->nwrites > 0 || st->nevents > 0 || write_process[s];
	}
	if (!any)
		return;

	store = WsStoreBegin();
	for (s = 0; s < nsteps; s++)
		for (i = 0; i < steps[s]->nwrites; i++)
			WsWriteTask(store, steps[s], &steps[s]->writes[i]);

	/* the events in the order they happened (a batch's steps take turns) */
	ev = palloc(sizeof(WsEventRef) * Max(m, 1));
	m = 0;
	for (s = 0; s < nsteps; s++)
		for (i = 0; i < steps[s]->nevents; i++, m++)
		{
			ev[m].e = &steps[s]->events[i];
			ev[m].process = steps[s]->process;
		}
	if (nsteps > 1)
		qsort(ev, m, sizeof(WsEventRef), WsEventRefCmp);
	for (i = 0; i < m; i++)
		WsWriteEvent(store, ev[i].process, ev[i].e->task, ev[i].e->state,
					 steps[0]->who->actor, ev[i].e->detail);

	for (s = 0; s < nsteps; s++)
		if (write_process[s])
			WsWriteProcess(store, steps[s]);
	WsStoreEnd(store);

	for (s = 0; s < nsteps; s++)
	{
		WsStep	   *st = steps[s];

		st->nwrites = 0;
		st->nevents = 0;
		if (end)
		{
			/* what the row now holds */
			st->state0 = st->ended ? st->ended : st->state;
			st->vars0 = st->vars;
			memcpy(st->tokens0, st->tokens, sizeof(int) * st->g->ntrans);
		}
	}
}

/* Write what st has changed (see WsFlushSteps); in a batch, what every step has. */
static void
WsFlush(WsStep *st, bool end)
{
	if (st->batch)
		WsFlushSteps(st->batch->steps, st->batch->nsteps, end);
	else
		WsFlushSteps(&st, 1, end);
}

/* ---------- step begin and end ---------- */

/* Parse process.tokens into an array indexed like g->trans. */
static int *
WsParseTokens(WsGraph *g, Jsonb *tokens)
{
	int		   *out = palloc0(sizeof(int) * Max(g->ntrans, 1));
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken r;
	int			idx = -1;

	if (tokens == NULL || JB_ROOT_COUNT(tokens) == 0)
		return out;
	it = JsonbIteratorInit(&tokens->root);
	while ((r = JsonbIteratorNext(&it, &v, false)) != WJB_DONE)
	{
		if (r == WJB_KEY)
		{
			char	   *key = pnstrdup(v.val.string.val, v.val.string.len);

			idx = WsTransIndex(g, pg_strtoint64(key));
		}
		else if (r == WJB_VALUE && idx >= 0 && v.type == jbvNumeric)
			out[idx] = DatumGetInt32(DirectFunctionCall1(numeric_int4,
														 NumericGetDatum(v.val.numeric)));
	}
	return out;
}

/*
 * The tokens array as process.tokens jsonb, only transitions that hold some: built as
 * jsonb values (keys sorted as jsonb keeps them), not printed and parsed again, which
 * cost 4% of a step whose process held 200 tokens.
 */
static Jsonb *
WsTokensJsonb(WsStep *st)
{
	JsonbParseState *state = NULL;
	JsonbValue *res;
	int			i;

	pushJsonbValue(&state, WJB_BEGIN_OBJECT, NULL);
	for (i = 0; i < st->g->ntrans; i++)
	{
		JsonbValue	k,
					v;

		if (st->tokens[i] == 0)
			continue;
		k.type = jbvString;
		k.val.string.val = psprintf(INT64_FORMAT, st->g->trans[i].id);
		k.val.string.len = strlen(k.val.string.val);
		pushJsonbValue(&state, WJB_KEY, &k);
		v.type = jbvNumeric;
		v.val.numeric = int64_to_numeric(st->tokens[i]);
		pushJsonbValue(&state, WJB_VALUE, &v);
	}
	res = pushJsonbValue(&state, WJB_END_OBJECT, NULL);
	return JsonbValueToJsonb(res);
}

static void
WsAddActive(WsStep *st, int64 task, int ni)
{
	if (st->nactive == st->maxactive)
	{
		st->maxactive = Max(16, st->maxactive * 2);
		st->active = st->active ? repalloc(st->active, sizeof(WsActive) * st->maxactive)
			: palloc(sizeof(WsActive) * st->maxactive);
	}
	st->active[st->nactive].task = task;
	st->active[st->nactive].node = ni;
	st->nactive++;
}

static void
WsRemoveActive(WsStep *st, int64 task)
{
	int			i;

	for (i = 0; i < st->nactive; i++)
		if (st->active[i].task == task)
		{
			memmove(&st->active[i], &st->active[i + 1], sizeof(WsActive) * (st->nactive - i - 1));
			st->nactive--;
			return;
		}
}

/* {"now": "<transaction start>"}, bound as $now in conditions */
static Jsonb *
WsNowVars(void)
{
	char		buf[MAXDATELEN + 1];
	char	   *s;

	JsonEncodeDateTime(buf, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
					   TIMESTAMPTZOID, NULL);
	s = psprintf("{\"now\": \"%s\"}", buf);
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(s)));
}

typedef struct WsTaskRow
{
	int64		id;
	int			node;			/* index in the graph */
	char	   *state;
	int			attempts;
	Jsonb	   *params;
	TimestampTz due_at;			/* 0 when NULL */
	TimestampTz lease_until;	/* 0 when NULL */
} WsTaskRow;

/*
 * Start st on process (of workflow wf, in state, with variables vars and tokens as
 * stored), with no active task yet. Reads the graph, which may run queries.
 */
static void
WsStepInit(WsStep *st, WsCaller *who, int64 process, int64 wf, const char *state,
		   Jsonb *vars, Jsonb *tokens)
{
	memset(st, 0, sizeof(*st));
	st->who = who;
	st->process = process;
	st->state = state;
	st->vars = vars;
	st->g = WsGetGraph(wf);
	st->tokens = WsParseTokens(st->g, tokens);
	st->tokens0 = palloc(sizeof(int) * Max(st->g->ntrans, 1));
	memcpy(st->tokens0, st->tokens, sizeof(int) * st->g->ntrans);
	st->state0 = st->state;
	st->vars0 = st->vars;
	st->now_vars = WsNowVars();
}

/*
 * Lock process (mode: waiting for it, or skipping it when another step holds it) and load
 * it into st: its variables, its tokens and its active tasks. With task (not 0), also
 * read that task into row; with process 0, the process locked is task's. False when
 * there is no such process (or task), or when it was skipped.
 */
static bool
WsStepLoad(WsStep *st, WsCaller *who, int64 process, WsFind mode, int64 task, WsTaskRow *row)
{
	WsStore    *store = WsStoreBegin();
	Datum		tid = Int64GetDatum(task);
	Datum		pid;
	bool		isnull;
	int64		wf,
				node = 0;
	char	   *state;
	Jsonb	   *vars,
			   *tokens;
	WsTaskRead *tasks = NULL;
	int			n = 0,
				room = 0,
				i;

	if (process == 0)
	{
		/* a task never moves to another process, so any snapshot finds its process */
		if (!WsStoreFind(store, WS_TASK, &tid, WS_FIND_READ))
		{
			WsStoreEnd(store);
			return false;
		}
		process = DatumGetInt64(WsStoreGet(store, WS_TASK, "process", &isnull));
	}
	pid = Int64GetDatum(process);
	if (!WsStoreFind(store, WS_PROCESS, &pid, mode))
	{
		WsStoreEnd(store);
		return false;
	}
	wf = DatumGetInt64(WsStoreGet(store, WS_PROCESS, "workflow", &isnull));
	state = TextDatumGetCString(WsStoreGet(store, WS_PROCESS, "state", &isnull));
	vars = DatumGetJsonbPCopy(WsStoreGet(store, WS_PROCESS, "params", &isnull));
	tokens = DatumGetJsonbPCopy(WsStoreGet(store, WS_PROCESS, "tokens", &isnull));

	/* its active tasks */
	tasks = WsReadActive(store, &process, 1, tasks, &n, &room);

	/* the task, active or not: it must be of this process */
	if (task != 0)
	{
		Datum		d;

		if (!WsStoreFind(store, WS_TASK, &tid, WS_FIND_READ) ||
			DatumGetInt64(WsStoreGet(store, WS_TASK, "process", &isnull)) != process)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("task " INT64_FORMAT " does not exist", task),
					 errdetail("It was deleted while its process was being locked.")));
		row->id = task;
		node = DatumGetInt64(WsStoreGet(store, WS_TASK, "node", &isnull));
		row->state = TextDatumGetCString(WsStoreGet(store, WS_TASK, "state", &isnull));
		row->attempts = DatumGetInt32(WsStoreGet(store, WS_TASK, "attempts", &isnull));
		row->params = DatumGetJsonbPCopy(WsStoreGet(store, WS_TASK, "params", &isnull));
		d = WsStoreGet(store, WS_TASK, "due_at", &isnull);
		row->due_at = isnull ? 0 : DatumGetTimestampTz(d);
		d = WsStoreGet(store, WS_TASK, "lease_until", &isnull);
		row->lease_until = isnull ? 0 : DatumGetTimestampTz(d);
	}
	WsStoreEnd(store);

	/* the graph may run queries: read it once the rows are read */
	WsStepInit(st, who, process, wf, state, vars, tokens);
	if (task != 0)
		row->node = WsNodeIndex(st->g, node);
	for (i = 0; i < n; i++)
		WsAddActive(st, tasks[i].id, WsNodeIndex(st->g, tasks[i].node));
	return true;
}

/*
 * Lock process and load it into st. Raises 42704 for an unknown process. The caller
 * checks the state (st->state). With skip_locked (ws.tick), a process locked by another
 * step is not waited for: returns false.
 */
static bool
WsStepBeginLock(WsStep *st, WsCaller *who, int64 process, bool skip_locked)
{
	if (WsStepLoad(st, who, process, skip_locked ? WS_FIND_SKIP : WS_FIND_WAIT, 0, NULL))
		return true;
	if (!skip_locked)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("process " INT64_FORMAT " does not exist", process)));
	return false;
}

/* Lock process (waiting for it) and load it into st. */
static void
WsStepBegin(WsStep *st, WsCaller *who, int64 process)
{
	WsStepBeginLock(st, who, process, false);
}

/* Refuse unless the process is running (an earlier step of a batch may have ended it). */
static void
WsRequireRunning(WsStep *st)
{
	const char *state = st->ended ? st->ended : st->state;

	if (strcmp(state, "running") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("process " INT64_FORMAT " is %s", st->process, state),
				 strcmp(state, "failed") == 0
				 ? errhint("Fix the cause, then call ws.retry() on its failed task, or ws.cancel() the process.")
				 : errhint("Only a running process moves.")));
}

static int64 WsSetTask(WsStep *st, int ni, int64 task, const char *state, Jsonb *result,
						   const char *error, const char *assignee, TimestampTz *due,
						   const char *detail);

/* WsSetTask's error that clears the task's error */
static const char ws_no_error[] = "";

/* Cancel the given active tasks (ids), recording detail. */
static void
WsCancelTasks(WsStep *st, int64 *ids, int n, const char *detail)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		/* an existing task: the node index only matters for a new one */
		WsSetTask(st, -1, ids[i], "cancelled", NULL, NULL, NULL, NULL, detail);
		WsRemoveActive(st, ids[i]);
	}
}

/* Cancel every active task of the step's process. */
static void
WsCancelAll(WsStep *st, const char *detail)
{
	int64	   *ids = palloc(sizeof(int64) * Max(st->nactive, 1));
	int			i,
				n = st->nactive;

	for (i = 0; i < n; i++)
		ids[i] = st->active[i].task;
	WsCancelTasks(st, ids, n, detail);
}

/*
 * End the process in state (completed, failed, cancelled). Completing or cancelling
 * cancels its active tasks; failing leaves them as they are.
 */
static void
WsEndProcess(WsStep *st, const char *state, const char *error, const char *detail)
{
	if (st->ended)
		return;
	if (strcmp(state, "failed") != 0)
		WsCancelAll(st, strcmp(state, "completed") == 0 ? "the process completed" :
					(detail ? detail : "the process was cancelled"));
	st->ended = state;
	st->error = error ? pstrdup(error) : NULL;
	WsStepEvent(st, 0, state, error ? error : detail);
	WsNotifyProcess(st->process, state);
}

/*
 * The end of a step: fire the OR joins that can fire, then check for a stuck process
 * (WsStepFinish), then save it (WsStepEnd).
 */
static void WsOrJoins(WsStep *st);

/*
 * Why st's process is stuck: no task is active, no end node was reached, and the joins
 * that hold tokens wait for more ("AND join "x" holds 3 of 4 tokens").
 */
static char *
WsStuckError(WsStep *st)
{
	StringInfoData buf;
	int			j;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "process is stuck: no task is active and no end node was reached");
	for (j = 0; j < st->g->nnodes; j++)
	{
		WsNode	   *J = &st->g->nodes[j];
		int			p,
					held = 0;

		for (p = 0; p < J->nin; p++)
			held += st->tokens[J->in[p]] > 0;
		if (held > 0)
			appendStringInfo(&buf, "; %s join \"%s\" holds %d of %d tokens",
							 J->join == WS_GATE_AND ? "AND" : J->join == WS_GATE_OR ? "OR" : "XOR",
							 J->name, held, J->nin);
	}
	return buf.data;
}

static void
WsStepFinish(WsStep *st)
{
	if (!st->ended && strcmp(st->state, "running") == 0)
	{
		WsOrJoins(st);
		if (!st->ended && st->nactive == 0)
			WsEndProcess(st, "failed", WsStuckError(st), NULL);
	}
}

static void
WsStepEnd(WsStep *st)
{
	WsStepFinish(st);
	WsFlush(st, true);
}

/* ---------- tasks ---------- */

/* Record that step st (of a batch) gave task, of node ni, state. */
static void
WsBatchTouch(WsStep *st, int64 task, int ni, const char *state)
{
	WsBatch    *b = st->batch;
	int			i;

	for (i = 0; i < b->ntouched; i++)
		if (b->touched[i].task == task)
		{
			b->touched[i].state = state;
			return;
		}
	if (b->ntouched == b->maxtouched)
	{
		b->maxtouched = Max(16, b->maxtouched * 2);
		b->touched = b->touched ? repalloc(b->touched, sizeof(WsTouched) * b->maxtouched)
			: palloc(sizeof(WsTouched) * b->maxtouched);
	}
	b->touched[b->ntouched].task = task;
	b->touched[b->ntouched].state = state;
	b->touched[b->ntouched].node = ni;
	b->touched[b->ntouched++].st = st;
}

/*
 * The member of role to assign a pending task to: the one with the fewest open assigned
 * tasks, ties broken by name; never skip (NULL: nobody to skip). NULL if no other member
 * can log in.
 */
static char *
WsAssign(const char *role, const char *skip)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(role), CStringGetTextDatum(skip ? skip : "")};

	if (WsRun(&plan_assign,
			  "WITH RECURSIVE m(oid) AS ("
			  "   SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1"
			  "   UNION SELECT a.member FROM pg_catalog.pg_auth_members a JOIN m ON a.roleid = m.oid) "
			  "SELECT r.rolname::text FROM m JOIN pg_catalog.pg_roles r ON r.oid = m.oid "
			  " WHERE r.rolcanlogin AND r.rolname::text <> $2 "
			  " ORDER BY (SELECT count(*) FROM ws.task t WHERE t.assignee = r.rolname "
			  "              AND t.state IN " ACTIVE_STATES "), r.rolname LIMIT 1",
			  2, types, values, NULL, 1) == 0)
		return NULL;
	return WsGetText(0, 1);
}

/*
 * Create a task of node ni (task == 0) or move task to a new state, with its event.
 * error: the task's new error (ws_no_error clears it, NULL keeps it); assignee: for
 * pending, who it is assigned to (NULL: nobody); due: for waiting, when it is due (NULL:
 * none), for pending, when the person should be done (0: none; NULL: keep due_at).
 * Returns the task id. Nothing is written yet: see WsFlush.
 */
static int64
WsSetTask(WsStep *st, int ni, int64 task, const char *state, Jsonb *result,
		  const char *error, const char *assignee, TimestampTz *due, const char *detail)
{
	WsWrite    *w = NULL;
	int			i;

	if (task != 0)
		for (i = 0; i < st->nwrites; i++)
			if (st->writes[i].task == task)
				w = &st->writes[i];
	if (w == NULL)
	{
		if (st->nwrites == st->maxwrites)
		{
			st->maxwrites = Max(8, st->maxwrites * 2);
			st->writes = st->writes ? repalloc(st->writes, sizeof(WsWrite) * st->maxwrites)
				: palloc(sizeof(WsWrite) * st->maxwrites);
		}
		w = &st->writes[st->nwrites++];
		memset(w, 0, sizeof(WsWrite));
		w->insert = (task == 0);
		w->task = task ? task : WsStoreNextId(WS_TASK);
		w->node = ni;
		w->first = state;
		for (i = 0; i < st->nactive && task != 0 && ni < 0; i++)
			if (st->active[i].task == task)
				w->node = st->active[i].node;
	}
	w->state = state;
	if (result)
		w->result = result;
	if (error)
	{
		w->error_set = true;
		w->error = error == ws_no_error ? NULL : pstrdup(error);
	}
	if (strcmp(state, "pending") == 0)
	{
		w->assignee_set = true;
		w->assignee = assignee ? pstrdup(assignee) : NULL;
	}
	if (strcmp(state, "waiting") == 0 || (strcmp(state, "pending") == 0 && due))
	{
		w->due_set = true;
		w->due = due ? *due : 0;
	}
	if (strcmp(state, "succeeded") == 0)
		w->started = true;
	WsStepEvent(st, w->task, state, detail);
	if (st->batch)
		WsBatchTouch(st, w->task, w->node, state);
	return w->task;
}

/* The current assignee of task (a pending task of st's process), NULL: nobody. */
static char *
WsTaskAssignee(WsStep *st, int64 task)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(task)};

	WsFlush(st, false);			/* the step may have changed it */
	if (WsRun(&plan_assignee, "SELECT assignee::text FROM ws.task WHERE id = $1",
			  1, types, values, NULL, 1) == 0)
		return NULL;
	return WsGetText(0, 1);
}

/*
 * Move task (0: a new one) of node ni on from activation, from state from (NULL: new):
 * to ready when its action's form finds nothing wrong with the effective params, to
 * pending when a person must act (a human task, or a required value is missing or of the
 * wrong type: the problem goes to the task's error), or, for a routing node, to
 * succeeded, which splits at once. A task that was pending keeps its assignee.
 */
static void
WsProceed(WsStep *st, int ni, int64 task, Jsonb *tparams, const char *from)
{
	WsNode	   *n = &st->g->nodes[ni];
	bool		was_pending = from != NULL && strcmp(from, "pending") == 0;
	char	   *problems = NULL;

	if (n->action)
	{
		if (n->form)
			problems = WsFormProblems(n->form, WsEffectiveParams(st->g, ni, st->vars, tparams),
									  n->action, true);
		if (problems == NULL)
		{
			task = WsSetTask(st, ni, task, "ready", NULL, was_pending ? ws_no_error : NULL,
							 NULL, NULL, NULL);
			WsNotifyReady(n->action);
		}
	}
	if (n->action == NULL && n->role == NULL)
	{
		task = WsSetTask(st, ni, task, "succeeded", NULL, NULL, NULL, NULL, "routing node");
		WsRemoveActive(st, task);
		WsAfterSuccess(st, ni);
		return;
	}
	if (n->action == NULL || problems != NULL)
	{
		char	   *assignee;
		char	   *detail;
		TimestampTz due = 0;

		if (problems)
			detail = problems;
		else
			detail = pstrdup("waiting for a member of the role to complete it");
		if (was_pending)
		{
			/* still pending (a partial ws.fill): its assignee and due time stay */
			assignee = WsTaskAssignee(st, task);
			detail = psprintf("%s; %s", detail,
							  assignee ? psprintf("assigned to \"%s\"", assignee) : "unassigned");
		}
		else
		{
			WsFlush(st, false); /* WsAssign counts open tasks: this step's too */
			assignee = n->role ? WsAssign(n->role, NULL) : NULL;
			/* newly pending: due_at is the node's due, or none (not a timer's time) */
			if (n->due)
				due = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
															  TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
															  IntervalPGetDatum(n->due)));
			if (n->role && assignee == NULL)
				detail = psprintf("%s; role \"%s\" has no member who can log in, so it is unassigned",
								  detail, n->role);
			else if (assignee)
				detail = psprintf("%s; assigned to \"%s\"", detail, assignee);
		}
		task = WsSetTask(st, ni, task, "pending", NULL, problems ? problems : NULL, assignee,
						 was_pending ? NULL : &due, detail);
	}
	WsRemoveActive(st, task);
	WsAddActive(st, task, ni);
}

/* When is a waiting task of node ni due? false (with *why) when wait_until finds no time. */
static bool
WsDueAt(WsStep *st, int ni, TimestampTz *due, char **why)
{
	WsNode	   *n = &st->g->nodes[ni];

	if (n->wait_until)
	{
		Oid			types[2] = {JSONBOID, TEXTOID};
		Datum		values[2];
		bool		isnull;
		Datum		d;

		values[0] = JsonbPGetDatum(WsEffectiveParams(st->g, ni, st->vars, NULL));
		values[1] = CStringGetTextDatum(n->wait_until);
		WsRun(&plan_due_until,
			  "SELECT ws_internal.timestamp(pg_catalog.jsonb_path_query_first($1, $2::pg_catalog.jsonpath))",
			  2, types, values, NULL, 1);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (isnull)
		{
			*why = psprintf("wait_until %s of node \"%s\" yields no timestamp from the task's params",
							n->wait_until, n->name);
			return false;
		}
		*due = DatumGetTimestampTz(d);
	}
	else
		*due = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													   TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
													   IntervalPGetDatum(n->wait)));
	return true;
}

/* Create the task of node ni: waiting for its timer, or on at once. */
static void
WsActivate(WsStep *st, int ni)
{
	WsNode	   *n = &st->g->nodes[ni];

	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	if (st->ended)
		return;
	if (n->wait || n->wait_until)
	{
		TimestampTz due;
		char	   *why;
		int64		task;

		if (!WsDueAt(st, ni, &due, &why))
		{
			WsEndProcess(st, "failed", why, NULL);
			return;
		}
		task = WsSetTask(st, ni, 0, "waiting", NULL, NULL, NULL, &due, "timer");
		WsAddActive(st, task, ni);
		return;
	}
	WsProceed(st, ni, 0, NULL, NULL);
}

/* ---------- splits and joins ---------- */

static bool
WsCondition(WsStep *st, JsonPath *cond)
{
	LOCAL_FCINFO(fcinfo, 4);
	Datum		result;

	if (cond == NULL)
		return true;
	InitFunctionCallInfoData(*fcinfo, NULL, 4, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = JsonbPGetDatum(st->vars);
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = PointerGetDatum(cond);
	fcinfo->args[1].isnull = false;
	fcinfo->args[2].value = JsonbPGetDatum(st->now_vars);
	fcinfo->args[2].isnull = false;
	fcinfo->args[3].value = BoolGetDatum(true);
	fcinfo->args[3].isnull = false;
	result = jsonb_path_match_tz(fcinfo);
	return !fcinfo->isnull && DatumGetBool(result);
}

/* Deliver a token on transition ti, firing the child's AND or XOR join. */
static void
WsDeliver(WsStep *st, int ti)
{
	WsGraph    *g = st->g;
	WsTransition *t = &g->trans[ti];
	WsNode	   *c = &g->nodes[t->child];
	int			i;

	st->tokens[ti]++;
	if (c->join == WS_GATE_AND)
	{
		for (i = 0; i < c->nin; i++)
			if (st->tokens[c->in[i]] == 0)
				return;
		for (i = 0; i < c->nin; i++)
			st->tokens[c->in[i]]--;
		WsActivate(st, t->child);
	}
	else if (c->join == WS_GATE_XOR)
	{
		int64	   *ids = palloc(sizeof(int64) * Max(st->nactive, 1));
		int			n = 0,
					a;

		st->tokens[ti]--;
		for (a = 0; a < st->nactive; a++)
		{
			int			an = st->active[a].node;

			if (an == t->parent)
				continue;
			for (i = 0; i < c->nin; i++)
				if (g->trans[c->in[i]].parent == an)
				{
					ids[n++] = st->active[a].task;
					break;
				}
		}
		WsCancelTasks(st, ids, n,
					  psprintf("XOR join \"%s\" fired from \"%s\"", c->name, g->nodes[t->parent].name));
		WsActivate(st, t->child);
	}
	/* OR joins wait for the end of the step */
}

/* Node ni has succeeded: end the process at an end node, else split. */
static void
WsAfterSuccess(WsStep *st, int ni)
{
	WsGraph    *g = st->g;
	WsNode	   *n = &g->nodes[ni];
	int		   *taken;
	int			ntaken = 0,
				i;

	if (st->ended)
		return;
	if (n->is_end)
	{
		WsEndProcess(st, "completed", NULL, psprintf("end node \"%s\" reached", n->name));
		return;
	}
	taken = palloc(sizeof(int) * Max(n->nout, 1));
	for (i = 0; i < n->nout; i++)
		if (WsCondition(st, g->trans[n->out[i]].condition))
		{
			taken[ntaken++] = n->out[i];
			if (n->split == WS_GATE_XOR)
				break;
		}
	if (ntaken == 0)
	{
		WsEndProcess(st, "failed",
					 psprintf("node \"%s\" took no transition: no condition of its %d outgoing transitions held",
							  n->name, n->nout), NULL);
		return;
	}
	for (i = 0; i < ntaken && !st->ended; i++)
		WsDeliver(st, taken[i]);
}

/*
 * Incoming positions of OR join j that a source at node s can reach: by a path of
 * transitions that ends with that incoming transition and enters j nowhere else (it may
 * start at j). Static for a graph, so memoized in it.
 */
static Bitmapset *
WsReach(WsGraph *g, int j, int s)
{
	WsNode	   *J = &g->nodes[j];
	bool	   *seen;
	int		   *queue;
	int			head = 0,
				tail = 0;
	Bitmapset  *r = NULL;
	MemoryContext old;

	if (J->reach_done[s])
		return J->reach[s];
	seen = palloc0(sizeof(bool) * g->nnodes);
	queue = palloc(sizeof(int) * g->nnodes);
	seen[s] = true;
	queue[tail++] = s;
	while (head < tail)
	{
		WsNode	   *u = &g->nodes[queue[head++]];
		int			i;

		for (i = 0; i < u->nout; i++)
		{
			int			ti = u->out[i];
			int			c = g->trans[ti].child;

			if (c == j)
			{
				int			p;

				for (p = 0; p < J->nin; p++)
					if (J->in[p] == ti)
						r = bms_add_member(r, p);
			}
			else if (!seen[c])
			{
				seen[c] = true;
				queue[tail++] = c;
			}
		}
	}
	old = MemoryContextSwitchTo(g->cxt);
	J->reach[s] = bms_copy(r);
	J->reach_done[s] = true;
	MemoryContextSwitchTo(old);
	return J->reach[s];
}

/*
 * The inclusive gateway rule: OR join j fires when at least one incoming transition holds
 * a token and every source that can reach an incoming transition without a token can also
 * reach one that holds a token. Sources: the process's active tasks (j's own included) and
 * tokens held on transitions into other joins.
 */
static bool
WsOrCanFire(WsStep *st, int j)
{
	WsGraph    *g = st->g;
	WsNode	   *J = &g->nodes[j];
	Bitmapset  *held = NULL,
			   *empty = NULL;
	int			p,
				a,
				ti;

	for (p = 0; p < J->nin; p++)
	{
		if (st->tokens[J->in[p]] > 0)
			held = bms_add_member(held, p);
		else
			empty = bms_add_member(empty, p);
	}
	if (held == NULL)
		return false;
	if (empty == NULL)
		return true;
	for (a = 0; a < st->nactive; a++)
	{
		Bitmapset  *r = WsReach(g, j, st->active[a].node);

		if (bms_overlap(r, empty) && !bms_overlap(r, held))
			return false;
	}
	for (ti = 0; ti < g->ntrans; ti++)
	{
		Bitmapset  *r;

		if (st->tokens[ti] == 0 || g->trans[ti].child == j)
			continue;
		r = WsReach(g, j, g->trans[ti].child);
		if (bms_overlap(r, empty) && !bms_overlap(r, held))
			return false;
	}
	return true;
}

static void
WsOrJoins(WsStep *st)
{
	WsGraph    *g = st->g;

	for (;;)
	{
		int			j;
		bool		fired = false;

		for (j = 0; j < g->nnodes && !st->ended; j++)
		{
			WsNode	   *J = &g->nodes[j];
			int			p;

			if (J->join != WS_GATE_OR || !WsOrCanFire(st, j))
				continue;
			for (p = 0; p < J->nin; p++)
				if (st->tokens[J->in[p]] > 0)
					st->tokens[J->in[p]]--;
			WsActivate(st, j);
			fired = true;
			break;
		}
		if (!fired || st->ended)
			return;
	}
}

/* ---------- entry points ---------- */


/* Read task (of the step's locked process) into row. */
static void
WsReadTask(WsStep *st, int64 task, WsTaskRow *row)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(task)};
	bool		isnull;
	Datum		d;

	WsFlush(st, false);
	WsRun(&plan_task_row,
		  "SELECT node, state, attempts, params, due_at, lease_until FROM ws.task WHERE id = $1",
		  1, types, values, NULL, 1);
	row->id = task;
	row->node = WsNodeIndex(st->g, WsGetInt64(0, 1, NULL));
	row->state = WsGetText(0, 2);
	row->attempts = (int) WsGetInt64(0, 3, NULL);
	row->params = WsGetJsonb(0, 4);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5, &isnull);
	row->due_at = isnull ? 0 : DatumGetTimestampTz(d);
	d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 6, &isnull);
	row->lease_until = isnull ? 0 : DatumGetTimestampTz(d);
}

/*
 * Find task's process, lock it into st, read the task, and refuse (42501) a caller who
 * is not a member of its node's role; verb names the call in that error.
 */
static void
WsTaskStep(WsStep *st, WsCaller *who, int64 task, WsTaskRow *row, const char *verb)
{
	if (!WsStepLoad(st, who, 0, WS_FIND_WAIT, task, row))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("task " INT64_FORMAT " does not exist", task)));
	WsCheckMember(who, st->g->nodes[row->node].role, task, verb);
}

/* Refuse a stale attempt (fencing). */
static void
WsCheckAttempt(WsTaskRow *row, bool has_attempt, int attempt)
{
	if (has_attempt && attempt != row->attempts)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("attempt %d of task " INT64_FORMAT " is no longer current", attempt, row->id),
				 errdetail("The task is at attempt %d: its lease ended and it was claimed again.",
						   row->attempts),
				 errhint("Drop this result; the current claimer will report.")));
}

/* For complete and fail: a running task, or a pending task of a person (no action). */
static void
WsCheckActionable(WsStep *st, WsTaskRow *row, const char *verb)
{
	WsNode	   *n = &st->g->nodes[row->node];

	if (strcmp(row->state, "running") == 0)
		return;
	if (strcmp(row->state, "pending") == 0 && n->action == NULL)
		return;
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot %s task " INT64_FORMAT ": it is %s", verb, row->id, row->state),
			 strcmp(row->state, "pending") == 0
			 ? errhint("Supply its missing parameters with ws.fill(); a worker then claims it.")
			 : strcmp(row->state, "ready") == 0
			 ? errhint("Claim it first with ws.claim().")
			 : errhint("Only a running task, or a pending task of a person, can be ended.")));
}

/*
 * An assigned pending task is completed, failed or filled only by its assignee or an
 * admin: any other member of the node's role takes it first (ws.take).
 */
static void
WsCheckAssignee(WsStep *st, WsTaskRow *row, const char *verb)
{
	char	   *assignee;

	if (strcmp(row->state, "pending") != 0)
		return;
	assignee = WsTaskAssignee(st, row->id);
	if (assignee == NULL || strcmp(assignee, st->who->actor) == 0 || WsIsAdmin(st->who))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to %s task " INT64_FORMAT, verb, row->id),
			 errdetail("The task is assigned to \"%s\"; only its assignee or an administrator may %s it.",
					   assignee, verb),
			 errhint("Take it first with SELECT ws.take(" INT64_FORMAT "), or ask an administrator to ws.assign() it.",
					 row->id)));
}

/*
 * Complete the task in row (of st's locked process, the caller's role already checked)
 * with result (NULL: {}), refusing a stale attempt when has_attempt; then the end of the
 * step but its write (WsStepFinish), which the caller makes.
 */
static void
WsCompleteTask(WsStep *st, WsTaskRow *row, Jsonb *result, bool has_attempt, int attempt)
{
	WsRequireRunning(st);
	WsCheckActionable(st, row, "complete");
	WsCheckAssignee(st, row, "complete");
	WsCheckAttempt(row, has_attempt, attempt);
	if (result == NULL)
		result = WsEmptyJsonb();
	WsSetTask(st, row->node, row->id, "succeeded", result, NULL, NULL, NULL, NULL);
	WsRemoveActive(st, row->id);
	st->vars = WsJsonbConcat(st->vars, result);
	WsAfterSuccess(st, row->node);
	WsStepFinish(st);
}

PG_FUNCTION_INFO_V1(ws_complete);

/* ws.complete(task, result, attempt): the task succeeded; its result joins the variables. */
Datum
ws_complete(PG_FUNCTION_ARGS)
{
	int64		task = WsArgId(fcinfo, 0, "task");
	Jsonb	   *result = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	WsCaller	who;
	WsStep		st;
	WsTaskRow	row;

	WsCheckObject(result, "result");
	WsEnter(&who);
	SPI_connect();
	WsTaskStep(&st, &who, task, &row, "complete");
	WsCompleteTask(&st, &row, result, !PG_ARGISNULL(2), PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2));
	WsFlush(&st, true);
	SPI_finish();
	WsLeave(&who);
	PG_RETURN_VOID();
}

/* The step of process in batch b (its steps are in ascending process id), or NULL. */
static WsStep *
WsBatchStep(WsBatch *b, int64 process)
{
	int			lo = 0,
				hi = b->nsteps - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (b->steps[mid]->process == process)
			return b->steps[mid];
		if (b->steps[mid]->process < process)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return NULL;
}

/* Array argument n (NULL: none) of elemtype as datums and nulls; refuses more than 1-D. */
static int
WsArrayArg(FunctionCallInfo fcinfo, int n, Oid elemtype, const char *what, Datum **d, bool **nulls)
{
	ArrayType  *a;
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			count;

	*d = NULL;
	*nulls = NULL;
	if (PG_ARGISNULL(n))
		return -1;
	a = PG_GETARG_ARRAYTYPE_P(n);
	if (ARR_NDIM(a) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a one-dimensional array", what)));
	get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
	deconstruct_array(a, elemtype, typlen, typbyval, typalign, d, nulls, &count);
	return count;
}

static int
WsInt64Cmp(const void *a, const void *b)
{
	int64		x = *(const int64 *) a,
				y = *(const int64 *) b;

	return x < y ? -1 : x > y;
}

PG_FUNCTION_INFO_V1(ws_complete_batch);

/*
 * ws.complete_batch(tasks, results, attempts): ws.complete of each task, in array order,
 * in one call that does all or nothing. What sets it apart is the number of reads and
 * writes, not the rules: it locks every process involved first (in ascending id, so two
 * batches cannot deadlock), then reads their active tasks with one snapshot, runs each
 * completion as the step it would be alone (one WsStep per process carries over to the
 * next completion of the same process, so later completions see what earlier ones did),
 * and writes all the steps' changes in one write.
 */
Datum
ws_complete_batch(PG_FUNCTION_ARGS)
{
	Datum	   *tasks,
			   *results,
			   *attempts;
	bool	   *tnulls,
			   *rnulls,
			   *anulls;
	int			nt = WsArrayArg(fcinfo, 0, INT8OID, "tasks", &tasks, &tnulls),
				nr = WsArrayArg(fcinfo, 1, JSONBOID, "results", &results, &rnulls),
				na = WsArrayArg(fcinfo, 2, INT4OID, "attempts", &attempts, &anulls),
				np,
				n,
				nactive,
				room,
				i,
				k;
	WsCaller	who;
	WsBatch		b;
	WsStore    *store;
	int64	   *pid,
			   *pwf,
			   *tproc;
	char	  **pstate;
	Jsonb	  **pvars,
			  **ptokens;
	WsTaskRead *trows;

	if (nt < 0)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("tasks must not be null")));
	for (i = 0; i < nt; i++)
		if (tnulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("tasks must not contain null (element %d is)", i + 1)));
	if ((nr >= 0 && nr != nt) || (na >= 0 && na != nt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tasks has %d elements but %s has %d", nt,
						nr >= 0 && nr != nt ? "results" : "attempts",
						nr >= 0 && nr != nt ? nr : na),
				 errhint("Pass one result and one attempt per task, or NULL for none.")));
	for (i = 0; i < nr; i++)
		if (!rnulls[i])
			WsCheckObject(DatumGetJsonbP(results[i]), "result");

	WsEnter(&who);
	if (nt == 0)
	{
		WsLeave(&who);
		PG_RETURN_INT32(0);
	}
	SPI_connect();
	memset(&b, 0, sizeof(b));

	/* 1. lock their processes, in ascending id (two batches cannot deadlock) */
	store = WsStoreBegin();
	pid = palloc(sizeof(int64) * nt);
	tproc = palloc0(sizeof(int64) * nt);
	np = 0;
	for (k = 0; k < nt; k++)
	{
		bool		isnull;

		/* a task never moves to another process, so any snapshot finds its process */
		if (WsStoreFind(store, WS_TASK, &tasks[k], WS_FIND_READ))
			pid[np++] = tproc[k] =
				DatumGetInt64(WsStoreGet(store, WS_TASK, "process", &isnull));
	}
	qsort(pid, np, sizeof(int64), WsInt64Cmp);
	pwf = palloc(sizeof(int64) * Max(np, 1));
	pstate = palloc(sizeof(char *) * Max(np, 1));
	pvars = palloc(sizeof(Jsonb *) * Max(np, 1));
	ptokens = palloc(sizeof(Jsonb *) * Max(np, 1));
	for (i = 0, k = 0; i < np; i++)
	{
		Datum		d = Int64GetDatum(pid[i]);
		bool		isnull;

		if ((k > 0 && pid[k - 1] == pid[i]) || !WsStoreFind(store, WS_PROCESS, &d, WS_FIND_WAIT))
			continue;			/* a repeat, or deleted: its tasks do not exist */
		pid[k] = pid[i];
		pwf[k] = DatumGetInt64(WsStoreGet(store, WS_PROCESS, "workflow", &isnull));
		pstate[k] = TextDatumGetCString(WsStoreGet(store, WS_PROCESS, "state", &isnull));
		pvars[k] = DatumGetJsonbPCopy(WsStoreGet(store, WS_PROCESS, "params", &isnull));
		ptokens[k] = DatumGetJsonbPCopy(WsStoreGet(store, WS_PROCESS, "tokens", &isnull));
		k++;
	}
	np = k;

	/*
	 * 2. under the locks, with one snapshot: their active tasks, and the batch's tasks
	 * that are not active
	 */
	room = 0;
	n = 0;
	trows = np > 0 ? WsReadActive(store, pid, np, NULL, &n, &room) : NULL;
	nactive = n;
	for (k = 0; k < nt; k++)
	{
		WsTaskRead	key;
		bool		isnull;
		char	   *state;

		key.process = tproc[k];
		key.id = DatumGetInt64(tasks[k]);
		if ((tproc[k] != 0 && nactive > 0 &&
			 bsearch(&key, trows, nactive, sizeof(WsTaskRead), WsTaskReadCmp) != NULL) ||
			!WsStoreFind(store, WS_TASK, &tasks[k], WS_FIND_READ))
			continue;			/* active (read above), or gone */
		state = TextDatumGetCString(WsStoreGet(store, WS_TASK, "state", &isnull));
		if (WsActiveState(state))
			continue;
		if (n == room)
		{
			room = Max(16, room * 2);
			trows = trows ? repalloc(trows, sizeof(WsTaskRead) * room)
				: palloc(sizeof(WsTaskRead) * room);
		}
		trows[n].process = DatumGetInt64(WsStoreGet(store, WS_TASK, "process", &isnull));
		trows[n].id = DatumGetInt64(tasks[k]);
		trows[n].node = DatumGetInt64(WsStoreGet(store, WS_TASK, "node", &isnull));
		trows[n].active = false;
		trows[n].state = state;
		trows[n].attempts = DatumGetInt32(WsStoreGet(store, WS_TASK, "attempts", &isnull));
		n++;
	}
	WsStoreEnd(store);
	if (n > nactive)
		qsort(trows, n, sizeof(WsTaskRead), WsTaskReadCmp);

	/* 3. a step per process (reading graphs may run queries: the rows are copied) */
	b.nsteps = np;
	b.steps = palloc(sizeof(WsStep *) * Max(np, 1));
	for (i = 0; i < np; i++)
	{
		b.steps[i] = palloc(sizeof(WsStep));
		WsStepInit(b.steps[i], &who, pid[i], pwf[i], pstate[i], pvars[i], ptokens[i]);
		b.steps[i]->batch = &b;
	}

	/*
	 * Reading a graph drops the whole cache when definitions changed meanwhile, freeing
	 * the graphs of the steps before: read them again until no read dropped it, before
	 * anything uses them. A version with processes never changes, so only where a graph
	 * lives moves.
	 */
	for (;;)
	{
		uint64		generation = WsGraphGeneration();

		for (i = 0; i < np; i++)
			b.steps[i]->g = WsGetGraph(pwf[i]);
		if (WsGraphGeneration() == generation)
			break;
	}

	for (i = 0; i < n; i++)
	{
		WsStep	   *st = WsBatchStep(&b, trows[i].process);

		if (st && trows[i].active)
			WsAddActive(st, trows[i].id, WsNodeIndex(st->g, trows[i].node));
	}

	/* 4. each completion, in order, as ws.complete would do it */
	for (k = 0; k < nt; k++)
	{
		int64		task = DatumGetInt64(tasks[k]);
		WsStep	   *st = NULL;
		WsTaskRow	row;

		CHECK_FOR_INTERRUPTS();
		memset(&row, 0, sizeof(row));
		row.id = task;
		/* as read, or as an earlier step of the batch left it (it may have created it) */
		row.node = -1;
		for (i = 0; i < n && trows[i].id != task; i++)
			;
		if (i < n && (st = WsBatchStep(&b, trows[i].process)) != NULL)
		{
			row.node = WsNodeIndex(st->g, trows[i].node);
			row.state = (char *) trows[i].state;
			row.attempts = trows[i].attempts;
		}
		for (i = 0; i < b.ntouched && b.touched[i].task != task; i++)
			;
		if (i < b.ntouched)
		{
			st = b.touched[i].st;
			row.state = (char *) b.touched[i].state;
			if (b.touched[i].node >= 0)
				row.node = b.touched[i].node;
		}
		if (st == NULL || row.node < 0)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("task " INT64_FORMAT " does not exist", task)));
		WsCheckMember(&who, st->g->nodes[row.node].role, task, "complete");
		WsCompleteTask(st, &row, nr > 0 && !rnulls[k] ? DatumGetJsonbP(results[k]) : NULL,
					   na > 0 && !anulls[k], na > 0 && !anulls[k] ? DatumGetInt32(attempts[k]) : 0);
	}

	/* 5. everything in one write */
	WsFlushSteps(b.steps, b.nsteps, true);
	SPI_finish();
	WsLeave(&who);
	PG_RETURN_INT32(nt);
}

PG_FUNCTION_INFO_V1(ws_fail);

/* ws.fail(task, error, attempt): retry after a back-off while attempts remain, else fail. */
Datum
ws_fail(PG_FUNCTION_ARGS)
{
	int64		task = WsArgId(fcinfo, 0, "task");
	char	   *error;
	WsCaller	who;
	WsStep		st;
	WsTaskRow	row;
	WsNode	   *n;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("error must not be null"),
				 errhint("Say why the task failed; it is kept on the task and in ws.event.")));
	error = text_to_cstring(PG_GETARG_TEXT_PP(1));
	WsEnter(&who);
	SPI_connect();
	WsTaskStep(&st, &who, task, &row, "fail");
	n = &st.g->nodes[row.node];
	WsRequireRunning(&st);
	WsCheckActionable(&st, &row, "fail");
	WsCheckAssignee(&st, &row, "fail");
	WsCheckAttempt(&row, !PG_ARGISNULL(2), PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2));

	if (row.attempts <= n->retries && n->action != NULL)
	{
		/* back-off: base * 2^(attempt-1), capped */
		int64		delay = ws_retry_base_ms;
		int			k;
		TimestampTz due;

		for (k = 1; k < row.attempts && delay < ws_retry_cap_ms; k++)
			delay *= 2;
		delay = Min(delay, (int64) ws_retry_cap_ms);
		due = GetCurrentTransactionStartTimestamp() + delay * 1000;
		WsSetTask(&st, row.node, task, "waiting", NULL, error, NULL, &due,
				  psprintf("attempt %d of %d failed, retrying after %.3f s: %s",
						   row.attempts, n->retries + 1, delay / 1000.0, error));
	}
	else
	{
		WsSetTask(&st, row.node, task, "failed", NULL, error, NULL, NULL, error);
		WsRemoveActive(&st, task);
		WsEndProcess(&st, "failed",
					 psprintf("task " INT64_FORMAT " (node \"%s\") failed: %s", task, n->name, error),
					 NULL);
	}
	WsStepEnd(&st);
	SPI_finish();
	WsLeave(&who);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ws_fill);

/*
 * ws.fill(task, params): a member of the node's role supplies parameters of a pending
 * task. Values are checked against the action's form, merged into the task's params,
 * and the task becomes ready once nothing required is missing.
 */
Datum
ws_fill(PG_FUNCTION_ARGS)
{
	int64		task = WsArgId(fcinfo, 0, "task");
	Jsonb	   *params = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	Oid			utypes[2] = {INT8OID, JSONBOID};
	Datum		uvalues[2];
	WsCaller	who;
	WsStep		st;
	WsTaskRow	row;
	WsNode	   *n;

	if (params == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("params must not be null")));
	WsCheckObject(params, "params");
	WsEnter(&who);
	SPI_connect();
	WsTaskStep(&st, &who, task, &row, "fill");
	n = &st.g->nodes[row.node];
	WsRequireRunning(&st);
	if (strcmp(row.state, "pending") != 0 || n->action == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot fill task " INT64_FORMAT ": it is %s", task,
						strcmp(row.state, "pending") == 0 ? "a human task without an action" : row.state),
				 errhint("Only a pending task whose action misses parameters can be filled.")));
	WsCheckAssignee(&st, &row, "fill");
	{
		char	   *problems = WsFormProblems(n->form, params, n->action, false);

		if (problems)
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("%s", problems),
					 errhint("%s", WsFieldTypeHint(n->form, params))));
	}
	row.params = WsJsonbConcat(row.params, params);
	uvalues[0] = Int64GetDatum(task);
	uvalues[1] = JsonbPGetDatum(row.params);
	WsRun(&plan_fill, "UPDATE ws.task SET params = $2 WHERE id = $1", 2, utypes, uvalues, NULL, 0);
	WsProceed(&st, row.node, task, row.params, row.state);
	WsStepEnd(&st);
	SPI_finish();
	WsLeave(&who);
	PG_RETURN_VOID();
}

/* ---------- people: take, release, assign ---------- */

/* Refuse (55000) unless the task in row is pending; verb names the call. */
static void
WsRequirePending(WsTaskRow *row, const char *verb)
{
	if (strcmp(row->state, "pending") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot %s task " INT64_FORMAT ": it is %s", verb, row->id, row->state),
				 errhint("Only a pending task, one that waits for a person, is assigned.")));
}

/* Assign the pending task in row to assignee (NULL: nobody), the event saying why. */
static void
WsReassign(WsStep *st, WsTaskRow *row, const char *assignee, const char *why)
{
	char	   *old = WsTaskAssignee(st, row->id);

	if ((old == NULL && assignee == NULL) || (old && assignee && strcmp(old, assignee) == 0))
		return;
	WsSetTask(st, row->node, row->id, "pending", NULL, NULL, assignee, NULL,
			  psprintf("%s; %s%s", why,
					   assignee ? psprintf("assigned to \"%s\"", assignee) : "unassigned",
					   old ? psprintf(", was assigned to \"%s\"", old) : ""));
}

/*
 * Lock the process of task, read the task, check that it is pending and (member) that the
 * caller is a member of its node's role.
 */
static void
WsPendingStep(WsStep *st, WsCaller *who, int64 task, WsTaskRow *row, const char *verb,
			  bool member)
{
	if (!WsStepLoad(st, who, 0, WS_FIND_WAIT, task, row))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("task " INT64_FORMAT " does not exist", task)));
	if (member)
		WsCheckMember(who, st->g->nodes[row->node].role, task, verb);
	WsRequireRunning(st);
	WsRequirePending(row, verb);
}

PG_FUNCTION_INFO_V1(ws_take);

/* ws.take(task): a member of the node's role makes a pending task assigned to themselves. */
Datum
ws_take(PG_FUNCTION_ARGS)
{
	int64		task = WsArgId(fcinfo, 0, "task");
	WsCaller	who;
	WsStep		st;
	WsTaskRow	row;

	WsEnter(&who);
	SPI_connect();
	WsPendingStep(&st, &who, task, &row, "take", true);
	WsReassign(&st, &row, who.actor, psprintf("taken by \"%s\"", who.actor));
	WsStepEnd(&st);
	SPI_finish();
	WsLeave(&who);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ws_release);

/*
 * ws.release(task): the assignee gives a pending task back; it goes to the member of the
 * node's role with the fewest open tasks but them, or to nobody when there is none.
 */
Datum
ws_release(PG_FUNCTION_ARGS)
{
	int64		task = WsArgId(fcinfo, 0, "task");
	WsCaller	who;
	WsStep		st;
	WsTaskRow	row;
	char	   *assignee;
	const char *role;

	WsEnter(&who);
	SPI_connect();
	WsPendingStep(&st, &who, task, &row, "release", true);
	assignee = WsTaskAssignee(&st, task);
	if (assignee == NULL || strcmp(assignee, who.actor) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to release task " INT64_FORMAT, task),
				 assignee ? errdetail("It is assigned to \"%s\", not to \"%s\".", assignee, who.actor)
				 : errdetail("It is assigned to nobody."),
				 errhint("Only the assignee releases a task; administrators reassign with ws.assign().")));
	role = st.g->nodes[row.node].role;
	WsReassign(&st, &row, role ? WsAssign(role, who.actor) : NULL,
			   psprintf("released by \"%s\"", who.actor));
	WsStepEnd(&st);
	SPI_finish();
	WsLeave(&who);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ws_assign);

/*
 * ws.assign(task, role): an administrator assigns a pending task to a member of its node's
 * role (NULL: to nobody).
 */
Datum
ws_assign(PG_FUNCTION_ARGS)
{
	int64		task = WsArgId(fcinfo, 0, "task");
	char	   *to = PG_ARGISNULL(1) ? NULL : pstrdup(NameStr(*PG_GETARG_NAME(1)));
	WsCaller	who;
	WsStep		st;
	WsTaskRow	row;
	const char *role;

	WsEnter(&who);
	if (!WsIsAdmin(&who))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to assign task " INT64_FORMAT, task),
				 errdetail("Only administrators of ws (ws.grant_admin) assign tasks."),
				 errhint("A member of the task's role can take it with ws.take().")));
	SPI_connect();
	WsPendingStep(&st, &who, task, &row, "assign", false);
	role = st.g->nodes[row.node].role;
	if (to != NULL)
	{
		Oid			toid = get_role_oid(to, true);

		if (!OidIsValid(toid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("role \"%s\" does not exist", to)));
		if (!WsRoleCanLogin(toid))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("role \"%s\" cannot log in, so it cannot act on task " INT64_FORMAT, to, task),
					 errhint("Assign it to a member of the role who can log in, as ws assigns pending tasks itself.")));
		if (role != NULL && OidIsValid(get_role_oid(role, true)) &&
			!is_member_of_role(toid, get_role_oid(role, true)))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("role \"%s\" is not a member of role \"%s\" of task " INT64_FORMAT,
							to, role, task),
					 errhint("Assign it to a member of \"%s\", or GRANT \"%s\" TO \"%s\" first.",
							 role, role, to)));
	}
	WsReassign(&st, &row, to, psprintf("assigned by \"%s\"", who.actor));
	WsStepEnd(&st);
	SPI_finish();
	WsLeave(&who);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ws_cancel);

/* ws.cancel(process, reason): end a running or failed process and its active tasks. */
Datum
ws_cancel(PG_FUNCTION_ARGS)
{
	int64		process = WsArgId(fcinfo, 0, "process");
	char	   *reason = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	WsCaller	who;
	WsStep		st;

	WsEnter(&who);
	SPI_connect();
	WsStepBegin(&st, &who, process);
	if (strcmp(st.state, "running") != 0 && strcmp(st.state, "failed") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("process " INT64_FORMAT " is already %s", process, st.state),
				 errhint("Only a running or failed process can be cancelled.")));
	WsEndProcess(&st, "cancelled", NULL,
				 reason ? psprintf("cancelled: %s", reason) : "cancelled");
	WsStepEnd(&st);
	SPI_finish();
	WsLeave(&who);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ws_retry);

/* ws.retry(task): a failed task goes back to ready (or pending), its process to running. */
Datum
ws_retry(PG_FUNCTION_ARGS)
{
	int64		task = WsArgId(fcinfo, 0, "task");
	WsCaller	who;
	WsStep		st;
	WsTaskRow	row;

	WsEnter(&who);
	SPI_connect();
	WsTaskStep(&st, &who, task, &row, "retry");
	if (strcmp(row.state, "failed") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot retry task " INT64_FORMAT ": it is %s", task, row.state),
				 errhint("Only a failed task can be retried.")));
	if (strcmp(st.state, "cancelled") == 0 || strcmp(st.state, "completed") == 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot retry task " INT64_FORMAT ": its process " INT64_FORMAT " is %s",
						task, st.process, st.state)));
	if (strcmp(st.state, "failed") == 0)
	{
		st.state = "running";
		WsStepEvent(&st, 0, "running", psprintf("task " INT64_FORMAT " retried", task));
	}
	WsProceed(&st, row.node, task, row.params, row.state);
	WsStepEnd(&st);
	SPI_finish();
	WsLeave(&who);
	PG_RETURN_VOID();
}

/*
 * Start a process of workflow version wf, or (name not NULL) of the newest version named
 * *name:
 * lock the version FOR KEY SHARE against deletion (what the foreign key check of the
 * process row would take; the store leaves that check out), check it is valid (once a
 * backend), insert the process row and activate the start nodes.
 */
static int64
WsStartProcess(WsCaller *who, int64 wf, Datum *name, Jsonb *params)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1];
	WsStore    *store = WsStoreBegin();
	WsStep		st;
	WsGraph    *g;
	int64		process;
	int			i;

	if (name != NULL)
	{
		/* the newest version of that name visible now: its (name, version) key, in order */
		WsStoreScan *sc = WsStoreScanBegin(store, WS_WORKFLOW, "workflow_name_version_key",
										   name, 1, 0);
		bool		isnull,
					found = false;

		while (WsStoreScanNext(sc))
		{
			wf = DatumGetInt64(WsStoreScanGet(sc, "id", &isnull));
			found = true;
		}
		WsStoreScanEnd(sc);
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("workflow \"%s\" does not exist", TextDatumGetCString(*name)),
					 errhint("Names are case sensitive; an administrator lists the workflows in ws.workflow_overview.")));
	}
	values[0] = Int64GetDatum(wf);
	if (!WsStoreFind(store, WS_WORKFLOW, values, WS_FIND_KEY_SHARE))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("workflow " INT64_FORMAT " does not exist", wf),
				 errhint("An administrator lists the workflows in ws.workflow_overview.")));
	g = WsGetGraph(wf);
	if (!g->validated)
	{
		bool		isnull;
		Datum		d;

		WsRun(&plan_validate,
			  "SELECT pg_catalog.string_agg(p, '; ') FROM ws_internal.validate($1) p",
			  1, types, values, NULL, 1);
		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
		if (!isnull)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("workflow \"%s\" version %d is not valid", g->name, g->version),
					 errdetail("%s", TextDatumGetCString(d)),
					 errhint("An administrator sees the problems with SELECT * FROM ws.validate(" INT64_FORMAT ") and defines a corrected version.", wf)));
		g->validated = true;
	}
	process = WsStoreNextId(WS_PROCESS);
	WsStoreNew(store, WS_PROCESS);
	WsStoreSet(store, WS_PROCESS, "id", INT8OID, Int64GetDatum(process), false);
	WsStoreSet(store, WS_PROCESS, "workflow", INT8OID, values[0], false);
	WsStoreSet(store, WS_PROCESS, "state", TEXTOID, CStringGetTextDatum("running"), false);
	WsStoreSet(store, WS_PROCESS, "params", JSONBOID, JsonbPGetDatum(params), false);
	WsStoreSet(store, WS_PROCESS, "tokens", JSONBOID, JsonbPGetDatum(WsEmptyJsonb()), false);
	WsStoreSet(store, WS_PROCESS, "started_at", TIMESTAMPTZOID,
			   TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()), false);
	WsStoreSet(store, WS_PROCESS, "started_by", NAMEOID, WsNameDatum(who->actor), false);
	WsStoreInsert(store, WS_PROCESS);
	WsStoreEnd(store);

	/* the row just inserted holds what the step starts from: no write unless it changes */
	WsStepInit(&st, who, process, wf, "running", params, NULL);
	WsStepEvent(&st, 0, "running",
				psprintf("started workflow \"%s\" version %d", st.g->name, st.g->version));
	for (i = 0; i < st.g->nnodes && !st.ended; i++)
		if (st.g->nodes[i].is_start)
			WsActivate(&st, i);
	WsStepEnd(&st);
	if (st.ended && strcmp(st.ended, "failed") == 0)
		ereport(WARNING,
				(errmsg("process " INT64_FORMAT " of workflow \"%s\" failed as it started", process,
						st.g->name),
				 errdetail("%s", st.error),
				 errhint("SELECT ws.process_dot(" INT64_FORMAT ") shows where it stopped.", process)));
	return process;
}

PG_FUNCTION_INFO_V1(ws_start);

/* ws.start(workflow bigint, params): a new process of that workflow version. */
Datum
ws_start(PG_FUNCTION_ARGS)
{
	int64		wf = WsArgId(fcinfo, 0, "workflow");
	Jsonb	   *params = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	WsCaller	who;
	int64		process;

	WsCheckObject(params, "params");
	WsEnter(&who);
	SPI_connect();
	process = WsStartProcess(&who, wf, NULL, params ? params : WsEmptyJsonb());
	SPI_finish();
	WsLeave(&who);
	PG_RETURN_INT64(process);
}

PG_FUNCTION_INFO_V1(ws_start_by_name);

/* ws.start(workflow text, params): a new process of the newest version of that name. */
Datum
ws_start_by_name(PG_FUNCTION_ARGS)
{
	Jsonb	   *params = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	Datum		name = PG_GETARG_DATUM(0);
	WsCaller	who;
	int64		process;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("workflow name must not be null")));
	WsCheckObject(params, "params");
	WsEnter(&who);
	SPI_connect();
	process = WsStartProcess(&who, 0, &name, params ? params : WsEmptyJsonb());
	SPI_finish();
	WsLeave(&who);
	PG_RETURN_INT64(process);
}

PG_FUNCTION_INFO_V1(ws_tick);

/*
 * ws.tick(): move every waiting task whose time has come on, and put every running task
 * whose lease has ended back to ready. Each process is one step under its lock, and each
 * task is re-read under it, so ticks running at once move every task once. A process
 * locked by another step is skipped, not waited for: the next tick takes it.
 */
Datum
ws_tick(PG_FUNCTION_ARGS)
{
	WsCaller	who;
	int			n,
				i,
				moved = 0;
	int64	   *tasks,
			   *procs;

	WsEnter(&who);
	SPI_connect();
	n = WsRun(&plan_tick_due,
			  "SELECT id, process FROM ws.task "
			  " WHERE (state = 'waiting' AND due_at <= pg_catalog.clock_timestamp()) "
			  "    OR (state = 'running' AND lease_until < pg_catalog.clock_timestamp()) "
			  " ORDER BY process, id LIMIT 10000",
			  0, NULL, NULL, NULL, 0);
	tasks = palloc(sizeof(int64) * Max(n, 1));
	procs = palloc(sizeof(int64) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		tasks[i] = WsGetInt64(i, 1, NULL);
		procs[i] = WsGetInt64(i, 2, NULL);
	}
	for (i = 0; i < n;)
	{
		WsStep		st;
		int64		p = procs[i];

		if (!WsStepBeginLock(&st, &who, p, true))
		{
			/* busy in another step: the next tick takes it */
			while (i < n && procs[i] == p)
				i++;
			continue;
		}
		for (; i < n && procs[i] == p; i++)
		{
			WsTaskRow	row;
			TimestampTz now = GetCurrentTimestamp();

			if (strcmp(st.state, "running") != 0 || st.ended)
				continue;
			WsReadTask(&st, tasks[i], &row);
			if (strcmp(row.state, "waiting") == 0 && row.due_at != 0 && row.due_at <= now)
			{
				WsProceed(&st, row.node, row.id, row.params, row.state);
				moved++;
			}
			else if (strcmp(row.state, "running") == 0 && row.lease_until != 0 &&
					 row.lease_until < now)
			{
				WsSetTask(&st, row.node, row.id, "ready", NULL, NULL, NULL, NULL, "lease expired");
				WsNotifyReady(st.g->nodes[row.node].action);
				moved++;
			}
		}
		WsStepEnd(&st);
	}
	SPI_finish();
	WsLeave(&who);
	PG_RETURN_INT32(moved);
}
