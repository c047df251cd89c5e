/*
 * queue.h: the claim queue's upkeep, VACUUM of ws.ready by the notifier (queue.c).
 */
#ifndef WS_QUEUE_H
#define WS_QUEUE_H

extern int	ws_queue_vacuum;

extern void WsQueueDequeued(int n);
extern void WsQueueVacuum(void);

#endif
