/*
 * store.c: row reads and locks of the engine's tables without planned statements; their
 * writes are in store_write.c.
 *
 * A step's load and write (step.c WsStepLoad, flush.c WsFlushSteps), a claim (claim.c)
 * and a process start (calls.c WsStartProcess) lock, read, insert, update and delete a
 * handful of rows of ws.task, ws.ready, ws.event, ws.process and ws.workflow. Written as
 * one SQL statement, starting its plan (opening every index of four tables, setting up
 * eight data-modifying parts and their projections) cost more than the rows themselves
 * (ExecutorStart of the write alone was a large share of a step). Here each row goes
 * through the executor's single-row routines, as logical replication applies rows: see
 * store_write.c for what a write does and does not do.
 *
 * A row to change is found by primary key and locked first (WsStoreFind), as SELECT ...
 * FOR UPDATE does it: looked up with an MVCC snapshot, then locked in its latest version
 * (in READ COMMITTED the lock follows updates made since; under REPEATABLE READ and
 * SERIALIZABLE such an update raises 40001), so the caller reads the row as it is now,
 * under the lock, like the WHERE clause of an UPDATE re-checked after a concurrent
 * update. (A lookup with a dirty snapshot is not enough: a btree scan that reads a page
 * before a concurrent non-HOT update inserts the new version's entry there, and the heap
 * after that update commits, finds no version at all.) Reads share one snapshot until
 * the next lock (WsStoreReadSnapshot). Like a statement, a store sees what the
 * transaction wrote before it began, not what it writes itself or what user triggers
 * write during it (the snapshot's command id is the store's).
 *
 * Usage: WsStoreBegin; per row WsStoreNew or WsStoreFind (+ WsStoreChange), set columns
 * with WsStoreSet, then WsStoreInsert, WsStoreUpdate or WsStoreDelete; WsStoreEnd, which
 * fires the AFTER row triggers and makes the writes visible to the transaction's next
 * command.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "access/sysattr.h"
#include "catalog/dependency.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_constraint.h"
#include "catalog/pg_trigger.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/executor.h"
#include "nodes/makefuncs.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgrprotos.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

#include "access.h"
#include "store_int.h"
#include "ws.h"

const char *const ws_table_names[WS_NTABLES] = {"task", "ready", "lease", "event", "process", "workflow"};

/* each table's primary key columns, for the hint when it is missing */
static const char *const ws_table_keys[WS_NTABLES] = {"id", "action, task", "until, task", "process, id", "id", "id"};

/*
 * What the store keeps of each table between calls, looked up again after an
 * invalidation of the table (WsForgetTables)
 */
typedef struct WsTableCache
{
	Oid			oid;			/* InvalidOid: look it all up again */
	char		relkind;
	Oid			seq;			/* its id sequence, InvalidOid until needed */
	Oid			pk;				/* its primary key index, InvalidOid until needed */
	int			nkeys;
	RegProcedure keyproc[INDEX_MAX_KEYS];
	bool		defaults_known;
	Bitmapset  *defaulted;		/* columns with a default (CacheMemoryContext) */
} WsTableCache;
static WsTableCache ws_tables[WS_NTABLES];

/*
 * The foreign keys the install script makes between the tables the store writes: the
 * engine keeps them by construction (see WsEngineKeysOnly). A foreign key of any other
 * name is a DBA's, and is checked.
 */
static const char *const ws_engine_keys[] = {"task_process_fkey", "process_workflow_fkey"};

/* The indexes the store scans by name, and how the install script makes them */
static const char *const ws_named_indexes[][2] = {
	{"task_active", "CREATE INDEX task_active ON ws.task (process) WHERE wait IS NOT NULL"},
	{"workflow_name_version_key", "ALTER TABLE ws.workflow ADD UNIQUE (name, version)"},
};

static void
WsForgetTables(Datum arg, Oid relid)
{
	int			i;

	for (i = 0; i < WS_NTABLES; i++)
	{
		WsTableCache *c = &ws_tables[i];

		if (relid == InvalidOid || relid == c->oid || relid == c->seq || relid == c->pk)
		{
			c->oid = InvalidOid;
			c->seq = InvalidOid;
			c->pk = InvalidOid;
			c->defaults_known = false;
			bms_free(c->defaulted);
			c->defaulted = NULL;
		}
	}
}

/* What a hint says of a table of ws that is missing or damaged. */
static int
WsRestoreHint(WsTable t)
{
	return errhint("Put back what the install script (ws--%s.sql in PostgreSQL's share/extension "
				   "directory) makes for ws.%s; its rows are kept.", WS_VERSION, ws_table_names[t]);
}

