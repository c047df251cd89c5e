/*
 * graph.h: the per-backend cache of workflow graphs (graph.c).
 */
#ifndef WS_GRAPH_H
#define WS_GRAPH_H

#include "datatype/timestamp.h"
#include "nodes/bitmapset.h"
#include "utils/jsonb.h"
#include "utils/jsonpath.h"

#include "forms.h"

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
	char	   *message;		/* a message wait: the message's name; NULL: none */
	char	   *correlate;		/* with message: jsonpath text of its key, NULL: none */
	Interval   *deadline;		/* its tasks' deadline after activation, NULL: none */
	char	   *call;			/* a call activity: the workflow it starts; NULL: none */
	char	   *foreach;		/* multi-instance: jsonpath text of its array; NULL: none */
	char	   *item;			/* with foreach: each instance's param for its element */
	bool		sequential;		/* with foreach: one instance at a time */
	char	   *as;				/* where its result goes in the variables; NULL: see engine.c */
	int			nin;			/* incoming transitions (indexes into trans) */
	int		   *in;
	int			nout;			/* outgoing transitions, by priority then id */
	int		   *out;
	Bitmapset **reach;			/* OR joins only: per node, lazily, see engine.c */
	bool	   *reach_done;
} WsNode;

/* When a transition is taken: by the split, or as a boundary path of its parent */
typedef enum WsOn
{
	WS_ON_SUCCESS,
	WS_ON_DEADLINE,
	WS_ON_FAILURE
} WsOn;

typedef struct WsTransition
{
	int64		id;
	int			parent;			/* node indexes */
	int			child;
	JsonPath   *condition;		/* NULL: always true */
	int			priority;
	WsOn		on;
} WsTransition;

typedef struct WsGraph
{
	int64		workflow;
	char	   *name;
	int			version;
	Jsonb	   *params;
	int			nnodes;			/* ordered by node id */
	WsNode	   *nodes;
	int			ntrans;			/* ordered by id */
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

#endif
