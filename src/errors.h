/*
 * errors.h: the errors ws raises in more than one place, one SQLSTATE and hint each
 * (errors.c). The rules: a NULL where a value is needed is 22004; an unknown task,
 * process or workflow 42704; an object in the wrong state, a process that is not
 * running, or an attempt that is not the task's current one 55000; a task that another
 * transaction changed or deleted between the call's first read and its write under the
 * row lock 40001, which a retry of the call answers for sure (a task already gone at the
 * call's first read is 42704).
 */
#ifndef WS_ERRORS_H
#define WS_ERRORS_H

extern void WsErrNull(const char *what) pg_attribute_noreturn();
extern void WsErrNoTask(int64 task) pg_attribute_noreturn();
extern void WsErrNoProcess(int64 process) pg_attribute_noreturn();
extern void WsErrNoWorkflow(int64 workflow) pg_attribute_noreturn();
extern void WsErrTaskState(const char *verb, int64 task, const char *state,
						   const char *hint) pg_attribute_noreturn();
extern void WsErrNotRunning(int64 process, const char *state) pg_attribute_noreturn();
extern void WsErrStaleAttempt(int64 task, int attempt, int current,
							  const char *hint) pg_attribute_noreturn();
extern void WsErrChanged(int64 task, const char *detail) pg_attribute_noreturn();

#endif