static WsTableCache *
WsTableInfo(WsTable t)
{
	static bool registered = false;
	WsTableCache *c = &ws_tables[t];

	if (!OidIsValid(c->oid))
	{
		Oid			nsp = get_namespace_oid("ws", false);
		Oid			oid;

		if (!registered)
		{
			CacheRegisterRelcacheCallback(WsForgetTables, (Datum) 0);
			registered = true;
		}
		oid = get_relname_relid(ws_table_names[t], nsp);
		if (!OidIsValid(oid))
			ereport(ERROR,
					(errcode(ERRCODE_UNDEFINED_TABLE),
					 errmsg("table ws.%s does not exist", ws_table_names[t]),
					 errdetail("ws keeps its workflows, processes and history in it."),
					 WsRestoreHint(t)));
		c->relkind = get_rel_relkind(oid);
		c->oid = oid;
	}
	return c;
}

static Oid
WsTableOid(WsTable t)
{
	return WsTableInfo(t)->oid;
}

/* A new id for a row of t, from its identity sequence. */
int64
WsStoreNextId(WsTable t)
{
	WsTableCache *c = WsTableInfo(t);

	if (!OidIsValid(c->seq))
	{
		List	   *seqs = getOwnedSequences(c->oid);

		if (list_length(seqs) != 1)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table ws.%s has no identity sequence", ws_table_names[t]),
					 errdetail("ws takes the ids of new rows from it."),
					 errhint("Put it back with ALTER TABLE ws.%s ALTER COLUMN id ADD GENERATED BY DEFAULT "
							 "AS IDENTITY, then move it past the highest id with setval.",
							 ws_table_names[t])));
		c->seq = linitial_oid(seqs);
	}
	return DatumGetInt64(DirectFunctionCall1(nextval_oid, ObjectIdGetDatum(c->seq)));
}

/* The lock a store takes on table t: ws.workflow is only read (ws.start locks its row). */
static LOCKMODE
WsTableLockMode(WsTable t)
{
	return t == WS_WORKFLOW ? RowShareLock : RowExclusiveLock;
}

/*
 * Start a store: its executor state, AFTER triggers queued from here to WsStoreEnd. User
 * code that its writes run (triggers, defaults, constraints) runs as who's caller.
 */
WsStore *
WsStoreBegin(WsCaller *who)
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
	s->caller = who->saved_userid;
	s->caller_context = who->saved_sec_context;
	for (i = 0; i < WS_NTABLES; i++)
	{
		RangeTblEntry *rte = makeNode(RangeTblEntry);
		WsTableCache *c = WsTableInfo(i);

		rte->rtekind = RTE_RELATION;
		rte->relid = c->oid;
		rte->relkind = c->relkind;
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

/* Is constraint (a foreign key) one of ws_engine_keys? */
static bool
WsEngineKey(Oid constraint)
{
	HeapTuple	tup = SearchSysCache1(CONSTROID, ObjectIdGetDatum(constraint));
	bool		ours = false;
	int			i;

	if (!HeapTupleIsValid(tup))
		return false;
	for (i = 0; i < lengthof(ws_engine_keys); i++)
		if (strcmp(NameStr(((Form_pg_constraint) GETSTRUCT(tup))->conname), ws_engine_keys[i]) == 0)
			ours = true;
	ReleaseSysCache(tup);
	return ours;
}

/*
 * Are a table's only row triggers the checks of the engine's own foreign keys? Then they
 * are left out: the engine inserts a task only into a process its step holds (locked FOR
 * UPDATE, or inserted by the same transaction), and changes neither ws.task.process nor
 * ws.process.workflow nor a key, so the checks cannot fail (each was a query taking FOR
 * KEY SHARE of a row the step already holds). Deleting a process still cascades to its
 * tasks (that trigger is ws.process's own, fired by the DELETE). Any other row trigger,
 * a DBA's foreign key among them, makes every trigger of the table fire, ours too.
 */
static bool
WsEngineKeysOnly(TriggerDesc *td)
{
	int			i;

	for (i = 0; i < td->numtriggers; i++)
		if (TRIGGER_FOR_ROW(td->triggers[i].tgtype) &&
			(RI_FKey_trigger_type(td->triggers[i].tgfoid) == RI_TRIGGER_NONE ||
			 !WsEngineKey(td->triggers[i].tgconstraint)))
			return false;
	return true;
}

/*
 * Refuse a table the store cannot use as it is: ws.event may be partitioned (the store
 * only inserts into it: store_write.c routes the rows); the others must be plain tables.
 */
static void
WsCheckRelkind(WsTable t, char relkind)
{
	if (relkind == RELKIND_RELATION || (t == WS_EVENT && relkind == RELKIND_PARTITIONED_TABLE))
		return;
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("ws cannot use ws.%s: it is not a plain table", ws_table_names[t]),
			 errdetail("%s",
					   relkind == RELKIND_PARTITIONED_TABLE
					   ? "It is partitioned; of ws's tables, only ws.event may be."
					   : "ws reads and writes it row by row, as a table."),
			 errhint("Put ws.%s back as the install script (ws--%s.sql) makes it; its rows are kept.",
					 ws_table_names[t], WS_VERSION)));
}

