/*
 * step.c: a step's life, apart from the rules it follows (engine.c) and its write
 * (flush.c). A step starts by locking its process row and reading the process (state,
 * variables, tokens) and its active tasks through the store (WsStepLoad); it keeps the
 * set of active tasks as it changes them; WsSetTask records each task change as a row to
 * write and an event; WsEndProcess ends the process. What reads ws.task in the middle of
 * a step flushes the step's writes first (WsRereadTask), so that it sees them.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "utils/array.h"
#include "utils/datetime.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"

#include "batch.h"
#include "children.h"
#include "errors.h"
#include "flush.h"
#include "notifier.h"
#include "queries.h"
#include "step.h"
#include "ws.h"

const char	ws_no_error[] = "";

/* Add an event to the step's writes (task 0: the process's own), state's name */
static void
WsStepEvent(WsStep *st, int64 task, int node, const char *state, const char *detail)
{
	WsEventRow *e;

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
	e->node = node;
	e->state = state;
	e->detail = detail ? pstrdup(detail) : NULL;
}

/* The event of task moving to state, if ws.history keeps it */
static void
WsStepTaskEvent(WsStep *st, int64 task, int node, WsTaskState state, const char *detail)
{
	if (WsKeepTaskEvent(state))
		WsStepEvent(st, task, node, WsTaskStateName(state), detail);
}

/* The event of the process moving to state, if ws.history keeps it */
void
WsStepProcEvent(WsStep *st, WsProcState state, const char *detail)
{
	if (WsKeepProcEvent())
		WsStepEvent(st, 0, -1, WsProcStateName(state), detail);
}

