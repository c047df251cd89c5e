/*
 * engine.c: the evaluator. What happens when a node is activated (WsActivate, WsProceed),
 * when a task succeeds (WsSucceed, WsAfterSuccess: an end node, or the split), when a
 * token is delivered (WsDeliver: the AND and XOR joins), and at the end of a step
 * (WsStepFinish: the OR joins, then stuck). This essay says how the whole engine works;
 * a step's life is in step.c, its write in flush.c, the batch in batch.c, the SQL entry
 * points in calls.c, people.c and timers.c.
 *
 * STATES
 * A task is waiting (timer or retry back-off), pending (needs a person: a human task, or
 * a required parameter is missing), ready (a worker may claim it), running (claimed, under
 * a lease), or ended: succeeded, failed, cancelled. The first four are "active". A process
 * is running, completed, failed or cancelled; only a running process moves.
 *
 * STEPS
 * Every call that changes state (ws.start, ws.complete, ws.fail, ws.fill, ws.cancel,
 * ws.retry, ws.take, ws.release, ws.assign, each process handled by ws.tick) is one step
 * of one process. The assignee of a pending task is read under the process lock, so the
 * rule that only the assignee (or an admin) completes, fails or fills it holds against a
 * concurrent take. A step
 *   1. locks the process row (as FOR UPDATE does; WsStepLoad) and reads its variables,
 *      its tokens and the task it acts on into a WsStep (step.c). The process's other
 *      active tasks are read only when the step needs them all (an XOR join cancelling,
 *      the OR-join rule, the process ending, a multi-instance group cancelled:
 *      WsEnsureActive), or one of them (is one still active? of this group?), so a step
 *      that completes one of a thousand instances reads none of the others;
 *   2. does its change, which activates nodes depth first: a split follows its taken
 *      transitions in ascending priority, then id; each delivery may fire the child's join,
 *      and a routing child (no action, no role) succeeds at once and splits in turn before
 *      the next transition is followed. Once the process has ended nothing is activated;
 *   3. at its end fires the OR joins that can fire (lowest node id first, again until none
 *      can), then fails the process as stuck if nothing is active and no end was reached,
 *      and writes everything it changed in one write (WsFlush, flush.c, through the
 *      store: row by row, no planned statement): the task rows (new ones get their ids
 *      from the sequence when they are created, several changes of one task add up to
 *      one row write), the events in the order they happened, and the
 *      process row (state, variables, tokens) when that changed, and the claim queue
 *      ws.ready (a task made ready joins it, a task moved on leaves it). What reads ws.task
 *      in the middle of a step (tick re-reading a task, choosing an assignee) flushes
 *      first.
 * ws.complete_batch runs one such step per completion, in array order; the completions
 * of one process continue one WsStep, and every step's writes go out in one write at
 * the end (WsBatch).
 *
 * COMPOSITIONS
 * A multi-instance node (foreach) is activated as a group of tasks, one per element of
 * its array, each with its own params {item: element, index: i}; the first instance's id
 * names the group (ws.task.instance_of) and carries the array. Instances are created in
 * index order, each armed (its timer, message wait or child started) before the next; a
 * sequential node creates the next instance only when the one before has succeeded. An
 * instance's success merges nothing: when none of the group is active any more, the
 * node succeeds once with {as: [results by index]} and splits (WsGroupDone), so joins
 * count the node once and, as long as an instance is active, the node is a source for
 * the OR-join rule. A deadline, or an instance out of retries that takes a failure path,
 * cancels the group's other active instances. A call node (children.c) makes a calling
 * task that is running with no worker while its child process runs; the child's end is
 * handed back to it.
 *
 * TOKENS
 * process.tokens maps a transition id to the number of tokens it holds. A taken
 * transition adds one. An AND join fires when every incoming transition holds one and takes
 * one from each; an XOR join fires on every arrival, taking that token, after cancelling
 * the active tasks of its other parent nodes; an OR join is decided at the end of the step
 * by the inclusive gateway rule (WsOrCanFire below). Tokens that stay are those waiting
 * at AND and OR joins.
 *
 * LOCKING ORDER
 * process row, then task rows, then their rows in ws.ready and ws.lease (every writer of
 * the queue and of the leases locks the task first; ws.heartbeat moves a lease under the
 * task's row lock alone, as ws.claim takes one). A process with a parent locks the root of its tree (the
 * top-level process, ws.process.root) before its own row, so every step of a tree passes
 * through the root's lock: a child's end then steps its parent, and a step of the parent
 * cancels or freezes its children, each while holding the root, and no two steps of a
 * tree wait for each other in a cycle (test/isolation call_cancel, call_call,
 * call_deadline). The price: the steps of one tree run one at a time. A batch and
 * ws.send lock their processes tree by tree (root first), in ascending id; so do ws.migrate
 * and ws.migrate_all (sql/parts/80_operations.sql), which then lock the process's active
 * tasks before they change their ws.ready rows. Every change of a
 * task's state happens under its process lock, with one exception: ws.claim moves
 * ready -> running while holding only the task row (FOR UPDATE SKIP LOCKED), so claimers
 * never wait for each other or for steps.
 * This is safe because no step depends on the difference between ready and running (both
 * are active), and every step rewrites a task under its row lock after checking its
 * state again (one that moved anyway refuses the step with 40001). ws.heartbeat and ws.progress touch only the
 * lease and the progress of a running task, under its row lock. So steps of one process
 * are serialized, different processes run in parallel, and a claim never blocks. A claim
 * reads the process's state after it locked the task, and a step that fails its process
 * holds the process's other active tasks (FOR KEY SHARE, which the claim's lock skips)
 * until it commits: no claim takes a task of a process whose failure is decided. A call
 * that a user's trigger makes from inside a step may not step the same process before
 * that step's writes are done (step.c WsStepOpen): the two would overwrite each other.
 * Definitions: ws.add_node and friends lock the workflow row FOR UPDATE and refuse once
 * a process exists; ws.start takes FOR KEY SHARE on it first, so a version is frozen from
 * the moment its first process is inserted.
 */
