/*
 * store.c: row writes to the engine's tables without planned statements.
 *
 * A step's write (engine.c, WsFlushSteps) and a claim (claim.c) insert, update and delete
 * a handful of rows of ws.task, ws.ready, ws.event and ws.process. Written as one SQL
 * statement, starting its plan (opening every index of four tables, setting up eight
 * data-modifying parts and their projections) cost more than the rows themselves: 11% of
 * a step's backend time went to ExecutorStart of the write alone. Here each row goes
 * through the executor's single-row routines, the ones logical replication applies rows
 * with: NOT NULL checks, index entries (partial index predicates included), row triggers
 * (the foreign key checks among them, fired at WsStoreEnd) and WAL, exactly as an INSERT,
 * UPDATE or DELETE of that row would do. Statement triggers do not fire.
 *
 * A row to change is found by primary key and locked first (WsStoreFind): it waits for
 * a transaction that is writing the row, then locks its latest version, so the caller
 * reads the row as it is now, under the lock, like the WHERE clause of an UPDATE re-checked
 * after a concurrent update.
 *
 * Usage: WsStoreBegin; per row WsStoreNew or WsStoreFind (+ WsStoreChange), set columns
 * with WsStoreSet, then WsStoreInsert, WsStoreUpdate or WsStoreDelete; WsStoreEnd, which
 * makes the writes visible to the transaction's next command.
 */
#include "ws.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/dependency.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "catalog/pg_type.h"
#include "utils/fmgrprotos.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

static const char *const ws_table_names[WS_NTABLES] = {"task", "ready", "event", "process"};
static Oid	ws_table_oids[WS_NTABLES];	/* InvalidOid: look it up again */
static Oid	ws_seq_oids[WS_NTABLES];	/* their id sequences, the same way */

typedef struct WsStoreRel
{
	Relation	rel;			/* NULL until first used */
	ResultRelInfo *rri;
	Relation	pk;				/* its primary key index */
	int			nkeys;
	RegProcedure keyproc[INDEX_MAX_KEYS];	/* equality of each key column */
	TupleTableSlot *found;		/* the row WsStoreFind locked */
	TupleTableSlot *row;		/* the row being built (virtual) */
} WsStoreRel;

struct WsStore
{
	EState	   *estate;
	EPQState	epq;
	WsStoreRel	t[WS_NTABLES];
};

static void
WsForgetTables(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < WS_NTABLES; i++)
	{
		if (relid == InvalidOid || relid == ws_table_oids[i])
			ws_table_oids[i] = InvalidOid;
		if (relid == InvalidOid || relid == ws_seq_oids[i])
			ws_seq_oids[i] = InvalidOid;
	}
}

static Oid
WsTableOid(WsTable t)
{
	static bool registered = false;

	if (!OidIsValid(ws_table_oids[t]))
	{
		Oid			nsp = get_namespace_oid("ws", false);

		if (!registered)
		{
			CacheRegisterRelcacheCallback(WsForgetTables, (Datum) 0);
			registered = true;
		}
		ws_table_oids[t] = get_relname_relid(ws_table_names[t], nsp);
		if (!OidIsValid(ws_table_oids[t]))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("table ws.%s does not exist", ws_table_names[t]),
					 errhint("Reinstall the extension: DROP EXTENSION ws; CREATE EXTENSION ws.")));
	}
	return ws_table_oids[t];
}

/* A new id for a row of t, from its identity sequence. */
int64
WsStoreNextId(WsTable t)
{
	if (!OidIsValid(ws_seq_oids[t]))
	{
		List	   *seqs = getOwnedSequences(WsTableOid(t));

		if (list_length(seqs) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table ws.%s has no identity sequence", ws_table_names[t]),
					 errhint("Reinstall the extension: DROP EXTENSION ws; CREATE EXTENSION ws.")));
		ws_seq_oids[t] = linitial_oid(seqs);
	}
	return DatumGetInt64(DirectFunctionCall1(nextval_oid, ObjectIdGetDatum(ws_seq_oids[t])));
}

