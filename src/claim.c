/*
 * claim.c: the worker protocol. ws.claim takes ready tasks, ws.heartbeat extends a lease,
 * ws.progress reports how far a task has got.
 *
 * A claim reads the claim queue ws.ready and locks task rows only (like FOR UPDATE SKIP
 * LOCKED), never the process: two claimers skip each other's rows, and a claim never
 * waits for a step. See the locking order in engine.c for why moving ready -> running
 * outside the process lock is safe. It reads and writes its rows through store.c, with
 * no planned statement.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/timestamp.h"

#include "calls.h"
#include "errors.h"
#include "flush.h"
#include "graph.h"
#include "queries.h"
#include "states.h"
#include "store.h"
#include "ws.h"

/* Refuse a lease that is not a positive interval. */
static void
WsCheckLease(Interval *lease)
{
	if (lease->month < 0 || lease->day < 0 || lease->time < 0 ||
		(lease->month == 0 && lease->day == 0 && lease->time == 0))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("lease must be a positive interval"),
				 errhint("Pass something like '5 minutes'.")));
}

/* A task taken by WsClaimTasks, with what ws.claim returns of it. */
typedef struct WsClaimed
{
	int64		task;
	int64		process;
	int64		workflow;
	int64		node;
	Datum		action;
	Jsonb	   *pparams;
	Jsonb	   *tparams;
	int			attempt;
	TimestampTz lease_until;
} WsClaimed;

/* May who take a task of role (NULL: open to every ws user)? An unknown role: no one. */
static bool
WsMayTake(WsCaller *who, bool isnull, Datum role)
{
	Oid			roleid;

	if (isnull)
		return true;
	roleid = get_role_oid(NameStr(*DatumGetName(role)), true);
	return OidIsValid(roleid) && is_member_of_role(who->caller, roleid);
}

/* Move action a's walk to its next queued task (head[a]), or end it. */
static void
WsClaimAdvance(WsStoreScan **scans, int64 *head, int a)
{
	bool		isnull;

	if (WsStoreScanNext(scans[a]))
		head[a] = DatumGetInt64(WsStoreScanGet(scans[a], "task", &isnull));
	else
	{
		WsStoreScanEnd(scans[a]);
		scans[a] = NULL;
	}
}

/*
 * Start one walk of the claim queue per action (in task order), each at its first task;
 * an action named twice, or NULL, gets none.
 */
static void
WsClaimWalks(WsStore *store, Datum *actions, bool *actnulls, int nactions,
			 WsStoreScan **scans, int64 *head)
{
	int			a,
				b;

	for (a = 0; a < nactions; a++)
	{
		if (actnulls[a])
			continue;
		for (b = 0; b < a; b++)
			if (scans[b] && DatumGetBool(DirectFunctionCall2Coll(texteq, DEFAULT_COLLATION_OID,
																		actions[a], actions[b])))
				break;
		if (b < a)
			continue;			/* named twice */
		scans[a] = WsStoreScanBegin(store, WS_READY, NULL, &actions[a], 1, 0);
		WsClaimAdvance(scans, head, a);
	}
}

/* Is the store's task row in state s? */
static bool
WsTaskIs(WsStore *store, WsTaskState s)
{
	bool		isnull;

	return strcmp(TextDatumGetCString(WsStoreGet(store, WS_TASK, "state", &isnull)),
				  WsTaskStateName(s)) == 0;
}

/* Is the store's task row still a task of action (ws.migrate may have changed it)? */
static bool
WsTaskOf(WsStore *store, Datum action)
{
	bool		isnull;
	Datum		now = WsStoreGet(store, WS_TASK, "action", &isnull);

	return !isnull && DatumGetBool(DirectFunctionCall2Coll(texteq, C_COLLATION_OID, now, action));
}