#include "postgres.h"

#include "access/xact.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonpath.h"

#include "actions.h"
#include "children.h"
#include "engine.h"
#include "errors.h"
#include "flush.h"
#include "forms.h"
#include "messages.h"
#include "notifier.h"
#include "people.h"
#include "queries.h"
#include "timers.h"
#include "ws.h"

static void WsAfterSuccess(WsStep *st, int ni);
static Jsonb *WsVar(const char *key, const char *value);

/* ---------- activation ---------- */

static void WsAfterTask(WsStep *st, int ni, int64 task, Jsonb *result);

/*
 * Move task (0: a new one) of node ni, with its own params tparams, on from activation,
 * from state from (its state before, or WS_TASK_WAITING for a new task): to ready when its
 * action's form finds nothing wrong with the effective params, to pending when a person
 * must act (a human task, or a required value is missing or of the wrong type: the
 * problem goes to the task's error), or, for a routing node, to succeeded, which splits
 * at once. A task that was pending keeps its assignee and due time. Returns the task.
 */
int64
WsProceed(WsStep *st, int ni, int64 task, Jsonb *tparams, WsTaskState from)
{
	WsNode	   *n = &st->g->nodes[ni];
	bool		was_pending = task != 0 && from == WS_TASK_PENDING;
	char	   *problems = NULL;

	if (n->call)
		return WsCall(st, ni, task, tparams);	/* after a back-off, or ws.retry: a new child */
	if (n->action)
	{
		if (n->form)
			problems = WsFormProblems(n->form, WsEffectiveParams(st->g, ni, st->vars, tparams),
									  n->action, true);
		if (problems == NULL)
		{
			task = WsSetTask(st, ni, task, WS_TASK_READY, NULL, was_pending ? ws_no_error : NULL,
							 NULL, NULL, NULL);
			if (n->fn)
			{
				WsRunAction(st, ni, task, tparams);	/* a SQL action: now, in the step */
				return task;
			}
			WsNotifyReady(n->action);
		}
	}
	if (n->action == NULL && n->role == NULL)
	{
		task = WsSetTask(st, ni, task, WS_TASK_SUCCEEDED, NULL, NULL, NULL, NULL, "routing node");
		WsAfterTask(st, ni, task, NULL);
		return task;
	}
	if (n->action == NULL || problems != NULL)
		task = WsMakePending(st, ni, task, problems, was_pending);
	return task;
}

/*
 * Create the task of node ni that a (NULL: a plain task) describes, and arm it: it waits
 * for its message or its timer, starts its child process, or goes on at once. Returns
 * the task, 0 when none was created (the process failed).
 */
