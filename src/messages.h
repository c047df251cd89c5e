/*
 * messages.h: message waits, ws.send and kept messages (messages.c).
 */
#ifndef WS_MESSAGES_H
#define WS_MESSAGES_H

#include "step.h"

extern int64 WsWaitForMessage(WsStep *st, int ni, Jsonb *tparams);
extern void WsResumeMessageWaits(WsStep *st);

#endif