/* Order loaded tasks by process, then id */
int
WsLoadedTaskCmp(const void *a, const void *b)
{
	const WsLoadedTask *x = a,
			   *y = b;

	if (x->process != y->process)
		return x->process < y->process ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* The scan of the active tasks of the np processes pids (index task_active): WsActiveNext */
static WsStoreScan *
WsActiveScan(WsStore *store, const int64 *pids, int np)
{
	Datum	   *pd = palloc(sizeof(Datum) * Max(np, 1));
	Datum		key;
	int			i;

	for (i = 0; i < np; i++)
		pd[i] = Int64GetDatum(pids[i]);
	key = np == 1 ? pd[0] :
		PointerGetDatum(construct_array(pd, np, INT8OID, sizeof(int64), FLOAT8PASSBYVAL,
										TYPALIGN_DOUBLE));
	return WsStoreScanBegin(store, WS_TASK, "task_active", &key, 1, np == 1 ? 0 : 1);
}

/* The columns an active scan reads, by number */
typedef struct WsActiveCols
{
	int			process,
				id,
				node,
				state,
				attempts,
				group,
				instance;
} WsActiveCols;

static void
WsActiveColsOf(WsStoreScan *sc, WsActiveCols *c)
{
	c->process = WsStoreScanCol(sc, "process");
	c->id = WsStoreScanCol(sc, "id");
	c->node = WsStoreScanCol(sc, "node");
	c->state = WsStoreScanCol(sc, "state");
	c->attempts = WsStoreScanCol(sc, "attempts");
	c->group = WsStoreScanCol(sc, "instance_of");
	c->instance = WsStoreScanCol(sc, "instance");
}

/*
 * The next active task of the scan; false when there is none. The index holds the tasks
 * whose wait is set, which are the active ones (an index naming state would make a claim's
 * update non-HOT); state, read anyway, is checked as well.
 */
static bool
WsActiveNext(WsStoreScan *sc, const WsActiveCols *c)
{
	bool		isnull;

	while (WsStoreScanNext(sc))
		if (WsTaskActive(WsTaskStateOfText(WsStoreScanGetAt(sc, c->state, &isnull))))
			return true;
	return false;
}

/* The scan's current row into r */
static void
WsActiveRow(WsStoreScan *sc, const WsActiveCols *c, WsLoadedTask *r)
{
	bool		isnull;

	r->process = DatumGetInt64(WsStoreScanGetAt(sc, c->process, &isnull));
	r->id = DatumGetInt64(WsStoreScanGetAt(sc, c->id, &isnull));
	r->node = DatumGetInt64(WsStoreScanGetAt(sc, c->node, &isnull));
	r->active = true;
	r->state = WsTaskStateOfText(WsStoreScanGetAt(sc, c->state, &isnull));
	r->attempts = DatumGetInt32(WsStoreScanGetAt(sc, c->attempts, &isnull));
	r->group = DatumGetInt64(WsStoreScanGetAt(sc, c->group, &isnull));
	if (isnull)
		r->group = 0;
	r->instance = DatumGetInt32(WsStoreScanGetAt(sc, c->instance, &isnull));
	if (isnull)
		r->instance = 0;
}

/*
 * Append to rows (*n used of *room) the active tasks of the np processes pids, read in
 * one scan of the partial index task_active (wait IS NOT NULL): process = ANY (pids). rows
 * ends sorted by (process, id).
 */
WsLoadedTask *
WsLoadActive(WsStore *store, const int64 *pids, int np, WsLoadedTask *rows, int *n, int *room)
{
	WsStoreScan *sc = WsActiveScan(store, pids, np);
	WsActiveCols c;

	WsActiveColsOf(sc, &c);
	while (WsActiveNext(sc, &c))
	{
		if (*n == *room)
		{
			*room = Max(16, *room * 2);
			rows = rows ? repalloc(rows, sizeof(WsLoadedTask) * *room)
				: palloc(sizeof(WsLoadedTask) * *room);
		}
		WsActiveRow(sc, &c, &rows[(*n)++]);
	}
	WsStoreScanEnd(sc);
	if (*n > 1)
		qsort(rows, *n, sizeof(WsLoadedTask), WsLoadedTaskCmp);
	return rows;
}

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

static void WsAddActiveNew(WsStep *st, int64 task, int ni, int64 group, int instance);
static void WsRemoveActive(WsStep *st, int64 task);

/*
 * task (of node index ni) is active: an instance of group (0: none, -1: not known yet).
 * The step keeps the active tasks it knows in st->active: the task it acts on, every
 * task it creates or moves, and those it looked for; all of them only once it needed
 * them (WsEnsureActive). A step that completes one task of a process with many active
 * ones then reads none of the others.
 */
void
WsAddActiveOf(WsStep *st, int64 task, int ni, int64 group, int instance)
{
	int			i;

	for (i = 0; i < st->nactive; i++)
		if (st->active[i].task == task)
		{
			st->active[i].node = ni;
			if (group >= 0)
			{
				st->active[i].group = group;
				st->active[i].instance = instance;
			}
			return;
		}
	WsAddActiveNew(st, task, ni, group, instance);
}

/* task, not in st->active, is active (see WsAddActiveOf) */
static void
WsAddActiveNew(WsStep *st, int64 task, int ni, int64 group, int instance)
{
	if (st->nactive == st->maxactive)
	{
		st->maxactive = Max(16, st->maxactive * 2);
		st->active = st->active ? repalloc(st->active, sizeof(WsActive) * st->maxactive)
			: palloc(sizeof(WsActive) * st->maxactive);
	}
	st->active[st->nactive].task = task;
	st->active[st->nactive].node = ni;
	st->active[st->nactive].group = group;
	st->active[st->nactive].instance = instance;
	st->nactive++;
}

/*
 * The step's write of task, or NULL. Searched from the end: the task a step acts on is
 * mostly the one it wrote last.
 */
static WsWrite *
WsFindWrite(WsStep *st, int64 task)
{
	int			i;

	for (i = st->nwrites - 1; i >= 0; i--)
		if (st->writes[i].task == task)
			return &st->writes[i];
	return NULL;
}

/*
 * The multi-instance group of task (the first instance of its activation), its index in
 * *instance; 0: not an instance. A group never changes, so a row already stored answers.
 */
int64
WsTaskGroup(WsStep *st, int64 task, int *instance)
{
	WsWrite    *w;
	int64		group;
	int			i;

	for (i = 0; i < st->nactive; i++)
		if (st->active[i].task == task && st->active[i].group >= 0)
		{
			*instance = st->active[i].instance;
			return st->active[i].group;
		}
	w = WsFindWrite(st, task);
	if (w && w->group >= 0)
	{
		*instance = w->instance;
		return w->group;
	}
	group = WsQueryTaskInstance(task, instance);
	if (w)
	{
		w->group = group;
		w->instance = *instance;
	}
	for (i = 0; i < st->nactive; i++)
		if (st->active[i].task == task)
		{
			st->active[i].group = group;
			st->active[i].instance = *instance;
		}
	return group;
}

/*
 * The first active task of st's process in the store (index task_active) that the step
 * has not written (the active ones it wrote are in st->active), of group when not 0,
 * into *row; false: none.
 */
static bool
WsScanActive(WsStep *st, int64 group, WsLoadedTask *row)
{
	WsStore    *store = WsStoreBegin(st->who);
	WsStoreScan *sc = WsActiveScan(store, &st->process, 1);
	WsActiveCols c;
	bool		found = false;

	WsActiveColsOf(sc, &c);
	while (!found && WsActiveNext(sc, &c))
	{
		WsActiveRow(sc, &c, row);
		found = (group == 0 || row->group == group) && WsFindWrite(st, row->id) == NULL;
	}
	WsStoreScanEnd(sc);
	WsStoreEnd(store);
	return found;
}

/* st->active holds every active task of the process from here on. */
void
WsEnsureActive(WsStep *st)
{
	WsStore    *store;
	WsLoadedTask *rows = NULL;
	int			n = 0,
				room = 0,
				known = st->nactive,
				i,
				k;

	if (st->active_loaded)
		return;
	store = WsStoreBegin(st->who);
	rows = WsLoadActive(store, &st->process, 1, rows, &n, &room);
	WsStoreEnd(store);
	for (i = 0; i < n; i++)
	{
		if (WsFindWrite(st, rows[i].id))
			continue;			/* the step's own: st->active says whether it is active */
		for (k = 0; k < known; k++)
			if (st->active[k].task == rows[i].id)
				break;
		if (k == known)
			WsAddActiveNew(st, rows[i].id, WsNodeIndex(st->g, rows[i].node), rows[i].group,
						   rows[i].instance);
	}
	st->active_loaded = true;
}

/* The index of active task in st->active (found in the store if need be), -1: not active */
int
WsFindActive(WsStep *st, int64 task)
{
	WsStore    *store;
	Datum		id = Int64GetDatum(task);
	int			i;
	bool		found = false,
				isnull;
	WsLoadedTask r;

	for (i = 0; i < st->nactive; i++)
		if (st->active[i].task == task)
			return i;
	if (st->active_loaded || WsFindWrite(st, task))
		return -1;
	store = WsStoreBegin(st->who);
	if (WsStoreFind(store, WS_TASK, &id, WS_LOCK_NONE) &&
		DatumGetInt64(WsStoreGet(store, WS_TASK, "process", &isnull)) == st->process &&
		WsTaskActive(WsTaskStateOf(TextDatumGetCString(WsStoreGet(store, WS_TASK, "state", &isnull)))))
	{
		found = true;
		r.node = DatumGetInt64(WsStoreGet(store, WS_TASK, "node", &isnull));
		r.group = DatumGetInt64(WsStoreGet(store, WS_TASK, "instance_of", &isnull));
		if (isnull)
			r.group = 0;
		r.instance = DatumGetInt32(WsStoreGet(store, WS_TASK, "instance", &isnull));
		if (isnull)
			r.instance = 0;
	}
	WsStoreEnd(store);
	if (!found)
		return -1;
	WsAddActiveNew(st, task, WsNodeIndex(st->g, r.node), r.group, r.instance);
	return st->nactive - 1;
}

/* Is no task of the process active? */
bool
WsNoActive(WsStep *st)
{
	WsLoadedTask r;

	if (st->nactive > 0)
		return false;
	if (st->active_loaded)
		return true;
	if (WsScanActive(st, 0, &r))
	{
		WsAddActiveNew(st, r.id, WsNodeIndex(st->g, r.node), r.group, r.instance);
		return false;
	}
	st->active_loaded = true;	/* none: the empty list is all of them */
	return true;
}

/* Is an instance of group, of node ni, active? */
bool
WsGroupHasActive(WsStep *st, int ni, int64 group)
{
	WsLoadedTask r;
	int			a,
				instance;

	for (a = 0; a < st->nactive; a++)
		if (st->active[a].node == ni &&
			(st->active[a].group >= 0 ? st->active[a].group
			 : WsTaskGroup(st, st->active[a].task, &instance)) == group)
			return true;
	if (st->active_loaded || !WsScanActive(st, group, &r))
		return false;
	WsAddActiveNew(st, r.id, WsNodeIndex(st->g, r.node), r.group, r.instance);
	return true;
}

/* task is no longer active */
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

/*
 * The processes with a step open in this backend, each with the call that opened it and
 * the transaction nesting level it was opened at. A call that a user's trigger makes from
 * inside a step may not open a second step on the same process: it would read the
 * process as the first step last wrote it and write over what the first step writes
 * next (or the other way round), losing one of the two. A step is closed by its last
 * write (WsStepsClosed, before that write fires its AFTER triggers, which may then act
 * on the process), at the end of its call, or by the error that ends the (sub)transaction.
 */
typedef struct WsOpenStep
{
	int64		process;
	int			call;
	int			level;
	WsStep	   *step;
} WsOpenStep;

static WsOpenStep *ws_open = NULL;
static int	ws_nopen = 0;
static int	ws_maxopen = 0;

/* Forget the open steps of call (0: of every call) and those opened at level or deeper. */
static void
WsForgetOpen(int call, int level)
{
	int			i,
				kept = 0;

	for (i = 0; i < ws_nopen; i++)
		if (!((call == 0 || ws_open[i].call == call) && ws_open[i].level >= level))
			ws_open[kept++] = ws_open[i];
	ws_nopen = kept;
}

static void
WsOpenXactCallback(XactEvent event, void *arg)
{
	ws_nopen = 0;
}

static void
WsOpenSubXactCallback(SubXactEvent event, SubTransactionId mySubid, SubTransactionId parentSubid,
					  void *arg)
{
	if (event == SUBXACT_EVENT_ABORT_SUB)
		WsForgetOpen(0, GetCurrentTransactionNestLevel());
}

/* Open a step of who's call on process; refuse (27000) when one is open already. */
static void
WsStepOpen(WsStep *st, WsCaller *who, int64 process)
{
	static bool registered = false;
	int			i;

	for (i = 0; i < ws_nopen; i++)
		if (ws_open[i].process == process)
			ereport(ERROR,
					(errcode(ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION),
					 errmsg("ws was called on process " INT64_FORMAT " from inside a step of that process",
							process),
					 errdetail("A trigger fired by ws's writes of the process called ws on it again "
							   "before those writes were done."),
					 errhint("Act on the process after the call returns: from a deferred constraint "
							 "trigger, a listener of ws_ready or ws_process, or a job. A trigger may "
							 "start or act on other processes.")));
	if (!registered)
	{
		RegisterXactCallback(WsOpenXactCallback, NULL);
		RegisterSubXactCallback(WsOpenSubXactCallback, NULL);
		registered = true;
	}
	if (ws_nopen == ws_maxopen)
	{
		ws_maxopen = Max(8, ws_maxopen * 2);
		ws_open = ws_open ? repalloc(ws_open, sizeof(WsOpenStep) * ws_maxopen)
			: MemoryContextAlloc(TopMemoryContext, sizeof(WsOpenStep) * ws_maxopen);
	}
	ws_open[ws_nopen].process = process;
	ws_open[ws_nopen].call = who->call;
	ws_open[ws_nopen].level = GetCurrentTransactionNestLevel();
	ws_open[ws_nopen].step = st;
	ws_nopen++;
}

/* Is a step open in this backend (is this call nested in another's step)? */
bool
WsAnyStepOpen(void)
{
	return ws_nopen > 0;
}

/* Is a step open in this backend besides one (the caller's own)? */
bool
WsAnyOtherStepOpen(void)
{
	return ws_nopen > 1;
}

/*
 * task's stored row into t (state, attempts, params, times; not its node index), for a
 * task of the step's process the step has not changed; a task is never deleted under its
 * process's lock, so it is there.
 */
static void
WsStoredTask(int64 task, WsTarget *t)
{
	int64		node;
	char	   *state;

	if (!WsQueryTask(task, &node, &state, &t->attempts, &t->params, &t->due_at, &t->lease_until,
					 &t->deadline_at, false))
		elog(ERROR, "ws: task " INT64_FORMAT " is gone", task);
	t->id = task;
	t->state = WsTaskStateOf(state);
}

/* task's state, as the step leaves it (a task it did not change: as stored) */
WsTaskState
WsTaskStateNow(WsStep *st, int64 task)
{
	WsWrite    *w = WsFindWrite(st, task);
	WsTarget	t;

	if (w)
		return w->state;
	WsStoredTask(task, &t);
	return t.state;
}

/* The step open on process in this backend, or NULL */
WsStep *
WsOpenStepOf(int64 process)
{
	int			i;

	for (i = 0; i < ws_nopen; i++)
		if (ws_open[i].process == process)
			return ws_open[i].step;
	return NULL;
}

/* The steps are done writing their processes: close them. */
void
WsStepsClosed(WsStep **steps, int nsteps)
{
	int			i,
				j,
				kept = 0;

	for (i = 0; i < ws_nopen; i++)
	{
		for (j = 0; j < nsteps; j++)
			if (ws_open[i].process == steps[j]->process)
				break;
		if (j == nsteps)
			ws_open[kept++] = ws_open[i];
	}
	ws_nopen = kept;
}

/* The call is over: close the steps it left open (those that made no last write). */
void
WsCallStepsClosed(WsCaller *who)
{
	WsForgetOpen(who->call, 0);
}

/*
 * Start st on process (of workflow, in state, with variables vars and tokens as stored),
 * with no active task yet; refuses a process that has a step open (WsStepOpen). Reads
 * the graph, which may run queries.
 */
void
WsStepInit(WsStep *st, WsCaller *who, int64 process, int64 workflow, WsProcState state,
		   Jsonb *vars, Jsonb *tokens)
{
	/* the graph first: WsGetGraph drops a stale cache only while no step is open */
	WsGraph    *g = WsGetGraph(workflow);

	WsStepOpen(st, who, process);
	memset(st, 0, sizeof(*st));
	st->who = who;
	st->process = process;
	st->state = state;
	st->vars = vars;
	st->g = g;
	st->tokens = WsParseTokens(st->g, tokens);
	st->stored_tokens = palloc(sizeof(int) * Max(st->g->ntrans, 1));
	memcpy(st->stored_tokens, st->tokens, sizeof(int) * st->g->ntrans);
	st->stored_state = st->state;
	st->stored_vars = st->vars;
	st->now_vars = WsNowVars();
}

/* Read the store's current task row (of process) into target */
static void
WsReadTarget(WsStore *store, int64 task, WsTarget *target, int64 *node)
{
	bool		isnull;
	Datum		d;

	target->id = task;
	*node = DatumGetInt64(WsStoreGet(store, WS_TASK, "node", &isnull));
	target->state = WsTaskStateOf(TextDatumGetCString(WsStoreGet(store, WS_TASK, "state", &isnull)));
	target->attempts = DatumGetInt32(WsStoreGet(store, WS_TASK, "attempts", &isnull));
	target->params = DatumGetJsonbPCopy(WsStoreGet(store, WS_TASK, "params", &isnull));
	d = WsStoreGet(store, WS_TASK, "due_at", &isnull);
	target->due_at = isnull ? WS_NO_TIME : DatumGetTimestampTz(d);
	d = WsStoreGet(store, WS_TASK, "lease_until", &isnull);
	target->lease_until = isnull ? WS_NO_TIME : DatumGetTimestampTz(d);
	d = WsStoreGet(store, WS_TASK, "deadline_at", &isnull);
	target->deadline_at = isnull ? WS_NO_TIME : DatumGetTimestampTz(d);
	d = WsStoreGet(store, WS_TASK, "instance_of", &isnull);
	target->group = isnull ? 0 : DatumGetInt64(d);
	d = WsStoreGet(store, WS_TASK, "instance", &isnull);
	target->instance = isnull ? 0 : DatumGetInt32(d);
}

/*
 * Lock process (mode: waiting for it, or skipping it when another step holds it) and load
 * it into st: its variables and its tokens. With task (not 0), also read that task into
 * target (and st->active, when it is active); with process 0, the process locked is task's. False when
 * there is no such process (or task), or when it was skipped.
 */
bool
WsStepLoad(WsStep *st, WsCaller *who, int64 process, WsLock mode, int64 task, WsTarget *target)
{
	WsStore    *store = WsStoreBegin(who);
	Datum		tid = Int64GetDatum(task);
	Datum		pid,
				root;
	bool		isnull;
	int64		wf,
				node = 0,
				parent_task;
	WsProcState state;
	Jsonb	   *vars,
			   *tokens;

	if (process == 0)
	{
		/* a task never moves to another process, so any snapshot finds its process */
		if (!WsStoreFind(store, WS_TASK, &tid, WS_LOCK_NONE))
		{
			WsStoreEnd(store);
			return false;
		}
		process = DatumGetInt64(WsStoreGet(store, WS_TASK, "process", &isnull));
	}
	pid = Int64GetDatum(process);

	/*
	 * A child process: the root of its tree first (engine.c, LOCKING ORDER). The root and
	 * the parent never change, so any snapshot finds them.
	 */
	if (!WsStoreFind(store, WS_PROCESS, &pid, WS_LOCK_NONE))
	{
		WsStoreEnd(store);
		return false;
	}
	root = WsStoreGet(store, WS_PROCESS, "root", &isnull);
	if (!isnull && !WsStoreFind(store, WS_PROCESS, &root, mode))
	{
		WsStoreEnd(store);
		return false;
	}
	if (!WsStoreFind(store, WS_PROCESS, &pid, mode))
	{
		WsStoreEnd(store);
		return false;
	}
	parent_task = DatumGetInt64(WsStoreGet(store, WS_PROCESS, "parent_task", &isnull));
	if (isnull)
		parent_task = 0;
	wf = DatumGetInt64(WsStoreGet(store, WS_PROCESS, "workflow", &isnull));
	state = WsProcStateOf(TextDatumGetCString(WsStoreGet(store, WS_PROCESS, "state", &isnull)));
	vars = DatumGetJsonbPCopy(WsStoreGet(store, WS_PROCESS, "params", &isnull));
	tokens = DatumGetJsonbPCopy(WsStoreGet(store, WS_PROCESS, "tokens", &isnull));

	/* its active tasks are read when the step needs them (WsEnsureActive); the task, active or not: it must be of this process */
	if (task != 0)
	{
		if (!WsStoreFind(store, WS_TASK, &tid, WS_LOCK_NONE) ||
			DatumGetInt64(WsStoreGet(store, WS_TASK, "process", &isnull)) != process)
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_OBJECT),
					 errmsg("task " INT64_FORMAT " does not exist", task),
					 errdetail("It was deleted while its process was being locked.")));
		WsReadTarget(store, task, target, &node);
	}
	WsStoreEnd(store);

	/* the graph may run queries: read it once the rows are read */
	WsStepInit(st, who, process, wf, state, vars, tokens);
	st->parent_task = parent_task;
	st->root = parent_task ? DatumGetInt64(root) : 0;
	if (task != 0)
	{
		target->node = WsNodeIndex(st->g, node);
		if (WsTaskActive(target->state))
			WsAddActiveNew(st, task, target->node, target->group, target->instance);
	}
	return true;
}

