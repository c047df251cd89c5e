/*
 * store_write.c: the store's inserts, updates and deletes (the store: store.c).
 *
 * Each does what a plain INSERT, UPDATE or DELETE of that one row by the role that called
 * ws would do, or refuses before it writes:
 *   - BEFORE row triggers fire, and AFTER row triggers at WsStoreEnd (with transition
 *     tables when a row trigger declares them); foreign keys are checked, except the
 *     engine's own when they are a table's only row triggers (store.c WsEngineKeysOnly);
 *   - a column the engine does not set gets its default; generated columns are computed;
 *     NOT NULL and CHECK constraints, unique and exclusion indexes hold;
 *   - user code (triggers, defaults, CHECK constraints, index and partition key
 *     expressions) runs as the role that called ws, never as ws's owner, as it would for
 *     that role's own INSERT: ws's SECURITY DEFINER entry points must not lend their
 *     owner to code anyone else wrote;
 *   - ws.event may be partitioned: an event is routed to its partition as an INSERT into
 *     the parent routes it (the history is what grows, and old partitions are dropped);
 *   - a row to update or delete is locked before its BEFORE triggers see it (an update's
 *     always is, store.c); a queue row a user updated meanwhile is followed, not lost;
 *   - a BEFORE trigger that skips a row (returns NULL) refuses the write (27000): ws's
 *     state would no longer match its rows. Events are the exception: a DBA may filter
 *     the history;
 *   - a table with rules is refused (0A000): rules rewrite statements, and there is none.
 * Statement triggers, BEFORE or AFTER, of INSERT, UPDATE or DELETE, do not fire.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/tupconvert.h"
#include "access/xact.h"
#include "catalog/pg_rewrite.h"
#include "executor/nodeModifyTable.h"
#include "miscadmin.h"
#include "rewrite/prs2lock.h"
#include "rewrite/rewriteDefine.h"
#include "rewrite/rewriteHandler.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"

#include "store_int.h"
#include "ws.h"

/* the writes, as indexes of WsStoreRel's per-command arrays */
typedef enum WsWriteKind
{
	WS_INSERT,
	WS_UPDATE,
	WS_DELETE
} WsWriteKind;

static const CmdType ws_write_cmds[] = {CMD_INSERT, CMD_UPDATE, CMD_DELETE};
static const char *const ws_write_names[] = {"INSERT", "UPDATE", "DELETE"};

/* Become the role that called ws (see the top of this file); *user, *context: who we were. */
static void
WsAsCaller(WsStore *s, Oid *user, int *context)
{
	GetUserIdAndSecContext(user, context);
	SetUserIdAndSecContext(s->caller, s->caller_context);
}

/* The name of rule (an oid of pg_rewrite) */
static char *
WsRuleName(Oid rule)
{
	Relation	rel = table_open(RewriteRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *name = "?";

	ScanKeyInit(&key, Anum_pg_rewrite_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(rule));
	scan = systable_beginscan(rel, RewriteOidIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
		name = pstrdup(NameStr(((Form_pg_rewrite) GETSTRUCT(tup))->rulename));
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return name;
}

/*
 * Get r (table t) ready for its first write of kind w in this store: refuse it when a
 * rule would rewrite that write, and open its indexes.
 */
static void
WsStoreWritable(WsStore *s, WsTable t, WsStoreRel *r, WsWriteKind w)
{
	RuleLock   *rules = r->rel->rd_rules;
	int			i;

	if (r->writable[w])
		return;
	for (i = 0; rules != NULL && i < rules->numLocks; i++)
		if (rules->rules[i]->event == ws_write_cmds[w] && rules->rules[i]->enabled != RULE_DISABLED)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("ws does not write to tables with rules"),
					 errdetail("Table ws.%s has rule \"%s\" on %s, which ws's %s of a row would not apply.",
							   ws_table_names[t], WsRuleName(rules->rules[i]->ruleId),
							   ws_write_names[w], ws_write_names[w]),
					 errhint("Drop the rule, or disable it, and do its work in a row trigger: ws's writes fire those.")));
	if (w != WS_DELETE && !r->indexed && r->rel->rd_rel->relkind == RELKIND_RELATION)
	{
		MemoryContext old = MemoryContextSwitchTo(s->estate->es_query_cxt);

		ExecOpenIndices(r->rri, false);
		MemoryContextSwitchTo(old);
		r->indexed = true;
	}
	r->writable[w] = true;
}

