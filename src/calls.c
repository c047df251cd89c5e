/*
 * calls.c: the way into ws from SQL.
 *
 * The engine's entry points (ws.start, ws.complete, ws.fail, ws.fill, ws.cancel,
 * ws.retry here; ws.complete_batch in batch.c, ws.take, ws.release and ws.assign in
 * people.c, ws.tick in timers.c, the worker protocol in claim.c) run between WsCallBegin
 * and WsCallEnd: the refusal of a read-only transaction, the version check and the switch
 * to the extension's owner (access.c), and SPI. Each is one step of one process (step.c),
 * or one per process.
 *
 * Every one of them writes, so each is refused first thing in a read-only transaction
 * (WsRefuseReadOnly), as PostgreSQL refuses an INSERT: the store writes rows through the
 * table access method, past the executor's own check, and a sequence value or a
 * notification would outlive the rollback of a write refused later. A hot standby runs
 * every transaction read-only, so this is also what makes ws calls there fail cleanly.
 *
 * ws's functions written in SQL and PL/pgSQL (definitions, validation, pictures, access,
 * pg_cron) are declared in schema ws as LANGUAGE C, symbol ws_call, and implemented by the
 * function of the same name and argument types in schema ws_internal, which users cannot
 * reach. ws_call calls its twin and lets any error through with its SQLSTATE, message,
 * detail and hint but without the CONTEXT (and QUERY) lines from inside ws: those name
 * ws's own PL/pgSQL functions, their line numbers and the SQL they run, which tell a user
 * nothing about what to change. (PL/pgSQL leaves the context out only for a RAISE in the
 * function called first; one ws function calling another, or a cast that fails, adds it.)
 * The error is raised again from ws_call, so the context of the caller's own functions
 * and statements, outside ws, is added as usual. The twin is looked up once per call
 * site and kept in fn_extra; a set-returning twin fills the caller's ReturnSetInfo itself
 * (PL/pgSQL returns sets in materialize mode). The twins are SECURITY DEFINER, so inside
 * them current_user is ws's owner; the role that called is recorded by the outermost
 * ws_call and read with ws_internal.caller().
 *
 * A function of schema ws declared VOLATILE writes, and its call is refused in a read-only
 * transaction before its twin runs, as the engine's entry points are. The ones that only
 * read (validate, lint, to_dot, process_dot, export) are declared STABLE, so they work in
 * a read-only transaction and on a hot standby. (Their twins stay VOLATILE, to see what an
 * inner call of the same query wrote, as in ws.to_dot(ws.define_dot(...)); should one
 * ever write, PostgreSQL's own check refuses its statement.)
 */
#include "postgres.h"

#include "access/xact.h"
#include "access/xlog.h"
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_proc.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "calls.h"
#include "children.h"
#include "queries.h"
#include "engine.h"
#include "errors.h"
#include "flush.h"
#include "forms.h"
#include "keys.h"
#include "messages.h"
#include "people.h"
#include "queries.h"
#include "timers.h"
#include "ws.h"

/* ---------- the engine's entry points ---------- */

/*
 * Refuse the call of function fn, which writes, in a read-only transaction (BEGIN READ
 * ONLY, default_transaction_read_only, a hot standby), as PreventCommandIfReadOnly does.
 */
static void
WsRefuseReadOnly(Oid fn)
{
	char	   *name;

	if (!XactReadOnly)
		return;
	name = get_func_name(fn);
	if (RecoveryInProgress())
		ereport(ERROR,
				(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
				 errmsg("cannot execute ws.%s() in a read-only transaction", name),
				 errdetail("This server is a hot standby: it replays the primary's changes, and every transaction on it is read-only."),
				 errhint("Call ws.%s() on the primary server; on a standby, only ws's functions that read work.",
						 name)));
	ereport(ERROR,
			(errcode(ERRCODE_READ_ONLY_SQL_TRANSACTION),
			 errmsg("cannot execute ws.%s() in a read-only transaction", name),
			 errdetail("ws.%s() writes, and this transaction is read-only (BEGIN READ ONLY, SET TRANSACTION READ ONLY or default_transaction_read_only).",
					   name),
			 errhint("Call it in a read-write transaction: BEGIN READ WRITE, or SET default_transaction_read_only = off first.")));
}

/*
 * Begin an engine call of the SQL function fcinfo calls: refuse a read-only transaction,
 * check the version, record the caller, become the owner, SPI.
 */
