/*
 * ws.c: module initialisation, the ws.* settings, and small helpers every other file
 * uses (jsonb conveniences, arguments).
 */
#include "postgres.h"

#include <limits.h>

#include "catalog/pg_type.h"
#include "nodes/parsenodes.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/guc.h"

#include "errors.h"
#include "graph.h"
#include "notifier.h"
#include "queue.h"
#include "ws.h"

PG_MODULE_MAGIC;

int			ws_retry_base_ms = 1000;
int			ws_retry_cap_ms = 3600 * 1000;
bool		ws_notify = true;
int			ws_history = WS_HISTORY_FULL;
int			ws_max_depth = 32;
int			ws_max_steps = 10000;

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
	DefineCustomIntVariable("ws.max_depth",
							"Deepest a call activity may start a child process.",
							"Top-level processes have depth 0; a call that would start a deeper "
							"child fails its calling task without retries.",
							&ws_max_depth, 32, 0, 1000,
							PGC_SUSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("ws.max_steps",
							"Most node activations one top-level call may make.",
							"Beyond it the process fails with \"step limit reached\": an endless loop "
							"of routing nodes or SQL actions stops there.",
							&ws_max_steps, 10000, 1, INT_MAX,
							PGC_USERSET, 0, NULL, NULL, NULL);
	DefineCustomIntVariable("ws.queue_vacuum",
							"Claims between two VACUUMs of the claim queue ws.ready by the notifier.",
							"A claim walks past the entries of earlier claims until a VACUUM removes "
							"them. 0: leave the queue to autovacuum. Needs ws in "
							"shared_preload_libraries.",
							&ws_queue_vacuum, 1000, 0, INT_MAX,
							PGC_SIGHUP, 0, NULL, NULL, NULL);
	WsNotifierInit();
	MarkGUCPrefixReserved("ws");
	WsGraphInit();
}

/* A name datum of s */
Datum
WsNameDatum(const char *s)
{
	Name		n = palloc(NAMEDATALEN);

	namestrcpy(n, s);
	return NameGetDatum(n);
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
		WsErrNull(what);
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

/* a || b for two objects (either may be NULL: none; NULL when both are) */
Jsonb *
WsJsonbConcat(Jsonb *a, Jsonb *b)
{
	if (a == NULL || JB_ROOT_COUNT(a) == 0)
		return b;
	if (b == NULL || JB_ROOT_COUNT(b) == 0)
		return a;
	return DatumGetJsonbP(DirectFunctionCall2(jsonb_concat, JsonbPGetDatum(a), JsonbPGetDatum(b)));
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
