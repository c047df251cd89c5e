/*
 * ws_dot.c: ws.define_dot(dot text), a workflow from a Graphviz digraph.
 *
 * This file is its own shared library, ws_dot, linked with Graphviz's libcgraph, so that
 * only the backends that import DOT load Graphviz; the engine library (ws) never does.
 *
 * How an import goes:
 *   1. Graphviz's own parser (agread on an in-memory reader, the same as agmemread) reads
 *      the text. Its messages go to our callback (agseterrf) into a static buffer, never
 *      to the server's stderr; any error or warning refuses the input with 42601 and the
 *      message, which names the line. Stray semicolons after the closing brace (the
 *      seed's "};") are dropped before parsing. What follows the graph is read to the end
 *      too, so nothing is left in the scanner's static buffer for the next call, and a
 *      second graph is refused.
 *   2. While the graph is open (agclose in PG_FINALLY, so an error cannot leak it), the
 *      attributes are copied out into palloc'd arrays: graph (name, description, params),
 *      nodes in order of first appearance, edges in order of appearance (AGSEQ). Keys that
 *      are neither workflow attributes nor Graphviz's drawing attributes are refused.
 *   3. With Graphviz closed, each value is checked and converted (booleans, gates,
 *      integers, JSON, intervals, jsonpaths; 22023 naming the node or edge when wrong) and
 *      the JSON document of ws.define is built.
 *   4. ws.define(doc) runs through SPI: every other check, the start/end inference,
 *      validation and all-or-nothing behaviour are ws.define's. ws.define_dot is the C
 *      entry of the ws library (ws_call) into this function, ws_internal.define_dot,
 *      which leaves the context of errors out.
 */
#include "postgres.h"

#include <ctype.h>
#include <limits.h>

#include "access/xact.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/formatting.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"

#include <cgraph.h>

PG_MODULE_MAGIC;

/* Workflow attributes, by the kind of object that carries them */
static const char *const graph_keys[] = {"name", "description", "params"};
static const char *const node_keys[] = {"action", "role", "start", "end", "join", "split",
	"params", "wait", "wait_until", "retries", "due", "message", "correlate", "deadline", "call",
	"foreach", "item", "sequential", "as"};
static const char *const edge_keys[] = {"condition", "priority", "on"};

#define NGRAPH_KEYS lengthof(graph_keys)
#define NNODE_KEYS lengthof(node_keys)
#define NEDGE_KEYS lengthof(edge_keys)

/*
 * Graphviz's own attributes (https://graphviz.org/doc/info/attrs.html): they only change
 * the drawing, so an import ignores them, whatever object carries them. A workflow
 * attribute of another kind of object is not in this list and is refused (a condition on
 * a node, say). "start" is also Graphviz's graph attribute (a layout seed): ignored on the
 * graph, a workflow attribute on nodes, refused on edges.
 */