/*
 * Lock process and load it into st. Raises 42704 for an unknown process. The caller
 * checks the state (st->state). With skip_locked (ws.tick), a process locked by another
 * step is not waited for: returns false.
 */
bool
WsStepLock(WsStep *st, WsCaller *who, int64 process, bool skip_locked)
{
	if (WsStepLoad(st, who, process, skip_locked ? WS_LOCK_UPDATE_SKIP : WS_LOCK_UPDATE, 0, NULL))
		return true;
	if (!skip_locked)
		WsErrNoProcess(process);
	return false;
}

/*
 * Find task's process, lock it into st, read the task into target, and refuse (42501) a
 * caller who is not a member of its node's role; verb names the call in that error.
 */
void
WsTargetStep(WsStep *st, WsCaller *who, int64 task, WsTarget *target, const char *verb)
{
	if (!WsStepLoad(st, who, 0, WS_LOCK_UPDATE, task, target))
		WsErrNoTask(task);
	WsCheckMember(who, st->g->nodes[target->node].role, task, verb);
}

/*
 * Read task (of the step's locked process) again into target, after the step's writes,
 * under its row lock (so a heartbeat that renews its lease comes before or after all the
 * step does with it); false when it is gone.
 */
bool
WsRereadTask(WsStep *st, int64 task, WsTarget *target)
{
	int64		node;
	char	   *state;

	WsFlush(st, false);
	if (!WsQueryTask(task, &node, &state, &target->attempts, &target->params,
					 &target->due_at, &target->lease_until, &target->deadline_at, true))
		return false;
	target->id = task;
	target->node = WsNodeIndex(st->g, node);
	target->state = WsTaskStateOf(state);
	return true;
}