/* Start a write: its executor state, AFTER triggers queued from here to WsStoreEnd. */
WsStore *
WsStoreBegin(void)
{
	WsStore    *s = palloc0(sizeof(WsStore));
	List	   *rtable = NIL;
	int			i;

	s->estate = CreateExecutorState();
	for (i = 0; i < WS_NTABLES; i++)
	{
		RangeTblEntry *rte = makeNode(RangeTblEntry);

		rte->rtekind = RTE_RELATION;
		rte->relid = WsTableOid(i);
		rte->relkind = RELKIND_RELATION;
		rte->rellockmode = RowExclusiveLock;
		rtable = lappend(rtable, rte);
	}
	ExecInitRangeTable(s->estate, rtable);
	s->estate->es_output_cid = GetCurrentCommandId(true);
	s->estate->es_snapshot = GetActiveSnapshot();
	EvalPlanQualInit(&s->epq, s->estate, NULL, NIL, -1);
	AfterTriggerBeginQuery();
	return s;
}

/* The table t, opened for writing on first use. */
static WsStoreRel *
WsStoreOpen(WsStore *s, WsTable t)
{
	WsStoreRel *r = &s->t[t];
	Oid			pkoid;
	int			i;

	if (r->rel != NULL)
		return r;
	r->rel = table_open(WsTableOid(t), RowExclusiveLock);
	r->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(r->rri, r->rel, t + 1, NULL, 0);
	/* where the firing of its AFTER triggers looks for it */
	s->estate->es_opened_result_relations =
		lappend(s->estate->es_opened_result_relations, r->rri);
	ExecOpenIndices(r->rri, false);
	pkoid = RelationGetPrimaryKeyIndex(r->rel);
	for (i = 0; i < r->rri->ri_NumIndices; i++)
		if (RelationGetRelid(r->rri->ri_IndexRelationDescs[i]) == pkoid)
			r->pk = r->rri->ri_IndexRelationDescs[i];
	if (r->pk == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("table ws.%s has no primary key", ws_table_names[t]),
				 errhint("Reinstall the extension: DROP EXTENSION ws; CREATE EXTENSION ws.")));
	r->nkeys = IndexRelationGetNumberOfKeyAttributes(r->pk);
	for (i = 0; i < r->nkeys; i++)
	{
		Oid			type = r->pk->rd_opcintype[i];
		Oid			op = get_opfamily_member(r->pk->rd_opfamily[i], type, type,
											 BTEqualStrategyNumber);

		r->keyproc[i] = get_opcode(op);
	}
	r->found = table_slot_create(r->rel, &s->estate->es_tupleTable);
	r->row = ExecInitExtraTupleSlot(s->estate, RelationGetDescr(r->rel), &TTSOpsVirtual);
	return r;
}

/* The 0-based position of column name in table t. */
int
WsStoreCol(WsStore *s, WsTable t, const char *name)
{
	TupleDesc	desc = RelationGetDescr(WsStoreOpen(s, t)->rel);
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);

		if (!a->attisdropped && strcmp(NameStr(a->attname), name) == 0)
			return i;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("column %s of table ws.%s does not exist", name, ws_table_names[t]),
			 errhint("Reinstall the extension: DROP EXTENSION ws; CREATE EXTENSION ws.")));
	return -1;					/* keep the compiler quiet */
}

/*
 * Set column name, of type type, of the row being built for t (isnull: to NULL). The
 * type is checked: a datum of another type would be stored as it is.
 */
void
WsStoreSet(WsStore *s, WsTable t, const char *name, Oid type, Datum value, bool isnull)
{
	TupleTableSlot *row = WsStoreOpen(s, t)->row;
	int			col = WsStoreCol(s, t, name);

	if (TupleDescAttr(row->tts_tupleDescriptor, col)->atttypid != type)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("column %s of table ws.%s is not of type %s", name, ws_table_names[t],
						format_type_be(type)),
				 errhint("Reinstall the extension: DROP EXTENSION ws; CREATE EXTENSION ws.")));
	row->tts_values[col] = value;
	row->tts_isnull[col] = isnull;
}

