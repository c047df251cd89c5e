/*
 * ws.c: module initialisation, the ws.* settings, and small helpers every other file uses:
 * the SPI plan cache (plans prepared once per backend and kept with SPI_keepplan) and
 * jsonb conveniences.
 */
#include "ws.h"

#include "catalog/pg_type.h"
#include "nodes/parsenodes.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

int			ws_retry_base_ms = 1000;
int			ws_retry_cap_ms = 3600 * 1000;
bool		ws_notify = true;
int			ws_history = WS_HISTORY_FULL;

static const struct config_enum_entry ws_history_options[] = {
	{"full", WS_HISTORY_FULL, false},
	{"activity", WS_HISTORY_ACTIVITY, false},
	{"none", WS_HISTORY_NONE, false},
	{NULL, 0, false}
};

void		_PG_init(void);

/* Define the ws.* settings and register the graph cache invalidation. */
void
_PG_init(void)
{
	DefineCustomIntVariable("ws.retry_base",
							"First back-off delay after a failed attempt.",
							"Each further attempt doubles it, up to ws.retry_cap.",
							&ws_retry_base_ms, 1000, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomIntVariable("ws.retry_cap",
							"Longest back-off delay between two attempts of a task.",
							NULL,
							&ws_retry_cap_ms, 3600 * 1000, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_MS, NULL, NULL, NULL);
	DefineCustomBoolVariable("ws.notify",
							 "Send ws_ready and ws_process notifications.",
							 "Sessions whose workers poll may turn this off.",
							 &ws_notify, true, PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomEnumVariable("ws.history",
							 "Which state changes ws.event keeps.",
							 "full: every task and process state change; activity: process changes "
							 "and tasks ending (succeeded, failed, cancelled); none: nothing.",
							 &ws_history, WS_HISTORY_FULL, ws_history_options,
							 PGC_SUSET, 0, NULL, NULL, NULL);
	WsNotifierInit();
	MarkGUCPrefixReserved("ws");
	WsGraphInit();
}

/*
 * Prepare sql once per backend; later calls return the kept plan. Always a generic plan:
 * the engine's statements are point lookups and index scans whose best plan does not
 * depend on the parameter values, and a custom plan would be planned again on every call.
 */
SPIPlanPtr
WsPlan(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, (Oid *) argtypes, CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL)
			elog(ERROR, "ws: SPI_prepare failed for \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "ws: SPI_keepplan failed");
		*cache = plan;
	}
	return *cache;
}

/*
 * Run a cached plan; returns SPI_processed. Never read-only: in READ COMMITTED each
 * statement then takes a fresh snapshot, so what a step reads after waiting for its
 * process lock includes everything the transaction it waited for committed.
 */
int
WsRun(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes,
	  Datum *values, const char *nulls, long count)
{
	SPIPlanPtr	plan = WsPlan(cache, sql, nargs, argtypes);
	int			rc = SPI_execute_plan(plan, values, nulls, false, count);

	if (rc < 0)
		elog(ERROR, "ws: SPI_execute_plan failed (%s) for \"%s\"",
			 SPI_result_code_string(rc), sql);
	return (int) SPI_processed;
}

/* Column col (1-based) of result row as int64. */
int64
WsGetInt64(int row, int col, bool *isnull)
{
	bool		n;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &n);

	if (isnull)
		*isnull = n;
	if (n)
		return 0;
	switch (SPI_gettypeid(SPI_tuptable->tupdesc, col))
	{
		case INT4OID:
			return DatumGetInt32(d);
		case INT2OID:
			return DatumGetInt16(d);
		default:
			return DatumGetInt64(d);
	}
}

/* Column col of row as a palloc'd C string in the current context, NULL for NULL. */
char *
WsGetText(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

/* Column col of row as a detoasted jsonb copied into the current context. */
Jsonb *
WsGetJsonb(int row, int col)
{
	bool		n;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &n);

	if (n)
		return NULL;
	return DatumGetJsonbPCopy(d);
}

/* Does the history level keep an event of this state (of a task, or of the process)? */
bool
WsKeepEvent(const char *state, bool of_task)
{
	if (ws_history == WS_HISTORY_FULL)
		return true;
	if (ws_history == WS_HISTORY_NONE)
		return false;
	return !of_task || WsTerminalState(state);
}

/* Is state one a task ends in (succeeded, failed, cancelled)? */
bool
WsTerminalState(const char *state)
{
	return strcmp(state, "succeeded") == 0 || strcmp(state, "failed") == 0 ||
		strcmp(state, "cancelled") == 0;
}

/* A fresh '{}' */
Jsonb *
WsEmptyJsonb(void)
{
	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")));
}

/* Argument n, an id that must not be NULL (what names it in the error). */
int64
WsArgId(FunctionCallInfo fcinfo, int n, const char *what)
{
	if (PG_ARGISNULL(n))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not be null", what)));
	return PG_GETARG_INT64(n);
}

/* Are a and b the same jsonb value? (Equal values have equal binary forms.) */
bool
WsJsonbSame(Jsonb *a, Jsonb *b)
{
	if (a == b)
		return true;
	if (a == NULL || b == NULL)
		return false;
	return VARSIZE(a) == VARSIZE(b) && memcmp(a, b, VARSIZE(a)) == 0;
}

/* a || b for two objects */
Jsonb *
WsJsonbConcat(Jsonb *a, Jsonb *b)
{
	if (a == NULL || JB_ROOT_COUNT(a) == 0)
		return b;
	if (b == NULL || JB_ROOT_COUNT(b) == 0)
		return a;
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(a), JsonbPGetDatum(b)));
}

/* Does object j have key with a non-null value? */
bool
WsJsonbHasKey(Jsonb *j, const char *key)
{
	JsonbValue	k;
	JsonbValue *v;

	if (j == NULL || !JB_ROOT_IS_OBJECT(j))
		return false;
	k.type = jbvString;
	k.val.string.val = (char *) key;
	k.val.string.len = strlen(key);
	v = findJsonbValueFromContainer(&j->root, JB_FOBJECT, &k);
	return v != NULL && v->type != jbvNull;
}

/* Refuse anything but a JSON object for what. */
void
WsCheckObject(Jsonb *j, const char *what)
{
	if (j != NULL && !(JB_ROOT_IS_OBJECT(j) && !JB_ROOT_IS_SCALAR(j)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be a JSON object", what),
				 errhint("Pass an object such as '{\"key\": 1}'::jsonb, or '{}'.")));
}
