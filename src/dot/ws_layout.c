/*
 * ws_layout.c: Graphviz's dot layout for ws.to_bpmn's diagram, in the ws_dot library.
 *
 * ws_internal.bpmn_layout(ids text[], widths integer[], heights integer[], sources text[],
 * targets text[]) lays the boxes out left to right with dot (libgvc) and returns
 * {"id": [x, y], ...}: the top-left corner of each box, in pixels from the top left of
 * the picture (Graphviz counts points from the bottom left; one point is one pixel here).
 * The graph is built with cgraph's calls, not as DOT text, so no name needs quoting; the
 * boxes keep their sizes (fixedsize), in the order given, which keeps nodes of one rank in
 * that order where dot can. Graphviz's messages go to a callback, never to the server's
 * stderr; the graph, the layout and the context are freed in PG_FINALLY.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"

#include <gvc.h>

/*
 * Graphviz's messages of the current call: the callback runs inside Graphviz, so it only
 * copies into this static buffer (truncating) and never allocates or throws.
 */
static char layout_messages[1024];
static size_t layout_messages_len;

static int
LayoutMessage(char *msg)
{
	size_t		room = sizeof(layout_messages) - 1 - layout_messages_len;
	size_t		n = strlen(msg);

	if (n > room)
		n = room;
	memcpy(layout_messages + layout_messages_len, msg, n);
	layout_messages_len += n;
	layout_messages[layout_messages_len] = '\0';
	return 0;
}

/* The elements of a one-dimensional array argument, NULLs refused */
static void
LayoutArray(ArrayType *a, Oid type, Datum **values, int *n)
{
	bool	   *nulls;
	int16		typlen;
	bool		typbyval;
	char		typalign;

	if (ARR_NDIM(a) > 1)
		elog(ERROR, "ws_layout: arrays must have one dimension");
	get_typlenbyvalalign(type, &typlen, &typbyval, &typalign);
	deconstruct_array(a, type, typlen, typbyval, typalign, values, &nulls, n);
	for (int i = 0; i < *n; i++)
		if (nulls[i])
			elog(ERROR, "ws_layout: null array element");
}

PG_FUNCTION_INFO_V1(ws_bpmn_layout);

/* ws_internal.bpmn_layout(ids, widths, heights, sources, targets) returns jsonb */
Datum
ws_bpmn_layout(PG_FUNCTION_ARGS)
{
	Datum	   *ids,
			   *widths,
			   *heights,
			   *sources,
			   *targets;
	int			nids,
				nw,
				nh,
				ns,
				nt;
	GVC_t	   *volatile gvc = NULL;
	Agraph_t   *volatile g = NULL;
	volatile bool laid = false;
	agusererrf	old_errf;
	StringInfoData buf;

	LayoutArray(PG_GETARG_ARRAYTYPE_P(0), TEXTOID, &ids, &nids);
	LayoutArray(PG_GETARG_ARRAYTYPE_P(1), INT4OID, &widths, &nw);
	LayoutArray(PG_GETARG_ARRAYTYPE_P(2), INT4OID, &heights, &nh);
	LayoutArray(PG_GETARG_ARRAYTYPE_P(3), TEXTOID, &sources, &ns);
	LayoutArray(PG_GETARG_ARRAYTYPE_P(4), TEXTOID, &targets, &nt);
	if (nw != nids || nh != nids || nt != ns)
		elog(ERROR, "ws_layout: arrays of different lengths");

	initStringInfo(&buf);
	appendStringInfoChar(&buf, '{');
	layout_messages_len = 0;
	layout_messages[0] = '\0';
	old_errf = agseterrf(LayoutMessage);
	PG_TRY();
	{
		Agnode_t  **nodes = palloc0(sizeof(Agnode_t *) * Max(nids, 1));
		double		top;

		gvc = gvContext();
		g = agopen("bpmn", Agdirected, NULL);
		agattr(g, AGRAPH, "rankdir", "LR");
		agattr(g, AGRAPH, "nodesep", "0.6");
		agattr(g, AGRAPH, "ranksep", "0.5");
		agattr(g, AGNODE, "shape", "box");
		agattr(g, AGNODE, "fixedsize", "true");
		agattr(g, AGNODE, "label", "");
		agattr(g, AGNODE, "width", "1");
		agattr(g, AGNODE, "height", "1");
		for (int i = 0; i < nids; i++)
		{
			char		size[32];

			nodes[i] = agnode(g, TextDatumGetCString(ids[i]), 1);
			snprintf(size, sizeof(size), "%.4f", DatumGetInt32(widths[i]) / 72.0);
			agset(nodes[i], "width", size);
			snprintf(size, sizeof(size), "%.4f", DatumGetInt32(heights[i]) / 72.0);
			agset(nodes[i], "height", size);
		}
		for (int i = 0; i < ns; i++)
		{
			Agnode_t   *s = agnode(g, TextDatumGetCString(sources[i]), 0);
			Agnode_t   *t = agnode(g, TextDatumGetCString(targets[i]), 0);

			if (s == NULL || t == NULL)
				elog(ERROR, "ws_layout: an edge names an unknown box");
			agedge(g, s, t, NULL, 1);
		}
		if (gvLayout(gvc, g, "dot") != 0)
			ereport(ERROR,
					(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
					 errmsg("Graphviz could not lay the BPMN diagram out"),
					 errdetail("%s", layout_messages),
					 errhint("The workflow itself is stored; ws.to_dot draws it without a layout of ws's own.")));
		laid = true;
		top = GD_bb(g).UR.y;
		for (int i = 0; i < nids; i++)
		{
			pointf		c = ND_coord(nodes[i]);

			if (i > 0)
				appendStringInfoChar(&buf, ',');
			escape_json(&buf, TextDatumGetCString(ids[i]));
			appendStringInfo(&buf, ":[%d,%d]",
							 (int) (c.x - DatumGetInt32(widths[i]) / 2.0 + 0.5) + 100,
							 (int) (top - c.y - DatumGetInt32(heights[i]) / 2.0 + 0.5) + 80);
		}
	}
	PG_FINALLY();
	{
		if (laid)
			gvFreeLayout(gvc, g);
		if (g)
			agclose(g);
		if (gvc)
			gvFreeContext(gvc);
		agseterrf(old_errf);
	}
	PG_END_TRY();
	appendStringInfoChar(&buf, '}');
	PG_RETURN_DATUM(DirectFunctionCall1(jsonb_in, CStringGetDatum(buf.data)));
}
