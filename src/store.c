/*
 * store.c: row reads and writes of the engine's tables without planned statements.
 *
 * A step's load and write (step.c WsStepLoad, flush.c WsFlushSteps), a claim (claim.c)
 * and a process start (calls.c WsStartProcess) lock, read, insert, update and delete a handful of
 * rows of ws.task, ws.ready, ws.event, ws.process and ws.workflow. Written as one SQL
 * statement, starting its plan (opening every index of four tables, setting up eight
 * data-modifying parts and their projections) cost more than the rows themselves
 * (ExecutorStart of the write alone was a large share of a step). Here each row goes
 * through the executor's single-row routines, the ones logical replication applies rows
 * with: NOT NULL checks, index entries (partial index predicates included), row triggers
 * (the foreign key checks among them, fired at WsStoreEnd) and WAL, exactly as an INSERT,
 * UPDATE or DELETE of that row would do. Statement triggers do not fire.
 *
 * A row to change is found by primary key and locked first (WsStoreFind), as SELECT ...
 * FOR UPDATE does it: looked up with an MVCC snapshot, then locked in its latest version
 * (in READ COMMITTED the lock follows updates made since; under REPEATABLE READ and
 * SERIALIZABLE such an update raises 40001), so the caller reads the row as it is now,
 * under the lock, like the WHERE clause of an UPDATE re-checked after a concurrent
 * update. (A lookup with a dirty snapshot is not enough: a btree scan that reads a page
 * before a concurrent non-HOT update inserts the new version's entry there, and the heap
 * after that update commits, finds no version at all.) Reads share one snapshot until
 * the next lock (WsStoreReadSnapshot).
 *
 * Usage: WsStoreBegin; per row WsStoreNew or WsStoreFind (+ WsStoreChange), set columns
 * with WsStoreSet, then WsStoreInsert, WsStoreUpdate or WsStoreDelete; WsStoreEnd, which
 * makes the writes visible to the transaction's next command.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/sysattr.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_trigger.h"
#include "catalog/dependency.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "catalog/pg_type.h"
#include "utils/fmgrprotos.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"

#include "store.h"
#include "ws.h"

static const char *const ws_table_names[WS_NTABLES] = {"task", "ready", "event", "process", "workflow"};
static Oid	ws_table_oids[WS_NTABLES];	/* InvalidOid: look it up again */
static Oid	ws_seq_oids[WS_NTABLES];	/* their id sequences, the same way */

/* each table's primary key: its index and key columns' equality procedures */
typedef struct WsPkCache
{
	Oid			index;			/* InvalidOid: look it up again */
	int			nkeys;
	RegProcedure keyproc[INDEX_MAX_KEYS];
} WsPkCache;
static WsPkCache ws_pks[WS_NTABLES];

typedef struct WsStoreRel
{
	RangeTblEntry *rte;			/* its updatedCols: the columns updates set */
	Relation	rel;			/* NULL until first used */
	ResultRelInfo *rri;			/* its indexes opened at the first write */
	bool		indexed;		/* they are */
	Relation	pk;				/* its primary key index, for lookups */
	int			nkeys;
	RegProcedure keyproc[INDEX_MAX_KEYS];	/* equality of each key column */
	Relation	idx;			/* the last other index scanned, or NULL */
	TupleTableSlot *found;		/* the row WsStoreFind locked */
	TupleTableSlot *row;		/* the row being built (virtual) */
	bool		changing;		/* row is a new version of found (WsStoreChange) */
} WsStoreRel;

struct WsStore
{
	EState	   *estate;
	EPQState	epq;
	Snapshot	snap;			/* the read snapshot, NULL until a read needs it */
	WsStoreRel	t[WS_NTABLES];
};

