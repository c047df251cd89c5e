/*
 * claim.c: the worker protocol. ws.claim takes ready tasks, ws.heartbeat extends a lease,
 * ws.progress reports how far a task has got.
 *
 * A claim reads the claim queue ws.ready and locks task rows only (FOR UPDATE SKIP
 * LOCKED), never the process: two claimers skip each other's rows, and a claim never
 * waits for a step. See the locking order in engine.c for why moving ready -> running
 * outside the process lock is safe.
 */
#include "ws.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

static SPIPlanPtr plan_claim, plan_task_check, plan_heartbeat, plan_progress;

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

PG_FUNCTION_INFO_V1(ws_claim);

/*
 * ws.claim(actions, worker, max, lease): up to max ready tasks of those actions that the
 * caller may take, oldest first, now running under a lease.
 */
Datum
ws_claim(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			types[6] = {TEXTARRAYOID, TEXTOID, INT4OID, INTERVALOID, NAMEOID, BOOLOID};
	Datum		values[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	NameData	actor;
	WsCaller	who;
	int			max,
				n,
				i;
	char	   *worker;
	SPITupleTable *tt;

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
	namestrcpy(&actor, who.actor);
	values[0] = PG_GETARG_DATUM(0);
	values[1] = PG_GETARG_DATUM(1);
	values[2] = Int32GetDatum(max);
	values[3] = PG_GETARG_DATUM(3);
	values[4] = NameGetDatum(&actor);
	values[5] = BoolGetDatum(WsKeepEvent("running", true));
	n = WsRun(&plan_claim,
			  /*
			   * Per action, the oldest ready tasks from the claim queue ws.ready (its key
			   * is (action, task)). Each is locked through its ws.task row, found by
			   * primary key in a LATERAL subquery (FOR UPDATE keeps the planner from
			   * flattening it into a join it could reorder), and re-checked there: still
			   * ready, its process running (a scalar subquery: one primary key lookup),
			   * and the caller a member of the task's role (the task's copy of its
			   * node's). Candidates locked by other claimers are checked too before they
			   * are skipped, so these checks are what claimers pay for contention. The
			   * task rows are updated by primary key (they are locked, so still ready)
			   * and the queue rows deleted by ctid; c has locked the task rows by then,
			   * and every writer of ws.ready locks the task first (see WsFlush).
			   */
			  "WITH c AS ("
			  "  SELECT x.id, x.rc FROM pg_catalog.unnest($1) a(action) CROSS JOIN LATERAL ("
			  "    SELECT k.id, r.rc "
			  "      FROM (SELECT q.task, q.ctid AS rc FROM ws.ready q "
			  "             WHERE q.action = a.action ORDER BY q.task) r "
			  "     CROSS JOIN LATERAL ("
			  "       SELECT t.id FROM ws.task t "
			  "        WHERE t.id = r.task AND t.state = 'ready' "
			  "          AND (SELECT p.state FROM ws.process p WHERE p.id = t.process) = 'running' "
			  "          AND (t.role IS NULL OR EXISTS (SELECT FROM pg_catalog.pg_roles o "
			  "                 WHERE o.rolname = t.role AND pg_catalog.pg_has_role($5, o.oid, 'MEMBER'))) "
			  "          FOR UPDATE SKIP LOCKED) k "
			  "     ORDER BY r.task LIMIT $3) x "
			  "  ORDER BY x.id LIMIT $3), "
			  "u AS ("
			  "  UPDATE ws.task t SET state = 'running', attempts = t.attempts + 1, "
			  "         started_at = now(), lease_until = now() + $4, worker = $2, progress = 0 "
			  "   WHERE t.id = ANY (ARRAY(SELECT id FROM c)) "
			  "  RETURNING t.id, t.process, t.node, t.action, t.params, t.attempts, t.lease_until), "
			  "d AS ("
			  "  DELETE FROM ws.ready WHERE ctid = ANY (ARRAY(SELECT rc FROM c))), "
			  "e AS ("
			  "  INSERT INTO ws.event (process, task, state, actor, detail) "
			  "  SELECT process, id, 'running', $5, 'claimed by ' || $2 || ', attempt ' || attempts FROM u WHERE $6) "
			  "SELECT u.id, u.process, p.workflow, u.node, u.action, p.params, u.params, "
			  "       u.attempts, u.lease_until "
			  "  FROM u JOIN ws.process p ON p.id = u.process ORDER BY u.id",
			  6, types, values, nulls, 0);
	/* WsGetGraph may run queries of its own: keep hold of this result */
	tt = SPI_tuptable;
	for (i = 0; i < n; i++)
	{
		HeapTuple	tup = tt->vals[i];
		Datum		out[7];
		bool		outnulls[7] = {false, false, false, false, false, false, false};
		bool		isnull;
		WsGraph    *g = WsGetGraph(DatumGetInt64(SPI_getbinval(tup, tt->tupdesc, 3, &isnull)));
		int			ni = WsNodeIndex(g, DatumGetInt64(SPI_getbinval(tup, tt->tupdesc, 4, &isnull)));
		Jsonb	   *pparams = DatumGetJsonbP(SPI_getbinval(tup, tt->tupdesc, 6, &isnull));
		Jsonb	   *tparams = DatumGetJsonbP(SPI_getbinval(tup, tt->tupdesc, 7, &isnull));

		/* the node's name and params come from the workflow's cached graph */
		out[0] = SPI_getbinval(tup, tt->tupdesc, 1, &outnulls[0]);
		out[1] = SPI_getbinval(tup, tt->tupdesc, 2, &outnulls[1]);
		out[2] = CStringGetTextDatum(g->nodes[ni].name);
		out[3] = SPI_getbinval(tup, tt->tupdesc, 5, &outnulls[3]);
		out[4] = JsonbPGetDatum(WsEffectiveParams(g, ni, pparams, tparams));
		out[5] = SPI_getbinval(tup, tt->tupdesc, 8, &outnulls[5]);
		out[6] = SPI_getbinval(tup, tt->tupdesc, 9, &outnulls[6]);
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
				 errhint("Its lease may have ended; check ws.task.")));
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
