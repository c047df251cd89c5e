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
#include "ws.h"

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

static SPIPlanPtr plan_task_check, plan_heartbeat, plan_progress;

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
 * Take up to max ready tasks of actions for worker, oldest (lowest id) first across the
 * actions. The candidates come from the claim queue ws.ready, one walk per action in
 * task order, merged. A candidate is read first (still ready, its process running, the
 * caller a member of its role: a task that fails this is not locked), then locked
 * unless another transaction holds or writes it (SKIP LOCKED), and re-checked under the
 * lock. A taken task becomes running with a new attempt and lease, leaves the queue and
 * gets its event. Returns how many were taken, in *out (allocated here), by task id.
 */
static int
WsClaimTasks(WsCaller *who, Datum *actions, bool *actnulls, int nactions, const char *worker,
			 int max, Interval *lease, WsClaimed **out)
{
	WsStore    *store = WsStoreBegin();
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
	while (n < max)
	{
		Datum		task,
					process,
					state,
					role,
					keys[2];
		bool		isnull,
					norole;
		int			attempt;
		WsClaimed  *c;

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
		keys[0] = actions[a];
		keys[1] = task;
		taken = a;

		/* read (as of now: the walk may have gone on for a while), check, lock, check again */
		WsStoreForgetSnapshot(store);
		if (!WsStoreFind(store, WS_TASK, &task, WS_FIND_READ))
			continue;
		state = WsStoreGet(store, WS_TASK, "state", &isnull);
		process = WsStoreGet(store, WS_TASK, "process", &isnull);
		role = WsStoreGet(store, WS_TASK, "role", &norole);
		if (strcmp(TextDatumGetCString(state), "ready") != 0 || !WsMayTake(who, norole, role))
			continue;
		if (!WsStoreFind(store, WS_PROCESS, &process, WS_FIND_READ) ||
			strcmp(TextDatumGetCString(WsStoreGet(store, WS_PROCESS, "state", &isnull)),
				   "running") != 0)
			continue;
		/* the task as read: no second lookup (the read snapshot is still the same) */
		if (!WsStoreLock(store, WS_TASK, WS_FIND_SKIP) ||
			strcmp(TextDatumGetCString(WsStoreGet(store, WS_TASK, "state", &isnull)),
				   "ready") != 0)
			continue;

		if (n == room)
		{
			room *= 2;
			*out = repalloc(*out, sizeof(WsClaimed) * room);
		}
		c = &(*out)[n++];
		c->task = DatumGetInt64(task);
		c->process = DatumGetInt64(process);
		c->workflow = DatumGetInt64(WsStoreGet(store, WS_PROCESS, "workflow", &isnull));
		c->pparams = DatumGetJsonbPCopy(WsStoreGet(store, WS_PROCESS, "params", &isnull));
		c->node = DatumGetInt64(WsStoreGet(store, WS_TASK, "node", &isnull));
		c->action = PointerGetDatum(PG_DETOAST_DATUM_COPY(actions[a]));
		c->tparams = DatumGetJsonbPCopy(WsStoreGet(store, WS_TASK, "params", &isnull));
		attempt = DatumGetInt32(WsStoreGet(store, WS_TASK, "attempts", &isnull)) + 1;
		c->attempt = attempt;
		c->lease_until = DatumGetTimestampTz(until);

		WsStoreChange(store, WS_TASK);
		WsStoreSet(store, WS_TASK, "state", TEXTOID, CStringGetTextDatum("running"), false);
		WsStoreSet(store, WS_TASK, "attempts", INT4OID, Int32GetDatum(attempt), false);
		WsStoreSet(store, WS_TASK, "started_at", TIMESTAMPTZOID, now, false);
		WsStoreSet(store, WS_TASK, "lease_until", TIMESTAMPTZOID, until, false);
		WsStoreSet(store, WS_TASK, "worker", TEXTOID, CStringGetTextDatum(worker), false);
		WsStoreSet(store, WS_TASK, "progress", NUMERICOID,
				   DirectFunctionCall1(int4_numeric, Int32GetDatum(0)), false);
		WsStoreUpdate(store, WS_TASK);
		/* the task is locked: its queue row is ours to delete, no need to lock it */
		if (WsStoreFind(store, WS_READY, keys, WS_FIND_READ))
			WsStoreDelete(store, WS_READY);
		if (WsKeepEvent("running", true))
			WsWriteEvent(store, c->process, c->task, "running", who->actor,
						 psprintf("claimed by %s, attempt %d", worker, attempt));
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
	WsEnter(&who);
	SPI_connect();
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
	SPI_finish();
	WsLeave(&who);
	return (Datum) 0;
}

/*
 * Check that the caller may touch running task at attempt (when given); verb names the
 * call in errors. The UPDATE that follows re-checks state and attempt under the row lock.
 */
static void
WsCheckRunning(WsCaller *who, int64 task, bool has_attempt, int attempt, const char *verb)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(task)};
	char	   *state;
	char	   *role;
	int			current;

	if (WsRun(&plan_task_check,
			  "SELECT t.state, t.attempts, n.role::text, p.state FROM ws.task t "
			  "  JOIN ws.node n ON n.id = t.node JOIN ws.process p ON p.id = t.process "
			  " WHERE t.id = $1",
			  1, types, values, NULL, 1) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("task " INT64_FORMAT " does not exist", task)));
	state = WsGetText(0, 1);
	current = (int) WsGetInt64(0, 2, NULL);
	role = WsGetText(0, 3);
	WsCheckMember(who, role, task, verb);
	if (strcmp(state, "running") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot %s task " INT64_FORMAT ": it is %s", verb, task, state),
				 errhint("Only a running task has a lease and a progress.")));
	if (has_attempt && attempt != current)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("attempt %d of task " INT64_FORMAT " is no longer current", attempt, task),
				 errdetail("The task is at attempt %d: its lease ended and it was claimed again.", current),
				 errhint("Stop working on it; the current claimer will report.")));
}