static const char *const drawing_keys[] = {
	"_background", "area", "arrowhead", "arrowsize", "arrowtail", "bb", "beautify", "bgcolor",
	"center", "charset", "class", "cluster", "clusterrank", "color", "colorscheme", "comment",
	"compound", "concentrate", "constraint", "Damping", "decorate", "defaultdist", "dim",
	"dimen", "dir", "diredgeconstraints", "distortion", "dpi", "edgehref", "edgetarget",
	"edgetooltip", "edgeURL", "epsilon", "esep", "fillcolor", "fixedsize", "fontcolor",
	"fontname", "fontnames", "fontpath", "fontsize", "forcelabels", "gradientangle", "group",
	"head_lp", "headclip", "headhref", "headlabel", "headport", "headtarget", "headtooltip",
	"headURL", "height", "href", "id", "image", "imagepath", "imagepos", "imagescale",
	"inputscale", "K", "key", "label", "label_scheme", "labelangle", "labeldistance",
	"labelfloat", "labelfontcolor", "labelfontname", "labelfontsize", "labelhref",
	"labeljust", "labelloc", "labeltarget", "labeltooltip", "labelURL", "landscape",
	"layer", "layerlistsep", "layers", "layerselect", "layersep", "layout", "len", "levels",
	"levelsgap", "lhead", "lheight", "linelength", "lp", "ltail", "lwidth", "margin",
	"maxiter", "mclimit", "mindist", "minlen", "mode", "model", "newrank", "nodesep",
	"nojustify", "normalize", "notranslate", "nslimit", "nslimit1", "oneblock", "ordering",
	"orientation", "outputorder", "overlap", "overlap_scaling", "overlap_shrink", "pack",
	"packmode", "pad", "page", "pagedir", "pencolor", "penwidth", "peripheries", "pin",
	"pos", "quadtree", "quantum", "rank", "rankdir", "ranksep", "ratio", "rects", "regular",
	"remincross", "repulsiveforce", "resolution", "root", "rotate", "rotation", "samehead",
	"sametail", "samplepoints", "scale", "searchsize", "sep", "shape", "shapefile",
	"showboxes", "sides", "size", "skew", "smoothing", "sortv", "splines", "style",
	"stylesheet", "tail_lp", "tailclip", "tailhref", "taillabel", "tailport", "tailtarget",
	"tailtooltip", "tailURL", "target", "TBbalance", "tooltip", "truecolor", "URL",
	"vertices", "viewport", "voro_margin", "weight", "width", "xdotversion", "xlabel", "xlp",
	"z"
};

/* What is copied out of the Graphviz graph before it is closed */
typedef struct DotNode
{
	char	   *name;
	char	   *attr[NNODE_KEYS];	/* NULL: not set (Graphviz's "" default) */
} DotNode;

typedef struct DotEdge
{
	uint64		seq;			/* order of appearance in the text */
	char	   *from;
	char	   *to;
	char	   *attr[NEDGE_KEYS];
} DotEdge;

typedef struct DotGraph
{
	char	   *name;
	char	   *attr[NGRAPH_KEYS];
	int			nnodes;
	DotNode    *nodes;
	int			nedges;
	DotEdge    *edges;
} DotGraph;

/* In-memory reader for agread, as agmemread has */
typedef struct DotReader
{
	const char *data;
	size_t		len;
	size_t		cur;
} DotReader;

/*
 * Graphviz's messages of the current call. The callback runs inside Graphviz, so it only
 * copies into this static buffer (truncating) and never allocates or throws.
 */
static char dot_messages[2048];
static size_t dot_messages_len;

static int
DotCollectMessage(char *msg)
{
	size_t		room = sizeof(dot_messages) - 1 - dot_messages_len;
	size_t		n = strlen(msg);

	if (n > room)
		n = room;
	memcpy(dot_messages + dot_messages_len, msg, n);
	dot_messages_len += n;
	dot_messages[dot_messages_len] = '\0';
	return 0;
}

/* Agiodisc_t read method: the next bytes of the text */
static int
DotRead(void *chan, char *buf, int bufsize)
{
	DotReader  *r = (DotReader *) chan;
	size_t		n = r->len - r->cur;

	if (n > (size_t) bufsize)
		n = (size_t) bufsize;
	memcpy(buf, r->data + r->cur, n);
	r->cur += n;
	return (int) n;
}

static bool
InList(const char *key, const char *const *list, int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(key, list[i]) == 0)
			return true;
	return false;
}

/* Raise Graphviz's collected messages as a DOT syntax error */
static void
DotReportMessages(void)
{
	char	   *msg = pstrdup(dot_messages);
	char	   *first;
	char	   *rest;
	int			len;

	/* drop "Error: " / "Warning: " prefixes and the final newline */
	first = msg;
	if (strncmp(first, "Error: ", 7) == 0)
		first += 7;
	else if (strncmp(first, "Warning: ", 9) == 0)
		first += 9;
	len = strlen(first);
	while (len > 0 && (first[len - 1] == '\n' || first[len - 1] == ' '))
		first[--len] = '\0';
	rest = strchr(first, '\n');
	if (rest)
		*rest++ = '\0';
	if (*first == '\0')
		first = "Graphviz could not read the input";
	ereport(ERROR,
			(errcode(ERRCODE_SYNTAX_ERROR),
			 errmsg("invalid DOT: %s", first),
			 rest ? errdetail("%s", rest) : 0,
			 errhint("ws.define_dot takes one digraph, such as: digraph conference { \"Send the Call for Papers\" -> \"Collect papers\" }")));
}

