/*
 * flush.c: the write of a step. Everything a step (or a batch of steps) changed waits in
 * memory until its end, or until something must read ws.task in the middle of it: then
 * WsFlushSteps writes it through the store (store.c), row by row with no planned
 * statement: the task rows (inserts, and updates under the row lock that check the old
 * state), the claim queue ws.ready that follows each task's state, the events in the
 * order they happened, and each process row whose state, variables or tokens changed.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/numeric.h"
#include "utils/timestamp.h"

#include "batch.h"
#include "children.h"
#include "errors.h"
#include "flush.h"
#include "queue.h"
#include "ws.h"

/* An event of a step, in a flush of several steps */
typedef struct WsEventRef
{
	WsEventRow *e;
	int64		process;
	WsGraph    *g;				/* its step's graph, for the node's name */
} WsEventRef;

/* Order events as they happened */
static int
WsEventRefCmp(const void *a, const void *b)
{
	return ((const WsEventRef *) a)->e->seq - ((const WsEventRef *) b)->e->seq;
}

/*
 * The claim queue follows the task's new state: a task made ready joins ws.ready (unless
 * its row is there already: a step never re-readies a ready task, but the queue must not
 * fail on it); a task moved to any other state leaves it, whatever it was before, so a
 * row that should not be there cannot outlive the task's next change. The task row is
 * locked by now: every writer of ws.ready locks the task first. A claim takes its task
 * out of the queue here too; each row that leaves counts towards the queue's next VACUUM
 * (queue.c).
 */
void
WsWriteQueue(WsStore *store, int64 task, Datum action, bool ready, bool inserted)
{
	Datum		keys[2] = {action, Int64GetDatum(task)};
	/*
	 * A task inserted by this write has no row yet: nothing to look for. Otherwise the
	 * task is locked (WsWriteTask), and every writer of ws.ready locks the task first:
	 * its queue row, if any, is read and changed with no lock of its own.
	 */
	bool		there = !inserted && WsStoreFind(store, WS_READY, keys, WS_LOCK_NONE);

	if (ready && !there)
	{
		WsStoreNew(store, WS_READY);
		WsStoreSet(store, WS_READY, "action", TEXTOID, action, false);
		WsStoreSet(store, WS_READY, "task", INT8OID, Int64GetDatum(task), false);
		WsStoreInsert(store, WS_READY);
	}
	else if (!ready && there)
	{
		WsStoreDelete(store, WS_READY);
		WsQueueDequeued(1);
	}
}

/*
 * A running task's lease row (ws.lease) follows its lease: added at a claim (add), deleted
 * when the task leaves running. The task row is locked by now: every writer of ws.lease
 * locks the task first. No deletion is counted for the VACUUM of the queue tables: a lease
 * goes after its claim, which is counted (queue.c).
 */
void
WsWriteLease(WsStore *store, int64 task, TimestampTz until, bool add)
{
	Datum		keys[2] = {TimestampTzGetDatum(until), Int64GetDatum(task)};

	if (add)
	{
		WsStoreNew(store, WS_LEASE);
		WsStoreSet(store, WS_LEASE, "until", TIMESTAMPTZOID, keys[0], false);
		WsStoreSet(store, WS_LEASE, "task", INT8OID, keys[1], false);
		WsStoreInsert(store, WS_LEASE);
	}
	else if (WsStoreFind(store, WS_LEASE, keys, WS_LOCK_NONE))
		WsStoreDelete(store, WS_LEASE);
}

/*
 * The columns only the waits of a task change (see ws.task in the install script), after
 * its state becomes state: wait names what an active task waits for (its state while
 * waiting, pending or calling a child; worker while ready or running for a worker), NULL
 * once it ended; deadline_open says it is active with a deadline. A claim leaves both as
 * they are (its update stays HOT); a completion clears wait.
 */
