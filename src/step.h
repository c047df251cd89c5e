/*
 * step.h: a step, the change one call makes to one process (step.c). A step locks the
 * process row, reads the process and its active tasks, makes its changes in memory (task
 * rows to write, events, variables, tokens) and writes them all at its end (flush.h). The
 * rules it follows are the evaluator's (engine.h); the essay is at the top of engine.c.
 */
#ifndef WS_STEP_H
#define WS_STEP_H

#include "datatype/timestamp.h"
#include "utils/jsonb.h"

#include "access.h"
#include "graph.h"
#include "states.h"
#include "store.h"

struct WsBatch;

/* An active task of the step's process */
typedef struct WsActive
{
	int64		task;
	int			node;			/* node index */
	int64		group;			/* an instance: its group (first instance); 0: none; -1: not known yet */
	int			instance;		/* an instance: its index */
} WsActive;

/*
 * What the next task the step creates is (WsSetTask takes it): an instance of a
 * multi-instance node, its own params, and the deadline of its activation.
 */
typedef struct WsArming
{
	Jsonb	   *params;			/* the task's own params, NULL: none */
	bool		is_instance;
	int			instance;		/* its index */
	int64		group;			/* the first instance of its activation, 0: this task */
	Jsonb	   *items;			/* the first instance: the array */
	TimestampTz deadline_at;	/* WS_NO_TIME: from its node's deadline, counted now */
	int64		id;				/* the id it gets, 0: the next of the sequence */
} WsArming;

/*
 * A task row as the step leaves it: a new task (insert), or what the step's successive
 * changes of an existing one add up to. Written by WsFlush with the step's events and
 * the process row.
 */
typedef struct WsWrite
{
	int64		task;
	bool		insert;
	int			node;			/* node index */
	WsTaskState state;			/* the last state the step gave it */
	WsTaskState first_state;	/* the first: the write checks the row still allows it */
	Jsonb	   *result;
	bool		error_set;		/* error is (maybe NULL) the task's new error */
	char	   *error;
	bool		assignee_set;	/* made pending: assignee is (maybe NULL) its assignee */
	char	   *assignee;
	bool		due_set;		/* made waiting (or pending): due_at is due (WS_NO_TIME: NULL) */
	TimestampTz due;
	bool		started;		/* made succeeded: started_at is set if it was not */
	char	   *message;		/* a new message wait: the message it waits for, NULL: none */
	char	   *message_key;	/* and the key it must carry, NULL: none */
	TimestampTz deadline_at;	/* a new task of a node with a deadline: when; else WS_NO_TIME */
	Jsonb	   *params;			/* a new task: its own params, NULL: {} */
	bool		params_set;		/* an existing task: params are its new own params */
	int			attempts;		/* its new attempts, -1: unchanged */
	bool		is_instance;	/* a new instance of a multi-instance node: */
	int			instance;		/* its index */
	int64		instance_of;	/* its group */
	Jsonb	   *items;			/* the group's array (first instance only), NULL: none */
} WsWrite;

/* A ws.event row to write */
typedef struct WsEventRow
{
	int			seq;			/* order among the events of the flush */
	int64		task;			/* 0: the process's own */
	const char *state;			/* the state's name, of the task or the process */
	char	   *detail;
} WsEventRow;