/* Who sets attribute sym of kind in g, for an error message; NULL when nobody does */
static char *
DotWhoSets(Agraph_t *g, int kind, Agsym_t *sym)
{
	Agnode_t   *n;
	Agedge_t   *e;
	char	   *v;

	if (kind == AGRAPH)
	{
		v = agxget(g, sym);
		return *v ? psprintf("The graph sets it to \"%s\".", v) : NULL;
	}
	for (n = agfstnode(g); n != NULL; n = agnxtnode(g, n))
	{
		if (kind == AGNODE && *(v = agxget(n, sym)))
			return psprintf("Node \"%s\" sets it to \"%s\".", agnameof(n), v);
		if (kind == AGEDGE)
			for (e = agfstout(g, n); e != NULL; e = agnxtout(g, e))
				if (*(v = agxget(e, sym)))
					return psprintf("Edge \"%s\" -> \"%s\" sets it to \"%s\".",
									agnameof(agtail(e)), agnameof(aghead(e)), v);
	}
	return NULL;
}

/* Refuse the attribute keys of one kind that are neither ours nor Graphviz's */
static void
DotCheckKeys(Agraph_t *g, int kind, const char *what, const char *const *ours, int nours)
{
	Agsym_t    *sym = NULL;

	while ((sym = agnxtattr(g, kind, sym)) != NULL)
	{
		char	   *who;

		if (InList(sym->name, ours, nours) || InList(sym->name, drawing_keys, lengthof(drawing_keys)))
			continue;
		if (kind == AGRAPH && strcmp(sym->name, "start") == 0)
			continue;			/* Graphviz's layout seed, not a workflow attribute */
		who = DotWhoSets(g, kind, sym);
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown %s attribute \"%s\" in DOT input", what, sym->name),
				 who ? errdetail("%s", who) : 0,
				 errhint("Graph attributes: name, description, params. Node attributes: action, role, start, end, join, split, params, wait, wait_until, retries, due, message, correlate, deadline, call, foreach, item, sequential, as. Edge attributes: condition, priority, on. Graphviz's drawing attributes (label, shape, color, style...) are ignored.")));
	}
}

/* The value of attribute key of obj, palloc'd; NULL when not set or empty */
static char *
DotGet(void *obj, Agsym_t *sym)
{
	char	   *v;

	if (sym == NULL)
		return NULL;
	v = agxget(obj, sym);
	if (v == NULL || *v == '\0')
		return NULL;
	return pstrdup(v);
}

static int
DotEdgeCmp(const void *a, const void *b)
{
	uint64		x = ((const DotEdge *) a)->seq;
	uint64		y = ((const DotEdge *) b)->seq;

	return x < y ? -1 : (x > y ? 1 : 0);
}