/* The table t, opened on first use. */
WsStoreRel *
WsStoreOpen(WsStore *s, WsTable t)
{
	WsStoreRel *r = &s->t[t];
	MemoryContext old;

	if (r->rel != NULL)
		return r;
	old = MemoryContextSwitchTo(s->estate->es_query_cxt);
	r->rel = table_open(WsTableOid(t), WsTableLockMode(t));
	WsCheckRelkind(t, r->rel->rd_rel->relkind);
	r->rri = makeNode(ResultRelInfo);
	InitResultRelInfo(r->rri, r->rel, t + 1, NULL, 0);
	if (r->rri->ri_TrigDesc != NULL && WsEngineKeysOnly(r->rri->ri_TrigDesc))
		r->rri->ri_TrigDesc = NULL;
	/* where the firing of its AFTER triggers looks for it */
	s->estate->es_opened_result_relations =
		lappend(s->estate->es_opened_result_relations, r->rri);
	r->found = table_slot_create(r->rel, &s->estate->es_tupleTable);
	r->row = ExecInitExtraTupleSlot(s->estate, RelationGetDescr(r->rel), &TTSOpsVirtual);
	r->set = palloc0(sizeof(bool) * RelationGetDescr(r->rel)->natts);
	MemoryContextSwitchTo(old);
	return r;
}

/*
 * t's primary key, opened at the first lookup: a store that only inserts into a table
 * (ws.event) never opens it, nor do the others open their other indexes until they
 * write (store_write.c).
 */
static Relation
WsStorePk(WsStore *s, WsTable t)
{
	WsStoreRel *r = WsStoreOpen(s, t);
	WsTableCache *c = &ws_tables[t];
	int			i;

	if (r->pk != NULL)
		return r->pk;
	if (!OidIsValid(c->pk))
	{
		Oid			pkoid = RelationGetPrimaryKeyIndex(r->rel);
		Relation	pk;

		if (!OidIsValid(pkoid))
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table ws.%s has no primary key", ws_table_names[t]),
					 errdetail("ws finds its rows by it."),
					 errhint("Put it back with ALTER TABLE ws.%s ADD PRIMARY KEY (%s).",
							 ws_table_names[t], ws_table_keys[t])));
		pk = index_open(pkoid, AccessShareLock);
		c->nkeys = IndexRelationGetNumberOfKeyAttributes(pk);
		for (i = 0; i < c->nkeys; i++)
		{
			Oid			type = pk->rd_opcintype[i];

			c->keyproc[i] = get_opcode(get_opfamily_member(pk->rd_opfamily[i], type, type,
														   BTEqualStrategyNumber));
		}
		index_close(pk, NoLock);
		c->pk = pkoid;
	}
	r->pk = index_open(c->pk, AccessShareLock);
	r->nkeys = c->nkeys;
	memcpy(r->keyproc, c->keyproc, sizeof(RegProcedure) * r->nkeys);
	return r->pk;
}

/*
 * The columns of r (table t) that have a default of their own or of their type (not
 * generated ones: the write computes those), known once per table until it changes.
 */
Bitmapset *
WsStoreDefaulted(WsStoreRel *r, WsTable t)
{
	WsTableCache *c = &ws_tables[t];

	if (!c->defaults_known)
	{
		TupleDesc	desc = RelationGetDescr(r->rel);
		MemoryContext old = MemoryContextSwitchTo(CacheMemoryContext);
		int			i;

		bms_free(c->defaulted);
		c->defaulted = NULL;
		for (i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute a = TupleDescAttr(desc, i);

			if (a->attisdropped || a->attgenerated)
				continue;
			if (a->atthasdef || a->attidentity || get_typdefault(a->atttypid) != NULL)
				c->defaulted = bms_add_member(c->defaulted, i);
		}
		MemoryContextSwitchTo(old);
		c->defaults_known = true;
	}
	return c->defaulted;
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
			 errdetail("ws reads or writes it."),
			 WsRestoreHint(t)));
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
				 errdetail("It is of type %s.",
						   format_type_be(TupleDescAttr(row->tts_tupleDescriptor, col)->atttypid)),
				 errhint("Put its type back with ALTER TABLE ws.%s ALTER COLUMN %s TYPE %s.",
						 ws_table_names[t], name, format_type_be(type))));
	row->tts_values[col] = value;
	row->tts_isnull[col] = isnull;
	s->t[t].set[col] = true;
	/* an update sets it: what UPDATE OF triggers and the index hints go by */
	if (s->t[t].changing)
	{
		MemoryContext old = MemoryContextSwitchTo(s->estate->es_query_cxt);

		s->t[t].rte->updatedCols = bms_add_member(s->t[t].rte->updatedCols,
												  col + 1 - FirstLowInvalidHeapAttributeNumber);
		MemoryContextSwitchTo(old);
	}
}