void
WsCallBegin(WsCaller *who, FunctionCallInfo fcinfo)
{
	WsRefuseReadOnly(fcinfo->flinfo->fn_oid);
	if (!WsAnyStepOpen())
		WsCallsBegin();			/* a top-level call: ws.max_steps counts from here */
	WsEnter(who);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "ws: SPI_connect failed");
}

/* End an engine call: SPI, then the caller again. */
void
WsCallEnd(WsCaller *who)
{
	WsCallStepsClosed(who);
	SPI_finish();
	WsLeave(who);
}

/* Refuse a stale attempt (fencing). */
static void
WsCheckAttempt(WsTarget *target, bool has_attempt, int attempt)
{
	if (has_attempt && attempt != target->attempts)
		WsErrStaleAttempt(target->id, attempt, target->attempts,
						  "Drop this result; the current claimer will report.");
}

/* For complete and fail: a running task, or a pending task of a person (no action). */
static void
WsCheckActionable(WsStep *st, WsTarget *target, const char *verb)
{
	WsNode	   *n = &st->g->nodes[target->node];

	if (n->call && WsTaskActive(target->state))
	{
		char	   *state;
		int			started;
		int64		child = WsQueryChild(target->id, &state, &started);

		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot %s task " INT64_FORMAT ": it calls workflow \"%s\" and ends when its child process " INT64_FORMAT " ends",
						verb, target->id, n->call, child),
				 errhint("Act on the child process " INT64_FORMAT "; cancelling the parent cancels it.", child)));
	}
	if (target->state == WS_TASK_RUNNING || (target->state == WS_TASK_PENDING && n->action == NULL))
		return;
	WsErrTaskState(verb, target->id, WsTaskStateName(target->state),
				   target->state == WS_TASK_PENDING
				   ? "Supply its missing parameters with ws.fill(); a worker then claims it."
				   : target->state == WS_TASK_READY
				   ? "Claim it first with ws.claim()."
				   : "Only a running task, or a pending task of a person, can be ended.");
}

/*
 * Complete the target task (of st's locked process, the caller's role already checked)
 * with result (NULL: {}), refusing a stale attempt when has_attempt; then the end of the
 * step but its write (WsStepFinish), which the caller makes.
 */
void
WsCompleteTask(WsStep *st, WsTarget *target, Jsonb *result, bool has_attempt, int attempt)
{
	WsRequireRunning(st);
	WsCheckActionable(st, target, "complete");
	WsCheckAssignee(st, target, "complete");
	WsCheckAttempt(target, has_attempt, attempt);
	WsSucceed(st, target->node, target->id, result);
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
	WsTarget	target;

	WsCheckObject(result, "result");
	WsCallBegin(&who, fcinfo);
	WsTargetStep(&st, &who, task, &target, "complete");
	WsCompleteTask(&st, &target, result, !PG_ARGISNULL(2), PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2));
	WsFlush(&st, true);
	WsCallEnd(&who);
	PG_RETURN_VOID();
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
	WsTarget	target;
	WsNode	   *n;

	if (PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("error must not be null"),
				 errhint("Say why the task failed; it is kept on the task and in ws.event.")));
	error = text_to_cstring(PG_GETARG_TEXT_PP(1));
	WsCallBegin(&who, fcinfo);
	WsTargetStep(&st, &who, task, &target, "fail");
	n = &st.g->nodes[target.node];
	WsRequireRunning(&st);
	WsCheckActionable(&st, &target, "fail");
	WsCheckAssignee(&st, &target, "fail");
	WsCheckAttempt(&target, !PG_ARGISNULL(2), PG_ARGISNULL(2) ? 0 : PG_GETARG_INT32(2));
	if (n->action != NULL)
		WsAttemptFailed(&st, target.node, task, target.attempts, error, NULL);
	else
		WsTaskFailed(&st, target.node, task, error);	/* a person's task: no retries */
	WsStepEnd(&st);
	WsCallEnd(&who);
	PG_RETURN_VOID();
}

/* Append "name" to buf, comma-separated. */
static void
WsAppendKey(StringInfo buf, const char *name, int len)
{
	appendStringInfo(buf, "%s\"%.*s\"", buf->len ? ", " : "", len, name);
}

/*
 * Refuse (22023) a fill of task, of node n, that sets anything but the parameters of its
 * action's form that the workflow's and the node's params leave open: a value either of
 * them fixes is the designer's, and a task's own params would override it. Process
 * variables fix nothing (a fill may correct a start param of the wrong type).
 */