/*
 * Can who take candidate task? It is read as of now (the walk may have gone on for a
 * while) and must be ready, of a role the caller is a member of; then it is locked,
 * unless another transaction holds or writes it, and checked again (still ready, still of
 * the action whose queue row led to it: ws.migrate may have moved it); then its process,
 * read after the lock, must be running. A step failing the process holds the task until
 * it commits (flush.c WsHoldActive), and a failure committed before the lock is seen:
 * no claim takes a task of a failed process. Afterwards the store holds the task row
 * (locked) and its process row.
 */
static bool
WsClaimCandidate(WsStore *store, WsCaller *who, Datum task, Datum action)
{
	Datum		process,
				role;
	bool		isnull,
				norole;

	WsStoreForgetSnapshot(store);
	if (!WsStoreFind(store, WS_TASK, &task, WS_LOCK_NONE) || !WsTaskIs(store, WS_TASK_READY))
		return false;
	process = WsStoreGet(store, WS_TASK, "process", &isnull);
	role = WsStoreGet(store, WS_TASK, "role", &norole);
	if (!WsMayTake(who, norole, role))
		return false;
	/* the task as read: no second lookup (the read snapshot is still the same) */
	if (!WsStoreLock(store, WS_TASK, WS_LOCK_UPDATE_SKIP) || !WsTaskIs(store, WS_TASK_READY) ||
		!WsTaskOf(store, action))
		return false;
	return WsStoreFind(store, WS_PROCESS, &process, WS_LOCK_NONE) &&
		strcmp(TextDatumGetCString(WsStoreGet(store, WS_PROCESS, "state", &isnull)),
			   WsProcStateName(WS_PROC_RUNNING)) == 0;
}

/*
 * Take the candidate task of action the store holds (WsClaimCandidate) for worker into
 * c: running with the next attempt and a lease until until (in ws.lease too); out of the
 * claim queue (its event is written once the node's name is known: ws_claim).
 */
static void
WsClaimTake(WsStore *store, WsCaller *who, Datum task, Datum action, const char *worker,
			Datum now, Datum until, WsClaimed *c)
{
	bool		isnull;

	c->task = DatumGetInt64(task);
	c->process = DatumGetInt64(WsStoreGet(store, WS_TASK, "process", &isnull));
	c->workflow = DatumGetInt64(WsStoreGet(store, WS_PROCESS, "workflow", &isnull));
	c->pparams = DatumGetJsonbPCopy(WsStoreGet(store, WS_PROCESS, "params", &isnull));
	c->node = DatumGetInt64(WsStoreGet(store, WS_TASK, "node", &isnull));
	c->action = PointerGetDatum(PG_DETOAST_DATUM_COPY(action));
	c->tparams = DatumGetJsonbPCopy(WsStoreGet(store, WS_TASK, "params", &isnull));
	c->attempt = DatumGetInt32(WsStoreGet(store, WS_TASK, "attempts", &isnull)) + 1;
	c->lease_until = DatumGetTimestampTz(until);

	WsStoreChange(store, WS_TASK);
	WsStoreSet(store, WS_TASK, "state", TEXTOID, CStringGetTextDatum(WsTaskStateName(WS_TASK_RUNNING)),
			   false);
	WsStoreSet(store, WS_TASK, "attempts", INT4OID, Int32GetDatum(c->attempt), false);
	WsStoreSet(store, WS_TASK, "started_at", TIMESTAMPTZOID, now, false);
	WsStoreSet(store, WS_TASK, "lease_until", TIMESTAMPTZOID, until, false);
	WsStoreSet(store, WS_TASK, "worker", TEXTOID, CStringGetTextDatum(worker), false);
	WsStoreSet(store, WS_TASK, "progress", NUMERICOID,
			   DirectFunctionCall1(int4_numeric, Int32GetDatum(0)), false);
	WsStoreUpdate(store, WS_TASK);
	WsWriteQueue(store, c->task, action, false, false);
	WsWriteLease(store, c->task, c->lease_until, true);
}

