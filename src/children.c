/*
 * children.c: call activities. A node with call makes a calling task, running with no
 * lease and no worker, and starts a child process of the newest version of the called
 * workflow with the task's effective params (kept as the task's own params: what the
 * child started from). The child runs as any process; when it ends, its end is handed
 * back to the parent (WsHandBack): the calling task succeeds with the child's variables,
 * or fails (or waits out a back-off and starts a new child, while the node has retries
 * left). Whatever else ends the calling task (ws.cancel of the parent, an end node, an XOR
 * join, a deadline) cancels the child (WsCancelChild); a parent that fails freezes its
 * children (they fail too, "frozen"), and ws.retry of the parent thaws them (WsThaw).
 *
 * Locks: every step of a child locks the root of its tree (ws.process.root, the
 * top-level process) before its own row (step.c WsStepLoad). A child's step that hands
 * its end back to the parent then locks the parent while holding the root, and a step of
 * the parent that cancels or freezes a child locks the child while holding the root too:
 * all steps of one tree pass through the root's lock, so they cannot wait for each other
 * in a cycle. A hand-back to a parent whose step is open in this backend (the child ended
 * in its first step, started inside the parent's step; a batch holding both) is made in
 * that step's memory.
 */
#include "postgres.h"

#include "utils/builtins.h"

#include "calls.h"
#include "children.h"
#include "engine.h"
#include "flush.h"
#include "queries.h"
#include "states.h"
#include "ws.h"

/* Start a child for calling task (new, or waiting to start another) of node ni. */
static void
WsStartChildOf(WsStep *st, int ni, int64 task, Jsonb *params)
{
	WsNode	   *n = &st->g->nodes[ni];
	int			depth = st->parent_task ? WsQueryDepth(st->process) : 0;
	char	   *state;
	int			started;

	(void) WsQueryChild(task, &state, &started);
	if (depth + 1 > ws_max_depth)
	{
		WsTaskFailed(st, ni, task,
					 psprintf("calling workflow \"%s\" would start a process at depth %d, deeper than ws.max_depth (%d)",
							  n->call, depth + 1, ws_max_depth));
		return;
	}
	WsSetTaskAttempts(st, task, started + 1);
	/*
	 * The child's steps read the calling task's row (its depth, the hand-back of its
	 * end): written before it starts.
	 */
	WsFlush(st, false);
	(void) WsStartChild(st->who, n->call, params, task, st->root ? st->root : st->process);
}

/*
 * Activate call node ni (task 0), its task's own params tparams, or start the next child
 * of task after a back-off or a ws.retry: the calling task is running, its own params
 * the child's params. Returns the task.
 */
int64
WsCall(WsStep *st, int ni, int64 task, Jsonb *tparams)
{
	Jsonb	   *params = WsEffectiveParams(st->g, ni, st->vars, tparams);
	const char *detail = psprintf("calls workflow \"%s\"", st->g->nodes[ni].call);

	if (task == 0)
	{
		WsArming	plain;

		if (st->arming == NULL)
		{
			memset(&plain, 0, sizeof(plain));
			plain.deadline_at = WS_NO_TIME;
			st->arming = &plain;
		}
		st->arming->params = params;
		task = WsSetTask(st, ni, 0, WS_TASK_RUNNING, NULL, NULL, NULL, NULL, detail);
	}
	else
	{
		WsSetTask(st, ni, task, WS_TASK_RUNNING, NULL, ws_no_error, NULL, NULL, detail);
		WsSetTaskParams(st, task, params);
	}
	WsStartChildOf(st, ni, task, params);
	return task;
}

/*
 * Calling task of st's process: its child ended in state (completed, failed, cancelled)
 * with variables vars, or error. Nothing when the task is no longer active (it ended
 * otherwise, and cancelled the child) or the process is not running.
 */
static void
WsChildEnded(WsStep *st, int64 task, int64 child, WsProcState state, Jsonb *vars, const char *error)
{
	WsNode	   *n;
	int			a,
				ni,
				started;
	char	   *cstate;

	if (st->state != WS_PROC_RUNNING || st->ended || (a = WsFindActive(st, task)) < 0)
		return;
	if (WsQueryChild(task, &cstate, &started) != child)
		return;					/* an earlier child's end (a cancel of a failed one): not this call's */
	ni = st->active[a].node;
	n = &st->g->nodes[ni];
	if (state == WS_PROC_COMPLETED)
	{
		Jsonb	   *result;
		int			instance;

		if (n->foreach && WsTaskGroup(st, task, &instance) != 0)
			result = vars;		/* an instance: its element of the node's array */
		else if (n->as)
			result = WsVarJsonb(n->as, vars);
		else
			result = WsQueryChanged(vars, WsTaskParams(st, task));	/* what it added or changed */
		WsSucceedWith(st, ni, task, result, psprintf("child process " INT64_FORMAT " completed", child));
	}
	else
	{
		char	   *why = state == WS_PROC_FAILED
			? psprintf("child process " INT64_FORMAT " failed: %s", child, error ? error : "")
			: psprintf("child process " INT64_FORMAT " was cancelled", child);

		WsAttemptFailed(st, ni, task, started, why, NULL);
	}
}

/*
 * st, a child process's step, has just ended its process: when its parent's step is open
 * in this backend (the child ended in its first step, started inside the parent's step;
 * a batch holding both), the end is handed back now, in that step's memory, so that the
 * parent's step goes on knowing it; else at the child's write (WsHandBack).
 */