static void
WsCheckFillKeys(WsStep *st, WsNode *n, Jsonb *params, int64 task)
{
	StringInfoData all,
				by_node,
				by_workflow,
				no_field,
				open;
	JsonbIterator *it = JsonbIteratorInit(&params->root);
	JsonbValue	v;
	JsonbIteratorToken r;
	int			nrefused = 0;
	int			i;

	initStringInfo(&all);
	initStringInfo(&by_node);
	initStringInfo(&by_workflow);
	initStringInfo(&no_field);
	while ((r = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		char	   *key;
		int			len;

		if (r != WJB_KEY)
			continue;
		key = v.val.string.val;
		len = v.val.string.len;
		if (getKeyJsonValueFromContainer(&n->params->root, key, len, NULL))
			WsAppendKey(&by_node, key, len);
		else if (getKeyJsonValueFromContainer(&st->g->params->root, key, len, NULL))
			WsAppendKey(&by_workflow, key, len);
		else if (!WsFormHas(n->form, pnstrdup(key, len)))
			WsAppendKey(&no_field, key, len);
		else
			continue;
		WsAppendKey(&all, key, len);
		nrefused++;
	}
	if (nrefused == 0)
		return;

	initStringInfo(&open);
	for (i = 0; n->form && i < n->form->nfields; i++)
	{
		const char *f = n->form->fields[i].name;

		if (!getKeyJsonValueFromContainer(&n->params->root, f, strlen(f), NULL) &&
			!getKeyJsonValueFromContainer(&st->g->params->root, f, strlen(f), NULL))
			WsAppendKey(&open, f, strlen(f));
	}
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("cannot fill %s %s of task " INT64_FORMAT,
					nrefused == 1 ? "parameter" : "parameters", all.data, task),
			 errdetail("%s%s%s%s%s",
					   by_node.len ? psprintf("Node \"%s\" fixes %s.", n->name, by_node.data) : "",
					   by_node.len && (by_workflow.len || no_field.len) ? " " : "",
					   by_workflow.len ? psprintf("Workflow \"%s\" fixes %s.", st->g->name, by_workflow.data) : "",
					   by_workflow.len && no_field.len ? " " : "",
					   !no_field.len ? ""
					   : n->form ? psprintf("The form of action \"%s\" has no %s.", n->action, no_field.data)
					   : psprintf("Action \"%s\" has no form.", n->action)),
			 open.len
			 ? errhint("A fill sets only the parameters of the action's form that the workflow and the node leave open: %s.",
					   open.data)
			 : n->form
			 ? errhint("The workflow and the node fix every parameter of the action's form, so nothing of this task can be filled: an administrator cancels its process (ws.cancel), to start it again with right values.")
			 : errhint("SELECT ws.fill(" INT64_FORMAT ", '{}') checks the task against its action again.", task)));
}

PG_FUNCTION_INFO_V1(ws_fill);

/*
 * ws.fill(task, params): a member of the node's role supplies parameters of a pending
 * task: only the action's form parameters that the workflow and the node leave open.
 * Values are checked against the form, merged into the task's params, and the task
 * becomes ready once nothing is missing or of the wrong type.
 */