/* Column name of the row WsStoreFind locked in t (*isnull set when NULL). */
Datum
WsStoreGet(WsStore *s, WsTable t, const char *name, bool *isnull)
{
	WsStoreRel *r = WsStoreOpen(s, t);
	int			col = WsStoreCol(s, t, name);

	return slot_getattr(r->found, col + 1, isnull);
}

/* Start a new row of t, every column NULL. */
void
WsStoreNew(WsStore *s, WsTable t)
{
	TupleTableSlot *row = WsStoreOpen(s, t)->row;

	ExecClearTuple(row);
	memset(row->tts_isnull, true, sizeof(bool) * row->tts_tupleDescriptor->natts);
}

/* Start the new version of the row WsStoreFind locked in t: a copy of it. */
void
WsStoreChange(WsStore *s, WsTable t)
{
	WsStoreRel *r = WsStoreOpen(s, t);
	int			natts = r->row->tts_tupleDescriptor->natts;

	ExecClearTuple(r->row);
	slot_getallattrs(r->found);
	memcpy(r->row->tts_values, r->found->tts_values, sizeof(Datum) * natts);
	memcpy(r->row->tts_isnull, r->found->tts_isnull, sizeof(bool) * natts);
}

/* Scan keys for the first nkeys columns of r's primary key equal to keys. */
static void
WsStoreKeys(WsStoreRel *r, ScanKey sk, const Datum *keys, int nkeys)
{
	int			i;

	for (i = 0; i < nkeys; i++)
		ScanKeyEntryInitialize(&sk[i], 0, i + 1, BTEqualStrategyNumber,
							   r->pk->rd_opcintype[i], r->pk->rd_indcollation[i],
							   r->keyproc[i], keys[i]);
}

/*
 * Find the row of t whose primary key is keys (in key column order), then (mode):
 *   WS_FIND_WAIT  lock it FOR UPDATE, waiting for a transaction that holds or writes it;
 *   WS_FIND_SKIP  lock it FOR UPDATE unless another transaction holds or writes it;
 *   WS_FIND_READ  only read it, as of a snapshot taken now.
 * False when there is no such row (or, skipping, when it is taken). The row is then read
 * with WsStoreGet; a locked row as it is now.
 */
bool
WsStoreFind(WsStore *s, WsTable t, const Datum *keys, WsFind mode)
{
	WsStoreRel *r = WsStoreOpen(s, t);
	ScanKeyData sk[INDEX_MAX_KEYS];
	SnapshotData dirty;
	IndexScanDesc scan;
	TM_FailureData tmfd;
	TM_Result	res;
	bool		found;

	WsStoreKeys(r, sk, keys, r->nkeys);
	if (mode == WS_FIND_READ)
	{
		Snapshot	snap = RegisterSnapshot(GetLatestSnapshot());

		scan = index_beginscan(r->rel, r->pk, snap, r->nkeys, 0);
		index_rescan(scan, sk, r->nkeys, NULL, 0);
		found = index_getnext_slot(scan, ForwardScanDirection, r->found);
		index_endscan(scan);
		UnregisterSnapshot(snap);
		return found;
	}
	InitDirtySnapshot(dirty);
	for (;;)
	{
		TransactionId xwait = InvalidTransactionId;

		scan = index_beginscan(r->rel, r->pk, &dirty, r->nkeys, 0);
		index_rescan(scan, sk, r->nkeys, NULL, 0);
		found = index_getnext_slot(scan, ForwardScanDirection, r->found);
		if (found)
			xwait = TransactionIdIsValid(dirty.xmin) ? dirty.xmin : dirty.xmax;
		index_endscan(scan);
		if (!found)
			return false;
		/* a transaction inserting or deleting it: wait for its outcome, look again */
		if (TransactionIdIsValid(xwait))
		{
			if (mode == WS_FIND_SKIP)
				return false;
			XactLockTableWait(xwait, r->rel, &r->found->tts_tid, XLTW_Lock);
			continue;
		}
		res = table_tuple_lock(r->rel, &r->found->tts_tid, GetLatestSnapshot(), r->found,
							   GetCurrentCommandId(false), LockTupleExclusive,
							   mode == WS_FIND_SKIP ? LockWaitSkip : LockWaitBlock, 0, &tmfd);
		switch (res)
		{
			case TM_Ok:
				return true;
			case TM_WouldBlock:
				return false;
			case TM_Updated:
			case TM_Deleted:
				/* changed since the scan: look again */
				continue;
			default:
				elog(ERROR, "ws: unexpected result %d locking a row of ws.%s", (int) res,
					 ws_table_names[t]);
		}
	}
}

