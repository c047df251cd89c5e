/*
 * queue.c: the claim queue's upkeep. A claim deletes the queue row (ws.ready) of the task
 * it takes; here backends count those deletions, and the database's notifier (notifier.c)
 * runs VACUUM on ws.ready once ws.queue_vacuum of them have happened since its last one.
 *
 * WHY
 * A claim walks the queue's index from the action's first entry. The entries of claimed
 * tasks stay in the index, dead, until a VACUUM removes them: a claim's scan marks them
 * dead as it passes, but still reads every page of them, and since new entries arrive at
 * the other end (higher task ids) nothing else prunes those pages. Autovacuum visits a
 * table at most once per autovacuum_naptime (a minute by default); at thousands of claims
 * a second that is a hundred thousand dead entries, hundreds of pages read by every claim,
 * and steps slowed down by half within a minute (bench/README.md). A VACUUM of the small
 * queue every thousand claims costs a few milliseconds and keeps the walk short. It runs
 * with SKIP_LOCKED (an autovacuum of the table already at work: nothing to do), without
 * truncation (which would take an exclusive lock that claims wait for) and always cleans
 * the index (the point of it).
 *
 * The leases (ws.lease) are the same kind of table: a completion deletes its task's lease,
 * whose entry ws.tick's scan of the ended leases then reads past (a heartbeat replaces
 * one too). Every lease follows a claim, and heartbeats come seconds apart, so the same
 * VACUUM, counted in claims, cleans both tables.
 *
 * It needs the notifier, that is ws in shared_preload_libraries; without it (or with
 * ws.queue_vacuum = 0) the queue is left to autovacuum, whose settings on ws.ready are
 * already the most eager per-table ones.
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "commands/vacuum.h"
#include "nodes/makefuncs.h"
#include "parser/parse_node.h"
#include "pgstat.h"
#include "utils/lsyscache.h"
#include "utils/snapmgr.h"

#include "notifier.h"
#include "queue.h"

int			ws_queue_vacuum = 1000;

/* deletions of queue rows by this backend not yet told to the notifier */
static int	dequeued = 0;

/* A claim (or another step) deleted n rows of ws.ready. */
void
WsQueueDequeued(int n)
{
	if (ws_queue_vacuum <= 0)
		return;
	dequeued += n;
	/* tell in bunches: a shared lock per claim would cost more than the walk it saves */
	if (dequeued >= Max(ws_queue_vacuum / 16, 1))
	{
		WsNotifierDequeued(dequeued);
		dequeued = 0;
	}
}

/* VACUUM ws.ready and ws.lease of this database (the notifier's call, outside any transaction). */
void
WsQueueVacuum(void)
{
	Oid			nsp;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	nsp = get_namespace_oid("ws", true);
	if (OidIsValid(nsp) && OidIsValid(get_relname_relid("ready", nsp)) &&
		OidIsValid(get_relname_relid("lease", nsp)))
	{
		VacuumStmt *stmt = makeNode(VacuumStmt);

		stmt->options = list_make3(makeDefElem("skip_locked", NULL, -1),
								   makeDefElem("index_cleanup", (Node *) makeString("on"), -1),
								   makeDefElem("truncate", (Node *) makeString("off"), -1));
		stmt->rels = list_make2(makeVacuumRelation(makeRangeVar("ws", "ready", -1), InvalidOid, NIL),
								makeVacuumRelation(makeRangeVar("ws", "lease", -1), InvalidOid, NIL));
		stmt->is_vacuumcmd = true;
		pgstat_report_activity(STATE_RUNNING, "VACUUM ws.ready, ws.lease (ws.queue_vacuum)");
		/* commits this transaction and vacuums in its own, then starts one for us to end */
		ExecVacuum(make_parsestate(NULL), stmt, true);
	}
	CommitTransactionCommand();
	pgstat_report_activity(STATE_IDLE, NULL);
}