typedef struct WsStep
{
	WsCaller   *who;
	WsGraph    *g;
	int64		process;
	WsProcState state;			/* the process's state now */
	bool		ended;			/* this step ended the process (completed, failed, cancelled) */
	char	   *error;			/* why it failed */
	Jsonb	   *vars;			/* process variables */
	int		   *tokens;			/* per transition index */
	WsActive   *active;
	int			nactive;
	int			maxactive;

	/*
	 * The process row as stored (when the step began, or at its last write): the row is
	 * written only when state, variables or tokens differ from these.
	 */
	WsProcState stored_state;
	Jsonb	   *stored_vars;
	int		   *stored_tokens;

	Jsonb	   *now_vars;		/* {"now": <transaction timestamp>} for conditions */
	WsWrite    *writes;			/* task rows to write at the end of the step */
	int			nwrites;
	int			maxwrites;
	WsEventRow *events;			/* ws.event rows to write, in order */
	int			nevents;
	int			maxevents;
	struct WsBatch *batch;		/* the batch the step belongs to (ws.complete_batch), or NULL */
	WsArming   *arming;			/* what the next task created is (WsSetTask), or NULL */
	int64		filling;		/* the group whose instances are being created, 0: none */
	bool		filling_stopped;	/* that group was cancelled while being created */
	int64		parent_task;	/* a child process: its calling task; 0: top-level */
	int64		root;			/* a child process: its tree's top-level process; 0: top-level */
	bool		no_hand_back;	/* a child ended by its parent's step: nothing to hand back */
	bool		handed_back;	/* its end was handed back to its parent */
} WsStep;

/* The task a call acts on, as read under its process's lock */
typedef struct WsTarget
{
	int64		id;
	int			node;			/* node index */
	WsTaskState state;
	int			attempts;
	Jsonb	   *params;
	TimestampTz due_at;			/* WS_NO_TIME when NULL */
	TimestampTz lease_until;	/* WS_NO_TIME when NULL */
	TimestampTz deadline_at;	/* WS_NO_TIME when NULL */
} WsTarget;

/* A task row as a load reads it: an active task of a process, or a batch's own */
typedef struct WsLoadedTask
{
	int64		process;
	int64		id;
	int64		node;			/* node id */
	bool		active;
	WsTaskState state;
	int			attempts;
	int64		group;			/* instance_of, 0: NULL */
	int			instance;
} WsLoadedTask;

/* the error of WsSetTask that clears a task's error */
extern const char ws_no_error[];

extern void WsStepsClosed(WsStep **steps, int nsteps);
extern void WsCallStepsClosed(WsCaller *who);
extern void WsStepInit(WsStep *st, WsCaller *who, int64 process, int64 workflow,
					   WsProcState state, Jsonb *vars, Jsonb *tokens);
extern bool WsStepLoad(WsStep *st, WsCaller *who, int64 process, WsLock mode, int64 task,
					   WsTarget *target);
extern bool WsStepLock(WsStep *st, WsCaller *who, int64 process, bool skip_locked);
extern void WsTargetStep(WsStep *st, WsCaller *who, int64 task, WsTarget *target,
						 const char *verb);
extern bool WsRereadTask(WsStep *st, int64 task, WsTarget *target);
extern WsLoadedTask *WsLoadActive(WsStore *store, const int64 *pids, int np,
								  WsLoadedTask *rows, int *n, int *room);
extern int	WsLoadedTaskCmp(const void *a, const void *b);
extern void WsRequireRunning(WsStep *st);
extern void WsAddActive(WsStep *st, int64 task, int ni);
extern void WsAddActiveOf(WsStep *st, int64 task, int ni, int64 group, int instance);
extern int64 WsTaskGroup(WsStep *st, int64 task, int *instance);
extern void WsRemoveActive(WsStep *st, int64 task);
extern int64 WsSetTask(WsStep *st, int ni, int64 task, WsTaskState state, Jsonb *result,
					   const char *error, const char *assignee, TimestampTz *due,
					   const char *detail);
extern void WsSetTaskMessage(WsStep *st, int64 task, const char *message, const char *key);
extern void WsSetTaskAttempts(WsStep *st, int64 task, int attempts);
extern void WsSetTaskParams(WsStep *st, int64 task, Jsonb *params);
extern Jsonb *WsTaskParams(WsStep *st, int64 task);
extern WsStep *WsOpenStepOf(int64 process);
extern void WsStepProcEvent(WsStep *st, WsProcState state, const char *detail);
extern void WsCancelTasks(WsStep *st, int64 *ids, int n, const char *detail);
extern void WsEndProcess(WsStep *st, WsProcState state, const char *error, const char *detail);

#endif
