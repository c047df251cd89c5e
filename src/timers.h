/*
 * timers.h: when a waiting task is due (timers.c).
 */
#ifndef WS_TIMERS_H
#define WS_TIMERS_H

#include "datatype/timestamp.h"

#include "step.h"

extern bool WsDueAt(WsStep *st, int ni, Jsonb *tparams, TimestampTz *due, char **why);
extern TimestampTz WsRetryDue(int attempt, double *seconds);

#endif