/*
 * Scan the rows of t whose primary key starts with key, in key order, as of a snapshot
 * taken now (the claim's walk over ws.ready of one action).
 */
struct WsStoreScan
{
	WsStoreRel *r;
	Snapshot	snap;
	IndexScanDesc scan;
	TupleTableSlot *slot;
};

WsStoreScan *
WsStoreScanBegin(WsStore *s, WsTable t, Datum key)
{
	WsStoreScan *sc = palloc0(sizeof(WsStoreScan));
	ScanKeyData sk;

	sc->r = WsStoreOpen(s, t);
	WsStoreKeys(sc->r, &sk, &key, 1);
	sc->snap = RegisterSnapshot(GetLatestSnapshot());
	sc->slot = table_slot_create(sc->r->rel, &s->estate->es_tupleTable);
	sc->scan = index_beginscan(sc->r->rel, sc->r->pk, sc->snap, 1, 0);
	index_rescan(sc->scan, &sk, 1, NULL, 0);
	return sc;
}

/* The next row (false: no more), its column col (1-based) in *value. */
bool
WsStoreScanNext(WsStoreScan *sc, int col, Datum *value)
{
	bool		isnull;

	if (!index_getnext_slot(sc->scan, ForwardScanDirection, sc->slot))
		return false;
	*value = slot_getattr(sc->slot, col, &isnull);
	return true;
}

void
WsStoreScanEnd(WsStoreScan *sc)
{
	index_endscan(sc->scan);
	ExecClearTuple(sc->slot);
	UnregisterSnapshot(sc->snap);
	pfree(sc);
}

/* Insert the row built for t. */
void
WsStoreInsert(WsStore *s, WsTable t)
{
	WsStoreRel *r = WsStoreOpen(s, t);

	ExecStoreVirtualTuple(r->row);
	ExecSimpleRelationInsert(r->rri, s->estate, r->row);
	ResetPerTupleExprContext(s->estate);
}

/* Replace the row WsStoreFind locked in t by the row built (WsStoreChange). */
void
WsStoreUpdate(WsStore *s, WsTable t)
{
	WsStoreRel *r = WsStoreOpen(s, t);

	ExecStoreVirtualTuple(r->row);
	ExecSimpleRelationUpdate(r->rri, s->estate, &s->epq, r->found, r->row);
	ResetPerTupleExprContext(s->estate);
}

/* Delete the row WsStoreFind locked in t. */
void
WsStoreDelete(WsStore *s, WsTable t)
{
	WsStoreRel *r = WsStoreOpen(s, t);

	ExecSimpleRelationDelete(r->rri, s->estate, &s->epq, r->found);
	ResetPerTupleExprContext(s->estate);
}

/*
 * End the write: fire the row triggers it queued (foreign key checks), close what it
 * opened (the locks stay to the end of the transaction), and make its rows visible to
 * the transaction's next command.
 */
void
WsStoreEnd(WsStore *s)
{
	int			i;

	AfterTriggerEndQuery(s->estate);
	EvalPlanQualEnd(&s->epq);
	/* our indexes, and what the triggers opened */
	ExecCloseResultRelations(s->estate);
	ExecCloseRangeTableRelations(s->estate);
	for (i = 0; i < WS_NTABLES; i++)
		if (s->t[i].rel != NULL)
			table_close(s->t[i].rel, NoLock);
	ExecResetTupleTable(s->estate->es_tupleTable, false);
	FreeExecutorState(s->estate);
	pfree(s);
	CommandCounterIncrement();
}