static void
WsForgetTables(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < WS_NTABLES; i++)
	{
		bool		table = relid == InvalidOid || relid == ws_table_oids[i];

		if (table)
			ws_table_oids[i] = InvalidOid;
		if (relid == InvalidOid || relid == ws_seq_oids[i])
			ws_seq_oids[i] = InvalidOid;
		if (table || relid == ws_pks[i].index)
			ws_pks[i].index = InvalidOid;
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

/* The lock a store takes on table t: ws.workflow is only read (ws.start locks its row). */
static LOCKMODE
WsTableLockMode(WsTable t)
{
	return t == WS_WORKFLOW ? RowShareLock : RowExclusiveLock;
}

/* Start a write: its executor state, AFTER triggers queued from here to WsStoreEnd. */
WsStore *
WsStoreBegin(void)
{
	EState	   *estate;
	WsStore    *s;
	List	   *rtable = NIL;
	MemoryContext old;
	int			i;

	/* rows the caller's last statement wrote must be visible, as to its next statement */
	CommandCounterIncrement();
	estate = CreateExecutorState();
	old = MemoryContextSwitchTo(estate->es_query_cxt);
	s = palloc0(sizeof(WsStore));
	s->estate = estate;
	for (i = 0; i < WS_NTABLES; i++)
	{
		RangeTblEntry *rte = makeNode(RangeTblEntry);

		rte->rtekind = RTE_RELATION;
		rte->relid = WsTableOid(i);
		rte->relkind = RELKIND_RELATION;
		rte->rellockmode = WsTableLockMode(i);
		rtable = lappend(rtable, rte);
		s->t[i].rte = rte;
	}
	ExecInitRangeTable(estate, rtable);
	estate->es_output_cid = GetCurrentCommandId(true);
	estate->es_snapshot = GetActiveSnapshot();
	EvalPlanQualInit(&s->epq, estate, NULL, NIL, -1);
	AfterTriggerBeginQuery();
	MemoryContextSwitchTo(old);
	return s;
}

/* Are a table's only row triggers those of its foreign keys? */
static bool
WsOnlyKeyTriggers(TriggerDesc *td)
{
	int			i;

	for (i = 0; i < td->numtriggers; i++)
		if (TRIGGER_FOR_ROW(td->triggers[i].tgtype) &&
			RI_FKey_trigger_type(td->triggers[i].tgfoid) == RI_TRIGGER_NONE)
			return false;
	return true;
}

/* The table t, opened for writing on first use. */
static WsStoreRel *
WsStoreOpen(WsStore *s, WsTable t)
{
	WsStoreRel *r = &s->t[t];
	MemoryContext old;
	int			i;

	if (r->rel != NULL)
		return r;
	old = MemoryContextSwitchTo(s->estate->es_query_cxt);
	r->rel = table_open(WsTableOid(t), WsTableLockMode(t));
	r->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(r->rri, r->rel, t + 1, NULL, 0);

	/*
	 * Foreign key checks are left out when they are a table's only row triggers (as they
	 * are unless a user adds some). The engine inserts a task only into a process its step
	 * holds (locked FOR UPDATE, or inserted by the same transaction), and changes neither
	 * ws.task.process nor ws.process.workflow nor a key, so the checks cannot fail: each
	 * was a query taking FOR KEY SHARE of a row the step already holds. Deleting a process still cascades to its tasks (that trigger is ws.process's
	 * own, fired by the DELETE).
	 */
	if (r->rri->ri_TrigDesc != NULL && WsOnlyKeyTriggers(r->rri->ri_TrigDesc))
		r->rri->ri_TrigDesc = NULL;
	/* where the firing of its AFTER triggers looks for it */
	s->estate->es_opened_result_relations =
		lappend(s->estate->es_opened_result_relations, r->rri);

	/*
	 * Only the primary key is opened here, for lookups: a store that only reads and
	 * locks a table (a step's load, the claim's process) never opens its other indexes
	 * (WsStoreIndexes, at the first write).
	 */
	if (!OidIsValid(ws_pks[t].index))
	{
		Oid			pkoid = RelationGetPrimaryKeyIndex(r->rel);
		Relation	pk;

		if (!OidIsValid(pkoid))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table ws.%s has no primary key", ws_table_names[t]),
					 errhint("Reinstall the extension: DROP EXTENSION ws; CREATE EXTENSION ws.")));
		pk = index_open(pkoid, AccessShareLock);
		ws_pks[t].nkeys = IndexRelationGetNumberOfKeyAttributes(pk);
		for (i = 0; i < ws_pks[t].nkeys; i++)
		{
			Oid			type = pk->rd_opcintype[i];

			ws_pks[t].keyproc[i] =
				get_opcode(get_opfamily_member(pk->rd_opfamily[i], type, type,
											   BTEqualStrategyNumber));
		}
		index_close(pk, NoLock);
		ws_pks[t].index = pkoid;
	}
	r->pk = index_open(ws_pks[t].index, AccessShareLock);
	r->nkeys = ws_pks[t].nkeys;
	memcpy(r->keyproc, ws_pks[t].keyproc, sizeof(RegProcedure) * r->nkeys);
	r->found = table_slot_create(r->rel, &s->estate->es_tupleTable);
	r->row = ExecInitExtraTupleSlot(s->estate, RelationGetDescr(r->rel), &TTSOpsVirtual);
	MemoryContextSwitchTo(old);
	return r;
}