Datum
ws_fill(PG_FUNCTION_ARGS)
{
	int64		task = WsArgId(fcinfo, 0, "task");
	Jsonb	   *params = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	WsCaller	who;
	WsStep		st;
	WsTarget	target;
	WsNode	   *n;
	char	   *problems;

	if (params == NULL)
		WsErrNull("params");
	WsCheckObject(params, "params");
	WsCallBegin(&who, fcinfo);
	WsTargetStep(&st, &who, task, &target, "fill");
	n = &st.g->nodes[target.node];
	WsRequireRunning(&st);
	if (target.state != WS_TASK_PENDING || n->action == NULL)
		WsErrTaskState("fill", task,
					   target.state == WS_TASK_PENDING ? "a human task without an action"
					   : WsTaskStateName(target.state),
					   "Only a pending task whose action misses parameters can be filled.");
	WsCheckAssignee(&st, &target, "fill");
	WsCheckFillKeys(&st, n, params, task);
	problems = WsFormProblems(n->form, params, n->action, false);
	if (problems)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s", problems),
				 errhint("%s", WsFieldTypeHint(n->form, params))));
	target.params = WsJsonbConcat(target.params, params);
	WsQuerySetTaskParams(task, target.params);
	WsProceed(&st, target.node, task, target.params, target.state);
	WsStepEnd(&st);
	WsCallEnd(&who);
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

	WsCallBegin(&who, fcinfo);
	WsStepLock(&st, &who, process, false);
	if (st.state != WS_PROC_RUNNING && st.state != WS_PROC_FAILED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("process " INT64_FORMAT " is already %s", process, WsProcStateName(st.state)),
				 errhint("Only a running or failed process can be cancelled.")));
	WsEndProcess(&st, WS_PROC_CANCELLED, NULL,
				 reason ? psprintf("cancelled: %s", reason) : "cancelled");
	WsStepEnd(&st);
	WsCallEnd(&who);
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
	WsTarget	target;

	WsCallBegin(&who, fcinfo);
	WsTargetStep(&st, &who, task, &target, "retry");
	if (target.state != WS_TASK_FAILED)
		WsErrTaskState("retry", task, WsTaskStateName(target.state),
					   "Only a failed task can be retried.");
	if (st.state == WS_PROC_CANCELLED || st.state == WS_PROC_COMPLETED)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("cannot retry task " INT64_FORMAT ": its process " INT64_FORMAT " is %s",
						task, st.process, WsProcStateName(st.state))));
	if (st.parent_task != 0)
	{
		WsTarget	caller;
		int64		node;
		char	   *state;

		/* a child whose calling task has ended would complete for nobody */
		if (WsQueryTask(st.parent_task, &node, &state, &caller.attempts, &caller.params,
						&caller.due_at, &caller.lease_until, &caller.deadline_at, false) &&
			!WsTaskActive(WsTaskStateOf(state)))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("cannot retry task " INT64_FORMAT ": its process " INT64_FORMAT " is a child whose calling task " INT64_FORMAT " is %s",
							task, st.process, st.parent_task, state),
					 errhint("Retry the calling task " INT64_FORMAT ": it starts a new child process.",
							 st.parent_task)));
	}
	if (st.state == WS_PROC_FAILED)
	{
		st.state = WS_PROC_RUNNING;
		WsStepProcEvent(&st, WS_PROC_RUNNING, psprintf("task " INT64_FORMAT " retried", task));
		WsProceed(&st, target.node, task, target.params, target.state);
		WsResumeAfterFailure(&st);
	}
	else
		WsProceed(&st, target.node, task, target.params, target.state);
	WsStepEnd(&st);
	WsCallEnd(&who);
	PG_RETURN_VOID();
}

/*
 * The workflow version a start takes: wf, or (name not NULL) the newest version named
 * *name visible now, by its (name, version) key. It is locked FOR KEY SHARE against
 * deletion (what the foreign key check of the process row would take; the store leaves
 * that check out) and checked to be valid (once a backend, while its graph is cached).
 */
static WsGraph *
WsStartVersion(WsStore *store, int64 wf, Datum *name, int64 *version)
{
	Datum		key;
	WsGraph    *g;

	if (name != NULL)
	{
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
	key = Int64GetDatum(wf);
	if (!WsStoreFind(store, WS_WORKFLOW, &key, WS_LOCK_KEY_SHARE))
		WsErrNoWorkflow(wf);
	g = WsGetGraph(wf);
	if (!g->validated)
	{
		char	   *problems = WsQueryProblems(wf);

		if (problems)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("workflow \"%s\" version %d is not valid", g->name, g->version),
					 errdetail("%s", problems),
					 errhint("An administrator sees the problems with SELECT * FROM ws.validate(" INT64_FORMAT ") and defines a corrected version.", wf)));
		g->validated = true;
	}
	*version = wf;
	return g;
}

/*
 * Insert the row of a new process of workflow wf with params and key (NULL: none), a
 * child of parent_task in the tree of root (both 0: a top-level process); returns its id.
 */
