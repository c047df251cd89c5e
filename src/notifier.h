/*
 * notifier.h: ws_ready and ws_process, sent after commit, and the count of claims that
 * wakes the notifier to vacuum the claim queue (notifier.c).
 */
#ifndef WS_NOTIFIER_H
#define WS_NOTIFIER_H

extern void WsNotifyReady(const char *action);
extern void WsNotifyProcess(int64 process, const char *state);
extern void WsNotifierInit(void);
extern void WsNotifierDequeued(int n);

#endif
