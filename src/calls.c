/*
 * calls.c: the way into ws's functions written in SQL and PL/pgSQL (definitions,
 * validation, pictures, access, pg_cron).
 *
 * Each such public function is declared in schema ws as LANGUAGE C, symbol ws_call, and
 * implemented by the function of the same name and argument types in schema ws_internal,
 * which users cannot reach. ws_call calls its twin and lets any error through with its
 * SQLSTATE, message, detail and hint but without the CONTEXT (and QUERY) lines from inside
 * ws: those name ws's own PL/pgSQL functions, their line numbers and the SQL they run,
 * which tell a user nothing about what to change. (PL/pgSQL leaves the context out only
 * for a RAISE in the function called first; one ws function calling another, or a cast
 * that fails, adds it.) The error is raised again from ws_call, so the context of the
 * caller's own functions and statements, outside ws, is added as usual.
 *
 * The twin is looked up once per call site and kept in fn_extra; a set-returning twin
 * fills the caller's ReturnSetInfo itself (PL/pgSQL returns sets in materialize mode).
 *
 * The twins are SECURITY DEFINER, so inside them current_user is ws's owner; the role
 * that called (current_user where the call was made, SET ROLE counting) is recorded by
 * the outermost ws_call and read with ws_internal.caller().
 */
#include "ws.h"

#include "access/htup_details.h"
#include "catalog/pg_proc.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "catalog/namespace.h"
#include "utils/builtins.h"
#include "utils/syscache.h"

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

PG_FUNCTION_INFO_V1(ws_call);

/* Call the ws_internal twin of the called function; its errors lose their context. */
Datum
ws_call(PG_FUNCTION_ARGS)
{
	FmgrInfo   *twin = (FmgrInfo *) fcinfo->flinfo->fn_extra;
	MemoryContext cxt = CurrentMemoryContext;
	LOCAL_FCINFO(inner, FUNC_MAX_ARGS);
	Datum		result;
	Oid			outer = ws_caller;

	if (twin == NULL)
	{
		twin = MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(FmgrInfo));
		fmgr_info_cxt(WsInternalTwin(fcinfo->flinfo->fn_oid), twin, fcinfo->flinfo->fn_mcxt);
		fcinfo->flinfo->fn_extra = twin;
	}
	InitFunctionCallInfoData(*inner, twin, fcinfo->nargs, fcinfo->fncollation,
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