/* The transition tables of r's row triggers for writes of kind w, NULL when none asks. */
static TransitionCaptureState *
WsCapture(WsStore *s, WsStoreRel *r, WsWriteKind w)
{
	if (!r->captures_made[w])
	{
		MemoryContext old = MemoryContextSwitchTo(s->estate->es_query_cxt);

		r->capture[w] = MakeTransitionCaptureState(r->rri->ri_TrigDesc, RelationGetRelid(r->rel),
												   ws_write_cmds[w]);
		MemoryContextSwitchTo(old);
		r->captures_made[w] = true;
	}
	return r->capture[w];
}

/* Refuse a write of kind w to t that a BEFORE trigger skipped (27000). */
static void
WsErrSkipped(WsTable t, WsWriteKind w)
{
	ereport(ERROR,
			(errcode(ERRCODE_TRIGGERED_DATA_CHANGE_VIOLATION),
			 errmsg("a BEFORE trigger on ws.%s skipped ws's %s of a row", ws_table_names[t],
					ws_write_names[w]),
			 errdetail("The trigger returned NULL: ws's state would no longer match its rows."),
			 errhint("Let the trigger return the row (it may change columns ws does not use), or raise an error to refuse the call.")));
}

/* Give the columns of r's new row that the engine did not set their defaults. */
static void
WsFillDefaults(WsStore *s, WsStoreRel *r, WsTable t)
{
	Bitmapset  *cols = WsStoreDefaulted(r, t);
	int			col = -1;

	while ((col = bms_next_member(cols, col)) >= 0)
	{
		if (r->set[col])
			continue;
		if (r->defaults == NULL)
			r->defaults = MemoryContextAllocZero(s->estate->es_query_cxt,
												 sizeof(ExprState *) * RelationGetDescr(r->rel)->natts);
		if (r->defaults[col] == NULL)
		{
			Node	   *expr = build_column_default(r->rel, col + 1);
			MemoryContext old;

			if (expr == NULL)
				continue;
			old = MemoryContextSwitchTo(s->estate->es_query_cxt);
			r->defaults[col] = ExecPrepareExpr((Expr *) expr, s->estate);
			MemoryContextSwitchTo(old);
		}
		r->row->tts_values[col] = ExecEvalExpr(r->defaults[col], GetPerTupleExprContext(s->estate),
											   &r->row->tts_isnull[col]);
	}
}

/*
 * The partition of r (partitioned) that slot goes to, in *leaf, and the row as that
 * partition's columns, as an INSERT into r routes it.
 */
static TupleTableSlot *
WsRoute(WsStore *s, WsTable t, WsStoreRel *r, TupleTableSlot *slot, ResultRelInfo **leaf)
{
	ResultRelInfo *part;

	if (r->proute == NULL)
	{
		MemoryContext old = MemoryContextSwitchTo(s->estate->es_query_cxt);

		r->mtstate = makeNode(ModifyTableState);
		r->mtstate->ps.state = s->estate;
		r->mtstate->operation = CMD_INSERT;
		r->mtstate->resultRelInfo = r->rri;
		r->proute = ExecSetupPartitionTupleRouting(s->estate, r->rel);
		MemoryContextSwitchTo(old);
	}
	part = ExecFindPartition(r->mtstate, r->rri, r->proute, slot, s->estate);
	if (part->ri_TrigDesc != NULL && part->ri_TrigDesc->trig_insert_new_table)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("ws does not fill transition tables of triggers on partitions of ws.%s",
						ws_table_names[t]),
				 errdetail("Partition %s has a trigger with REFERENCING NEW TABLE.",
						   RelationGetRelationName(part->ri_RelationDesc)),
				 errhint("Declare the trigger on ws.%s itself.", ws_table_names[t])));
	*leaf = part;
	if (part->ri_RootToPartitionMap != NULL)
		return execute_attr_map_slot(part->ri_RootToPartitionMap->attrMap, slot,
									 part->ri_PartitionTupleSlot);
	return slot;
}

