/*
 * people.c: tasks for people. A pending task (a human task, or one whose params a person
 * must fix) goes to the member of its node's role, who can log in, with the fewest open
 * tasks, ties by name (WsMakePending). A member takes it (ws.take), the assignee gives it
 * back (ws.release), an administrator assigns it (ws.assign). An assigned pending task is
 * completed, failed or filled only by its assignee or an administrator (WsCheckAssignee).
 * Each of these calls is a step of the task's process: the assignee is read under the
 * process lock, after the step's own writes.
 */
#include "postgres.h"

#include "access/xact.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "calls.h"
#include "engine.h"
#include "errors.h"
#include "flush.h"
#include "people.h"
#include "queries.h"
#include "ws.h"

/* The current assignee of task (a pending task of st's process), NULL: nobody. */
static char *
WsTaskAssignee(WsStep *st, int64 task)
{
	WsFlush(st, false);			/* the step may have changed it */
	return WsQueryAssignee(task);
}

/*
 * Make task (0: a new one) of node ni pending, with problems (NULL: a human task) as its
 * error. A newly pending task is assigned (WsQueryLeastLoaded) and gets the node's due
 * time, or none; one that was pending already (was_pending: a partial ws.fill) keeps its
 * assignee and due time. Returns the task id.
 */
int64
WsMakePending(WsStep *st, int ni, int64 task, const char *problems, bool was_pending)
{
	WsNode	   *n = &st->g->nodes[ni];
	char	   *assignee;
	char	   *detail;
	TimestampTz due = WS_NO_TIME;

	if (problems)
		detail = pstrdup(problems);
	else
		detail = pstrdup("waiting for a member of the role to complete it");
	if (was_pending)
	{
		assignee = WsTaskAssignee(st, task);
		detail = psprintf("%s; %s", detail,
						  assignee ? psprintf("assigned to \"%s\"", assignee) : "unassigned");
	}
	else
	{
		WsFlush(st, false);		/* the count of open tasks includes this step's */
		assignee = n->role ? WsQueryLeastLoaded(n->role, NULL) : NULL;
		if (n->due)
			due = DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
														  TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()),
														  IntervalPGetDatum(n->due)));
		if (n->role && assignee == NULL)
			detail = psprintf("%s; role \"%s\" has no member who can log in, so it is unassigned",
							  detail, n->role);
		else if (assignee)
			detail = psprintf("%s; assigned to \"%s\"", detail, assignee);
	}
	return WsSetTask(st, ni, task, WS_TASK_PENDING, NULL, problems, assignee,
					 was_pending ? NULL : &due, detail);
}

/*
 * An assigned pending task is completed, failed or filled only by its assignee or an
 * admin: any other member of the node's role takes it first (ws.take).
 */
void
WsCheckAssignee(WsStep *st, WsTarget *target, const char *verb)
{
	char	   *assignee;

	if (target->state != WS_TASK_PENDING)
		return;
	assignee = WsTaskAssignee(st, target->id);
	if (assignee == NULL || strcmp(assignee, st->who->actor) == 0 || WsIsAdmin(st->who))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("permission denied to %s task " INT64_FORMAT, verb, target->id),
			 errdetail("The task is assigned to \"%s\"; only its assignee or an administrator may %s it.",
					   assignee, verb),
			 errhint("Take it first with SELECT ws.take(" INT64_FORMAT "), or ask an administrator to ws.assign() it.",
					 target->id)));
}

/* Assign the pending target to assignee (NULL: nobody), the event saying why. */
static void
WsReassign(WsStep *st, WsTarget *target, const char *assignee, const char *why)
{
	char	   *old = WsTaskAssignee(st, target->id);

	if ((old == NULL && assignee == NULL) || (old && assignee && strcmp(old, assignee) == 0))
		return;
	WsSetTask(st, target->node, target->id, WS_TASK_PENDING, NULL, NULL, assignee, NULL,
			  psprintf("%s; %s%s", why,
					   assignee ? psprintf("assigned to \"%s\"", assignee) : "unassigned",
					   old ? psprintf(", was assigned to \"%s\"", old) : ""));
}

/*
 * Lock the process of task, read the task into target, check that it is pending and
 * (member) that the caller is a member of its node's role.
 */