/* Open t's indexes for a write, once a store. */
static void
WsStoreIndexes(WsStoreRel *r, WsStore *s)
{
	if (!r->indexed)
	{
		MemoryContext old = MemoryContextSwitchTo(s->estate->es_query_cxt);

		ExecOpenIndices(r->rri, false);
		MemoryContextSwitchTo(old);
		r->indexed = true;
	}
}

/* The attribute number of column name of table t, whose descriptor is desc. */
static int
WsColumn(TupleDesc desc, WsTable t, const char *name)
{
	int			i;

	for (i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute a = TupleDescAttr(desc, i);

		if (!a->attisdropped && strcmp(NameStr(a->attname), name) == 0)
			return i + 1;
	}
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_COLUMN),
			 errmsg("column %s of table ws.%s does not exist", name, ws_table_names[t]),
			 errhint("Reinstall the extension: DROP EXTENSION ws; CREATE EXTENSION ws.")));
	return 0;					/* keep the compiler quiet */
}

/* The 0-based position of column name in table t. */
static int
WsStoreCol(WsStore *s, WsTable t, const char *name)
{
	return WsColumn(RelationGetDescr(WsStoreOpen(s, t)->rel), t, name) - 1;
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
	/* an update sets it: what UPDATE OF triggers and the index hints go by */
	if (s->t[t].changing)
	{
		MemoryContext old = MemoryContextSwitchTo(s->estate->es_query_cxt);

		s->t[t].rte->updatedCols = bms_add_member(s->t[t].rte->updatedCols,
												  col + 1 - FirstLowInvalidHeapAttributeNumber);
		MemoryContextSwitchTo(old);
	}
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
	s->t[t].changing = false;
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
	r->changing = true;
	r->rte->updatedCols = NULL; /* this row's, from WsStoreSet */
}

/*
 * A snapshot to read with, registered (unregister it): in READ COMMITTED one taken now,
 * as each statement takes; under REPEATABLE READ and SERIALIZABLE the transaction's. Both
 * see what this transaction wrote before the current command.
 */
static Snapshot
WsStoreSnapshot(void)
{
	Snapshot	snap;

	if (!IsolationUsesXactSnapshot())
		return RegisterSnapshot(GetLatestSnapshot());
	PushCopiedSnapshot(GetTransactionSnapshot());
	UpdateActiveSnapshotCommandId();
	snap = RegisterSnapshot(GetActiveSnapshot());
	PopActiveSnapshot();
	return snap;
}

/*
 * Scan keys for the first nkeys columns of btree index idx equal to keys (bit i of any
 * set: keys[i] is an array, any element of which matches), with the columns' equality
 * procedures procs (NULL: looked up).
 */
