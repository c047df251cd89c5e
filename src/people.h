/*
 * people.h: who gets a pending task, and who may act on it (people.c).
 */
#ifndef WS_PEOPLE_H
#define WS_PEOPLE_H

#include "step.h"

extern int64 WsMakePending(WsStep *st, int ni, int64 task, const char *problems,
						   bool was_pending);
extern void WsCheckAssignee(WsStep *st, WsTarget *target, const char *verb);

#endif