/* Copy what the workflow needs out of an open Graphviz graph */
static void
DotCopy(Agraph_t *g, DotGraph *out)
{
	Agsym_t    *gsym[NGRAPH_KEYS];
	Agsym_t    *nsym[NNODE_KEYS];
	Agsym_t    *esym[NEDGE_KEYS];
	Agnode_t   *n;
	int			i;

	if (!agisdirected(g))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a workflow must be a digraph, not an undirected graph"),
				 errdetail("Transitions have a direction: from a parent node to a child node."),
				 errhint("Write digraph name { a -> b } instead of graph name { a -- b }.")));

	DotCheckKeys(g, AGRAPH, "graph", graph_keys, NGRAPH_KEYS);
	DotCheckKeys(g, AGNODE, "node", node_keys, NNODE_KEYS);
	DotCheckKeys(g, AGEDGE, "edge", edge_keys, NEDGE_KEYS);

	for (i = 0; i < (int) NGRAPH_KEYS; i++)
		gsym[i] = agattr(g, AGRAPH, (char *) graph_keys[i], NULL);
	for (i = 0; i < (int) NNODE_KEYS; i++)
		nsym[i] = agattr(g, AGNODE, (char *) node_keys[i], NULL);
	for (i = 0; i < (int) NEDGE_KEYS; i++)
		esym[i] = agattr(g, AGEDGE, (char *) edge_keys[i], NULL);

	/* an anonymous graph has an odd id in Graphviz's default id discipline */
	out->name = (AGID(g) % 2 == 1) ? NULL : pstrdup(agnameof(g));
	for (i = 0; i < (int) NGRAPH_KEYS; i++)
		out->attr[i] = DotGet(g, gsym[i]);

	out->nnodes = agnnodes(g);
	out->nodes = palloc0(sizeof(DotNode) * Max(out->nnodes, 1));
	out->nedges = agnedges(g);
	out->edges = palloc0(sizeof(DotEdge) * Max(out->nedges, 1));

	i = 0;
	for (n = agfstnode(g); n != NULL; n = agnxtnode(g, n))
	{
		DotNode    *dn = &out->nodes[i++];

		dn->name = pstrdup(agnameof(n));
		for (int k = 0; k < (int) NNODE_KEYS; k++)
			dn->attr[k] = DotGet(n, nsym[k]);
	}

	i = 0;
	for (n = agfstnode(g); n != NULL; n = agnxtnode(g, n))
	{
		Agedge_t   *e;

		for (e = agfstout(g, n); e != NULL; e = agnxtout(g, e))
		{
			DotEdge    *de = &out->edges[i++];

			de->seq = AGSEQ(e);
			de->from = pstrdup(agnameof(agtail(e)));
			de->to = pstrdup(agnameof(aghead(e)));
			for (int k = 0; k < (int) NEDGE_KEYS; k++)
				de->attr[k] = DotGet(e, esym[k]);
		}
	}
	out->nedges = i;
	qsort(out->edges, out->nedges, sizeof(DotEdge), DotEdgeCmp);
}

/*
 * Parse text with Graphviz and copy the graph out; Graphviz holds nothing afterwards,
 * whether this returns or throws.
 */
static void
DotParse(const char *text, DotGraph *out)
{
	Agiodisc_t	io = AgIoDisc;
	Agdisc_t	disc;
	DotReader	reader;
	Agraph_t   *volatile g = NULL;
	Agraph_t   *volatile extra = NULL;
	agusererrf	old_errf;
	size_t		len = strlen(text);

	/* the seed ends its digraph with "};": stray semicolons after the graph are dropped */
	while (len > 0 && (text[len - 1] == ';' || isspace((unsigned char) text[len - 1])))
		len--;

	io.afread = DotRead;
	disc.mem = &AgMemDisc;
	disc.id = &AgIdDisc;
	disc.io = &io;
	reader.data = text;
	reader.len = len;
	reader.cur = 0;

	dot_messages[0] = '\0';
	dot_messages_len = 0;
	old_errf = agseterrf(DotCollectMessage);
	agseterr(AGWARN);			/* every message, warnings too, goes to the callback */
	agreseterrors();
	agsetfile(NULL);			/* line numbers from 1, no file name in messages */

	PG_TRY();
	{
		g = agread(&reader, &disc);
		/* read to the end: nothing stays in Graphviz's scanner for the next call */
		while ((extra = agread(&reader, &disc)) != NULL)
		{
			agclose(extra);
			extra = NULL;
			if (g != NULL)
			{
				agclose(g);
				g = NULL;
				ereport(ERROR,
						(errcode(ERRCODE_SYNTAX_ERROR),
						 errmsg("invalid DOT: more than one graph"),
						 errhint("ws.define_dot takes one digraph; define each workflow with its own call.")));
			}
		}
		if (dot_messages_len > 0)
			DotReportMessages();
		if (g == NULL)
			ereport(ERROR,
					(errcode(ERRCODE_SYNTAX_ERROR),
					 errmsg("invalid DOT: no graph in the input"),
					 errhint("Pass a digraph, such as: digraph conference { a -> b }")));
		DotCopy(g, out);
	}
	PG_FINALLY();
	{
		if (extra != NULL)
			agclose(extra);
		if (g != NULL)
			agclose(g);
		agseterrf(old_errf);
	}
	PG_END_TRY();
}

