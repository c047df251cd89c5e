/*
 * timers.c: time. A node's wait or wait_until makes its task wait until a time (WsDueAt);
 * a failed attempt waits out a back-off before the next (WsRetryDue); ws.tick() moves on
 * every waiting task whose time has come and puts back to ready every running task whose
 * lease has ended. pg_cron calls ws.tick() through ws.run_ticks (SQL).
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "calls.h"
#include "engine.h"
#include "notifier.h"
#include "queries.h"
#include "timers.h"
#include "ws.h"

/* When is a waiting task of node ni due? false (with *why) when wait_until finds no time. */
bool
WsDueAt(WsStep *st, int ni, Jsonb *tparams, TimestampTz *due, char **why)
{
	WsNode	   *n = &st->g->nodes[ni];

	if (n->wait_until)
	{
		if (!WsQueryTimestampAt(WsEffectiveParams(st->g, ni, st->vars, tparams), n->wait_until, due))
		{
			*why = psprintf("wait_until %s of node \"%s\" yields no timestamp from the task's params",
							n->wait_until, n->name);
			return false;
		}
	}
	else
		*due = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
													   TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
													   IntervalPGetDatum(n->wait)));
	return true;
}

/*
 * When the attempt after failed attempt may start: ws.retry_base x 2^(attempt - 1), at
 * most ws.retry_cap, from the transaction's start; the delay in *seconds.
 */
TimestampTz
WsRetryDue(int attempt, double *seconds)
{
	int64		delay = ws_retry_base_ms;
	int			k;

	for (k = 1; k < attempt && delay < ws_retry_cap_ms; k++)
		delay *= 2;
	delay = Min(delay, (int64) ws_retry_cap_ms);
	*seconds = delay / 1000.0;
	return GetCurrentTransactionStartTimestamp() + delay * 1000;
}

/* Move on target, a task of st's process, if its timer or lease has run out; true if so. */
static bool
WsTickTask(WsStep *st, WsTarget *target, TimestampTz now)
{
	if (WsTaskActive(target->state) && target->deadline_at != WS_NO_TIME && target->deadline_at <= now)
	{
		WsDeadlinePassed(st, target->node, target->id);
		return true;
	}
	if (target->state == WS_TASK_WAITING && target->due_at != WS_NO_TIME && target->due_at <= now)
	{
		WsProceed(st, target->node, target->id, target->params, target->state);
		return true;
	}
	if (target->state == WS_TASK_RUNNING && target->lease_until != WS_NO_TIME && target->lease_until < now)
	{
		WsSetTask(st, target->node, target->id, WS_TASK_READY, NULL, NULL, NULL, NULL, "lease expired");
		WsNotifyReady(st->g->nodes[target->node].action);
		return true;
	}
	return false;
}

PG_FUNCTION_INFO_V1(ws_tick);

/*
 * ws.tick(): move every waiting task whose time has come on, and put every running task
 * whose lease has ended back to ready. Each process is one step under its lock, and each
 * task is re-read under it, so ticks running at once move every task once. A process
 * locked by another step is skipped, not waited for: the next tick takes it.
 */
Datum
ws_tick(PG_FUNCTION_ARGS)
{
	WsCaller	who;
	int			n,
				i,
				moved = 0;
	int64	   *tasks,
			   *procs;

	WsCallBegin(&who, fcinfo);
	(void) WsQueryExpire();		/* kept messages no task took in time */
	n = WsQueryDueTasks(&tasks, &procs);
	for (i = 0; i < n;)
	{
		WsStep		st;
		int64		p = procs[i];

		if (!WsStepLock(&st, &who, p, true))
		{
			/* busy in another step: the next tick takes it */
			while (i < n && procs[i] == p)
				i++;
			continue;
		}
		for (; i < n && procs[i] == p; i++)
		{
			WsTarget	target;

			if (st.state != WS_PROC_RUNNING || !WsRereadTask(&st, tasks[i], &target))
				continue;
			moved += WsTickTask(&st, &target, GetCurrentTimestamp());
		}
		WsStepEnd(&st);
	}
	WsCallEnd(&who);
	PG_RETURN_INT32(moved);
}