static int64
WsArm(WsStep *st, int ni, WsArming *a)
{
	WsNode	   *n = &st->g->nodes[ni];
	Jsonb	   *tparams = a ? a->params : NULL;
	int64		task = 0;

	st->arming = a;
	if (n->message)
		task = WsWaitForMessage(st, ni, tparams);
	else if (n->call)
		task = WsCall(st, ni, 0, tparams);
	else if (n->wait || n->wait_until)
	{
		TimestampTz due;
		char	   *why;

		if (WsDueAt(st, ni, tparams, &due, &why))
			task = WsSetTask(st, ni, 0, WS_TASK_WAITING, NULL, NULL, NULL, &due, "timer");
		else
			WsEndProcess(st, WS_PROC_FAILED, why, NULL);
	}
	else
		task = WsProceed(st, ni, 0, tparams, WS_TASK_WAITING);
	st->arming = NULL;
	return task;
}

/* {item: the element at index i of items, "index": i}: an instance's own params */
static Jsonb *
WsInstanceParams(WsNode *n, Jsonb *items, int i)
{
	JsonbParseState *ps = NULL;
	JsonbValue	k,
				v,
			   *elem = getIthJsonbValueFromContainer(&items->root, i);

	pushJsonbValue(&ps, WJB_BEGIN_OBJECT, NULL);
	k.type = jbvString;
	k.val.string.val = n->item;
	k.val.string.len = strlen(n->item);
	pushJsonbValue(&ps, WJB_KEY, &k);
	pushJsonbValue(&ps, WJB_VALUE, elem);
	k.val.string.val = "index";
	k.val.string.len = 5;
	pushJsonbValue(&ps, WJB_KEY, &k);
	v.type = jbvNumeric;
	v.val.numeric = int64_to_numeric(i);
	pushJsonbValue(&ps, WJB_VALUE, &v);
	return JsonbValueToJsonb(pushJsonbValue(&ps, WJB_END_OBJECT, NULL));
}

/* Cancel the active instances of group, of node ni, with detail. */
static void
WsCancelGroup(WsStep *st, int ni, int64 group, const char *detail)
{
	int64	   *ids;
	int			a,
				n = 0,
				instance;

	WsEnsureActive(st);
	ids = palloc(sizeof(int64) * Max(st->nactive, 1));
	for (a = 0; a < st->nactive; a++)
		if (st->active[a].node == ni &&
			(st->active[a].group >= 0 ? st->active[a].group
			 : WsTaskGroup(st, st->active[a].task, &instance)) == group)
			ids[n++] = st->active[a].task;
	WsCancelTasks(st, ids, n, detail);
	if (group == st->filling)
		st->filling_stopped = true;
}

/*
 * Every instance of group, of node ni, has succeeded: the node succeeds, once, with
 * {as: [the results in index order]}, merged into the variables, and splits.
 */
static void
WsGroupDone(WsStep *st, int ni, int64 group, int nitems)
{
	WsNode	   *n = &st->g->nodes[ni];
	Jsonb	   *results;
	int			count;

	WsFlush(st, false);			/* the results as the step left them */
	results = WsQueryGroupResults(st->process, group, &count);
	if (count != nitems)
		elog(ERROR, "ws: multi-instance node \"%s\" has %d results for %d items", n->name, count, nitems);
	st->vars = WsJsonbConcat(st->vars, WsVarJsonb(n->as ? n->as : n->name, results));
	WsAfterSuccess(st, ni);
}

/*
 * Create and arm the instances of group, of node ni, over items, from index i: all of
 * them, or (sequential) each next one only while the one before succeeded at once. When
 * none is active at the end, the node is done.
 */
static void
WsInstancesFrom(WsStep *st, int ni, int64 group, Jsonb *items, int i, TimestampTz deadline_at)
{
	WsNode	   *n = &st->g->nodes[ni];
	int			nitems = JB_ROOT_COUNT(items);
	int64		saved = st->filling;
	bool		saved_stopped = st->filling_stopped;
	bool		stopped;

	if (group == 0)
		group = WsStoreNextId(WS_TASK);	/* the first instance's id names the group */
	st->filling = group;
	st->filling_stopped = false;
	for (; i < nitems && !st->ended && !st->filling_stopped; i++)
	{
		WsArming	a;

		memset(&a, 0, sizeof(a));
		a.params = WsInstanceParams(n, items, i);
		a.is_instance = true;
		a.instance = i;
		a.group = group;
		a.id = i == 0 ? group : 0;
		a.items = i == 0 ? items : NULL;
		a.deadline_at = deadline_at;
		WsArm(st, ni, &a);
		if (n->sequential && WsGroupHasActive(st, ni, group))
			break;
	}
	stopped = st->filling_stopped;
	st->filling = saved;
	st->filling_stopped = saved_stopped;
	if (!st->ended && !stopped && !WsGroupHasActive(st, ni, group))
		WsGroupDone(st, ni, group, nitems);
}