/* Refuse unless the process is running (an earlier step of a batch may have ended it). */
void
WsRequireRunning(WsStep *st)
{
	if (st->state != WS_PROC_RUNNING)
		WsErrNotRunning(st->process, WsProcStateName(st->state));
}

/*
 * Create a task of node ni (task == 0) or move task to a new state, with its event.
 * error: the task's new error (ws_no_error clears it, NULL keeps it); assignee: for
 * pending, who it is assigned to (NULL: nobody); due: for waiting, when it is due (NULL:
 * none), for pending, when the person should be done (WS_NO_TIME: none; NULL: keep
 * due_at).
 * Returns the task id. Nothing is written yet: see WsFlush.
 */
int64
WsSetTask(WsStep *st, int ni, int64 task, WsTaskState state, Jsonb *result,
		  const char *error, const char *assignee, TimestampTz *due, const char *detail)
{
	WsWrite    *w = NULL;
	int			i;

	Assert(task != 0 || (ni >= 0 && ni < st->g->nnodes));	/* a new task has a node */
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
		w->task = task ? task : st->arming && st->arming->id ? st->arming->id : WsStoreNextId(WS_TASK);
		w->node = ni;
		w->first_state = state;
		w->deadline_at = WS_NO_TIME;
		w->attempts = -1;
		w->group = task == 0 ? 0 : -1;
		if (task == 0 && st->arming)
		{
			WsArming   *a = st->arming;

			st->arming = NULL;	/* it was for this task only */
			w->params = a->params;
			w->is_instance = a->is_instance;
			w->instance = a->instance;
			w->instance_of = a->group ? a->group : w->task;
			w->items = a->items;
			w->deadline_at = a->deadline_at;
			w->group = a->is_instance ? w->instance_of : 0;
		}
		if (task == 0 && w->deadline_at == WS_NO_TIME && st->g->nodes[ni].deadline)
			w->deadline_at = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
																   TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
																   IntervalPGetDatum(st->g->nodes[ni].deadline)));
		for (i = 0; i < st->nactive && task != 0; i++)
			if (st->active[i].task == task)
			{
				if (ni < 0)
					w->node = st->active[i].node;
				w->group = st->active[i].group;
				w->instance = st->active[i].instance;
			}
	}
	w->state = state;
	if (result)
		w->result = result;
	if (error)
	{
		w->error_set = true;
		w->error = error == ws_no_error ? NULL : pstrdup(error);
	}
	if (state == WS_TASK_PENDING)
	{
		w->assignee_set = true;
		w->assignee = assignee ? pstrdup(assignee) : NULL;
	}
	if (state == WS_TASK_WAITING || (state == WS_TASK_PENDING && due))
	{
		w->due_set = true;
		w->due = due ? *due : WS_NO_TIME;
	}
	if (state == WS_TASK_SUCCEEDED)
		w->started = true;
	/* st->active follows (an ended task keeps its group in its write) */
	if (!WsTaskActive(state))
		WsRemoveActive(st, w->task);
	else if (w->node >= 0)
		WsAddActiveOf(st, w->task, w->node, w->group, w->instance);
	WsStepTaskEvent(st, w->task, w->node, state, detail);
	if (st->batch)
		WsBatchTouch(st, w->task, w->node, state);
	return w->task;
}