/*
 * Take up to max ready tasks of actions for worker, oldest (lowest id) first across the
 * actions. The candidates come from the claim queue ws.ready, one walk per action in
 * task order, merged; each is checked and locked (WsClaimCandidate), and taken
 * (WsClaimTake). Returns how many were taken, in *out (allocated here), by task id.
 */
static int
WsClaimTasks(WsCaller *who, Datum *actions, bool *actnulls, int nactions, const char *worker,
			 int max, Interval *lease, WsClaimed **out)
{
	WsStore    *store = WsStoreBegin(who);
	WsStoreScan **scans = palloc0(sizeof(WsStoreScan *) * Max(nactions, 1));
	int64	   *head = palloc0(sizeof(int64) * Max(nactions, 1));
	int			taken = -1;		/* the walk whose head was last taken: advance it */
	Datum		now = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	Datum		until = DirectFunctionCall2(timestamptz_pl_interval, now, IntervalPGetDatum(lease));
	int			room = Min(max, 1024);
	int			n = 0,
				a,
				b;

	*out = palloc(sizeof(WsClaimed) * room);
	WsClaimWalks(store, actions, actnulls, nactions, scans, head);
	while (n < max)
	{
		Datum		task;

		CHECK_FOR_INTERRUPTS();
		/* the oldest candidate of all the actions (a walk moves on only when needed) */
		if (taken >= 0)
			WsClaimAdvance(scans, head, taken);
		a = -1;
		for (b = 0; b < nactions; b++)
			if (scans[b] && (a < 0 || head[b] < head[a]))
				a = b;
		if (a < 0)
			break;
		task = Int64GetDatum(head[a]);
		taken = a;
		if (!WsClaimCandidate(store, who, task, actions[a]))
			continue;
		if (n == room)
		{
			room *= 2;
			*out = repalloc(*out, sizeof(WsClaimed) * room);
		}
		WsClaimTake(store, who, task, actions[a], worker, now, until, &(*out)[n++]);
	}
	for (a = 0; a < nactions; a++)
		if (scans[a])
			WsStoreScanEnd(scans[a]);
	WsStoreEnd(store);
	return n;
}

PG_FUNCTION_INFO_V1(ws_claim);

/*
 * ws.claim(actions, worker, max, lease): up to max ready tasks of those actions that the
 * caller may take, oldest first, now running under a lease.
 */
Datum
ws_claim(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	WsCaller	who;
	int			max,
				n,
				i,
				nactions;
	char	   *worker;
	Datum	   *actions;
	bool	   *actnulls;
	WsClaimed  *claimed;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("actions, worker, max and lease must not be null")));
	max = PG_GETARG_INT32(2);
	if (max < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("max must be at least 1, not %d", max)));
	WsCheckLease(PG_GETARG_INTERVAL_P(3));
	worker = text_to_cstring(PG_GETARG_TEXT_PP(1));
	if (worker[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("worker must name the claimer"),
				 errhint("Use something that identifies the worker process, like host:pid.")));

	InitMaterializedSRF(fcinfo, 0);
	WsCallBegin(&who, fcinfo);
	deconstruct_array(PG_GETARG_ARRAYTYPE_P(0), TEXTOID, -1, false, TYPALIGN_INT,
					  &actions, &actnulls, &nactions);
	n = WsClaimTasks(&who, actions, actnulls, nactions, worker, max,
					 PG_GETARG_INTERVAL_P(3), &claimed);
	for (i = 0; i < n; i++)
	{
		WsClaimed  *c = &claimed[i];
		Datum		out[7];
		bool		outnulls[7] = {false, false, false, false, false, false, false};
		WsGraph    *g = WsGetGraph(c->workflow);
		int			ni = WsNodeIndex(g, c->node);

		/* the node's name and params come from the workflow's cached graph */
		out[0] = Int64GetDatum(c->task);
		out[1] = Int64GetDatum(c->process);
		out[2] = CStringGetTextDatum(g->nodes[ni].name);
		out[3] = c->action;
		out[4] = JsonbPGetDatum(WsEffectiveParams(g, ni, c->pparams, c->tparams));
		out[5] = Int32GetDatum(c->attempt);
		out[6] = TimestampTzGetDatum(c->lease_until);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, out, outnulls);
	}
	/* the events, with each task's node and action (the graphs may query: after the claims) */
	if (n > 0 && WsKeepTaskEvent(WS_TASK_RUNNING))
	{
		WsStore    *store = WsStoreBegin(&who);

		for (i = 0; i < n; i++)
		{
			WsClaimed  *c = &claimed[i];
			WsGraph    *g = WsGetGraph(c->workflow);
			WsNode	   *node = &g->nodes[WsNodeIndex(g, c->node)];

			WsWriteEvent(store, c->process, c->task, WsTaskStateName(WS_TASK_RUNNING), who.actor,
						 psprintf("claimed by %s, attempt %d", worker, c->attempt), node->name, node->action);
		}
		WsStoreEnd(store);
	}
	WsCallEnd(&who);
	return (Datum) 0;
}

