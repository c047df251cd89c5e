/*
 * ws.h: declarations shared by the files of the ws extension.
 *
 * ws.c       module init, settings, the SPI plan cache helper
 * access.c   who is calling, running engine SQL as the extension owner, and refusing a
 *            schema of another version
 * graph.c    per-backend cache of workflow graphs, invalidated on definition changes
 * forms.c    action forms: the type check of params (activation, ws.fill, ws.validate)
 * calls.c    the C entry into ws's PL/pgSQL functions (errors without their context)
 * engine.c   processes and steps: activation, completion, splits, joins, end, stuck,
 *            people (take, release, assign), and the write of each step's task rows,
 *            events and process row
 * claim.c    the worker protocol: claim, heartbeat, progress
 * store.c    row writes to ws.task, ws.ready, ws.event and ws.process without planned
 *            statements (for the step's write and the claim)
 * notifier.c ws_ready / ws_process, sent after commit by a background worker
 */
#ifndef WS_H
#define WS_H

#include "postgres.h"

#include "executor/spi.h"
#include "nodes/bitmapset.h"
#include "utils/jsonb.h"
#include "utils/jsonpath.h"

/* ws.c */
extern int	ws_retry_base_ms;
extern int	ws_retry_cap_ms;
extern bool ws_notify;
extern int	ws_history;

#define WS_HISTORY_FULL 0
#define WS_HISTORY_ACTIVITY 1
#define WS_HISTORY_NONE 2

extern SPIPlanPtr WsPlan(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes);
extern int	WsRun(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes,
				  Datum *values, const char *nulls, long count);
extern int64 WsGetInt64(int row, int col, bool *isnull);
extern char *WsGetText(int row, int col);
extern Jsonb *WsGetJsonb(int row, int col);
extern Jsonb *WsEmptyJsonb(void);
extern Jsonb *WsJsonbConcat(Jsonb *a, Jsonb *b);
extern bool WsJsonbSame(Jsonb *a, Jsonb *b);
extern int64 WsArgId(FunctionCallInfo fcinfo, int n, const char *what);
extern bool WsJsonbHasKey(Jsonb *j, const char *key);
extern void WsCheckObject(Jsonb *j, const char *what);
extern bool WsKeepEvent(const char *state, bool of_task);
extern bool WsTerminalState(const char *state);

/* access.c */
typedef struct WsCaller
{
	Oid			caller;			/* current_user when ws was called */
	char	   *actor;			/* its name, recorded in ws.event */
	Oid			saved_userid;
	int			saved_sec_context;
} WsCaller;

extern void WsEnter(WsCaller *who);
extern void WsLeave(WsCaller *who);
extern bool WsIsMember(WsCaller *who, const char *role);
extern bool WsIsAdmin(WsCaller *who);
extern bool WsRoleCanLogin(Oid role);
extern void WsCheckMember(WsCaller *who, const char *role, int64 task, const char *verb);

/* store.c */
typedef enum WsTable
{
	WS_TASK,
	WS_READY,
	WS_EVENT,
	WS_PROCESS,
	WS_WORKFLOW,
	WS_NTABLES
} WsTable;

typedef struct WsStore WsStore;
typedef struct WsStoreScan WsStoreScan;

typedef enum WsFind
{
	WS_FIND_WAIT,
	WS_FIND_WRITE,
	WS_FIND_SKIP,
	WS_FIND_READ,
	WS_FIND_KEY_SHARE
} WsFind;

extern WsStore *WsStoreBegin(void);
extern void WsStoreEnd(WsStore *s);
extern int	WsStoreCol(WsStore *s, WsTable t, const char *name);
extern void WsStoreNew(WsStore *s, WsTable t);
extern bool WsStoreFind(WsStore *s, WsTable t, const Datum *keys, WsFind mode);
extern bool WsStoreLock(WsStore *s, WsTable t, WsFind mode);
extern void WsStoreForgetSnapshot(WsStore *s);
extern WsStoreScan *WsStoreScanBegin(WsStore *s, WsTable t, const char *index,
									 const Datum *keys, int nkeys, uint32 any);
