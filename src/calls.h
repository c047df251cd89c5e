/*
 * calls.h: the way into ws from SQL (calls.c): the begin and end of every C entry point
 * that does engine work, and the completion of a task that ws.complete and
 * ws.complete_batch share.
 */
#ifndef WS_CALLS_H
#define WS_CALLS_H

#include "fmgr.h"

#include "access.h"
#include "step.h"

extern void WsCallBegin(WsCaller *who, FunctionCallInfo fcinfo);
extern void WsCallEnd(WsCaller *who);
extern int64 WsStartChild(WsCaller *who, const char *workflow, Jsonb *params, int64 parent_task,
						  int64 root);
extern void WsCompleteTask(WsStep *st, WsTarget *target, Jsonb *result, bool has_attempt,
						   int attempt);

#endif
