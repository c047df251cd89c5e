/*
 * messages.c: message waits. A node with key message makes its task wait (state
 * waiting, no due time) for a message of that name and, with correlate, of the key the
 * jsonpath finds in the task's effective params at activation. ws.send delivers a
 * message to every task waiting for it, each in a step of its process, in the sender's
 * transaction: the task succeeds with the payload. A message that reached no task and
 * has a ttl is kept in ws.message, and the first task to start waiting for it takes it
 * (at activation, or when ws.retry resumes its failed process) until it expires; ws.tick
 * drops expired ones.
 *
 * A node's role limits who may send to its tasks (as for ws.complete): the sender, or
 * for a kept message the role that sent it, must be a member. A message that may not
 * reach a task simply does not; it is no error. Tasks of a failed process are neither
 * reached nor counted (nothing moves in a failed process).
 *
 * ws.send steps the processes of the waiting tasks in ascending process id, as a batch
 * locks them, so a send and a batch never wait for each other in a circle.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "calls.h"
#include "engine.h"
#include "errors.h"
#include "flush.h"
#include "messages.h"
#include "queries.h"
#include "states.h"
#include "step.h"
#include "ws.h"

/* The event detail of a task that took message name (kept, and sent by sender) */
static char *
WsReceivedDetail(const char *name, const char *key, const char *sender)
{
	return psprintf("message \"%s\"%s%s received%s%s%s", name, key ? " with key " : "", key ? key : "",
					sender ? " (kept, sent by " : "", sender ? sender : "", sender ? ")" : "");
}

/*
 * Task of node ni waits for the message named in key key (NULL: none): it takes the
 * oldest kept one its node's role allows, if any, and succeeds with it. True if so.
 */
static bool
WsTakeKept(WsStep *st, int ni, int64 task, const char *key)
{
	WsNode	   *n = &st->g->nodes[ni];
	Jsonb	   *payload;
	char	   *sent_by;

	if (!WsQueryTakeKept(n->message, key, n->role, &payload, &sent_by))
		return false;
	WsSucceedWith(st, ni, task, payload, WsReceivedDetail(n->message, key, sent_by));
	return true;
}

/*
 * Activate node ni (its task's own params tparams), a message wait: its task waits for the message, with the key its
 * correlate finds (a correlate that finds nothing: no message can reach it, and its
 * error says so); a kept message it may take ends the wait at once. Returns the task.
 */
int64
WsWaitForMessage(WsStep *st, int ni, Jsonb *tparams)
{
	WsNode	   *n = &st->g->nodes[ni];
	char	   *key = NULL;
	char	   *error = NULL;
	int64		task;

	if (n->correlate)
	{
		key = WsQueryCorrelate(WsEffectiveParams(st->g, ni, st->vars, tparams), n->correlate);
		if (key == NULL)
			error = psprintf("correlate %s of node \"%s\" yields no key from the task's params: no message can reach it",
							 n->correlate, n->name);
	}
	task = WsSetTask(st, ni, 0, WS_TASK_WAITING, NULL, error, NULL, NULL,
					 key ? psprintf("waiting for message \"%s\" with key %s", n->message, key)
					 : psprintf("waiting for message \"%s\"", n->message));
	WsAddActive(st, task, ni);
	if (error)
		return task;
	WsSetTaskMessage(st, task, n->message, key);
	WsTakeKept(st, ni, task, key);
	return task;
}

/*
 * The step's process was resumed (ws.retry): its tasks waiting for a message take the
 * kept messages they may, in task id order.
 */
void
WsResumeMessageWaits(WsStep *st)
{
	int			n,
				i;
	int64	   *tasks;
	char	  **keys;

	WsFlush(st, false);			/* the waits as the step left them */
	n = WsQueryWaitingIn(st->process);
	tasks = palloc(sizeof(int64) * Max(n, 1));
	keys = palloc(sizeof(char *) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		tasks[i] = WsGetInt64(i, 1, NULL);
		keys[i] = WsGetText(i, 3);
	}
	for (i = 0; i < n && !st->ended; i++)
	{
		int			a;

		for (a = 0; a < st->nactive; a++)
			if (st->active[a].task == tasks[i])
				break;
		if (a < st->nactive)
			WsTakeKept(st, st->active[a].node, tasks[i], keys[i]);
	}
}

/*
 * Deliver the message to task of process, waiting for it, in a step of its own; false
 * when the task is not reached: its process is not running, it no longer waits for this
 * message, or the sender may not send to it.
 */
static bool
WsDeliverTo(WsCaller *who, int64 process, int64 task, const char *name, const char *key,
			Jsonb *payload)
{
	WsStep		st;
	WsTarget	target;
	WsNode	   *n;
	bool		reached = false;

	if (!WsStepLoad(&st, who, process, WS_LOCK_UPDATE, task, &target))
		return false;			/* deleted meanwhile */
	n = &st.g->nodes[target.node];
	if (st.state == WS_PROC_RUNNING && target.state == WS_TASK_WAITING && n->message &&
		strcmp(n->message, name) == 0 && WsIsMember(who, n->role))
	{
		WsSucceedWith(&st, target.node, task, payload, WsReceivedDetail(name, key, NULL));
		reached = true;
	}
	WsStepEnd(&st);
	return reached;
}

PG_FUNCTION_INFO_V1(ws_send);

/*
 * ws.send(message, key, payload, ttl): every task now waiting for the message with that
 * key succeeds with payload; how many. None reached and a ttl: the message is kept.
 */
Datum
ws_send(PG_FUNCTION_ARGS)
{
	char	   *name;
	char	   *key = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	Jsonb	   *payload;
	Interval   *ttl = PG_ARGISNULL(3) ? NULL : PG_GETARG_INTERVAL_P(3);
	WsCaller	who;
	int64	   *tasks,
			   *processes;
	int			n,
				i,
				reached = 0;

	if (PG_ARGISNULL(0))
		WsErrNull("message");
	if (PG_ARGISNULL(2))
		WsErrNull("payload");
	name = text_to_cstring(PG_GETARG_TEXT_PP(0));
	payload = PG_GETARG_JSONB_P(2);
	WsCheckObject(payload, "payload");
	if (ttl && (ttl->month < 0 || ttl->day < 0 || ttl->time < 0 ||
				(ttl->month == 0 && ttl->day == 0 && ttl->time == 0)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("ttl must be a positive interval"),
				 errhint("Pass how long the message is kept for a task that is not waiting yet, such as '1 hour', or NULL to keep it not at all.")));
	WsCallBegin(&who, fcinfo);
	n = WsQueryWaitingFor(name, key, &tasks, &processes);
	for (i = 0; i < n; i++)
		reached += WsDeliverTo(&who, processes[i], tasks[i], name, key, payload);
	if (reached == 0 && ttl)
		WsQueryKeep(name, key, payload, ttl, who.actor);
	WsCallEnd(&who);
	PG_RETURN_INT32(reached);
}