static int64
WsInsertProcess(WsStore *store, WsCaller *who, int64 wf, Jsonb *params, text *key, int64 parent_task,
				int64 root)
{
	int64		process = WsStoreNextId(WS_PROCESS);

	WsStoreNew(store, WS_PROCESS);
	WsStoreSet(store, WS_PROCESS, "id", INT8OID, Int64GetDatum(process), false);
	WsStoreSet(store, WS_PROCESS, "workflow", INT8OID, Int64GetDatum(wf), false);
	WsStoreSet(store, WS_PROCESS, "state", TEXTOID,
			   CStringGetTextDatum(WsProcStateName(WS_PROC_RUNNING)), false);
	WsStoreSet(store, WS_PROCESS, "params", JSONBOID, JsonbPGetDatum(params), false);
	WsStoreSet(store, WS_PROCESS, "tokens", JSONBOID, JsonbPGetDatum(WsEmptyJsonb()), false);
	WsStoreSet(store, WS_PROCESS, "started_at", TIMESTAMPTZOID,
			   TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()), false);
	WsStoreSet(store, WS_PROCESS, "started_by", NAMEOID, WsNameDatum(who->actor), false);
	if (key != NULL)
		WsStoreSet(store, WS_PROCESS, "key", TEXTOID, PointerGetDatum(key), false);
	if (parent_task != 0)
	{
		WsStoreSet(store, WS_PROCESS, "parent_task", INT8OID, Int64GetDatum(parent_task), false);
		WsStoreSet(store, WS_PROCESS, "root", INT8OID, Int64GetDatum(root), false);
	}
	WsStoreInsert(store, WS_PROCESS);
	return process;
}

/*
 * Start a process of workflow version wf, or (name not NULL) of the newest version named
 * *name: its row, then every start node activated in ascending node id, as one step. A
 * top-level process that has failed already by the end of the step raises a WARNING; a
 * child process (of parent_task, in the tree of root) hands its end back (children.c).
 * With a key that a process of the workflow's name carries already, that process, and
 * nothing starts (keys.c).
 */
static int64
WsStartProcess(WsCaller *who, int64 wf, Datum *name, Jsonb *params, text *key, int64 parent_task,
			   int64 root)
{
	WsStore    *store = WsStoreBegin(who);
	WsStep		st;
	int64		process;
	int			i;
	WsGraph    *g = WsStartVersion(store, wf, name, &wf);

	if (key != NULL && (process = WsKeyProcess(g->name, key)) != 0)
	{
		WsStoreEnd(store);
		return process;
	}
	process = WsInsertProcess(store, who, wf, params, key, parent_task, root);
	WsStoreEnd(store);

	/* the row just inserted holds what the step starts from: no write unless it changes */
	WsStepInit(&st, who, process, wf, WS_PROC_RUNNING, params, NULL);
	st.active_loaded = true;	/* a new process: no task yet */
	st.parent_task = parent_task;
	st.root = root;
	WsStepProcEvent(&st, WS_PROC_RUNNING,
					parent_task
					? psprintf("started workflow \"%s\" version %d, called by task " INT64_FORMAT,
							   st.g->name, st.g->version, parent_task)
					: psprintf("started workflow \"%s\" version %d", st.g->name, st.g->version));
	for (i = 0; i < st.g->nnodes && !st.ended; i++)
		if (st.g->nodes[i].is_start)
			WsActivate(&st, i);
	WsStepEnd(&st);
	if (st.ended && st.state == WS_PROC_FAILED && parent_task == 0)
		ereport(WARNING,
				(errmsg("process " INT64_FORMAT " of workflow \"%s\" failed as it started", process,
						st.g->name),
				 errdetail("%s", st.error),
				 errhint("SELECT ws.process_dot(" INT64_FORMAT ") shows where it stopped.", process)));
	return process;
}

/* Start a child process of the newest version of workflow for calling task parent_task. */
int64
WsStartChild(WsCaller *who, const char *workflow, Jsonb *params, int64 parent_task, int64 root)
{
	Datum		name = CStringGetTextDatum(workflow);

	return WsStartProcess(who, 0, &name, params, NULL, parent_task, root);
}

PG_FUNCTION_INFO_V1(ws_start);

/* ws.start(workflow bigint, params, key): a new process of that workflow version. */
Datum
ws_start(PG_FUNCTION_ARGS)
{
	int64		wf = WsArgId(fcinfo, 0, "workflow");
	Jsonb	   *params = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	text	   *key = WsKeyArg(fcinfo, 2);
	WsCaller	who;
	int64		process;

	WsCheckObject(params, "params");
	WsCallBegin(&who, fcinfo);
	process = WsStartProcess(&who, wf, NULL, params ? params : WsEmptyJsonb(), key, 0, 0);
	WsCallEnd(&who);
	PG_RETURN_INT64(process);
}

PG_FUNCTION_INFO_V1(ws_start_by_name);