/* Cancel the given active tasks (ids), recording detail. */
void
WsCancelTasks(WsStep *st, int64 *ids, int n, const char *detail)
{
	int			i;

	for (i = 0; i < n; i++)
	{
		int			a = WsFindActive(st, ids[i]);

		if (a >= 0 && st->g->nodes[st->active[a].node].call)
			WsCancelChild(st, ids[i], "was cancelled");
		/* an existing task: the node index only matters for a new one */
		WsSetTask(st, -1, ids[i], WS_TASK_CANCELLED, NULL, NULL, NULL, NULL, detail);
	}
}

/* The step's write of task (which it changed already) gets attempts. */
void
WsSetTaskAttempts(WsStep *st, int64 task, int attempts)
{
	WsWrite    *w = WsFindWrite(st, task);

	if (w == NULL)
		elog(ERROR, "ws: task " INT64_FORMAT " has no write in this step", task);
	w->attempts = attempts;
}

/* The step's write of task (which it changed already) gets params as its own params. */
void
WsSetTaskParams(WsStep *st, int64 task, Jsonb *params)
{
	WsWrite    *w = WsFindWrite(st, task);

	if (w == NULL)
		elog(ERROR, "ws: task " INT64_FORMAT " has no write in this step", task);
	w->params = params;
	w->params_set = !w->insert;
}