void
WsHandBackNow(WsStep *st)
{
	int64		parent;
	WsStep	   *open;

	if (st->parent_task == 0 || st->no_hand_back || st->handed_back || !WsAnyOtherStepOpen())
		return;
	parent = WsQueryTaskProcess(st->parent_task);
	if (parent == 0 || (open = WsOpenStepOf(parent)) == NULL)
		return;
	st->handed_back = true;
	WsChildEnded(open, st->parent_task, st->process, st->state, st->vars, st->error);
}

/*
 * st, a child process's step, ended its process: hand the end back to the calling task,
 * in the parent's step open in this backend, or in a step of its own.
 */
void
WsHandBack(WsStep *st)
{
	int64		parent = WsQueryTaskProcess(st->parent_task);
	WsStep	   *open = WsOpenStepOf(parent);
	WsStep		own;

	if (parent == 0)
		return;
	if (open)
	{
		WsChildEnded(open, st->parent_task, st->process, st->state, st->vars, st->error);
		return;
	}
	WsStepLock(&own, st->who, parent, false);
	WsChildEnded(&own, st->parent_task, st->process, st->state, st->vars, st->error);
	WsStepEnd(&own);
}

/*
 * The calling task of st's process ends otherwise than by its child's end: cancel the
 * child, running or frozen (with the task running, a failed child is frozen), with
 * everything below it.
 */
void
WsCancelChild(WsStep *st, int64 task, const char *detail)
{
	char	   *state;
	int			started;
	int64		child = WsQueryChild(task, &state, &started);
	WsStep		cst;

	WsStep	   *open;

	if (child == 0)
		return;
	if ((open = WsOpenStepOf(child)) != NULL)
	{
		/* its step is open in this backend (a batch): changed there, written with it */
		if (!open->ended && (open->state == WS_PROC_RUNNING || open->state == WS_PROC_FAILED))
		{
			open->no_hand_back = true;
			WsEndProcess(open, WS_PROC_CANCELLED, NULL,
						 psprintf("cancelled: its calling task " INT64_FORMAT " %s", task, detail));
		}
		return;
	}
	if (WsProcStateOf(state) == WS_PROC_COMPLETED || WsProcStateOf(state) == WS_PROC_CANCELLED)
		return;
	if (!WsStepLock(&cst, st->who, child, false))
		return;
	if (cst.state == WS_PROC_RUNNING || cst.state == WS_PROC_FAILED)
	{
		cst.no_hand_back = true;
		WsEndProcess(&cst, WS_PROC_CANCELLED, NULL,
					 psprintf("cancelled: its calling task " INT64_FORMAT " %s", task, detail));
	}
	WsStepEnd(&cst);
}

/* st's process failed: its running children (of its active calling tasks) freeze. */
void
WsFreezeChildren(WsStep *st)
{
	int			a;

	WsEnsureActive(st);
	for (a = 0; a < st->nactive; a++)
	{
		char	   *state;
		int			started;
		int64		child;
		WsStep		cst;
		WsStep	   *open;

		if (st->g->nodes[st->active[a].node].call == NULL)
			continue;
		child = WsQueryChild(st->active[a].task, &state, &started);
		if (child == 0)
			continue;
		if ((open = WsOpenStepOf(child)) != NULL)
		{
			/* its step is open in this backend (a batch): frozen there */
			if (!open->ended && open->state == WS_PROC_RUNNING)
			{
				open->no_hand_back = true;
				WsEndProcess(open, WS_PROC_FAILED,
							 psprintf("frozen: parent process " INT64_FORMAT " failed", st->process), NULL);
			}
			continue;
		}
		if (WsProcStateOf(state) != WS_PROC_RUNNING || !WsStepLock(&cst, st->who, child, false))
			continue;
		if (cst.state == WS_PROC_RUNNING)
		{
			cst.no_hand_back = true;
			WsEndProcess(&cst, WS_PROC_FAILED,
						 psprintf("frozen: parent process " INT64_FORMAT " failed", st->process), NULL);
		}
		WsStepEnd(&cst);
	}
}

/* st's process was resumed (ws.retry): its frozen children run again, and theirs. */
void
WsThaw(WsStep *st)
{
	int			a;

	WsEnsureActive(st);
	for (a = 0; a < st->nactive; a++)
	{
		char	   *state;
		int			started;
		int64		child;
		WsStep		cst;

		if (st->g->nodes[st->active[a].node].call == NULL ||
			WsTaskStateNow(st, st->active[a].task) != WS_TASK_RUNNING)
			continue;			/* a child that failed on its own: its calling task waits or failed */
		child = WsQueryChild(st->active[a].task, &state, &started);
		if (child == 0 || WsProcStateOf(state) != WS_PROC_FAILED)
			continue;
		if (!WsStepLock(&cst, st->who, child, false))
			continue;
		if (cst.state == WS_PROC_FAILED)
		{
			cst.state = WS_PROC_RUNNING;
			cst.error = NULL;
			WsStepProcEvent(&cst, WS_PROC_RUNNING,
							psprintf("thawed: parent process " INT64_FORMAT " resumed", st->process));
			WsResumeAfterFailure(&cst);
		}
		WsStepEnd(&cst);
	}
}