static void
WsWriteWaits(WsStore *store, WsTaskState state, bool has_deadline)
{
	const char *wait = NULL;

	if (state == WS_TASK_WAITING || state == WS_TASK_PENDING || state == WS_TASK_RUNNING)
		wait = WsTaskStateName(state);
	else if (state == WS_TASK_READY)
		wait = "worker";
	WsStoreSet(store, WS_TASK, "wait", TEXTOID, wait ? CStringGetTextDatum(wait) : (Datum) 0, wait == NULL);
	WsStoreSet(store, WS_TASK, "deadline_open", BOOLOID,
			   BoolGetDatum(has_deadline && WsTaskActive(state)), false);
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
	bool		ended = WsTaskEnded(w->state);
	bool		has_deadline = w->deadline_at != WS_NO_TIME;

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
		WsStoreSet(store, WS_TASK, "params", JSONBOID,
				   JsonbPGetDatum(w->params ? w->params : WsEmptyJsonb()), false);
		if (w->is_instance)
		{
			WsStoreSet(store, WS_TASK, "instance", INT4OID, Int32GetDatum(w->instance), false);
			WsStoreSet(store, WS_TASK, "instance_of", INT8OID, Int64GetDatum(w->instance_of), false);
			if (w->items)
				WsStoreSet(store, WS_TASK, "instance_items", JSONBOID, JsonbPGetDatum(w->items), false);
		}
		WsStoreSet(store, WS_TASK, "progress", NUMERICOID,
				   DirectFunctionCall1(int4_numeric, Int32GetDatum(0)), false);
		WsStoreSet(store, WS_TASK, "attempts", INT4OID, Int32GetDatum(0), false);
		WsStoreSet(store, WS_TASK, "created_at", TIMESTAMPTZOID, now, false);
		if (w->started)
			WsStoreSet(store, WS_TASK, "started_at", TIMESTAMPTZOID, now, false);
		if (w->deadline_at != WS_NO_TIME)
			WsStoreSet(store, WS_TASK, "deadline_at", TIMESTAMPTZOID, TimestampTzGetDatum(w->deadline_at), false);
		if (w->message)
		{
			WsStoreSet(store, WS_TASK, "message", TEXTOID, CStringGetTextDatum(w->message), false);
			WsStoreSet(store, WS_TASK, "message_key", TEXTOID,
					   w->message_key ? CStringGetTextDatum(w->message_key) : (Datum) 0,
					   w->message_key == NULL);
		}
	}
	else
	{
		bool		isnull;
		WsTaskState old;

		if (!WsStoreFind(store, WS_TASK, &id, WS_LOCK_NO_KEY_UPDATE))
			WsErrChanged(w->task, "It was deleted.");
		old = WsTaskStateOf(TextDatumGetCString(WsStoreGet(store, WS_TASK, "state", &isnull)));
		/*
		 * The old state re-checked under the row lock (the process lock makes this moot):
		 * active, or failed for a retry, which makes it ready or pending (or running: a
		 * calling task that starts a new child).
		 */
		if (!(WsTaskActive(old) ||
			  (old == WS_TASK_FAILED && (w->first_state == WS_TASK_READY || w->first_state == WS_TASK_PENDING ||
										 w->first_state == WS_TASK_RUNNING))))
			WsErrChanged(w->task, psprintf("It is %s now.", WsTaskStateName(old)));
		action = WsStoreGet(store, WS_TASK, "action", &noaction);
		if (!noaction)
			action = PointerGetDatum(PG_DETOAST_DATUM_COPY(action));
		if (old == WS_TASK_RUNNING)
		{
			Datum		until = WsStoreGet(store, WS_TASK, "lease_until", &isnull);

			if (!isnull)
				WsWriteLease(store, w->task, DatumGetTimestampTz(until), false);
		}
		(void) WsStoreGet(store, WS_TASK, "deadline_at", &isnull);
		has_deadline = !isnull;
		WsStoreChange(store, WS_TASK);
		WsStoreSet(store, WS_TASK, "lease_until", TIMESTAMPTZOID, (Datum) 0, true);
		if (w->started)
		{
			WsStoreGet(store, WS_TASK, "started_at", &isnull);
			if (isnull)
				WsStoreSet(store, WS_TASK, "started_at", TIMESTAMPTZOID, now, false);
		}
	}
	WsStoreSet(store, WS_TASK, "state", TEXTOID, CStringGetTextDatum(WsTaskStateName(w->state)),
			   false);
	WsWriteWaits(store, w->state, has_deadline);
	if (w->result || w->insert)
		WsStoreSet(store, WS_TASK, "result", JSONBOID, JsonbPGetDatum(w->result), w->result == NULL);
	if (w->error_set || w->insert)
		WsStoreSet(store, WS_TASK, "error", TEXTOID,
				   w->error ? CStringGetTextDatum(w->error) : (Datum) 0, w->error == NULL);
	if (w->assignee_set)
		WsStoreSet(store, WS_TASK, "assignee", NAMEOID,
				   w->assignee ? WsNameDatum(w->assignee) : (Datum) 0, w->assignee == NULL);
	if (w->due_set)
		WsStoreSet(store, WS_TASK, "due_at", TIMESTAMPTZOID, TimestampTzGetDatum(w->due), w->due == WS_NO_TIME);
	WsStoreSet(store, WS_TASK, "ended_at", TIMESTAMPTZOID, now, !ended);
	if (w->attempts >= 0)
		WsStoreSet(store, WS_TASK, "attempts", INT4OID, Int32GetDatum(w->attempts), false);
	if (w->params_set)
		WsStoreSet(store, WS_TASK, "params", JSONBOID, JsonbPGetDatum(w->params), false);
	if (w->insert)
		WsStoreInsert(store, WS_TASK);
	else
		WsStoreUpdate(store, WS_TASK);
	/* routing nodes never queue; a new task that is not ready has nothing to do there */
	if (!noaction && (!w->insert || w->state == WS_TASK_READY))
		WsWriteQueue(store, w->task, action, w->state == WS_TASK_READY, w->insert);
}

