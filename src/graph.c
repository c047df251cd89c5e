/*
 * graph.c: the per-backend cache of workflow graphs.
 *
 * A step needs the whole graph of its workflow: nodes, transitions sorted for the split,
 * incoming lists for joins, compiled conditions, the form of each node's action.
 * Loading it costs three queries (queries.c), so each backend keeps graphs in a hash table keyed by
 * workflow id, each graph in its own memory context.
 *
 * Invalidation follows pg_cron's job cache: statement triggers on ws.workflow, ws.node,
 * ws.transition and ws.action call ws_definitions_changed(), which queues a relcache
 * invalidation of ws.node; every backend's callback then marks the cache stale, and the
 * next WsGetGraph() that no open step encloses drops it. The callback only sets a flag: a
 * graph in use by a running step is never freed under it (ws.complete_batch, which starts
 * several steps, checks WsGraphGeneration() all the same).
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "errors.h"
#include "graph.h"
#include "step.h"
#include "queries.h"
#include "ws.h"

typedef struct WsGraphEntry
{
	int64		workflow;
	WsGraph    *graph;
} WsGraphEntry;

static HTAB *graph_cache = NULL;
static bool graph_cache_stale = false;
static uint64 graph_generation = 0;	/* how many times the cache was dropped */
static Oid	ws_node_relid = InvalidOid;

/* Mark the cache stale when ws.node's relcache entry is invalidated (or all are). */
static void
WsGraphInvalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == ws_node_relid)
		graph_cache_stale = true;
}

/* Called from _PG_init. */
void
WsGraphInit(void)
{
	CacheRegisterRelcacheCallback(WsGraphInvalidate, (Datum) 0);
}

/* The oid of ws.node, looked up when first needed. */
static Oid
WsNodeRelid(void)
{
	if (!OidIsValid(ws_node_relid))
		ws_node_relid = get_relname_relid("node", get_namespace_oid("ws", false));
	return ws_node_relid;
}

/* Drop every cached graph. */
static void
WsGraphFlush(void)
{
	HASH_SEQ_STATUS status;
	WsGraphEntry *e;

	if (graph_cache != NULL)
	{
		hash_seq_init(&status, graph_cache);
		while ((e = hash_seq_search(&status)) != NULL)
			MemoryContextDelete(e->graph->cxt);
		hash_destroy(graph_cache);
		graph_cache = NULL;
	}
	ws_node_relid = InvalidOid;
	graph_cache_stale = false;
	graph_generation++;
}

/*
 * Changes whenever the cache is dropped: a caller that holds graphs across several
 * WsGetGraph calls (ws.complete_batch) reads them again when it changed.
 */
uint64
WsGraphGeneration(void)
{
	return graph_generation;
}

static int
WsCompareOut(const void *a, const void *b, void *arg)
{
	WsGraph    *g = (WsGraph *) arg;
	WsTransition *ta = &g->trans[*(const int *) a];
	WsTransition *tb = &g->trans[*(const int *) b];

	if (ta->priority != tb->priority)
		return ta->priority < tb->priority ? -1 : 1;
	return ta->id < tb->id ? -1 : (ta->id > tb->id ? 1 : 0);
}

/* A transition's on, from its text */
static WsOn
WsParseOn(const char *s)
{
	if (strcmp(s, "deadline") == 0)
		return WS_ON_DEADLINE;
	if (strcmp(s, "failure") == 0)
		return WS_ON_FAILURE;
	return WS_ON_SUCCESS;
}

static WsGate
WsParseGate(const char *s)
{
	if (strcmp(s, "xor") == 0)
		return WS_GATE_XOR;
	if (strcmp(s, "or") == 0)
		return WS_GATE_OR;
	return WS_GATE_AND;
}

/*
 * g's nodes, by id, each with its action's form, in g's context (SPI leaves its own
 * context current after a statement: the copies are made after it)
 */