/*
 * Activate multi-instance node ni: one instance per element of the array its foreach
 * yields, or, for an empty array, one task that succeeds at once with {as: []}. A path
 * that yields anything but one array fails the process.
 */
static void
WsActivateInstances(WsStep *st, int ni)
{
	WsNode	   *n = &st->g->nodes[ni];
	int			count;
	Jsonb	   *items = WsQueryForeach(WsEffectiveParams(st->g, ni, st->vars, NULL), n->foreach, &count);
	Jsonb	   *none = WsVar(n->as ? n->as : n->name, "[]");

	if (items == NULL)
	{
		WsEndProcess(st, WS_PROC_FAILED,
					 count == 1
					 ? psprintf("foreach %s of node \"%s\" yields an item that is not an array", n->foreach, n->name)
					 : psprintf("foreach %s of node \"%s\" yields %d items, not one array", n->foreach, n->name, count),
					 NULL);
		return;
	}
	if (JB_ROOT_COUNT(items) > 0)
	{
		WsInstancesFrom(st, ni, 0, items, 0, WS_NO_TIME);
		return;
	}
	(void) WsSetTask(st, ni, 0, WS_TASK_SUCCEEDED, none, NULL, NULL, NULL, "foreach yields an empty array");
	st->vars = WsJsonbConcat(st->vars, none);
	WsAfterSuccess(st, ni);
}

/*
 * Instance task (index instance of group, node ni) has succeeded. Once none of its group
 * is active: the next instance of a sequential node, or the node is done.
 */
static void
WsInstanceSucceeded(WsStep *st, int ni, int64 group, int instance)
{
	Jsonb	   *items;
	TimestampTz deadline_at;
	int			i;

	if (group == st->filling || WsGroupHasActive(st, ni, group))
		return;
	/* the array is on the first instance: in the step's writes, or stored */
	items = NULL;
	deadline_at = WS_NO_TIME;
	for (i = 0; i < st->nwrites; i++)
		if (st->writes[i].task == group && st->writes[i].insert)
		{
			items = st->writes[i].items;
			deadline_at = st->writes[i].deadline_at;
		}
	if (items == NULL && !WsQueryGroupFirst(group, &items, &deadline_at))
		elog(ERROR, "ws: the first instance " INT64_FORMAT " of node \"%s\" is gone", group, st->g->nodes[ni].name);
	if (st->g->nodes[ni].sequential && instance + 1 < (int) JB_ROOT_COUNT(items))
		WsInstancesFrom(st, ni, group, items, instance + 1, deadline_at);
	else
		WsGroupDone(st, ni, group, JB_ROOT_COUNT(items));
}

/*
 * How deep activations are nested (a node's success activating the next one, depth
 * first: routing nodes, SQL actions, children's first steps), and how many one top-level
 * call has made (ws.max_steps); both start again at a call that no step encloses.
 */
static int	ws_activation_depth = 0;
static int	ws_activations = 0;

/* Deeper than this, an activation waits for the step to unwind (WsStepFinish). */
#define WS_MAX_ACTIVATION_DEPTH 40

/* A call that no step encloses begins: the counts start again. */
void
WsCallsBegin(void)
{
	ws_activation_depth = 0;
	ws_activations = 0;
}

/*
 * Activate node ni: its task, or its instances, created and armed. Past ws.max_steps
 * activations in one top-level call the process fails instead (an endless loop of
 * routing nodes or SQL actions ends there); past a nesting depth, the activation waits
 * until the step unwinds, so that no loop exhausts the stack.
 */