static void
WsStoreKeys(Relation idx, const RegProcedure *procs, ScanKey sk, const Datum *keys, int nkeys,
			uint32 any)
{
	int			i;

	Assert(nkeys <= IndexRelationGetNumberOfKeyAttributes(idx));
	for (i = 0; i < nkeys; i++)
	{
		Oid			type = idx->rd_opcintype[i];
		RegProcedure proc = procs ? procs[i] :
			get_opcode(get_opfamily_member(idx->rd_opfamily[i], type, type, BTEqualStrategyNumber));

		ScanKeyEntryInitialize(&sk[i], (any & (1 << i)) ? SK_SEARCHARRAY : 0, i + 1,
							   BTEqualStrategyNumber, type, idx->rd_indcollation[i], proc, keys[i]);
	}
}

/*
 * The snapshot the store reads with (WS_LOCK_NONE, scans): one for all reads until the
 * next lock, so a step's reads agree with each other, and reads after a lock see what
 * the lock waited for.
 */
static Snapshot
WsStoreReadSnapshot(WsStore *s)
{
	if (s->snap == NULL)
		s->snap = WsStoreSnapshot();
	return s->snap;
}

/* Drop the read snapshot: the next read takes a new one. */
void
WsStoreForgetSnapshot(WsStore *s)
{
	if (s->snap != NULL)
	{
		UnregisterSnapshot(s->snap);
		s->snap = NULL;
	}
}

/*
 * Find the row of t whose primary key is keys (in key column order), then (mode):
 *   WS_LOCK_UPDATE         lock it FOR UPDATE, waiting for a transaction that holds or
 *                          writes it;
 *   WS_LOCK_NO_KEY_UPDATE  the same, FOR NO KEY UPDATE (the lock an UPDATE of other
 *                          columns takes);
 *   WS_LOCK_UPDATE_SKIP    lock it FOR UPDATE unless another transaction holds or writes it;
 *   WS_LOCK_NONE           only read it;
 *   WS_LOCK_KEY_SHARE      lock it FOR KEY SHARE (against deletion and key changes), waiting.
 * The row is looked up with the read snapshot (WsStoreReadSnapshot) and locked as
 * SELECT ... FOR UPDATE locks it: in READ COMMITTED, a row updated since is followed to
 * its latest version, which is the one locked and read; under REPEATABLE READ or
 * SERIALIZABLE, a row changed or deleted after the transaction's snapshot raises 40001.
 * False when there is no such row (or it was deleted meanwhile, or, skipping, when it is
 * taken). The row is then read with WsStoreGet. A lock drops the read snapshot, so the
 * reads after it see what it waited for.
 */
bool
WsStoreFind(WsStore *s, WsTable t, const Datum *keys, WsLock mode)
{
	WsStoreRel *r = WsStoreOpen(s, t);
	Snapshot	snap = WsStoreReadSnapshot(s);
	ScanKeyData sk[INDEX_MAX_KEYS];
	IndexScanDesc scan;
	bool		found;

	WsStoreKeys(r->pk, r->keyproc, sk, keys, r->nkeys, 0);
	scan = index_beginscan(r->rel, r->pk, snap, r->nkeys, 0);
	index_rescan(scan, sk, r->nkeys, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, r->found);
	index_endscan(scan);
	if (!found || mode == WS_LOCK_NONE)
		return found;
	return WsStoreLock(s, t, mode);
}

/*
 * Lock the row of t that the last WsStoreFind of t found (mode as there, not
 * WS_LOCK_NONE), with no second lookup: what WsStoreFind does after its lookup. Locked
 * as ExecLockRows locks (an update in progress is waited for, so that even FOR KEY SHARE
 * holds the row's latest version); a row whose key changed on the way is not the one
 * asked for: false.
 */