/*
 * Check that the caller may touch running task at attempt (when given); verb names the
 * call in errors. The UPDATE that follows re-checks state and attempt under the row lock.
 */
static void
WsCheckRunning(WsCaller *who, int64 task, bool has_attempt, int attempt, const char *verb)
{
	char	   *state;
	char	   *role;
	char	   *call;
	int			current;

	if (!WsQueryRunningTask(task, &state, &current, &role, &call))
		WsErrNoTask(task);
	WsCheckMember(who, role, task, verb);
	if (call != NULL)
		WsErrTaskState(verb, task, psprintf("calling workflow \"%s\"", call),
					   "A call activity's task has no worker: it ends when its child process ends.");
	if (WsTaskStateOf(state) != WS_TASK_RUNNING)
		WsErrTaskState(verb, task, state, "Only a running task has a lease and a progress.");
	if (has_attempt && attempt != current)
		WsErrStaleAttempt(task, attempt, current, "Stop working on it; the current claimer will report.");
}

/* The UPDATE re-checks under the row lock; a task that moved meanwhile is refused (40001). */
static void
WsCheckUpdated(int n, int64 task)
{
	if (n != 1)
		WsErrChanged(task, "It is no longer running at this attempt, or it was deleted.");
}

PG_FUNCTION_INFO_V1(ws_heartbeat);

/* ws.heartbeat(task, lease, attempt): a running task's lease now ends lease from now. */
Datum
ws_heartbeat(PG_FUNCTION_ARGS)
{
	int64		task = WsArgId(fcinfo, 0, "task");
	WsCaller	who;
	bool		has_attempt = !PG_ARGISNULL(2);
	int			attempt = has_attempt ? PG_GETARG_INT32(2) : 0;

	if (PG_ARGISNULL(1))
		WsErrNull("lease");
	WsCheckLease(PG_GETARG_INTERVAL_P(1));
	WsCallBegin(&who, fcinfo);
	WsCheckRunning(&who, task, has_attempt, attempt, "heartbeat");
	WsCheckUpdated(WsQueryHeartbeat(task, PG_GETARG_DATUM(1), has_attempt, attempt), task);
	WsCallEnd(&who);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ws_progress);

/* ws.progress(task, percent): how far a running task has got, 0 to 100. */
Datum
ws_progress(PG_FUNCTION_ARGS)
{
	int64		task = WsArgId(fcinfo, 0, "task");
	WsCaller	who;
	double		pct;

	if (PG_ARGISNULL(1))
		WsErrNull("percent");
	pct = DatumGetFloat8(DirectFunctionCall1(numeric_float8, PG_GETARG_DATUM(1)));
	if (!(pct >= 0 && pct <= 100))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("percent must be between 0 and 100, not %g", pct)));
	WsCallBegin(&who, fcinfo);
	WsCheckRunning(&who, task, false, 0, "report progress of");
	WsCheckUpdated(WsQueryProgress(task, PG_GETARG_DATUM(1)), task);
	WsCallEnd(&who);
	PG_RETURN_VOID();
}