/* The UPDATE re-checks under the row lock; a task that moved meanwhile is refused. */
static void
WsCheckUpdated(int n, int64 task, const char *verb)
{
	if (n != 1)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot %s task " INT64_FORMAT ": it changed state meanwhile", verb, task),
				 errhint("Its lease may have ended and another worker claimed it: drop this work.")));
}

PG_FUNCTION_INFO_V1(ws_heartbeat);

/* ws.heartbeat(task, lease, attempt): a running task's lease now ends lease from now. */
Datum
ws_heartbeat(PG_FUNCTION_ARGS)
{
	int64		task = WsArgId(fcinfo, 0, "task");
	Oid			types[3] = {INT8OID, INTERVALOID, INT4OID};
	Datum		values[3];
	char		nulls[3] = {' ', ' ', ' '};
	WsCaller	who;
	bool		has_attempt = !PG_ARGISNULL(2);
	int			attempt = has_attempt ? PG_GETARG_INT32(2) : 0;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("lease must not be null")));
	WsCheckLease(PG_GETARG_INTERVAL_P(1));
	WsEnter(&who);
	SPI_connect();
	WsCheckRunning(&who, task, has_attempt, attempt, "heartbeat");
	values[0] = Int64GetDatum(task);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = Int32GetDatum(attempt);
	if (!has_attempt)
		nulls[2] = 'n';
	WsCheckUpdated(WsRun(&plan_heartbeat,
						 "UPDATE ws.task SET lease_until = now() + $2 "
						 " WHERE id = $1 AND state = 'running' AND ($3 IS NULL OR attempts = $3)",
						 3, types, values, nulls, 0), task, "heartbeat");
	SPI_finish();
	WsLeave(&who);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ws_progress);

/* ws.progress(task, percent): how far a running task has got, 0 to 100. */
Datum
ws_progress(PG_FUNCTION_ARGS)
{
	int64		task = WsArgId(fcinfo, 0, "task");
	Oid			types[2] = {INT8OID, NUMERICOID};
	Datum		values[2];
	WsCaller	who;
	double		pct;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("percent must not be null")));
	pct = DatumGetFloat8(DirectFunctionCall1(numeric_float8, PG_GETARG_DATUM(1)));
	if (!(pct >= 0 && pct <= 100))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("percent must be between 0 and 100, not %g", pct)));
	WsEnter(&who);
	SPI_connect();
	WsCheckRunning(&who, task, false, 0, "report progress of");
	values[0] = Int64GetDatum(task);
	values[1] = PG_GETARG_DATUM(1);
	WsCheckUpdated(WsRun(&plan_progress,
						 "UPDATE ws.task SET progress = $2 WHERE id = $1 AND state = 'running'",
						 2, types, values, NULL, 0), task, "report progress of");
	SPI_finish();
	WsLeave(&who);
	PG_RETURN_VOID();
}