void
WsActivate(WsStep *st, int ni)
{
	check_stack_depth();
	CHECK_FOR_INTERRUPTS();
	Assert(ni >= 0 && ni < st->g->nnodes);
	if (st->ended)
		return;
	if (++ws_activations > ws_max_steps)
	{
		WsEndProcess(st, WS_PROC_FAILED,
					 psprintf("step limit reached: node \"%s\" would be activation %d of this call, more than ws.max_steps (%d)",
							  st->g->nodes[ni].name, ws_activations, ws_max_steps), NULL);
		return;
	}
	if (ws_activation_depth >= WS_MAX_ACTIVATION_DEPTH)
	{
		if (st->ndeferred == st->maxdeferred)
		{
			st->maxdeferred = Max(16, st->maxdeferred * 2);
			st->deferred = st->deferred ? repalloc(st->deferred, sizeof(int) * st->maxdeferred)
				: palloc(sizeof(int) * st->maxdeferred);
		}
		st->deferred[st->ndeferred++] = ni;
		ws_activations--;		/* counted when it runs */
		return;
	}
	ws_activation_depth++;
	PG_TRY();
	{
		if (st->g->nodes[ni].foreach)
			WsActivateInstances(st, ni);
		else
			(void) WsArm(st, ni, NULL);
	}
	PG_FINALLY();
	{
		ws_activation_depth--;
	}
	PG_END_TRY();
}

/* The activations that waited for the step to unwind, in the order they came. */
static void
WsActivateDeferred(WsStep *st)
{
	int			i;

	for (i = 0; i < st->ndeferred && !st->ended; i++)
		WsActivate(st, st->deferred[i]);
	st->ndeferred = 0;
}

/* ---------- splits and joins ---------- */

/* Does condition cond (NULL: none) hold over the process variables, $now bound? */
static bool
WsCondition(WsStep *st, JsonPath *cond)
{
	LOCAL_FCINFO(fcinfo, 4);
	Datum		result;

	if (cond == NULL)
		return true;
	InitFunctionCallInfoData(*fcinfo, NULL, 4, InvalidOid, NULL, NULL);
	fcinfo->args[0].value = JsonbPGetDatum(st->vars);
	fcinfo->args[0].isnull = false;
	fcinfo->args[1].value = PointerGetDatum(cond);
	fcinfo->args[1].isnull = false;
	fcinfo->args[2].value = JsonbPGetDatum(st->now_vars);
	fcinfo->args[2].isnull = false;
	fcinfo->args[3].value = BoolGetDatum(true);
	fcinfo->args[3].isnull = false;
	result = jsonb_path_match_tz(fcinfo);
	return !fcinfo->isnull && DatumGetBool(result);
}

/* Deliver a token on transition ti, firing the child's AND or XOR join. */
static void
WsDeliver(WsStep *st, int ti)
{
	WsGraph    *g = st->g;
	WsTransition *t = &g->trans[ti];
	WsNode	   *c = &g->nodes[t->child];
	int			i;

	Assert(ti >= 0 && ti < g->ntrans);
	st->tokens[ti]++;
	if (c->join == WS_GATE_AND)
	{
		for (i = 0; i < c->nin; i++)
			if (st->tokens[c->in[i]] == 0)
				return;
		for (i = 0; i < c->nin; i++)
			st->tokens[c->in[i]]--;
		WsActivate(st, t->child);
	}
	else if (c->join == WS_GATE_XOR)
	{
		int64	   *ids;
		int			n = 0,
					a;

		WsEnsureActive(st);
		ids = palloc(sizeof(int64) * Max(st->nactive, 1));
		st->tokens[ti]--;
		for (a = 0; a < st->nactive; a++)
		{
			int			an = st->active[a].node;

			if (an == t->parent)
				continue;
			for (i = 0; i < c->nin; i++)
				if (g->trans[c->in[i]].parent == an)
				{
					ids[n++] = st->active[a].task;
					break;
				}
		}
		WsCancelTasks(st, ids, n,
					  psprintf("XOR join \"%s\" fired from \"%s\"", c->name, g->nodes[t->parent].name));
		WsActivate(st, t->child);
	}
	/* OR joins wait for the end of the step */
}

