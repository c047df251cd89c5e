/*
 * queries.h: every SQL statement ws's C runs through SPI, each a named function with its
 * own cached plan (queries.c). The engine's row work on its tables goes through the store
 * (store.h); these are the rest: reads of definitions, the choice of an assignee, the
 * tick's scan of due tasks, and a few cold updates. SPI must be connected (WsCallBegin).
 */
#ifndef WS_QUERIES_H
#define WS_QUERIES_H

#include "datatype/timestamp.h"
#include "utils/jsonb.h"
#include "utils/jsonpath.h"
#include "utils/snapshot.h"

/* definitions (graph.c): the rows are left in SPI_tuptable, read with WsGet* */
extern int	WsQueryWorkflow(int64 workflow);
extern int	WsQueryNodes(int64 workflow);
extern int	WsQueryTransitions(int64 workflow);
extern char *WsQueryProblems(int64 workflow);

/* tasks */
extern char *WsQueryLeastLoaded(const char *role, const char *skip);
extern char *WsQueryAssignee(int64 task);
extern bool WsQueryTask(int64 task, int64 *node, char **state, int *attempts, Jsonb **params,
						TimestampTz *due_at, TimestampTz *lease_until, TimestampTz *deadline_at, bool lock);
extern void WsQuerySetTaskParams(int64 task, Jsonb *params);
extern int	WsQueryDueTasks(int64 **tasks, int64 **processes);
extern bool WsQueryTimestampAt(Jsonb *params, const char *path, TimestampTz *at);

/* multi-instance (engine.c) */
extern int64 WsQueryTaskInstance(int64 task, int *instance);
extern Jsonb *WsQueryForeach(Jsonb *params, const char *path, int *count);
extern bool WsQueryGroupFirst(int64 group, Jsonb **items, TimestampTz *deadline_at);
extern Jsonb *WsQueryGroupResults(int64 process, int64 group, int *count);

/* call activities (children.c) */
extern int	WsQueryDepth(int64 process);
extern int64 WsQueryTaskProcess(int64 task);
extern int64 WsQueryChild(int64 task, char **state, int *count);
extern Jsonb *WsQueryChanged(Jsonb *vars, Jsonb *start);

/* SQL actions (actions.c) */
extern char *WsQueryRoleSearchPath(Oid role);

/* messages (messages.c) */
extern char *WsQueryCorrelate(Jsonb *params, const char *path);
extern bool WsQueryTakeKept(const char *name, const char *key, const char *role, Jsonb **payload,
							char **sent_by);
extern int	WsQueryWaitingFor(const char *name, const char *key, int64 **tasks, int64 **processes);
extern int	WsQueryWaitingIn(int64 process);
extern void WsQueryKeep(const char *name, const char *key, Jsonb *payload, Interval *ttl,
						const char *sent_by);
extern int	WsQueryExpire(void);

/* business keys (keys.c) */
extern int64 WsQueryKeyProcess(const char *workflow, const char *key, Snapshot snap);

/* the worker protocol (claim.c) */
extern bool WsQueryRunningTask(int64 task, char **state, int *attempts, char **role,
							   char **call);
extern int	WsQueryHeartbeat(int64 task, Datum lease, bool has_attempt, int attempt);
extern int	WsQueryProgress(int64 task, Datum percent);

/* the columns of the last statement's result rows */
extern int64 WsGetInt64(int row, int col, bool *isnull);
extern char *WsGetText(int row, int col);
extern Jsonb *WsGetJsonb(int row, int col);
extern bool WsGetBool(int row, int col);
extern Interval *WsGetInterval(int row, int col);
extern JsonPath *WsGetJsonPath(int row, int col);

#endif
