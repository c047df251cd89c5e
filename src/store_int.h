/*
 * store_int.h: what store.c (tables, lookups, locks, scans) and store_write.c (inserts,
 * updates, deletes) share of a store. Not for the rest of the engine: it uses store.h.
 */
#ifndef WS_STORE_INT_H
#define WS_STORE_INT_H

#include "commands/trigger.h"
#include "executor/execPartition.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"

#include "store.h"

typedef struct WsStoreRel
{
	RangeTblEntry *rte;			/* its updatedCols: the columns updates set */
	Relation	rel;			/* NULL until first used */
	ResultRelInfo *rri;			/* its indexes opened at the first write */
	bool		indexed;		/* they are */
	bool		writable[3];	/* checked for INSERT, UPDATE, DELETE (WsStoreWritable) */
	Relation	pk;				/* its primary key index, opened at the first lookup */
	int			nkeys;
	RegProcedure keyproc[INDEX_MAX_KEYS];	/* equality of each key column */
	Relation	idx;			/* the last other index scanned, or NULL */
	TupleTableSlot *found;		/* the row WsStoreFind found */
	bool		locked;			/* and locked */
	TupleTableSlot *row;		/* the row being built (virtual) */
	bool	   *set;			/* its columns the engine set (WsStoreNew to WsStoreInsert) */
	bool		changing;		/* row is a new version of found (WsStoreChange) */
	ExprState **defaults;		/* columns' defaults, prepared when first needed */
	bool		captures_made[3];	/* capture[] made for INSERT, UPDATE, DELETE */
	TransitionCaptureState *capture[3]; /* transition tables of row triggers, or NULL */
	ModifyTableState *mtstate;	/* a partitioned table's routing, set up at the first insert */
	PartitionTupleRouting *proute;
} WsStoreRel;

struct WsStore
{
	EState	   *estate;
	EPQState	epq;
	Snapshot	snap;			/* the read snapshot, NULL until a read needs it */
	Oid			caller;			/* who user code (triggers, defaults...) runs as */
	int			caller_context; /* and with what security context */
	WsStoreRel	t[WS_NTABLES];
};

extern const char *const ws_table_names[WS_NTABLES];

extern WsStoreRel *WsStoreOpen(WsStore *s, WsTable t);
extern Bitmapset *WsStoreDefaulted(WsStoreRel *r, WsTable t);
extern void WsErrTriggerChanged(WsTable t) pg_attribute_noreturn();
extern void WsStoreAfterTriggers(WsStore *s);

#endif
