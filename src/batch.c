/*
 * batch.c: ws.complete_batch(tasks, results, attempts), ws.complete of each task, in
 * array order, in one call that does all or nothing. What sets it apart is the number of
 * reads and writes, not the rules:
 *   1. it locks every process involved, in ascending id, so two batches cannot deadlock;
 *   2. it reads their active tasks, and the batch's tasks that are not active, with one
 *      snapshot under those locks;
 *   3. it makes one WsStep per process, which carries over from one completion of that
 *      process to the next, so that later completions see what earlier ones did;
 *   4. it runs each completion as the step it would be alone;
 *   5. it writes all the steps' changes in one write.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

#include "batch.h"
#include "calls.h"
#include "errors.h"
#include "flush.h"
#include "ws.h"

/* A process of the batch as locked */
typedef struct WsBatchProc
{
	int64		id;
	int64		workflow;
	WsProcState state;
	Jsonb	   *vars;
	Jsonb	   *tokens;
	int64		parent_task;	/* a child process: its calling task; else 0 */
	int64		root;			/* a child process: its tree's root; else 0 */
} WsBatchProc;

/* The arguments of a call */
typedef struct WsBatchArgs
{
	int			nt;				/* tasks */
	Datum	   *tasks;
	bool	   *tnulls;
	int			nr;				/* results: -1 when NULL */
	Datum	   *results;
	bool	   *rnulls;
	int			na;				/* attempts: -1 when NULL */
	Datum	   *attempts;
	bool	   *anulls;
} WsBatchArgs;

/* Record that step st (of a batch) gave task, of node ni, state. */
void
WsBatchTouch(WsStep *st, int64 task, int ni, WsTaskState state)
{
	WsBatch    *b = st->batch;
	int			i;

	Assert(b != NULL);
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

/* Array argument n (NULL: none, -1) of elemtype as datums and nulls; refuses more than 1-D. */
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

/* The call's arguments, checked: no NULL task, one result and one attempt per task. */
static void
WsBatchReadArgs(FunctionCallInfo fcinfo, WsBatchArgs *a)
{
	int			i;

	a->nt = WsArrayArg(fcinfo, 0, INT8OID, "tasks", &a->tasks, &a->tnulls);
	a->nr = WsArrayArg(fcinfo, 1, JSONBOID, "results", &a->results, &a->rnulls);
	a->na = WsArrayArg(fcinfo, 2, INT4OID, "attempts", &a->attempts, &a->anulls);
	if (a->nt < 0)
		WsErrNull("tasks");
	for (i = 0; i < a->nt; i++)
		if (a->tnulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("tasks must not contain null (element %d is)", i + 1)));
	if ((a->nr >= 0 && a->nr != a->nt) || (a->na >= 0 && a->na != a->nt))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("tasks has %d elements but %s has %d", a->nt,
						a->nr >= 0 && a->nr != a->nt ? "results" : "attempts",
						a->nr >= 0 && a->nr != a->nt ? a->nr : a->na),
				 errhint("Pass one result and one attempt per task, or NULL for none.")));
	for (i = 0; i < a->nr; i++)
		if (!a->rnulls[i])
			WsCheckObject(DatumGetJsonbP(a->results[i]), "result");
}