/* Node ni has succeeded: end the process at an end node, else split. */
static void
WsAfterSuccess(WsStep *st, int ni)
{
	WsGraph    *g = st->g;
	WsNode	   *n = &g->nodes[ni];
	int		   *taken;
	int			ntaken = 0,
				nsplit = 0,
				i;

	if (st->ended)
		return;
	if (n->is_end)
	{
		WsEndProcess(st, WS_PROC_COMPLETED, NULL, psprintf("end node \"%s\" reached", n->name));
		return;
	}
	taken = palloc(sizeof(int) * Max(n->nout, 1));
	for (i = 0; i < n->nout; i++)
		if (g->trans[n->out[i]].on == WS_ON_SUCCESS)
		{
			nsplit++;
			if (WsCondition(st, g->trans[n->out[i]].condition) &&
				!(n->split == WS_GATE_XOR && ntaken > 0))
				taken[ntaken++] = n->out[i];
		}
	if (ntaken == 0)
	{
		WsEndProcess(st, WS_PROC_FAILED,
					 psprintf("node \"%s\" took no transition: no condition of its %d outgoing transitions held",
							  n->name, nsplit), NULL);
		return;
	}
	for (i = 0; i < ntaken && !st->ended; i++)
		WsDeliver(st, taken[i]);
}

/* s as a JSON string */
static char *
WsJsonString(const char *s)
{
	StringInfoData buf;

	initStringInfo(&buf);
	escape_json(&buf, s);
	return buf.data;
}

/* The object {key: value}, value a JSON text */
static Jsonb *
WsVar(const char *key, const char *value)
{
	char	   *text = psprintf("{%s: %s}", WsJsonString(key), value);

	return DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
}

/*
 * Follow node ni's boundary paths of kind on (deadline, failure) as a split of the node
 * follows its transitions: every one whose condition holds, by priority then id. With
 * none defined, or none holding, the process fails with error. When one is taken and
 * group is not 0, the other active instances of that multi-instance group are cancelled
 * first (with detail group_detail): when none is, they stay active in the failed process,
 * so that ws.retry of the failed instance resumes the group.
 */
void
WsBoundary(WsStep *st, int ni, WsOn on, const char *error, int64 group, const char *group_detail)
{
	WsGraph    *g = st->g;
	WsNode	   *n = &g->nodes[ni];
	int		   *taken = palloc(sizeof(int) * Max(n->nout, 1));
	int			ntaken = 0,
				i;

	if (st->ended)
		return;
	for (i = 0; i < n->nout; i++)
		if (g->trans[n->out[i]].on == on && WsCondition(st, g->trans[n->out[i]].condition))
			taken[ntaken++] = n->out[i];
	if (ntaken == 0)
	{
		WsEndProcess(st, WS_PROC_FAILED, error, NULL);
		return;
	}
	if (group != 0)
		WsCancelGroup(st, ni, group, group_detail);
	for (i = 0; i < ntaken && !st->ended; i++)
		WsDeliver(st, taken[i]);
}

/* Does node ni have boundary paths of kind on? */
static bool
WsHasBoundary(WsGraph *g, int ni, WsOn on)
{
	int			i;

	for (i = 0; i < g->nodes[ni].nout; i++)
		if (g->trans[g->nodes[ni].out[i]].on == on)
			return true;
	return false;
}

/*
 * Task of node ni is out of retries, with error: it fails, and the process goes on along
 * the node's failure paths, with $.error = {"node": name, "message": error}, or fails.
 */
void
WsTaskFailed(WsStep *st, int ni, int64 task, const char *error)
{
	WsTaskFailedWith(st, ni, task, error, error);
}

/*
 * Attempt number attempt of task, of node ni, failed with error (detail: what its event
 * says, NULL: error): while the node has retries left the task waits out a back-off
 * (ws.tick makes it go on), else it fails (WsTaskFailed). Workers, SQL actions and
 * children's ends all fail an attempt so.
 */
void
WsAttemptFailed(WsStep *st, int ni, int64 task, int attempt, const char *error, const char *detail)
{
	WsNode	   *n = &st->g->nodes[ni];

	if (attempt <= n->retries)
	{
		double		seconds;
		TimestampTz due = WsRetryDue(attempt, &seconds);

		WsSetTask(st, ni, task, WS_TASK_WAITING, NULL, error, NULL, &due,
				  psprintf("attempt %d of %d failed, retrying after %.3f s: %s",
						   attempt, n->retries + 1, seconds, detail ? detail : error));
	}
	else
		WsTaskFailedWith(st, ni, task, error, detail ? detail : error);
}

