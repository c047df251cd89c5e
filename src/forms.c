/*
 * forms.c: action forms. An action's form (ws.action.params) lists its parameters, each
 * with a type (string, integer, number, boolean, timestamp, object, array) and whether it
 * is required. The same check serves everywhere a form applies:
 *   - a task being activated (engine.c, WsProceed) checks its effective params: a missing
 *     required value or a value of the wrong type makes it pending, the problem in its
 *     error column, for a person to fix with ws.fill;
 *   - ws.fill refuses values of the wrong type before it stores anything, and any key
 *     but the form's fields that the workflow and the node leave open (calls.c);
 *   - ws.validate (through ws_internal.form_problems) checks the constant params of each
 *     node (workflow params, then node params) against its action's form.
 * A JSON null passes the type check of any field, and does not count as present for a
 * required one.
 */
#include "postgres.h"

#include "access/xact.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/datetime.h"
#include "utils/numeric.h"
#include "utils/resowner.h"
#include "utils/timestamp.h"

#include "forms.h"
#include "ws.h"

static const char *const ws_field_types[] = {
	[WS_FIELD_STRING] = "string",
	[WS_FIELD_INTEGER] = "integer",
	[WS_FIELD_NUMBER] = "number",
	[WS_FIELD_BOOLEAN] = "boolean",
	[WS_FIELD_TIMESTAMP] = "timestamp",
	[WS_FIELD_OBJECT] = "object",
	[WS_FIELD_ARRAY] = "array",
};

static int
WsFieldCmp(const void *a, const void *b)
{
	return strcmp(((const WsField *) a)->name, ((const WsField *) b)->name);
}

/*
 * The form of an action from its stored params (NULL or {}: no form, NULL result), fields
 * in name order, allocated in the current memory context. ws.register_action has checked
 * the form's shape; a field of an unknown type is left out.
 */
