/*
 * states.h: the states of tasks and processes, as enums inside ws; their names (what
 * ws.task.state, ws.process.state and ws.event.state hold) only at the edges: the store,
 * the claim, SQL.
 */
#ifndef WS_STATES_H
#define WS_STATES_H

typedef enum WsTaskState
{
	WS_TASK_WAITING,					/* a timer, or a retry's back-off */
	WS_TASK_PENDING,					/* needs a person */
	WS_TASK_READY,					/* a worker may claim it */
	WS_TASK_RUNNING,					/* claimed, under a lease */
	WS_TASK_SUCCEEDED,
	WS_TASK_FAILED,
	WS_TASK_CANCELLED
} WsTaskState;

#define WS_NTASKSTATES (WS_TASK_CANCELLED + 1)

typedef enum WsProcState
{
	WS_PROC_RUNNING,
	WS_PROC_COMPLETED,
	WS_PROC_FAILED,
	WS_PROC_CANCELLED
} WsProcState;

extern const char *WsTaskStateName(WsTaskState s);
extern WsTaskState WsTaskStateOf(const char *name);
extern WsTaskState WsTaskStateOfText(Datum d);
extern bool WsTaskActive(WsTaskState s);
extern bool WsTaskEnded(WsTaskState s);
extern const char *WsProcStateName(WsProcState s);
extern WsProcState WsProcStateOf(const char *name);
extern bool WsKeepTaskEvent(WsTaskState s);
extern bool WsKeepProcEvent(void);

#endif
