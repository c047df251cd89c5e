/*
 * ws.h: the ws.* settings and the small helpers every file of ws uses (ws.c). Each other
 * module has a header of its own, exporting what the others use:
 *
 * access.h   who is calling, acting as the extension's owner, administrators, the version
 * store.h    row reads and writes of ws's tables without planned statements
 * queries.h  every SPI statement ws runs, by name, with the engine's planner settings
 * graph.h    the per-backend cache of workflow graphs
 * forms.h    action forms: the type check of params
 * states.h   task and process states as enums, their names at the edges
 * step.h     a step: one call's change of one process, from load to write
 * flush.h    the write of a step's rows
 * engine.h   the evaluator: activation, splits, joins, the end of a step
 * people.h   who gets, takes, releases and is assigned a pending task
 * timers.h   when waiting tasks are due, retries' back-off
 * batch.h    ws.complete_batch's steps over several processes
 * errors.h   the errors raised in more than one place
 * calls.h    the way into ws from SQL
 * children.h call activities: child processes and their parents
 * actions.h  SQL actions: functions the engine runs inside the step
 * notifier.h ws_ready and ws_process, sent after commit
 * queue.h    the claim queue's upkeep: VACUUM of ws.ready by the notifier
 */
#ifndef WS_H
#define WS_H

#include "fmgr.h"
#include "datatype/timestamp.h"
#include "utils/jsonb.h"

/* ws.c: settings */
extern int	ws_retry_base_ms;
extern int	ws_retry_cap_ms;
extern bool ws_notify;
extern int	ws_history;
extern int	ws_max_depth;
extern int	ws_max_steps;

/* The TimestampTz that stands for a NULL time (-infinity: never a due time or lease) */
#define WS_NO_TIME DT_NOBEGIN

#define WS_HISTORY_FULL 0
#define WS_HISTORY_ACTIVITY 1
#define WS_HISTORY_NONE 2

/* ws.c: helpers */
extern Jsonb *WsEmptyJsonb(void);
extern Jsonb *WsJsonbConcat(Jsonb *a, Jsonb *b);
extern bool WsJsonbSame(Jsonb *a, Jsonb *b);
extern void WsCheckObject(Jsonb *j, const char *what);
extern int64 WsArgId(FunctionCallInfo fcinfo, int n, const char *what);
extern Datum WsNameDatum(const char *s);

#endif