/* WsTaskFailed, with detail for the task's event */
void
WsTaskFailedWith(WsStep *st, int ni, int64 task, const char *error, const char *detail)
{
	WsNode	   *n = &st->g->nodes[ni];
	char	   *why = psprintf("task " INT64_FORMAT " (node \"%s\") failed: %s", task, n->name, error);
	int			instance;
	int64		group = WsTaskGroup(st, task, &instance);

	WsSetTask(st, ni, task, WS_TASK_FAILED, NULL, error, NULL, NULL, detail);
	if (!WsHasBoundary(st->g, ni, WS_ON_FAILURE))
	{
		WsEndProcess(st, WS_PROC_FAILED, why, NULL);
		return;
	}
	st->vars = WsJsonbConcat(st->vars, WsVar("error", psprintf("{\"node\": %s, \"message\": %s}",
																WsJsonString(n->name), WsJsonString(error))));
	/* the other instances end only when a failure path takes the process on */
	WsBoundary(st, ni, WS_ON_FAILURE, why, group,
			   group ? psprintf("instance %d of node \"%s\" failed", instance, n->name) : NULL);
}

/*
 * The deadline of task, of node ni, passed while it was active: it is cancelled and the
 * process goes on along the node's deadline paths, with $.deadline = the node's name,
 * or fails.
 */
void
WsDeadlinePassed(WsStep *st, int ni, int64 task)
{
	WsNode	   *n = &st->g->nodes[ni];
	int			instance;
	int64		group = WsTaskGroup(st, task, &instance);

	WsCancelTasks(st, &task, 1, psprintf("deadline of node \"%s\" passed", n->name));
	if (group != 0)
		WsCancelGroup(st, ni, group, psprintf("deadline of node \"%s\" passed", n->name));
	st->vars = WsJsonbConcat(st->vars, WsVar("deadline", WsJsonString(n->name)));
	WsBoundary(st, ni, WS_ON_DEADLINE, psprintf("deadline of node \"%s\" passed", n->name), 0, NULL);
}

/* The object {key: value} */
Jsonb *
WsVarJsonb(const char *key, Jsonb *value)
{
	return WsVar(key, JsonbToCString(NULL, &value->root, VARSIZE(value)));
}

/*
 * st's process runs again after it failed (ws.retry): nothing moved meanwhile, so its
 * message waits take the kept messages they may, and its frozen children run again.
 */
void
WsResumeAfterFailure(WsStep *st)
{
	if (st->ended || st->state != WS_PROC_RUNNING)
		return;					/* the retried task failed it again */
	WsResumeMessageWaits(st);
	WsThaw(st);
}

/* task of node ni succeeded with result (NULL: {}): merged into the variables, then split */
void
WsSucceed(WsStep *st, int ni, int64 task, Jsonb *result)
{
	WsSucceedWith(st, ni, task, result, NULL);
}

/* WsSucceed, with detail for the task's event */
void
WsSucceedWith(WsStep *st, int ni, int64 task, Jsonb *result, const char *detail)
{
	if (result == NULL)
		result = WsEmptyJsonb();
	WsSetTask(st, ni, task, WS_TASK_SUCCEEDED, result, NULL, NULL, NULL, detail);
	WsAfterTask(st, ni, task, result);
}

/*
 * Task of node ni was just made succeeded with result (NULL: nothing): merged into the
 * variables and the node splits; an instance's result waits for its group instead.
 */
static void
WsAfterTask(WsStep *st, int ni, int64 task, Jsonb *result)
{
	int			instance;
	int64		group = WsTaskGroup(st, task, &instance);

	if (group != 0)
	{
		WsInstanceSucceeded(st, ni, group, instance);
		return;
	}
	if (result)
		st->vars = WsJsonbConcat(st->vars, result);
	WsAfterSuccess(st, ni);
}

/* ---------- OR joins ---------- */

/*
 * Incoming positions of OR join j that a source at node s can reach: by a path of
 * transitions that ends with that incoming transition and enters j nowhere else (it may
 * start at j). Static for a graph, so memoized in it.
 */