static void
WsLoadNodes(WsGraph *g)
{
	int			n = WsQueryNodes(g->workflow);
	MemoryContext old = MemoryContextSwitchTo(g->cxt);
	int			i;

	g->nnodes = n;
	g->nodes = palloc0(sizeof(WsNode) * Max(g->nnodes, 1));
	for (i = 0; i < g->nnodes; i++)
	{
		WsNode	   *n = &g->nodes[i];

		n->id = WsGetInt64(i, 1, NULL);
		n->name = WsGetText(i, 2);
		n->action = WsGetText(i, 3);
		n->role = WsGetText(i, 4);
		n->is_start = WsGetBool(i, 5);
		n->is_end = WsGetBool(i, 6);
		n->join = WsParseGate(WsGetText(i, 7));
		n->split = WsParseGate(WsGetText(i, 8));
		n->params = WsGetJsonb(i, 9);
		n->wait = WsGetInterval(i, 10);
		n->wait_until = WsGetText(i, 11);
		n->retries = (int) WsGetInt64(i, 12, NULL);
		n->form = WsFormParse(WsGetJsonb(i, 13));
		n->due = WsGetInterval(i, 14);
		n->message = WsGetText(i, 15);
		n->correlate = WsGetText(i, 16);
		n->deadline = WsGetInterval(i, 17);
		n->call = WsGetText(i, 18);
		n->foreach = WsGetText(i, 19);
		n->item = WsGetText(i, 20);
		if (n->item == NULL)
			n->item = pstrdup("item");
		n->sequential = WsGetBool(i, 21);
		n->as = WsGetText(i, 22);
		n->fn = (Oid) WsGetInt64(i, 23, NULL);
		n->fn_name = WsGetText(i, 24);
		n->fn_owner = (Oid) WsGetInt64(i, 25, NULL);
	}
	MemoryContextSwitchTo(old);
}

/*
 * g's transitions, by id, and each node's incoming and outgoing ones (outgoing in the
 * order a split follows them: priority, then id); OR joins get their reach memo
 */
static void
WsLoadTransitions(WsGraph *g)
{
	int			n = WsQueryTransitions(g->workflow);
	MemoryContext old = MemoryContextSwitchTo(g->cxt);
	int			i;

	g->ntrans = n;
	g->trans = palloc0(sizeof(WsTransition) * Max(g->ntrans, 1));
	for (i = 0; i < g->ntrans; i++)
	{
		WsTransition *t = &g->trans[i];

		t->id = WsGetInt64(i, 1, NULL);
		t->parent = WsNodeIndex(g, WsGetInt64(i, 2, NULL));
		t->child = WsNodeIndex(g, WsGetInt64(i, 3, NULL));
		t->condition = WsGetJsonPath(i, 4);
		t->priority = (int) WsGetInt64(i, 5, NULL);
		t->on = WsParseOn(WsGetText(i, 6));
		g->nodes[t->parent].nout++;
		g->nodes[t->child].nin++;
	}
	for (i = 0; i < g->nnodes; i++)
	{
		WsNode	   *n = &g->nodes[i];

		n->in = palloc(sizeof(int) * Max(n->nin, 1));
		n->out = palloc(sizeof(int) * Max(n->nout, 1));
		n->nin = n->nout = 0;
		if (n->join == WS_GATE_OR)
		{
			n->reach = palloc0(sizeof(Bitmapset *) * g->nnodes);
			n->reach_done = palloc0(sizeof(bool) * g->nnodes);
		}
	}
	for (i = 0; i < g->ntrans; i++)
	{
		WsTransition *t = &g->trans[i];

		g->nodes[t->parent].out[g->nodes[t->parent].nout++] = i;
		g->nodes[t->child].in[g->nodes[t->child].nin++] = i;
	}
	for (i = 0; i < g->nnodes; i++)
		qsort_arg(g->nodes[i].out, g->nodes[i].nout, sizeof(int), WsCompareOut, g);
	MemoryContextSwitchTo(old);
}

/*
 * Read workflow wf from the tables into a new graph, in a context of its own; NULL if
 * none. The context hangs under the caller's until the load succeeds (an error while
 * loading frees it with the call's memory), then under CacheMemoryContext.
 */
