/*
 * forms.h: action forms and the type check of params (forms.c).
 */
#ifndef WS_FORMS_H
#define WS_FORMS_H

#include "utils/jsonb.h"

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
extern bool WsFormHas(const WsForm *form, const char *name);
extern char *WsFormProblems(const WsForm *form, Jsonb *params, const char *action, bool required);
extern const char *WsFieldTypeHint(const WsForm *form, Jsonb *params);

#endif
