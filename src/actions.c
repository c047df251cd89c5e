/*
 * actions.c: SQL actions. An action registered with a function (ws.register_action(...,
 * function)) is run by the engine itself, inside the step, when one of its tasks becomes
 * ready: the task is running (attempt n), the function gets the task's effective params
 * and runs in a subtransaction, as the role that registered it (ws.action.owner; a
 * SECURITY DEFINER function as its own owner, as PostgreSQL does) with the search_path a
 * new session of that role would have (unless the function sets its own). An object
 * result completes the task and the step goes on; an error rolls the function's work back
 * to the subtransaction's start and fails the task (with retries and back-off as for a
 * worker), its SQLSTATE in the event's detail. No claim, no lease, no ws_ready.
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/syscache.h"

#include "actions.h"
#include "engine.h"
#include "queries.h"
#include "ws.h"

/* The search_path of the last role asked for, in this transaction */
static Oid	ws_path_role = InvalidOid;
static LocalTransactionId ws_path_xact = InvalidLocalTransactionId;
static char *ws_path = NULL;

/* The search_path a new session of role would have in this database */
static const char *
WsRoleSearchPath(Oid role)
{
	if (role != ws_path_role || ws_path_xact != MyProc->lxid)
	{
		char	   *path = WsQueryRoleSearchPath(role);

		if (ws_path)
			pfree(ws_path);
		ws_path = MemoryContextStrdup(TopMemoryContext, path);
		ws_path_role = role;
		ws_path_xact = MyProc->lxid;
	}
	return ws_path;
}

/*
 * Call the function of node n's action with params, as its owner, in a subtransaction.
 * True with its result in *result (NULL: SQL NULL); false with the error's message and
 * SQLSTATE when it raised (its work is rolled back).
 */
static bool
WsCallAction(WsNode *n, Jsonb *params, Jsonb **result, char **error, char **sqlstate)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	const char *path;
	Oid			saved_user;
	int			saved_sec;
	volatile bool ok = false;

	if (!OidIsValid(n->fn_owner) || !SearchSysCacheExists1(PROCOID, ObjectIdGetDatum(n->fn)))
	{
		*error = OidIsValid(n->fn_owner)
			? psprintf("the function of action \"%s\" does not exist any more: it was dropped", n->action)
			: psprintf("the role that registered action \"%s\" does not exist: it was dropped", n->action);
		*sqlstate = "42883";
		return false;
	}
	path = WsRoleSearchPath(n->fn_owner);
	GetUserIdAndSecContext(&saved_user, &saved_sec);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		LOCAL_FCINFO(fcinfo, 1);
		FmgrInfo	flinfo;
		Datum		d;
		int			nest;

		SetUserIdAndSecContext(n->fn_owner, saved_sec | SECURITY_LOCAL_USERID_CHANGE);
		nest = NewGUCNestLevel();
		(void) set_config_option("search_path", path, PGC_USERSET, PGC_S_SESSION,
								 GUC_ACTION_SAVE, true, 0, false);
		fmgr_info(n->fn, &flinfo);
		InitFunctionCallInfoData(*fcinfo, &flinfo, 1, InvalidOid, NULL, NULL);
		fcinfo->args[0].value = JsonbPGetDatum(params);
		fcinfo->args[0].isnull = false;
		d = FunctionCallInvoke(fcinfo);
		*result = fcinfo->isnull ? NULL : DatumGetJsonbPCopy(d);
		AtEOXact_GUC(true, nest);
		SetUserIdAndSecContext(saved_user, saved_sec);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		ok = true;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		/* the subtransaction's abort puts back the user, the GUCs and the SPI state */
		MemoryContextSwitchTo(cxt);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(cxt);
		CurrentResourceOwner = owner;
		*error = edata->message ? edata->message : pstrdup("error without a message");
		*sqlstate = pstrdup(unpack_sql_state(edata->sqlerrcode));
	}
	PG_END_TRY();
	return ok;
}

/*
 * Task (ready now) of node ni, a SQL action, with its own params tparams: its attempt
 * runs now. The step's rows are written at its end, as always: the function gets what it
 * needs in its params, not by reading its own process's rows (writing them first for
 * each call halved the speed of a foreach of SQL actions, bench scenario t).
 */
void
WsRunAction(WsStep *st, int ni, int64 task, Jsonb *tparams)
{
	WsNode	   *n = &st->g->nodes[ni];
	int			attempt = WsTaskAttempts(st, task) + 1;
	Jsonb	   *result = NULL;
	char	   *error = NULL,
			   *sqlstate = NULL,
			   *why;

	WsSetTask(st, ni, task, WS_TASK_RUNNING, NULL, NULL, NULL, NULL, NULL);
	WsSetTaskAttempts(st, task, attempt);
	if (WsCallAction(n, WsEffectiveParams(st->g, ni, st->vars, tparams), &result, &error, &sqlstate))
	{
		if (result != NULL && JB_ROOT_IS_OBJECT(result) && !JB_ROOT_IS_SCALAR(result))
		{
			WsSucceedWith(st, ni, task, result, NULL);
			return;
		}
		error = psprintf("the function %s of action \"%s\" returned %s, not a JSON object", n->fn_name,
						 n->action, result == NULL ? "NULL"
						 : JB_ROOT_IS_SCALAR(result) ? "a scalar" : "an array");
		sqlstate = "22023";
	}
	why = psprintf("%s (SQLSTATE %s)", error, sqlstate);
	WsAttemptFailed(st, ni, task, attempt, error, why);
}
