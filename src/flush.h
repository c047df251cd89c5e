/*
 * flush.h: the write of a step's changes through the store (flush.c).
 */
#ifndef WS_FLUSH_H
#define WS_FLUSH_H

#include "step.h"
#include "store.h"

extern void WsFlush(WsStep *st, bool end);
extern void WsFlushSteps(WsStep **steps, int nsteps, bool end);
extern void WsWriteQueue(WsStore *store, int64 task, Datum action, bool ready, bool inserted);
extern void WsWriteLease(WsStore *store, int64 task, TimestampTz until, bool add);
extern void WsWriteEvent(WsStore *store, int64 process, int64 task, const char *state,
						 const char *actor, const char *detail, const char *node, const char *action);

#endif
