/*
 * engine.h: the evaluator (engine.c): activation, success and splits, joins, and the end
 * of a step.
 */
#ifndef WS_ENGINE_H
#define WS_ENGINE_H

#include "step.h"

extern void WsActivate(WsStep *st, int ni);
extern int64 WsProceed(WsStep *st, int ni, int64 task, Jsonb *tparams, WsTaskState from);
extern void WsSucceed(WsStep *st, int ni, int64 task, Jsonb *result);
extern void WsSucceedWith(WsStep *st, int ni, int64 task, Jsonb *result, const char *detail);
extern void WsBoundary(WsStep *st, int ni, WsOn on, const char *error, int64 group,
					   const char *group_detail);
extern void WsTaskFailed(WsStep *st, int ni, int64 task, const char *error);
extern void WsAttemptFailed(WsStep *st, int ni, int64 task, int attempt, const char *error,
							const char *detail);
extern void WsTaskFailedWith(WsStep *st, int ni, int64 task, const char *error, const char *detail);
extern void WsCallsBegin(void);
extern void WsDeadlinePassed(WsStep *st, int ni, int64 task);
extern Jsonb *WsVarJsonb(const char *key, Jsonb *value);
extern void WsResumeAfterFailure(WsStep *st);
extern void WsStepFinish(WsStep *st);
extern void WsStepEnd(WsStep *st);

#endif