/* Order (tree, process) pairs */
static int
WsTreeCmp(const void *a, const void *b)
{
	const int64 *x = a,
			   *y = b;

	if (x[0] != y[0])
		return x[0] < y[0] ? -1 : 1;
	return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* Order batch processes by id */
static int
WsBatchProcCmp(const void *a, const void *b)
{
	int64		x = ((const WsBatchProc *) a)->id,
				y = ((const WsBatchProc *) b)->id;

	return x < y ? -1 : x > y;
}

/*
 * 1. Lock the processes of the tasks, tree by tree (a child's root first: engine.c,
 * LOCKING ORDER), in ascending id; returns them (in *procs, by id) and how many, and each
 * task's process (0: no such task) in tproc.
 */
static int
WsBatchLock(WsStore *store, WsBatchArgs *a, int64 *tproc, WsBatchProc **procs)
{
	int64	   *pid = palloc(sizeof(int64) * 2 * Max(a->nt, 1));	/* (tree, process) */
	WsBatchProc *p;
	int			np = 0,
				i,
				k;

	for (k = 0; k < a->nt; k++)
	{
		bool		isnull;
		Datum		d,
					root;

		/* a task never moves to another process, so any snapshot finds its process */
		if (!WsStoreFind(store, WS_TASK, &a->tasks[k], WS_LOCK_NONE))
			continue;
		tproc[k] = DatumGetInt64(WsStoreGet(store, WS_TASK, "process", &isnull));
		d = Int64GetDatum(tproc[k]);
		isnull = true;
		root = WsStoreFind(store, WS_PROCESS, &d, WS_LOCK_NONE)
			? WsStoreGet(store, WS_PROCESS, "root", &isnull) : (Datum) 0;
		pid[2 * np] = isnull ? tproc[k] : DatumGetInt64(root);
		pid[2 * np + 1] = tproc[k];
		np++;
	}
	qsort(pid, np, sizeof(int64) * 2, WsTreeCmp);
	p = palloc(sizeof(WsBatchProc) * Max(np, 1));
	for (i = 0, k = 0; i < np; i++)
	{
		Datum		d = Int64GetDatum(pid[2 * i + 1]);
		Datum		root = Int64GetDatum(pid[2 * i]);
		bool		isnull;

		if (k > 0 && p[k - 1].id == pid[2 * i + 1])
			continue;			/* a repeat */
		if (pid[2 * i] != pid[2 * i + 1] && (i == 0 || pid[2 * i - 2] != pid[2 * i]))
			(void) WsStoreFind(store, WS_PROCESS, &root, WS_LOCK_UPDATE);	/* its tree's root */
		if (!WsStoreFind(store, WS_PROCESS, &d, WS_LOCK_UPDATE))
			continue;			/* deleted: its tasks do not exist */
		p[k].id = pid[2 * i + 1];
		p[k].parent_task = DatumGetInt64(WsStoreGet(store, WS_PROCESS, "parent_task", &isnull));
		if (isnull)
			p[k].parent_task = 0;
		p[k].root = p[k].parent_task ? pid[2 * i] : 0;
		p[k].workflow = DatumGetInt64(WsStoreGet(store, WS_PROCESS, "workflow", &isnull));
		p[k].state = WsProcStateOf(TextDatumGetCString(WsStoreGet(store, WS_PROCESS, "state", &isnull)));
		p[k].vars = DatumGetJsonbPCopy(WsStoreGet(store, WS_PROCESS, "params", &isnull));
		p[k].tokens = DatumGetJsonbPCopy(WsStoreGet(store, WS_PROCESS, "tokens", &isnull));
		k++;
	}
	qsort(p, k, sizeof(WsBatchProc), WsBatchProcCmp);
	*procs = p;
	return k;
}

/*
 * 2. Under the locks, with one snapshot: the active tasks of the np processes procs, and
 * the batch's tasks that are not active, sorted by (process, id); returns how many, in
 * *rows.
 */
static int
WsBatchRead(WsStore *store, WsBatchArgs *a, const int64 *tproc, WsBatchProc *procs, int np,
			WsLoadedTask **rows)
{
	int64	   *pid = palloc(sizeof(int64) * Max(np, 1));
	WsLoadedTask *trows;
	int			room = 0,
				n = 0,
				nactive,
				i,
				k;

	for (i = 0; i < np; i++)
		pid[i] = procs[i].id;
	trows = np > 0 ? WsLoadActive(store, pid, np, NULL, &n, &room) : NULL;
	nactive = n;
	for (k = 0; k < a->nt; k++)
	{
		WsLoadedTask key;
		bool		isnull;
		WsTaskState state;

		key.process = tproc[k];
		key.id = DatumGetInt64(a->tasks[k]);
		if ((tproc[k] != 0 && nactive > 0 &&
			 bsearch(&key, trows, nactive, sizeof(WsLoadedTask), WsLoadedTaskCmp) != NULL) ||
			!WsStoreFind(store, WS_TASK, &a->tasks[k], WS_LOCK_NONE))
			continue;			/* active (read above), or gone */
		state = WsTaskStateOf(TextDatumGetCString(WsStoreGet(store, WS_TASK, "state", &isnull)));
		if (WsTaskActive(state))
			continue;
		if (n == room)
		{
			room = Max(16, room * 2);
			trows = trows ? repalloc(trows, sizeof(WsLoadedTask) * room)
				: palloc(sizeof(WsLoadedTask) * room);
		}
		trows[n].process = DatumGetInt64(WsStoreGet(store, WS_TASK, "process", &isnull));
		trows[n].id = DatumGetInt64(a->tasks[k]);
		trows[n].node = DatumGetInt64(WsStoreGet(store, WS_TASK, "node", &isnull));
		trows[n].active = false;
		trows[n].state = state;
		trows[n].attempts = DatumGetInt32(WsStoreGet(store, WS_TASK, "attempts", &isnull));
		trows[n].group = 0;		/* read by WsTaskGroup when needed */
		trows[n].instance = 0;
		n++;
	}
	if (n > nactive)
		qsort(trows, n, sizeof(WsLoadedTask), WsLoadedTaskCmp);
	*rows = trows;
	return n;
}

/*
 * 3. A step per process of b, with its active tasks among rows (n of them). Reading a
 * graph drops the whole cache when definitions changed meanwhile, freeing the graphs of
 * the steps before: they are read again until no read dropped it, before anything uses
 * them. A version with processes never changes, so only where a graph lives moves.
 */
static void
WsBatchSteps(WsBatch *b, WsCaller *who, WsBatchProc *procs, int np, WsLoadedTask *rows, int n)
{
	int			i;

	b->nsteps = np;
	b->steps = palloc(sizeof(WsStep *) * Max(np, 1));
	for (i = 0; i < np; i++)
	{
		b->steps[i] = palloc(sizeof(WsStep));
		WsStepInit(b->steps[i], who, procs[i].id, procs[i].workflow, procs[i].state,
				   procs[i].vars, procs[i].tokens);
		b->steps[i]->batch = b;
		b->steps[i]->parent_task = procs[i].parent_task;
		b->steps[i]->root = procs[i].root;
	}
	for (;;)
	{
		uint64		generation = WsGraphGeneration();

		for (i = 0; i < np; i++)
			b->steps[i]->g = WsGetGraph(procs[i].workflow);
		if (WsGraphGeneration() == generation)
			break;
	}
	for (i = 0; i < n; i++)
	{
		WsStep	   *st = WsBatchStep(b, rows[i].process);

		if (st && rows[i].active)
			WsAddActiveOf(st, rows[i].id, WsNodeIndex(st->g, rows[i].node), rows[i].group,
						  rows[i].instance);
	}
}

/*
 * 4. The completion of task: as read (rows), or as an earlier step of the batch left it
 * (it may have created it), then as ws.complete would do it.
 */
static void
WsBatchComplete(WsBatch *b, WsCaller *who, WsLoadedTask *rows, int n, int64 task,
				Jsonb *result, bool has_attempt, int attempt)
{
	WsStep	   *st = NULL;
	WsTarget	target;
	int			i;

	memset(&target, 0, sizeof(target));
	target.id = task;
	target.node = -1;
	for (i = 0; i < n && rows[i].id != task; i++)
		;
	if (i < n && (st = WsBatchStep(b, rows[i].process)) != NULL)
	{
		target.node = WsNodeIndex(st->g, rows[i].node);
		target.state = rows[i].state;
		target.attempts = rows[i].attempts;
	}
	for (i = 0; i < b->ntouched && b->touched[i].task != task; i++)
		;
	if (i < b->ntouched)
	{
		st = b->touched[i].st;
		target.state = b->touched[i].state;
		if (b->touched[i].node >= 0)
			target.node = b->touched[i].node;
	}
	if (st == NULL || target.node < 0)
		WsErrNoTask(task);
	WsCheckMember(who, st->g->nodes[target.node].role, task, "complete");
	WsCompleteTask(st, &target, result, has_attempt, attempt);
}

PG_FUNCTION_INFO_V1(ws_complete_batch);

/* ws.complete_batch(tasks, results, attempts): see the top of this file. */
Datum
ws_complete_batch(PG_FUNCTION_ARGS)
{
	WsBatchArgs a;
	WsCaller	who;
	WsBatch		b;
	WsStore    *store;
	WsBatchProc *procs;
	WsLoadedTask *rows;
	int64	   *tproc;
	int			np,
				n,
				k;

	WsBatchReadArgs(fcinfo, &a);
	if (a.nt == 0)
	{
		/* nothing to do, but the same checks of the caller and the version */
		WsCallBegin(&who, fcinfo);
		WsCallEnd(&who);
		PG_RETURN_INT32(0);
	}
	WsCallBegin(&who, fcinfo);
	memset(&b, 0, sizeof(b));
	store = WsStoreBegin(&who);
	tproc = palloc0(sizeof(int64) * a.nt);
	np = WsBatchLock(store, &a, tproc, &procs);
	n = WsBatchRead(store, &a, tproc, procs, np, &rows);
	WsStoreEnd(store);
	WsBatchSteps(&b, &who, procs, np, rows, n);
	for (k = 0; k < a.nt; k++)
	{
		bool		has_attempt = a.na > 0 && !a.anulls[k];

		CHECK_FOR_INTERRUPTS();
		WsBatchComplete(&b, &who, rows, n, DatumGetInt64(a.tasks[k]),
						a.nr > 0 && !a.rnulls[k] ? DatumGetJsonbP(a.results[k]) : NULL,
						has_attempt, has_attempt ? DatumGetInt32(a.attempts[k]) : 0);
	}
	WsFlushSteps(b.steps, b.nsteps, true);
	WsCallEnd(&who);
	PG_RETURN_INT32(a.nt);
}