/*
 * Check value with the input function of type typid, in a subtransaction so that its
 * error can be caught; on error raise 22023 naming what the value belongs to.
 */
static void
DotCheckInput(Oid typid, const char *value, const char *attr, const char *owner,
			  const char *expected)
{
	MemoryContext oldcontext = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	Oid			typinput;
	Oid			typioparam;

	getTypeInputInfo(typid, &typinput, &typioparam);
	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcontext);
	PG_TRY();
	{
		(void) OidInputFunctionCall(typinput, (char *) value, typioparam, -1);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
	}
	PG_CATCH();
	{
		ErrorData  *edata;

		MemoryContextSwitchTo(oldcontext);
		edata = CopyErrorData();
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcontext);
		CurrentResourceOwner = oldowner;
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid %s \"%s\" of %s", attr, value, owner),
				 errdetail("%s.", edata->message),
				 errhint("Write %s.", expected)));
	}
	PG_END_TRY();
}

static void
DotBadValue(const char *attr, const char *value, const char *owner, const char *expected)
{
	ereport(ERROR,
			(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
			 errmsg("invalid %s \"%s\" of %s", attr, value, owner),
			 errhint("Write %s.", expected)));
}

/* Append "key": value to a JSON object being built */
static void
JsonKey(StringInfo buf, const char *key)
{
	appendStringInfoString(buf, ", ");
	escape_json(buf, key);
	appendStringInfoString(buf, ": ");
}

/* An integer attribute as a JSON number */
static void
DotInteger(StringInfo buf, const char *key, const char *value, const char *owner)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(value, &end, 10);
	while (*end == ' ')
		end++;
	if (errno != 0 || end == value || *end != '\0' || v < INT_MIN || v > INT_MAX)
		DotBadValue(key, value, owner, "an integer");
	JsonKey(buf, key);
	appendStringInfo(buf, "%ld", v);
}

/* JSON text that must be an object (params) */
static void
DotJsonObject(StringInfo buf, const char *key, const char *value, const char *owner)
{
	Jsonb	   *jb;

	DotCheckInput(JSONBOID, value, key, owner, "a JSON object");
	jb = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(value)));
	if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
		DotBadValue(key, value, owner, "a JSON object, such as {\"city\": \"Bilbao\"}");
	JsonKey(buf, key);
	appendStringInfoString(buf, JsonbToCString(NULL, &jb->root, VARSIZE(jb)));
}

