/*
 * states.c: the names of task and process states, which states are active (waiting,
 * pending, ready, running) and which ended (succeeded, failed, cancelled), and which
 * state changes ws.event keeps (the ws.history setting).
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "states.h"
#include "ws.h"

static const char *const ws_task_states[WS_NTASKSTATES] = {
	[WS_TASK_WAITING] = "waiting",
	[WS_TASK_PENDING] = "pending",
	[WS_TASK_READY] = "ready",
	[WS_TASK_RUNNING] = "running",
	[WS_TASK_SUCCEEDED] = "succeeded",
	[WS_TASK_FAILED] = "failed",
	[WS_TASK_CANCELLED] = "cancelled",
};

static const char *const ws_proc_states[] = {
	[WS_PROC_RUNNING] = "running",
	[WS_PROC_COMPLETED] = "completed",
	[WS_PROC_FAILED] = "failed",
	[WS_PROC_CANCELLED] = "cancelled",
};

/* The index of name among the n names, what names a kind of state (raises if none) */
static int
WsStateIndex(const char *const *names, int n, const char *name, const char *what)
{
	int			i;

	for (i = 0; i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	elog(ERROR, "ws: unknown %s state \"%s\"", what, name);
	return 0;					/* keep the compiler quiet */
}

/* The name of task state s, as ws.task.state holds it */
const char *
WsTaskStateName(WsTaskState s)
{
	return ws_task_states[s];
}

/* The task state named name (what ws.task.state holds; ws writes nothing else) */
WsTaskState
WsTaskStateOf(const char *name)
{
	return (WsTaskState) WsStateIndex(ws_task_states, WS_NTASKSTATES, name, "task");
}

/*
 * The task state a text datum of ws.task.state names, without a copy (a step's scan of a
 * process's active tasks reads it for each of them; raises if it names none)
 */
WsTaskState
WsTaskStateOfText(Datum d)
{
	text	   *t = DatumGetTextPP(d);
	int			len = VARSIZE_ANY_EXHDR(t);
	int			i;

	for (i = 0; i < WS_NTASKSTATES; i++)
		if (strlen(ws_task_states[i]) == len && memcmp(VARDATA_ANY(t), ws_task_states[i], len) == 0)
			return (WsTaskState) i;
	return WsTaskStateOf(text_to_cstring(t));
}

/* Is s one of the active states: waiting, pending, ready, running? */
bool
WsTaskActive(WsTaskState s)
{
	return s <= WS_TASK_RUNNING;
}

/* Is s a state a task ends in: succeeded, failed, cancelled? */
bool
WsTaskEnded(WsTaskState s)
{
	return s >= WS_TASK_SUCCEEDED;
}

/* The name of process state s, as ws.process.state holds it */
const char *
WsProcStateName(WsProcState s)
{
	return ws_proc_states[s];
}

/* The process state named name */
WsProcState
WsProcStateOf(const char *name)
{
	return (WsProcState) WsStateIndex(ws_proc_states, lengthof(ws_proc_states), name, "process");
}

/* Does the history level (ws.history) keep an event of a task moving to s? */
bool
WsKeepTaskEvent(WsTaskState s)
{
	return ws_history == WS_HISTORY_FULL ||
		(ws_history == WS_HISTORY_ACTIVITY && WsTaskEnded(s));
}

/* Does it keep an event of the process's own (its state changed)? */
bool
WsKeepProcEvent(void)
{
	return ws_history != WS_HISTORY_NONE;
}