extern bool WsStoreScanNext(WsStoreScan *sc);
extern Datum WsStoreScanGet(WsStoreScan *sc, const char *name, bool *isnull);
extern int	WsStoreScanCol(WsStoreScan *sc, const char *name);
extern Datum WsStoreScanGetAt(WsStoreScan *sc, int attnum, bool *isnull);
extern void WsStoreScanEnd(WsStoreScan *sc);
extern Datum WsStoreGet(WsStore *s, WsTable t, const char *name, bool *isnull);
extern void WsStoreChange(WsStore *s, WsTable t);
extern void WsStoreSet(WsStore *s, WsTable t, const char *name, Oid type, Datum value,
					   bool isnull);
extern void WsStoreInsert(WsStore *s, WsTable t);
extern void WsStoreUpdate(WsStore *s, WsTable t);
extern void WsStoreDelete(WsStore *s, WsTable t);
extern int64 WsStoreNextId(WsTable t);

/* engine.c */
extern void WsWriteEvent(WsStore *store, int64 process, int64 task, const char *state,
						 const char *actor, const char *detail);

/* forms.c */
typedef enum WsFieldType
{
	WS_FIELD_STRING,
	WS_FIELD_INTEGER,
	WS_FIELD_NUMBER,
	WS_FIELD_BOOLEAN,
	WS_FIELD_TIMESTAMP,
	WS_FIELD_OBJECT,
	WS_FIELD_ARRAY
} WsFieldType;

typedef struct WsField
{
	char	   *name;
	WsFieldType type;
	bool		required;
} WsField;

typedef struct WsForm
{
	int			nfields;		/* in name order */
	int			nrequired;
	WsField    *fields;
} WsForm;

extern WsForm *WsFormParse(Jsonb *params);
extern char *WsFormProblems(const WsForm *form, Jsonb *params, const char *action, bool required);
extern const char *WsFieldTypeHint(const WsForm *form, Jsonb *params);

/* graph.c */
typedef enum WsGate
{
	WS_GATE_AND,
	WS_GATE_XOR,
	WS_GATE_OR
} WsGate;

typedef struct WsNode
{
	int64		id;
	char	   *name;
	char	   *action;			/* NULL: no action */
	char	   *role;			/* NULL: open to any ws user */
	bool		is_start;
	bool		is_end;
	WsGate		join;
	WsGate		split;
	Jsonb	   *params;
	Interval   *wait;			/* NULL: no wait */
	char	   *wait_until;		/* jsonpath text, NULL: none */
	int			retries;
	WsForm	   *form;			/* its action's form, NULL: none */
	Interval   *due;			/* human tasks: due this long after activation, NULL: none */
	int			nin;			/* incoming transitions (indexes into trans) */
	int		   *in;
	int			nout;			/* outgoing transitions, by priority then id */
	int		   *out;
	Bitmapset **reach;			/* OR joins only: per node, lazily, see engine.c */
	bool	   *reach_done;
} WsNode;

typedef struct WsTransition
{
	int64		id;
	int			parent;			/* node indexes */
	int			child;
	JsonPath   *condition;		/* NULL: always true */
	int			priority;
} WsTransition;

typedef struct WsGraph
{
	int64		workflow;
	char	   *name;
	int			version;
	Jsonb	   *params;
	int			nnodes;			/* ordered by node id */
	WsNode	   *nodes;
	int			ntrans;			/* ordered by priority, id */
	WsTransition *trans;
	bool		validated;		/* ws.validate found nothing */
	MemoryContext cxt;
} WsGraph;

extern void WsGraphInit(void);
extern WsGraph *WsGetGraph(int64 workflow);
extern uint64 WsGraphGeneration(void);
extern int	WsNodeIndex(WsGraph *g, int64 node_id);
extern int	WsTransIndex(WsGraph *g, int64 trans_id);
extern Jsonb *WsEffectiveParams(WsGraph *g, int ni, Jsonb *vars, Jsonb *tparams);

/* notifier.c */
extern void WsNotifyReady(const char *action);
extern void WsNotifyProcess(int64 process, const char *state);
extern bool ws_notifier;
extern void WsNotifierInit(void);
extern void WsNotifySend(int channel, const char *payload);

#endif
