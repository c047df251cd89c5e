/*
 * errors.c: the errors raised in more than one place (see errors.h for the rules), so
 * that the same situation gets the same SQLSTATE, message and hint wherever it arises.
 */
#include "postgres.h"

#include "errors.h"

/* A NULL where a value is needed (22004) */
void
WsErrNull(const char *what)
{
	ereport(ERROR,
			(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
			 errmsg("%s must not be null", what)));
}

/* An unknown task (42704) */
void
WsErrNoTask(int64 task)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("task " INT64_FORMAT " does not exist", task)));
}

/* An unknown process (42704) */
void
WsErrNoProcess(int64 process)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("process " INT64_FORMAT " does not exist", process)));
}

/* An unknown workflow version (42704) */
void
WsErrNoWorkflow(int64 workflow)
{
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("workflow " INT64_FORMAT " does not exist", workflow),
			 errhint("An administrator lists the workflows in ws.workflow_overview.")));
}

/* A call that the task's state does not allow (55000); verb names the call */
void
WsErrTaskState(const char *verb, int64 task, const char *state, const char *hint)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("cannot %s task " INT64_FORMAT ": it is %s", verb, task, state),
			 hint ? errhint("%s", hint) : 0));
}

/* A call on a process that is not running (55000) */
void
WsErrNotRunning(int64 process, const char *state)
{
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("process " INT64_FORMAT " is %s", process, state),
			 strcmp(state, "failed") == 0
			 ? errhint("Fix the cause, then call ws.retry() on its failed task, or ws.cancel() the process.")
			 : errhint("Only a running process moves.")));
}

/*
 * A worker's call for an attempt that is not the task's current one (55000: fencing):
 * an earlier attempt, which ended and was followed by another claim (hint: what to do
 * then), or an attempt that no claim ever returned.
 */
void
WsErrStaleAttempt(int64 task, int attempt, int current, const char *hint)
{
	if (attempt >= 1 && attempt < current)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("attempt %d of task " INT64_FORMAT " is no longer current", attempt, task),
				 errdetail("The task is at attempt %d: attempt %d ended (it failed or its lease expired) and the task was claimed again.",
						   current, attempt),
				 errhint("%s", hint)));
	ereport(ERROR,
			(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			 errmsg("attempt %d of task " INT64_FORMAT " does not exist", attempt, task),
			 current == 0
			 ? errdetail("The task has never been claimed.")
			 : errdetail("The task is at attempt %d; no claim returned attempt %d.", current, attempt),
			 errhint("Pass the attempt that ws.claim() returned, or none.")));
}

/*
 * A task changed by another transaction between the call's read and its write under the
 * row lock (40001), detail saying how: retrying the call sees it as it is.
 */
void
WsErrChanged(int64 task, const char *detail)
{
	ereport(ERROR,
			(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
			 errmsg("task " INT64_FORMAT " changed state meanwhile", task),
			 errdetail("%s", detail),
			 errhint("Retry the call: it will see the task as it is now.")));
}