static void
WsPendingStep(WsStep *st, WsCaller *who, int64 task, WsTarget *target, const char *verb,
			  bool member)
{
	if (!WsStepLoad(st, who, 0, WS_LOCK_UPDATE, task, target))
		WsErrNoTask(task);
	if (member)
		WsCheckMember(who, st->g->nodes[target->node].role, task, verb);
	WsRequireRunning(st);
	if (target->state != WS_TASK_PENDING)
		WsErrTaskState(verb, task, WsTaskStateName(target->state),
					   "Only a pending task, one that waits for a person, is assigned.");
}

PG_FUNCTION_INFO_V1(ws_take);

/* ws.take(task): a member of the node's role makes a pending task assigned to themselves. */
Datum
ws_take(PG_FUNCTION_ARGS)
{
	int64		task = WsArgId(fcinfo, 0, "task");
	WsCaller	who;
	WsStep		st;
	WsTarget	target;

	WsCallBegin(&who, fcinfo);
	WsPendingStep(&st, &who, task, &target, "take", true);
	WsReassign(&st, &target, who.actor, psprintf("taken by \"%s\"", who.actor));
	WsStepEnd(&st);
	WsCallEnd(&who);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(ws_release);

/*
 * ws.release(task): the assignee gives a pending task back; it goes to the member of the
 * node's role with the fewest open tasks but them, or to nobody when there is none.
 */
Datum
ws_release(PG_FUNCTION_ARGS)
{
	int64		task = WsArgId(fcinfo, 0, "task");
	WsCaller	who;
	WsStep		st;
	WsTarget	target;
	char	   *assignee;
	const char *role;

	WsCallBegin(&who, fcinfo);
	WsPendingStep(&st, &who, task, &target, "release", true);
	assignee = WsTaskAssignee(&st, task);
	if (assignee == NULL || strcmp(assignee, who.actor) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to release task " INT64_FORMAT, task),
				 assignee ? errdetail("It is assigned to \"%s\", not to \"%s\".", assignee, who.actor)
				 : errdetail("It is assigned to nobody."),
				 errhint("Only the assignee releases a task; administrators reassign with ws.assign().")));
	role = st.g->nodes[target.node].role;
	WsFlush(&st, false);		/* the count of open tasks includes this step's */
	WsReassign(&st, &target, role ? WsQueryLeastLoaded(role, who.actor) : NULL,
			   psprintf("released by \"%s\"", who.actor));
	WsStepEnd(&st);
	WsCallEnd(&who);
	PG_RETURN_VOID();
}

/* Refuse to assign task to role to (of oid toid) unless it can act on a task of nrole. */
static void
WsCheckAssignable(int64 task, const char *to, Oid toid, const char *nrole)
{
	if (!OidIsValid(toid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_OBJECT),
				 errmsg("role \"%s\" does not exist", to)));
	if (!WsRoleCanLogin(toid))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("role \"%s\" cannot log in, so it cannot act on task " INT64_FORMAT, to, task),
				 errhint("Assign it to a member of the role who can log in, as ws assigns pending tasks itself.")));
	if (nrole != NULL && OidIsValid(get_role_oid(nrole, true)) &&
		!is_member_of_role(toid, get_role_oid(nrole, true)))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("role \"%s\" is not a member of role \"%s\" of task " INT64_FORMAT,
						to, nrole, task),
				 errhint("Assign it to a member of \"%s\", or GRANT \"%s\" TO \"%s\" first.",
						 nrole, nrole, to)));
}

PG_FUNCTION_INFO_V1(ws_assign);

/*
 * ws.assign(task, role): an administrator assigns a pending task to a member of its node's
 * role who can log in (NULL: to nobody).
 */
Datum
ws_assign(PG_FUNCTION_ARGS)
{
	int64		task = WsArgId(fcinfo, 0, "task");
	char	   *to = PG_ARGISNULL(1) ? NULL : pstrdup(NameStr(*PG_GETARG_NAME(1)));
	WsCaller	who;
	WsStep		st;
	WsTarget	target;

	WsCallBegin(&who, fcinfo);
	if (!WsIsAdmin(&who))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to assign task " INT64_FORMAT, task),
				 errdetail("Only administrators of ws (ws.grant_admin) assign tasks."),
				 errhint("A member of the task's role can take it with ws.take().")));
	WsPendingStep(&st, &who, task, &target, "assign", false);
	if (to != NULL)
		WsCheckAssignable(task, to, get_role_oid(to, true), st.g->nodes[target.node].role);
	WsReassign(&st, &target, to, psprintf("assigned by \"%s\"", who.actor));
	WsStepEnd(&st);
	WsCallEnd(&who);
	PG_RETURN_VOID();
}
