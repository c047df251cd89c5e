/*
 * children.h: call activities: child processes and their parents (children.c).
 */
#ifndef WS_CHILDREN_H
#define WS_CHILDREN_H

#include "step.h"

extern int64 WsCall(WsStep *st, int ni, int64 task, Jsonb *tparams);
extern void WsHandBack(WsStep *st);
extern void WsCancelChild(WsStep *st, int64 task, const char *detail);
extern void WsFreezeChildren(WsStep *st);
extern void WsThaw(WsStep *st);

#endif