bool
WsStoreLock(WsStore *s, WsTable t, WsLock mode)
{
	WsStoreRel *r = WsStoreOpen(s, t);
	Snapshot	snap = WsStoreReadSnapshot(s);
	ItemPointerData tid;
	TM_FailureData tmfd;
	TM_Result	res;
	Datum		keys[INDEX_MAX_KEYS];
	int			i;

	Assert(mode != WS_LOCK_NONE && !TTS_EMPTY(r->found));
	tid = r->found->tts_tid;
	/* the key as read (by value in the engine's tables, or in the slot until the lock) */
	for (i = 0; i < r->nkeys; i++)
	{
		bool		isnull;

		keys[i] = datumCopy(slot_getattr(r->found, r->pk->rd_index->indkey.values[i], &isnull),
							TupleDescAttr(RelationGetDescr(r->rel),
										  r->pk->rd_index->indkey.values[i] - 1)->attbyval,
							TupleDescAttr(RelationGetDescr(r->rel),
										  r->pk->rd_index->indkey.values[i] - 1)->attlen);
	}
	res = table_tuple_lock(r->rel, &tid, snap, r->found, s->estate->es_output_cid,
						   mode == WS_LOCK_NO_KEY_UPDATE ? LockTupleNoKeyExclusive :
						   mode == WS_LOCK_KEY_SHARE ? LockTupleKeyShare : LockTupleExclusive,
						   mode == WS_LOCK_UPDATE_SKIP ? LockWaitSkip : LockWaitBlock,
						   TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS |
						   (IsolationUsesXactSnapshot() ? 0 : TUPLE_LOCK_FLAG_FIND_LAST_VERSION),
						   &tmfd);
	switch (res)
	{
		case TM_Ok:
			WsStoreForgetSnapshot(s);
			if (tmfd.traversed)
				for (i = 0; i < r->nkeys; i++)
				{
					bool		isnull;
					Datum		now = slot_getattr(r->found, r->pk->rd_index->indkey.values[i],
												   &isnull);

					if (!DatumGetBool(OidFunctionCall2Coll(r->keyproc[i], r->pk->rd_indcollation[i],
														   keys[i], now)))
						return false;	/* its key changed: another row now */
				}
			return true;
		case TM_WouldBlock:
			return false;
		case TM_Updated:
		case TM_Deleted:
			if (IsolationUsesXactSnapshot())
				ereport(ERROR,
						(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
						 errmsg("could not serialize access due to concurrent update"),
						 errdetail("A row of ws.%s changed after this transaction's snapshot.",
								   ws_table_names[t]),
						 errhint("Retry the transaction.")));
			if (res == TM_Deleted)
			{
				WsStoreForgetSnapshot(s);
				return false;
			}
			/* FIND_LAST_VERSION follows updates: not reached */
			elog(ERROR, "ws: a row of ws.%s was updated while it was locked", ws_table_names[t]);
			break;
		case TM_SelfModified:
			/*
			 * Written by this command: the engine writes a row once a write, so only a
			 * user's BEFORE ROW trigger on an engine table that writes engine rows gets here
			 */
			ereport(ERROR,
					(errcode(ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION),
					 errmsg("a row of ws.%s was already changed by the current command",
							ws_table_names[t]),
					 errdetail("A trigger on an engine table changed rows of the engine."),
					 errhint("Use an AFTER trigger, or leave the engine's tables to the engine.")));
			break;
		default:
			elog(ERROR, "ws: unexpected result %d locking a row of ws.%s", (int) res,
				 ws_table_names[t]);
	}
	return false;				/* keep the compiler quiet */
}

/*
 * Scan the rows of t through its index named index (NULL: its primary key) whose first
 * nkeys key columns equal keys, in index order, with the read snapshot as it is now.
 * Where bit i of any is set, keys[i] is an array and the column equals any of its
 * elements (as column = ANY (array): one scan however many values).
 */
struct WsStoreScan
{
	WsTable		table;
	Snapshot	snap;
	IndexScanDesc scan;
	TupleTableSlot *slot;
};

