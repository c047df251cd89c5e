/*
 * batch.h: ws.complete_batch, one step per process over many completions (batch.c).
 */
#ifndef WS_BATCH_H
#define WS_BATCH_H

#include "step.h"

/* The state a step of the batch gave a task, so a later completion sees it */
typedef struct WsTouched
{
	int64		task;
	WsTaskState state;			/* the state the last step that changed it gave it */
	int			node;			/* node index */
	WsStep	   *st;				/* its process's step */
} WsTouched;

typedef struct WsBatch
{
	WsStep	  **steps;			/* one per process, in ascending process id */
	int			nsteps;
	WsTouched  *touched;		/* every task a step of the batch created or changed */
	int			ntouched;
	int			maxtouched;
	int			nevents;		/* events so far, to write them in the order they happened */
} WsBatch;

extern void WsBatchTouch(WsStep *st, int64 task, int ni, WsTaskState state);

#endif
