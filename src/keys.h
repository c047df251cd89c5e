/*
 * keys.h: business keys (keys.c).
 */
#ifndef WS_KEYS_H
#define WS_KEYS_H

#include "fmgr.h"

extern text *WsKeyArg(FunctionCallInfo fcinfo, int arg);
extern int64 WsKeyProcess(const char *workflow, text *key);

#endif