/*
 * Insert slot into rri's table as ExecSimpleRelationInsert does (BEFORE and AFTER row
 * triggers, generated columns, constraints, indexes); false when a BEFORE trigger
 * skipped it.
 */
static bool
WsInsertRow(WsStore *s, ResultRelInfo *rri, TupleTableSlot *slot, TransitionCaptureState *capture)
{
	Relation	rel = rri->ri_RelationDesc;
	List	   *recheck = NIL;

	if (rri->ri_TrigDesc != NULL && rri->ri_TrigDesc->trig_insert_before_row &&
		!ExecBRInsertTriggers(s->estate, rri, slot))
		return false;
	if (rel->rd_att->constr != NULL && rel->rd_att->constr->has_generated_stored)
		ExecComputeStoredGenerated(rri, s->estate, slot, CMD_INSERT);
	if (rel->rd_att->constr != NULL)
		ExecConstraints(rri, slot, s->estate);
	if (rel->rd_rel->relispartition)
		ExecPartitionCheck(rri, slot, s->estate, true);
	simple_table_tuple_insert(rel, slot);
	if (rri->ri_NumIndices > 0)
		recheck = ExecInsertIndexTuples(rri, slot, s->estate, false, false, NULL, NIL);
	ExecARInsertTriggers(s->estate, rri, slot, recheck, capture);
	list_free(recheck);
	return true;
}

/* Insert the row built for t (WsStoreNew, WsStoreSet). */
void
WsStoreInsert(WsStore *s, WsTable t)
{
	WsStoreRel *r = WsStoreOpen(s, t);
	ResultRelInfo *rri = r->rri;
	TupleTableSlot *slot = r->row;
	Oid			user;
	int			context;

	WsStoreWritable(s, t, r, WS_INSERT);
	WsAsCaller(s, &user, &context);
	WsFillDefaults(s, r, t);
	ExecStoreVirtualTuple(slot);
	if (r->rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE)
		slot = WsRoute(s, t, r, slot, &rri);
	if (!WsInsertRow(s, rri, slot, rri == r->rri ? WsCapture(s, r, WS_INSERT) : NULL) &&
		t != WS_EVENT)
		WsErrSkipped(t, WS_INSERT);
	SetUserIdAndSecContext(user, context);
	ResetPerTupleExprContext(s->estate);
}

/*
 * Replace the row WsStoreFind locked in t by the row built (WsStoreChange), as
 * ExecSimpleRelationUpdate does.
 */