/*
 * The tokens array as process.tokens jsonb, only transitions that hold some: built as
 * jsonb values (keys sorted as jsonb keeps them), not printed and parsed again.
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

/* Write st's process row: its state, variables, tokens, error and end. */
static void
WsWriteProcess(WsStore *store, WsStep *st)
{
	Datum		id = Int64GetDatum(st->process);
	bool		running = st->state == WS_PROC_RUNNING;
	bool		isnull;

	if (!WsStoreFind(store, WS_PROCESS, &id, WS_LOCK_NO_KEY_UPDATE))
		elog(ERROR, "ws: process " INT64_FORMAT " vanished under its lock", st->process);
	WsStoreChange(store, WS_PROCESS);
	WsStoreSet(store, WS_PROCESS, "state", TEXTOID, CStringGetTextDatum(WsProcStateName(st->state)),
			   false);
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

/* Append one ws.event row (task 0: the process's own) */
void
WsWriteEvent(WsStore *store, int64 process, int64 task, const char *state, const char *actor,
			 const char *detail, const char *node, const char *action)
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
	WsStoreSet(store, WS_EVENT, "node", TEXTOID, node ? CStringGetTextDatum(node) : (Datum) 0, node == NULL);
	WsStoreSet(store, WS_EVENT, "action", TEXTOID, action ? CStringGetTextDatum(action) : (Datum) 0,
			   action == NULL);
	WsStoreInsert(store, WS_EVENT);
}

/*
 * A process the step fails leaves its active tasks as they are, but no claim may take one
 * once the failure is decided: the tasks are held (FOR KEY SHARE, which a claim's FOR
 * UPDATE SKIP LOCKED skips) until the failure commits, after which a claim sees the
 * process failed (claim.c reads it after its own lock). Tasks this flush wrote are held
 * by their write already.
 */
static void
WsHoldActive(WsStore *store, WsStep *st)
{
	int			i,
				j;

	for (i = 0; i < st->nactive; i++)
	{
		Datum		id = Int64GetDatum(st->active[i].task);

		for (j = 0; j < st->nwrites; j++)
			if (st->writes[j].task == st->active[i].task)
				break;
		if (j == st->nwrites)
			(void) WsStoreFind(store, WS_TASK, &id, WS_LOCK_KEY_SHARE);
	}
}