WsForm *
WsFormParse(Jsonb *params)
{
	WsForm	   *form;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken r;
	char	   *key = NULL;

	if (params == NULL || !JB_ROOT_IS_OBJECT(params) || JB_ROOT_COUNT(params) == 0)
		return NULL;
	form = palloc0(sizeof(WsForm));
	form->fields = palloc0(sizeof(WsField) * JB_ROOT_COUNT(params));
	it = JsonbIteratorInit(&params->root);
	while ((r = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (r == WJB_KEY)
			key = pnstrdup(v.val.string.val, v.val.string.len);
		else if (r == WJB_VALUE && v.type == jbvBinary && JsonContainerIsObject(v.val.binary.data))
		{
			JsonbValue *t = getKeyJsonValueFromContainer(v.val.binary.data, "type", 4, NULL);
			JsonbValue *req = getKeyJsonValueFromContainer(v.val.binary.data, "required", 8, NULL);
			WsField    *f = &form->fields[form->nfields];
			int			i;

			if (t == NULL || t->type != jbvString)
				continue;
			for (i = 0; i < lengthof(ws_field_types); i++)
				if (strlen(ws_field_types[i]) == t->val.string.len &&
					strncmp(ws_field_types[i], t->val.string.val, t->val.string.len) == 0)
					break;
			if (i == lengthof(ws_field_types))
				continue;
			f->name = key;
			f->type = (WsFieldType) i;
			f->required = req != NULL && req->type == jbvBool && req->val.boolean;
			form->nrequired += f->required;
			form->nfields++;
		}
	}
	if (form->nfields == 0)
		return NULL;
	qsort(form->fields, form->nfields, sizeof(WsField), WsFieldCmp);
	return form;
}

/* Is name a field of form (NULL: no form, no field)? */
bool
WsFormHas(const WsForm *form, const char *name)
{
	WsField		key;

	if (form == NULL)
		return false;
	key.name = (char *) name;
	return bsearch(&key, form->fields, form->nfields, sizeof(WsField), WsFieldCmp) != NULL;
}

/* Does s read as a timestamp with time zone (as timestamptz_in would)? */
static bool
WsParseTimestamp(const char *s)
{
	char		workbuf[MAXDATELEN + MAXDATEFIELDS];
	char	   *field[MAXDATEFIELDS];
	int			ftype[MAXDATEFIELDS];
	int			nf,
				dtype,
				tz = 0;
	struct pg_tm tt;
	fsec_t		fsec;
	TimestampTz t;

	if (ParseDateTime(s, workbuf, sizeof(workbuf), field, ftype, MAXDATEFIELDS, &nf) != 0 ||
		DecodeDateTime(field, ftype, nf, &dtype, &tt, &fsec, &tz) != 0)
		return false;
	if (dtype == DTK_DATE)
		return tm2timestamp(&tt, fsec, &tz, &t) == 0 && IS_VALID_TIMESTAMP(t);
	return dtype == DTK_EPOCH || dtype == DTK_LATE || dtype == DTK_EARLY;
}

/*
 * WsParseTimestamp without raising: PostgreSQL 15's DecodeDateTime raises (22023) for a
 * time zone name it does not know instead of returning an error code, so the parse runs
 * in a subtransaction whose error means "not a timestamp".
 */
static bool
WsIsTimestamp(const char *s)
{
	MemoryContext cxt = CurrentMemoryContext;
	ResourceOwner owner = CurrentResourceOwner;
	volatile bool ok = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(cxt);
	PG_TRY();
	{
		ok = WsParseTimestamp(s);
		ReleaseCurrentSubTransaction();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		FlushErrorState();
		RollbackAndReleaseCurrentSubTransaction();
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(cxt);
	CurrentResourceOwner = owner;
	return ok;
}

/* Is v (a value of an object) of type? */
static bool
WsFieldTypeOk(WsFieldType type, JsonbValue *v)
{
	switch (type)
	{
		case WS_FIELD_STRING:
			return v->type == jbvString;
		case WS_FIELD_NUMBER:
			return v->type == jbvNumeric;
		case WS_FIELD_INTEGER:
			return v->type == jbvNumeric &&
				DatumGetBool(DirectFunctionCall2(numeric_eq, NumericGetDatum(v->val.numeric),
												 DirectFunctionCall2(numeric_trunc,
																	 NumericGetDatum(v->val.numeric),
																	 Int32GetDatum(0))));
		case WS_FIELD_BOOLEAN:
			return v->type == jbvBool;
		case WS_FIELD_TIMESTAMP:
			return v->type == jbvString &&
				WsIsTimestamp(pnstrdup(v->val.string.val, v->val.string.len));
		case WS_FIELD_OBJECT:
			return v->type == jbvBinary && JsonContainerIsObject(v->val.binary.data);
		case WS_FIELD_ARRAY:
			return v->type == jbvBinary && JsonContainerIsArray(v->val.binary.data);
	}
	return false;
}

/* A value as JSON text, cut to 60 characters, for a message */
static char *
WsValueText(JsonbValue *v)
{
	Jsonb	   *j = JsonbValueToJsonb(v);
	char	   *s = JsonbToCString(NULL, &j->root, VARSIZE(j));

	if (strlen(s) > 60)
		s = psprintf("%.57s...", s);
	return s;
}

/*
 * What is wrong with params for action's form, NULL when nothing: every value of the wrong
 * type, and (with required) every required parameter that is missing, one sentence each,
 * joined by "; ".
 */
char *
WsFormProblems(const WsForm *form, Jsonb *params, const char *action, bool required)
{
	StringInfoData buf;
	int			i;

	if (form == NULL)
		return NULL;
	initStringInfo(&buf);
	for (i = 0; i < form->nfields; i++)
	{
		const WsField *f = &form->fields[i];
		JsonbValue *v = NULL;

		if (params != NULL && JB_ROOT_IS_OBJECT(params))
			v = getKeyJsonValueFromContainer(&params->root, f->name, strlen(f->name), NULL);
		if (v == NULL || v->type == jbvNull)
		{
			if (!required || !f->required)
				continue;
			appendStringInfo(&buf, "%srequired parameter \"%s\" of action \"%s\" is missing",
							 buf.len ? "; " : "", f->name, action);
		}
		else if (!WsFieldTypeOk(f->type, v))
		{
			appendStringInfo(&buf, "%sparameter \"%s\" of action \"%s\" must be of type %s, not %s",
							 buf.len ? "; " : "", f->name, action, ws_field_types[f->type],
							 WsValueText(v));
		}
	}
	return buf.len ? buf.data : NULL;
}

/* How to write a value of type, for a hint */
const char *
WsFieldTypeHint(const WsForm *form, Jsonb *params)
{
	int			i;

	for (i = 0; i < form->nfields; i++)
	{
		JsonbValue *v = getKeyJsonValueFromContainer(&params->root, form->fields[i].name,
													 strlen(form->fields[i].name), NULL);

		if (v != NULL && v->type != jbvNull && !WsFieldTypeOk(form->fields[i].type, v))
			return form->fields[i].type == WS_FIELD_TIMESTAMP
				? "Pass an ISO 8601 string such as \"2026-11-27T10:00:00Z\"."
				: psprintf("Pass a JSON %s.", ws_field_types[form->fields[i].type]);
	}
	return NULL;
}

PG_FUNCTION_INFO_V1(ws_form_problems);

/*
 * ws_internal.form_problems(form jsonb, params jsonb, action text, required boolean)
 * returns text: WsFormProblems for SQL (ws.validate), NULL when nothing is wrong.
 */
Datum
ws_form_problems(PG_FUNCTION_ARGS)
{
	WsForm	   *form;
	char	   *problems;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		PG_RETURN_NULL();
	form = WsFormParse(PG_GETARG_JSONB_P(0));
	problems = WsFormProblems(form, PG_GETARG_JSONB_P(1),
							  PG_ARGISNULL(2) ? "" : text_to_cstring(PG_GETARG_TEXT_PP(2)),
							  !PG_ARGISNULL(3) && PG_GETARG_BOOL(3));
	if (problems == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(problems));
}