/* Column name of the row WsStoreFind found in t (*isnull set when NULL). */
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
	memset(s->t[t].set, false, sizeof(bool) * row->tts_tupleDescriptor->natts);
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
 * A snapshot for s to read with, registered (unregister it): in READ COMMITTED one taken
 * now, as each statement takes; under REPEATABLE READ and SERIALIZABLE the transaction's.
 * Both see what this transaction wrote before the store began, and nothing after: not
 * the store's own rows, nor what a user's trigger wrote during the store (a row changed
 * that way is found in its old version, whose lock or update then refuses: 27000).
 */
static Snapshot
WsStoreSnapshot(WsStore *s)
{
	Snapshot	snap;

	if (!IsolationUsesXactSnapshot())
		snap = RegisterSnapshot(GetLatestSnapshot());
	else
	{
		PushCopiedSnapshot(GetTransactionSnapshot());
		snap = RegisterSnapshot(GetActiveSnapshot());
		PopActiveSnapshot();
	}
	/* a copy of our own */
	snap->curcid = s->estate->es_output_cid;
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
		s->snap = WsStoreSnapshot(s);
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
	Relation	pk = WsStorePk(s, t);
	Snapshot	snap = WsStoreReadSnapshot(s);
	ScanKeyData sk[INDEX_MAX_KEYS];
	IndexScanDesc scan;
	bool		found;

	r->locked = false;
	WsStoreKeys(pk, r->keyproc, sk, keys, r->nkeys, 0);
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

	Assert(mode != WS_LOCK_NONE && !TTS_EMPTY(r->found) && r->pk != NULL);
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
			r->locked = true;
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
		case TM_Invisible:
			WsErrTriggerChanged(t);
			break;
		default:
			elog(ERROR, "ws: unexpected result %d locking a row of ws.%s", (int) res,
				 ws_table_names[t]);
	}
	return false;				/* keep the compiler quiet */
}

/*
 * Refuse a row of t that changed under the store during its own write (27000): the engine
 * writes a row once a store, so only a user's trigger that writes ws's rows gets here.
 */
void
WsErrTriggerChanged(WsTable t)
{
	ereport(ERROR,
			(errcode(ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION),
			 errmsg("a row of ws.%s was already changed by the current command", ws_table_names[t]),
			 errdetail("A trigger fired by ws's write changed rows that ws writes."),
			 errhint("Use an AFTER trigger, or leave ws's tables to ws.")));
}

/* Refuse a scan of t through index, which is not there (renamed or dropped). */
static void
WsErrNoIndex(WsTable t, const char *index)
{
	const char *make = NULL;
	int			i;

	for (i = 0; i < lengthof(ws_named_indexes); i++)
		if (strcmp(ws_named_indexes[i][0], index) == 0)
			make = ws_named_indexes[i][1];
	ereport(ERROR,
			(errcode(ERRCODE_UNDEFINED_OBJECT),
			 errmsg("index ws.%s of table ws.%s does not exist", index, ws_table_names[t]),
			 errdetail("ws finds rows of ws.%s through it, by name.", ws_table_names[t]),
			 make ? errhint("Rename it back with ALTER INDEX ... RENAME TO %s, or make it again: %s.",
							index, make) : WsRestoreHint(t)));
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
	Relation	idx = index ? NULL : WsStorePk(s, t);
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
				WsErrNoIndex(t, index);
			if (r->idx != NULL)
				index_close(r->idx, NoLock);
			r->idx = index_open(oid, AccessShareLock);
		}
		idx = r->idx;
	}
	WsStoreKeys(idx, index ? NULL : r->keyproc, sk, keys, nkeys, any);
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

/*
 * End the store: fire the row triggers it queued (as the caller: see store_write.c), close
 * what it opened (the locks stay to the end of the transaction), and make its rows
 * visible to the transaction's next command.
 */
void
WsStoreEnd(WsStore *s)
{
	int			i;

	WsStoreForgetSnapshot(s);
	WsStoreAfterTriggers(s);
	EvalPlanQualEnd(&s->epq);
	for (i = 0; i < WS_NTABLES; i++)
		if (s->t[i].proute != NULL)
			ExecCleanupTupleRouting(s->t[i].mtstate, s->t[i].proute);
	/* our indexes, and what the triggers opened */
	ExecCloseResultRelations(s->estate);
	ExecCloseRangeTableRelations(s->estate);
	for (i = 0; i < WS_NTABLES; i++)
		if (s->t[i].rel != NULL)
		{
			if (s->t[i].pk != NULL)
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