/*
 * The steps' last write is done: each that ended a child process hands its end back to
 * the parent (children.c), once.
 */
static void
WsHandBackSteps(WsStep **steps, int nsteps, bool end)
{
	int			s;

	for (s = 0; end && s < nsteps; s++)
		if (steps[s]->ended && steps[s]->parent_task != 0 && !steps[s]->no_hand_back &&
			!steps[s]->handed_back)
		{
			steps[s]->handed_back = true;
			WsHandBack(steps[s]);
		}
}

/*
 * Write what the steps have changed (one step, or the steps of a batch, one per process):
 * their task rows, with the claim queue, in the order the steps made them; their events
 * in the order they happened; and (at the end, when it changed) each process row. Steps
 * read task rows only at their start (under the process lock), so the writes can wait;
 * whatever reads ws.task during a step flushes first (WsRereadTask, WsAssign). A task
 * update re-checks the old state under the row lock; a task that moved anyway refuses
 * the step.
 */
void
WsFlushSteps(WsStep **steps, int nsteps, bool end)
{
	int			m = 0,
				i,
				s;
	bool	   *write_process = palloc0(sizeof(bool) * nsteps);
	bool		any = false;
	WsEventRef *ev;
	WsStore    *store;

	Assert(nsteps > 0);
	for (s = 0; s < nsteps; s++)
	{
		WsStep	   *st = steps[s];

		if (end)
			write_process[s] = st->ended ||	/* its error and end, even in the same state */
				!(st->state == st->stored_state &&
				  WsJsonbSame(st->vars, st->stored_vars) &&
				  memcmp(st->tokens, st->stored_tokens, sizeof(int) * st->g->ntrans) == 0);
		m += st->nevents;
		any |= st->nwrites > 0 || st->nevents > 0 || write_process[s];
	}
	if (!any)
	{
		if (end)
			WsStepsClosed(steps, nsteps);
		WsHandBackSteps(steps, nsteps, end);
		return;
	}

	store = WsStoreBegin(steps[0]->who);
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
			ev[m].g = steps[s]->g;
		}
	if (nsteps > 1)
		qsort(ev, m, sizeof(WsEventRef), WsEventRefCmp);
	for (i = 0; i < m; i++)
	{
		WsNode	   *node = ev[i].e->node >= 0 ? &ev[i].g->nodes[ev[i].e->node] : NULL;

		WsWriteEvent(store, ev[i].process, ev[i].e->task, ev[i].e->state,
					 steps[0]->who->actor, ev[i].e->detail, node ? node->name : NULL,
					 node ? node->action : NULL);
	}

	for (s = 0; s < nsteps; s++)
		if (write_process[s])
		{
			if (steps[s]->state == WS_PROC_FAILED && steps[s]->stored_state != WS_PROC_FAILED)
				WsHoldActive(store, steps[s]);
			WsWriteProcess(store, steps[s]);
		}
	if (end)
		WsStepsClosed(steps, nsteps);	/* before the write's AFTER triggers fire */
	WsStoreEnd(store);

	for (s = 0; s < nsteps; s++)
	{
		WsStep	   *st = steps[s];

		st->nwrites = 0;
		st->nevents = 0;
		if (end)
		{
			/* what the row now holds */
			st->stored_state = st->state;
			st->stored_vars = st->vars;
			memcpy(st->stored_tokens, st->tokens, sizeof(int) * st->g->ntrans);
		}
	}
	WsHandBackSteps(steps, nsteps, end);
}

/* Write what st has changed (see WsFlushSteps); in a batch, what every step has. */
void
WsFlush(WsStep *st, bool end)
{
	if (st->batch)
		WsFlushSteps(st->batch->steps, st->batch->nsteps, end);
	else
		WsFlushSteps(&st, 1, end);
}