/* The JSON document of ws.define for a copied graph */
static char *
DotDocument(DotGraph *dg)
{
	StringInfoData buf;
	const char *name = dg->attr[0] ? dg->attr[0] : dg->name;

	if (name == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("the DOT graph has no name"),
				 errdetail("The workflow is named by the graph: its id or its name attribute."),
				 errhint("Write digraph conference { ... }, or set name=\"conference\" in the graph.")));

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"name\": ");
	escape_json(&buf, name);
	if (dg->attr[1])
	{
		JsonKey(&buf, "description");
		escape_json(&buf, dg->attr[1]);
	}
	if (dg->attr[2])
		DotJsonObject(&buf, "params", dg->attr[2], "the graph");

	appendStringInfoString(&buf, ", \"nodes\": [");
	for (int i = 0; i < dg->nnodes; i++)
	{
		DotNode    *n = &dg->nodes[i];
		char	   *owner = psprintf("node \"%s\"", n->name);

		appendStringInfoString(&buf, i ? ", {\"name\": " : "{\"name\": ");
		escape_json(&buf, n->name);
		for (int k = 0; k < (int) NNODE_KEYS; k++)
		{
			const char *key = node_keys[k];
			char	   *v = n->attr[k];
			bool		b;

			if (v == NULL)
				continue;
			if (strcmp(key, "start") == 0 || strcmp(key, "end") == 0 ||
				strcmp(key, "sequential") == 0)
			{
				if (!parse_bool(v, &b))
					DotBadValue(key, v, owner, "true or false");
				JsonKey(&buf, key);
				appendStringInfoString(&buf, b ? "true" : "false");
			}
			else if (strcmp(key, "join") == 0 || strcmp(key, "split") == 0)
			{
				if (pg_strcasecmp(v, "and") != 0 && pg_strcasecmp(v, "xor") != 0 &&
					pg_strcasecmp(v, "or") != 0)
					DotBadValue(key, v, owner, "and, xor or or");
				JsonKey(&buf, key);
				escape_json(&buf, asc_tolower(v, strlen(v)));
			}
			else if (strcmp(key, "retries") == 0)
				DotInteger(&buf, key, v, owner);
			else if (strcmp(key, "params") == 0)
				DotJsonObject(&buf, key, v, owner);
			else
			{
				if (strcmp(key, "wait") == 0 || strcmp(key, "due") == 0 || strcmp(key, "deadline") == 0)
					DotCheckInput(INTERVALOID, v, key, owner, "an interval such as 2 days");
				else if (strcmp(key, "wait_until") == 0)
					DotCheckInput(JSONPATHOID, v, key, owner, "a jsonpath such as $.deadline");
				else if (strcmp(key, "correlate") == 0)
					DotCheckInput(JSONPATHOID, v, key, owner, "a jsonpath such as $.order");
				else if (strcmp(key, "foreach") == 0)
					DotCheckInput(JSONPATHOID, v, key, owner, "a jsonpath such as $.papers");
				JsonKey(&buf, key);
				escape_json(&buf, v);
			}
		}
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoString(&buf, "], \"transitions\": [");
	for (int i = 0; i < dg->nedges; i++)
	{
		DotEdge    *e = &dg->edges[i];
		char	   *owner = psprintf("edge \"%s\" -> \"%s\"", e->from, e->to);

		appendStringInfoString(&buf, i ? ", {\"from\": " : "{\"from\": ");
		escape_json(&buf, e->from);
		JsonKey(&buf, "to");
		escape_json(&buf, e->to);
		if (e->attr[0])
		{
			DotCheckInput(JSONPATHOID, e->attr[0], "condition", owner,
						  "a jsonpath predicate such as $.papers >= 10");
			JsonKey(&buf, "condition");
			escape_json(&buf, e->attr[0]);
		}
		if (e->attr[1])
			DotInteger(&buf, "priority", e->attr[1], owner);
		if (e->attr[2])
		{
			if (strcmp(e->attr[2], "success") != 0 && strcmp(e->attr[2], "deadline") != 0 &&
				strcmp(e->attr[2], "failure") != 0)
				DotBadValue("on", e->attr[2], owner, "success, deadline or failure");
			JsonKey(&buf, "on");
			escape_json(&buf, e->attr[2]);
		}
		appendStringInfoChar(&buf, '}');
	}
	appendStringInfoString(&buf, "]}");
	return buf.data;
}

PG_FUNCTION_INFO_V1(ws_define_dot);

/* ws.define_dot(dot text) returns bigint: ws.define of the digraph's document */
Datum
ws_define_dot(PG_FUNCTION_ARGS)
{
	text	   *dot = PG_GETARG_TEXT_PP(0);
	DotGraph	dg;
	char	   *doc;
	Oid			argtypes[1] = {TEXTOID};
	Datum		values[1];
	bool		isnull;
	int64		id;
	int			rc;

	memset(&dg, 0, sizeof(dg));
	DotParse(text_to_cstring(dot), &dg);
	doc = DotDocument(&dg);

	values[0] = CStringGetTextDatum(doc);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "ws_dot: SPI_connect failed");
	rc = SPI_execute_with_args("SELECT ws_internal.define($1::jsonb)", 1, argtypes, values, NULL, false, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "ws_dot: ws.define failed: %s", SPI_result_code_string(rc));
	id = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (isnull)
		elog(ERROR, "ws_dot: ws.define returned null");
	SPI_finish();
	PG_RETURN_INT64(id);
}
