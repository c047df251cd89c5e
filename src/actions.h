/*
 * actions.h: SQL actions, run by the engine inside the step (actions.c).
 */
#ifndef WS_ACTIONS_H
#define WS_ACTIONS_H

#include "step.h"

extern void WsRunAction(WsStep *st, int ni, int64 task, Jsonb *tparams);

#endif