void
WsStoreUpdate(WsStore *s, WsTable t)
{
	WsStoreRel *r = WsStoreOpen(s, t);
	ResultRelInfo *rri = r->rri;
	Relation	rel = r->rel;
	TupleTableSlot *slot = r->row;
	ItemPointerData tid = r->found->tts_tid;
	List	   *recheck = NIL;
	TM_FailureData tmfd;
	TM_Result	res;
	LockTupleMode lockmode;
	bool		update_indexes;
	Oid			user;
	int			context;

	Assert(r->locked && r->changing);
	WsStoreWritable(s, t, r, WS_UPDATE);
	WsAsCaller(s, &user, &context);
	ExecStoreVirtualTuple(slot);
	CheckCmdReplicaIdentity(rel, CMD_UPDATE);
	/* the row is locked: its trigger sees it as it is, with no re-check to make */
	if (rri->ri_TrigDesc != NULL && rri->ri_TrigDesc->trig_update_before_row &&
		!ExecBRUpdateTriggers(s->estate, &s->epq, rri, &tid, NULL, slot, NULL))
		WsErrSkipped(t, WS_UPDATE);
	if (rel->rd_att->constr != NULL && rel->rd_att->constr->has_generated_stored)
		ExecComputeStoredGenerated(rri, s->estate, slot, CMD_UPDATE);
	if (rel->rd_att->constr != NULL)
		ExecConstraints(rri, slot, s->estate);
	res = table_tuple_update(rel, &tid, slot, s->estate->es_output_cid, s->estate->es_snapshot,
							 InvalidSnapshot, true, &tmfd, &lockmode, &update_indexes);
	if (res == TM_SelfModified || res == TM_Invisible)
		WsErrTriggerChanged(t);
	if (res != TM_Ok)
		elog(ERROR, "ws: unexpected result %d updating a locked row of ws.%s", (int) res,
			 ws_table_names[t]);
	if (rri->ri_NumIndices > 0 && update_indexes)
		recheck = ExecInsertIndexTuples(rri, slot, s->estate, true, false, NULL, NIL);
	ExecARUpdateTriggers(s->estate, rri, NULL, NULL, &tid, NULL, slot, recheck,
						 WsCapture(s, r, WS_UPDATE), false);
	list_free(recheck);
	SetUserIdAndSecContext(user, context);
	ResetPerTupleExprContext(s->estate);
}

/*
 * Delete the row WsStoreFind found in t: locked, or only read when the caller holds what
 * every writer of that row locks first (a ws.ready row: its task). A BEFORE trigger
 * would lock it and re-check it, so then it is locked first; a row a user changed since
 * it was read is followed to its latest version, and one deleted meanwhile is gone
 * already, as for a DELETE.
 */
void
WsStoreDelete(WsStore *s, WsTable t)
{
	WsStoreRel *r = WsStoreOpen(s, t);
	ResultRelInfo *rri = r->rri;
	TriggerDesc *td = rri->ri_TrigDesc;
	ItemPointerData tid;
	TM_FailureData tmfd;
	TM_Result	res;
	Oid			user;
	int			context;

	WsStoreWritable(s, t, r, WS_DELETE);
	if (!r->locked && td != NULL && td->trig_delete_before_row && !WsStoreLock(s, t, WS_LOCK_UPDATE))
		return;
	tid = r->found->tts_tid;
	WsAsCaller(s, &user, &context);
	CheckCmdReplicaIdentity(r->rel, CMD_DELETE);
	if (td != NULL && td->trig_delete_before_row &&
		!ExecBRDeleteTriggers(s->estate, &s->epq, rri, &tid, NULL, NULL))
		WsErrSkipped(t, WS_DELETE);
	for (;;)
	{
		res = table_tuple_delete(r->rel, &tid, s->estate->es_output_cid, s->estate->es_snapshot,
								 InvalidSnapshot, true, &tmfd, false);
		if (res == TM_Ok)
			break;
		if (res == TM_SelfModified || res == TM_Invisible)
			WsErrTriggerChanged(t);
		/* changed by another transaction: locking it follows it, or finds it deleted */
		if ((res != TM_Updated && res != TM_Deleted) || r->locked)
			elog(ERROR, "ws: unexpected result %d deleting a row of ws.%s", (int) res,
				 ws_table_names[t]);
		if (!WsStoreLock(s, t, WS_LOCK_UPDATE))
		{
			SetUserIdAndSecContext(user, context);
			return;
		}
		tid = r->found->tts_tid;
	}
	ExecARDeleteTriggers(s->estate, rri, &tid, NULL, WsCapture(s, r, WS_DELETE), false);
	SetUserIdAndSecContext(user, context);
	ResetPerTupleExprContext(s->estate);
}

/* Fire the AFTER triggers the store's writes queued, as the role that called ws. */
void
WsStoreAfterTriggers(WsStore *s)
{
	Oid			user;
	int			context;

	WsAsCaller(s, &user, &context);
	AfterTriggerEndQuery(s->estate);
	SetUserIdAndSecContext(user, context);
}