WsStoreScan *
WsStoreScanBegin(WsStore *s, WsTable t, const char *index, const Datum *keys, int nkeys,
				 uint32 any)
{
	WsStoreRel *r = WsStoreOpen(s, t);
	WsStoreScan *sc = MemoryContextAllocZero(s->estate->es_query_cxt, sizeof(WsStoreScan));
	Relation	idx = r->pk;
	MemoryContext old;
	ScanKeyData sk[INDEX_MAX_KEYS];

	if (index != NULL)
	{
		Oid			oid = get_relname_relid(index, RelationGetNamespace(r->rel));

		if (r->idx == NULL || RelationGetRelid(r->idx) != oid)
		{
			List	   *indexes = RelationGetIndexList(r->rel);
			bool		ours = OidIsValid(oid) && list_member_oid(indexes, oid);

			list_free(indexes);
			if (!ours)
				ereport(ERROR,
						(errcode(ERRCODE_UNDEFINED_OBJECT),
						 errmsg("index ws.%s of table ws.%s does not exist", index, ws_table_names[t]),
						 errhint("Reinstall the extension: DROP EXTENSION ws; CREATE EXTENSION ws.")));
			if (r->idx != NULL)
				index_close(r->idx, NoLock);
			r->idx = index_open(oid, AccessShareLock);
		}
		idx = r->idx;
	}
	WsStoreKeys(idx, idx == r->pk ? r->keyproc : NULL, sk, keys, nkeys, any);
	sc->table = t;
	sc->snap = RegisterSnapshot(WsStoreReadSnapshot(s));
	old = MemoryContextSwitchTo(s->estate->es_query_cxt);
	sc->slot = table_slot_create(r->rel, &s->estate->es_tupleTable);
	MemoryContextSwitchTo(old);
	sc->scan = index_beginscan(r->rel, idx, sc->snap, nkeys, 0);
	index_rescan(sc->scan, sk, nkeys, NULL, 0);
	return sc;
}

/* The next row of the scan; false when there is none. */
bool
WsStoreScanNext(WsStoreScan *sc)
{
	return index_getnext_slot(sc->scan, ForwardScanDirection, sc->slot);
}

/* The column number of name in the scanned table (for WsStoreScanGetAt). */
int
WsStoreScanCol(WsStoreScan *sc, const char *name)
{
	return WsColumn(sc->slot->tts_tupleDescriptor, sc->table, name);
}

/* Column attnum (WsStoreScanCol) of the scan's current row (*isnull set when NULL). */
Datum
WsStoreScanGetAt(WsStoreScan *sc, int attnum, bool *isnull)
{
	return slot_getattr(sc->slot, attnum, isnull);
}

/* Column name of the scan's current row (*isnull set when NULL). */
Datum
WsStoreScanGet(WsStoreScan *sc, const char *name, bool *isnull)
{
	return slot_getattr(sc->slot, WsStoreScanCol(sc, name), isnull);
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

	WsStoreIndexes(r, s);
	ExecStoreVirtualTuple(r->row);
	ExecSimpleRelationInsert(r->rri, s->estate, r->row);
	ResetPerTupleExprContext(s->estate);
}

/* Replace the row WsStoreFind locked in t by the row built (WsStoreChange). */
void
WsStoreUpdate(WsStore *s, WsTable t)
{
	WsStoreRel *r = WsStoreOpen(s, t);

	WsStoreIndexes(r, s);
	ExecStoreVirtualTuple(r->row);
	ExecSimpleRelationUpdate(r->rri, s->estate, &s->epq, r->found, r->row);
	ResetPerTupleExprContext(s->estate);
}

/*
 * Delete the row WsStoreFind found in t: locked, or only read when the caller holds what
 * every writer of that row locks first (a ws.ready row: its task).
 */
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

	WsStoreForgetSnapshot(s);
	AfterTriggerEndQuery(s->estate);
	EvalPlanQualEnd(&s->epq);
	/* our indexes, and what the triggers opened */
	ExecCloseResultRelations(s->estate);
	ExecCloseRangeTableRelations(s->estate);
	for (i = 0; i < WS_NTABLES; i++)
		if (s->t[i].rel != NULL)
		{
			index_close(s->t[i].pk, NoLock);
			if (s->t[i].idx != NULL)
				index_close(s->t[i].idx, NoLock);
			table_close(s->t[i].rel, NoLock);
		}
	ExecResetTupleTable(s->estate->es_tupleTable, false);
	/* s lives in the executor state's memory: this frees it too */
	FreeExecutorState(s->estate);
	CommandCounterIncrement();
}