static WsGraph *
WsLoadGraph(int64 wf)
{
	MemoryContext cxt,
				old;
	WsGraph    *g;

	if (WsQueryWorkflow(wf) == 0)
		return NULL;
	cxt = AllocSetContextCreate(CurrentMemoryContext, "ws graph", ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(cxt);
	g = palloc0(sizeof(WsGraph));
	g->cxt = cxt;
	g->workflow = wf;
	g->name = WsGetText(0, 1);
	g->version = (int) WsGetInt64(0, 2, NULL);
	g->params = WsGetJsonb(0, 3);
	MemoryContextSwitchTo(old);
	WsLoadNodes(g);
	WsLoadTransitions(g);
	MemoryContextSetParent(cxt, CacheMemoryContext);
	return g;
}

/*
 * The graph of workflow wf, from the cache or loaded now. Raises 42704 for an unknown
 * workflow. Call it once at the start of a step, never while a graph is in use.
 */
WsGraph *
WsGetGraph(int64 wf)
{
	WsGraphEntry *e;
	bool		found;

	WsNodeRelid();
	/*
	 * A step holds its graph to its end, and steps nest (a child's start, the hand-back of
	 * its end, a SQL action calling ws): while one is open the cache is only added to, and
	 * dropped at the next call no step encloses. A version with processes never changes,
	 * so an open step's graph stays right.
	 */
	if (graph_cache_stale && !WsAnyStepOpen())
		WsGraphFlush();
	if (graph_cache == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(int64);
		ctl.entrysize = sizeof(WsGraphEntry);
		ctl.hcxt = CacheMemoryContext;
		graph_cache = hash_create("ws graphs", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
		WsNodeRelid();
	}
	e = hash_search(graph_cache, &wf, HASH_FIND, NULL);
	if (e != NULL)
		return e->graph;
	{
		WsGraph    *g = WsLoadGraph(wf);

		if (g == NULL)
			WsErrNoWorkflow(wf);
		e = hash_search(graph_cache, &wf, HASH_ENTER, &found);
		e->graph = g;
		return g;
	}
}

/* Index of node id in g->nodes (sorted by id), -1 if absent. */
int
WsNodeIndex(WsGraph *g, int64 id)
{
	int			lo = 0,
				hi = g->nnodes - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (g->nodes[mid].id == id)
			return mid;
		if (g->nodes[mid].id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

/*
 * Effective params of node ni: workflow params, then process variables vars, then node
 * params, then the task's own tparams (may be NULL), each overriding the one before;
 * never NULL ({} when all are empty).
 */
Jsonb *
WsEffectiveParams(WsGraph *g, int ni, Jsonb *vars, Jsonb *tparams)
{
	Jsonb	   *e = WsJsonbConcat(g->params, vars);

	e = WsJsonbConcat(e, g->nodes[ni].params);
	e = WsJsonbConcat(e, tparams);
	return e ? e : WsEmptyJsonb();
}

/* Index of transition id in g->trans (sorted by id), -1 if absent. */
int
WsTransIndex(WsGraph *g, int64 id)
{
	int			lo = 0,
				hi = g->ntrans - 1;

	while (lo <= hi)
	{
		int			mid = (lo + hi) / 2;

		if (g->trans[mid].id == id)
			return mid;
		if (g->trans[mid].id < id)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return -1;
}

PG_FUNCTION_INFO_V1(ws_definitions_changed);

/* Statement trigger on the definition tables: tell every backend to drop its graphs. */
Datum
ws_definitions_changed(PG_FUNCTION_ARGS)
{
	if (!CALLED_AS_TRIGGER(fcinfo))
		elog(ERROR, "ws_definitions_changed: not called as a trigger");
	CacheInvalidateRelcacheByRelid(WsNodeRelid());
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(ws_is_predicate);

/*
 * ws_internal.is_predicate(jsonpath): is the path a predicate (a comparison, &&, ||, !,
 * exists, like_regex, starts with, is unknown) or a boolean constant, which yield true or
 * false, as a transition's condition must?
 */
Datum
ws_is_predicate(PG_FUNCTION_ARGS)
{
	JsonPath   *jp = PG_GETARG_JSONPATH_P(0);
	JsonPathItem v;

	jspInit(&v, jp);
	if (jspHasNext(&v))
		PG_RETURN_BOOL(false);	/* ($.a == 1).type() yields a string */
	switch (v.type)
	{
		case jpiAnd:
		case jpiOr:
		case jpiNot:
		case jpiIsUnknown:
		case jpiEqual:
		case jpiNotEqual:
		case jpiLess:
		case jpiGreater:
		case jpiLessOrEqual:
		case jpiGreaterOrEqual:
		case jpiExists:
		case jpiStartsWith:
		case jpiLikeRegex:
		case jpiBool:
			PG_RETURN_BOOL(true);
		default:
			PG_RETURN_BOOL(false);
	}
}
