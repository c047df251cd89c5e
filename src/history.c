/*
 * history.c: the event history (ws.event) and the notifications workers and
 * applications LISTEN to.
 *
 * ws_ready carries an action name, at most once per transaction however many of its
 * tasks become ready; ws_process carries {"process": <id>, "state": "<state>"} when a
 * process ends. How they are sent (after commit by the notifier, or by NOTIFY in the
 * transaction) is notifier.c's business.
 */
#include "ws.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"

static SPIPlanPtr plan_event;

/* Append one row to ws.event; task 0 means the process's own change. */
void
WsEvent(int64 process, int64 task, const char *state, const char *actor, const char *detail)
{
	Oid			types[5] = {INT8OID, INT8OID, TEXTOID, NAMEOID, TEXTOID};
	Datum		values[5];
	char		nulls[5] = {' ', ' ', ' ', ' ', ' '};
	NameData	actor_name;

	if (!WsKeepEvent(state, task != 0))
		return;
	namestrcpy(&actor_name, actor);
	values[0] = Int64GetDatum(process);
	values[1] = Int64GetDatum(task);
	if (task == 0)
		nulls[1] = 'n';
	values[2] = CStringGetTextDatum(state);
	values[3] = NameGetDatum(&actor_name);
	if (detail)
		values[4] = CStringGetTextDatum(detail);
	else
		nulls[4] = 'n';
	WsRun(&plan_event,
		  "INSERT INTO ws.event (process, task, state, actor, detail) VALUES ($1, $2, $3, $4, $5)",
		  5, types, values, nulls, 0);
}

/* Tell workers that tasks of action are ready. */
void
WsNotifyReady(const char *action)
{
	if (ws_notify)
		WsNotifySend(0, action);
}

/* Tell listeners that process ended in state. */
void
WsNotifyProcess(int64 process, const char *state)
{
	char		payload[128];

	if (!ws_notify)
		return;
	snprintf(payload, sizeof(payload), "{\"process\": " INT64_FORMAT ", \"state\": \"%s\"}",
			 process, state);
	WsNotifySend(1, payload);
}