/* task's attempts, as the step leaves them */
int
WsTaskAttempts(WsStep *st, int64 task)
{
	WsWrite    *w = WsFindWrite(st, task);
	WsTarget	t;

	if (w && w->attempts >= 0)
		return w->attempts;
	if (w && w->insert)
		return 0;
	WsStoredTask(task, &t);
	return t.attempts;
}

/* task's own params, as the step leaves them */
Jsonb *
WsTaskParams(WsStep *st, int64 task)
{
	WsWrite    *w = WsFindWrite(st, task);
	WsTarget	t;

	if (w && (w->insert || w->params_set))
		return w->params ? w->params : WsEmptyJsonb();
	WsStoredTask(task, &t);
	return t.params;
}

/* New task waits for message with key (NULL: none): written with the task (WsWriteTask). */
void
WsSetTaskMessage(WsStep *st, int64 task, const char *message, const char *key)
{
	int			i;

	for (i = 0; i < st->nwrites; i++)
		if (st->writes[i].task == task)
		{
			Assert(st->writes[i].insert);
			st->writes[i].message = message ? pstrdup(message) : NULL;
			st->writes[i].message_key = key ? pstrdup(key) : NULL;
			return;
		}
	elog(ERROR, "ws: task " INT64_FORMAT " is not a new task of this step", task);
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
void
WsEndProcess(WsStep *st, WsProcState state, const char *error, const char *detail)
{
	if (st->ended)
		return;
	WsEnsureActive(st);			/* every one of them is cancelled, or held and frozen */
	if (state != WS_PROC_FAILED)
		WsCancelAll(st, state == WS_PROC_COMPLETED ? "the process completed" :
					(detail ? detail : "the process was cancelled"));
	st->ended = true;
	st->state = state;
	st->error = error ? pstrdup(error) : NULL;
	WsStepProcEvent(st, state, error ? error : detail);
	WsNotifyProcess(st->process, WsProcStateName(state));
	if (state == WS_PROC_FAILED)
		WsFreezeChildren(st);
	WsHandBackNow(st);
}