static Bitmapset *
WsReach(WsGraph *g, int j, int s)
{
	WsNode	   *J = &g->nodes[j];
	bool	   *seen;
	int		   *queue;
	int			head = 0,
				tail = 0;
	Bitmapset  *r = NULL;
	MemoryContext old;

	if (J->reach_done[s])
		return J->reach[s];
	seen = palloc0(sizeof(bool) * g->nnodes);
	queue = palloc(sizeof(int) * g->nnodes);
	seen[s] = true;
	queue[tail++] = s;
	while (head < tail)
	{
		WsNode	   *u = &g->nodes[queue[head++]];
		int			i;

		for (i = 0; i < u->nout; i++)
		{
			int			ti = u->out[i];
			int			c = g->trans[ti].child;

			if (c == j)
			{
				int			p;

				for (p = 0; p < J->nin; p++)
					if (J->in[p] == ti)
						r = bms_add_member(r, p);
			}
			else if (!seen[c])
			{
				seen[c] = true;
				queue[tail++] = c;
			}
		}
	}
	old = MemoryContextSwitchTo(g->cxt);
	J->reach[s] = bms_copy(r);
	J->reach_done[s] = true;
	MemoryContextSwitchTo(old);
	return J->reach[s];
}

/*
 * The inclusive gateway rule: OR join j fires when at least one incoming transition holds
 * a token and every source that can reach an incoming transition without a token can also
 * reach one that holds a token. Sources: the process's active tasks (j's own included) and
 * tokens held on transitions into other joins.
 */
static bool
WsOrCanFire(WsStep *st, int j)
{
	WsGraph    *g = st->g;
	WsNode	   *J = &g->nodes[j];
	Bitmapset  *held = NULL,
			   *empty = NULL;
	int			p,
				a,
				ti;

	for (p = 0; p < J->nin; p++)
	{
		if (st->tokens[J->in[p]] > 0)
			held = bms_add_member(held, p);
		else
			empty = bms_add_member(empty, p);
	}
	if (held == NULL)
		return false;
	if (empty == NULL)
		return true;
	WsEnsureActive(st);
	for (a = 0; a < st->nactive; a++)
	{
		Bitmapset  *r = WsReach(g, j, st->active[a].node);

		if (bms_overlap(r, empty) && !bms_overlap(r, held))
			return false;
	}
	for (ti = 0; ti < g->ntrans; ti++)
	{
		Bitmapset  *r;

		if (st->tokens[ti] == 0 || g->trans[ti].child == j)
			continue;
		r = WsReach(g, j, g->trans[ti].child);
		if (bms_overlap(r, empty) && !bms_overlap(r, held))
			return false;
	}
	return true;
}

/* Fire the OR joins that can fire, lowest node id first, again until none can. */
static void
WsOrJoins(WsStep *st)
{
	WsGraph    *g = st->g;

	for (;;)
	{
		int			j;
		bool		fired = false;

		for (j = 0; j < g->nnodes && !st->ended; j++)
		{
			WsNode	   *J = &g->nodes[j];
			int			p;

			if (J->join != WS_GATE_OR || !WsOrCanFire(st, j))
				continue;
			for (p = 0; p < J->nin; p++)
				if (st->tokens[J->in[p]] > 0)
					st->tokens[J->in[p]]--;
			WsActivate(st, j);
			fired = true;
			break;
		}
		if (!fired || st->ended)
			return;
	}
}


/* ---------- the end of a step ---------- */

/*
 * Why st's process is stuck: no task is active, no end node was reached, and the joins
 * that hold tokens wait for more ("AND join "x" holds 3 of 4 tokens").
 */
static char *
WsStuckError(WsStep *st)
{
	StringInfoData buf;
	int			j;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "process is stuck: no task is active and no end node was reached");
	for (j = 0; j < st->g->nnodes; j++)
	{
		WsNode	   *J = &st->g->nodes[j];
		int			p,
					held = 0;

		for (p = 0; p < J->nin; p++)
			held += st->tokens[J->in[p]] > 0;
		if (held > 0)
			appendStringInfo(&buf, "; %s join \"%s\" holds %d of %d tokens",
							 J->join == WS_GATE_AND ? "AND" : J->join == WS_GATE_OR ? "OR" : "XOR",
							 J->name, held, J->nin);
	}
	return buf.data;
}

/*
 * The end of a step but its write: fire the OR joins that can fire, then fail the
 * process as stuck when nothing is active and no end was reached.
 */
void
WsStepFinish(WsStep *st)
{
	if (!st->ended && st->state == WS_PROC_RUNNING)
	{
		WsActivateDeferred(st);
		WsOrJoins(st);
		if (!st->ended && WsNoActive(st))
			WsEndProcess(st, WS_PROC_FAILED, WsStuckError(st), NULL);
	}
}

/* The end of a step: WsStepFinish, then its write. */
void
WsStepEnd(WsStep *st)
{
	WsStepFinish(st);
	WsFlush(st, true);
}