/* ws.start(workflow text, params, key): a new process of the newest version of that name. */
Datum
ws_start_by_name(PG_FUNCTION_ARGS)
{
	Jsonb	   *params = PG_ARGISNULL(1) ? NULL : PG_GETARG_JSONB_P(1);
	Datum		name = PG_GETARG_DATUM(0);
	text	   *key = WsKeyArg(fcinfo, 2);
	WsCaller	who;
	int64		process;

	if (PG_ARGISNULL(0))
		WsErrNull("workflow name");
	WsCheckObject(params, "params");
	WsCallBegin(&who, fcinfo);
	process = WsStartProcess(&who, 0, &name, params ? params : WsEmptyJsonb(), key, 0, 0);
	WsCallEnd(&who);
	PG_RETURN_INT64(process);
}

/* ---------- ws's SQL and PL/pgSQL functions ---------- */

/*
 * The oid of ws_internal.<name of fn>(<its argument types>), looked up in the catalog
 * directly: the caller has no USAGE on ws_internal, which a lookup by name would check.
 */
static Oid
WsInternalTwin(Oid fn)
{
	HeapTuple	tup = SearchSysCache1(PROCOID, ObjectIdGetDatum(fn));
	HeapTuple	twin;
	Form_pg_proc proc;
	Oid			oid;

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "ws: cache lookup failed for function %u", fn);
	proc = (Form_pg_proc) GETSTRUCT(tup);
	twin = SearchSysCache3(PROCNAMEARGSNSP, NameGetDatum(&proc->proname),
						   PointerGetDatum(&proc->proargtypes),
						   ObjectIdGetDatum(get_namespace_oid("ws_internal", false)));
	if (!HeapTupleIsValid(twin))
		elog(ERROR, "ws: function ws_internal.%s is missing", NameStr(proc->proname));
	oid = ((Form_pg_proc) GETSTRUCT(twin))->oid;
	ReleaseSysCache(twin);
	ReleaseSysCache(tup);
	return oid;
}

static Oid	ws_caller = InvalidOid;	/* InvalidOid: not inside ws_call */

/* A call site's twin, kept in its fn_extra */
typedef struct WsTwin
{
	FmgrInfo	fn;
	bool		writes;			/* the called function is VOLATILE: refused when read-only */
} WsTwin;

PG_FUNCTION_INFO_V1(ws_call);

/* Call the ws_internal twin of the called function; its errors lose their context. */
Datum
ws_call(PG_FUNCTION_ARGS)
{
	WsTwin	   *twin = (WsTwin *) fcinfo->flinfo->fn_extra;
	MemoryContext cxt = CurrentMemoryContext;
	LOCAL_FCINFO(inner, FUNC_MAX_ARGS);
	Datum		result;
	Oid			outer = ws_caller;

	if (twin == NULL)
	{
		Oid			oid = WsInternalTwin(fcinfo->flinfo->fn_oid);

		twin = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(WsTwin));
		fmgr_info_cxt(oid, &twin->fn, fcinfo->flinfo->fn_mcxt);
		twin->writes = func_volatile(fcinfo->flinfo->fn_oid) == PROVOLATILE_VOLATILE;
		fcinfo->flinfo->fn_extra = twin;
	}
	if (twin->writes)
		WsRefuseReadOnly(fcinfo->flinfo->fn_oid);
	InitFunctionCallInfoData(*inner, &twin->fn, fcinfo->nargs, fcinfo->fncollation,
							 fcinfo->context, fcinfo->resultinfo);
	memcpy(inner->args, fcinfo->args, sizeof(NullableDatum) * fcinfo->nargs);
	if (!OidIsValid(outer))
		ws_caller = GetUserId();
	PG_TRY();
	{
		result = FunctionCallInvoke(inner);
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		ws_caller = outer;
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		edata->context = NULL;
		edata->internalquery = NULL;
		edata->internalpos = 0;
		ThrowErrorData(edata);	/* the callers' own context is added again */
	}
	PG_END_TRY();
	ws_caller = outer;
	fcinfo->isnull = inner->isnull;
	return result;
}

PG_FUNCTION_INFO_V1(ws_caller_name);

/* ws_internal.caller(): the role that called ws, or current_user outside a ws call */
Datum
ws_caller_name(PG_FUNCTION_ARGS)
{
	Name		n = palloc0(NAMEDATALEN);

	namestrcpy(n, GetUserNameFromId(OidIsValid(ws_caller) ? ws_caller : GetUserId(), false));
	PG_RETURN_NAME(n);
}
