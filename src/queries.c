/*
 * queries.c: every SQL statement ws's C runs through SPI, one named function each, with
 * a comment naming the index it needs. The engine's row work (a step's load and write,
 * claims) goes through the store (store.c) without any plan; these statements are the
 * rest, all off the path of a plain step.
 *
 * Plans are prepared once per backend and kept (SPI_keepplan), always as generic plans:
 * each is a point lookup or an index range scan whose best plan does not depend on the
 * values. They run with the engine's planner settings, set for the statement alone (a
 * GUC nest level around it, so a replan after an invalidation gets them too, and nothing
 * else the call runs, such as a user's trigger, does): enable_seqscan off, so that a plan
 * made while a table was small does not scan it whole for ever after; enable_bitmapscan
 * off, since a bitmap scan never marks dead index entries dead and a long process would
 * visit its earlier steps' row versions again at every step; jit off, since a generic
 * plan's estimated cost can pass jit_above_cost and compiling takes far longer than the
 * statement.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/timestamp.h"

#include "queries.h"
#include "states.h"
#include "ws.h"

static SPIPlanPtr plan_workflow, plan_task_locked, plan_nodes, plan_transitions, plan_problems,
			plan_least_loaded, plan_assignee, plan_task, plan_set_params, plan_due_tasks,
			plan_timestamp_at, plan_running_task, plan_heartbeat_lock, plan_heartbeat, plan_progress, plan_correlate,
			plan_take_kept[2], plan_waiting_for[2], plan_waiting_in, plan_keep, plan_expire,
			plan_instance, plan_foreach, plan_group_first, plan_group_results,
			plan_depth, plan_task_process, plan_child, plan_changed, plan_search_path;

/* sql prepared once per backend: the kept plan */
static SPIPlanPtr
WsPlan(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes)
{
	if (*cache == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare_cursor(sql, nargs, (Oid *) argtypes, CURSOR_OPT_GENERIC_PLAN);

		if (plan == NULL)
			elog(ERROR, "ws: SPI_prepare failed for \"%s\": %s", sql,
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(plan) != 0)
			elog(ERROR, "ws: SPI_keepplan failed");
		*cache = plan;
	}
	return *cache;
}

/*
 * Run sql's cached plan with the engine's planner settings; returns SPI_processed. Never
 * read-only: in READ COMMITTED each statement then takes a fresh snapshot, so what a step
 * reads after waiting for its process lock includes what the transaction it waited for
 * committed. Every statement gets the settings, also those that a primary key plans the
 * same either way: a kept plan is remade at whichever execution follows an invalidation,
 * and one rule costs three GUC saves per statement, too little to show in bench/.
 */
static int
WsRunAt(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes,
		Datum *values, const char *nulls, long count, Snapshot snap)
{
	SPIPlanPtr	plan = WsPlan(cache, sql, nargs, argtypes);
	int			nest = NewGUCNestLevel();
	int			rc;

	(void) set_config_option("enable_seqscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("enable_bitmapscan", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	(void) set_config_option("jit", "off", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (snap != InvalidSnapshot)
		rc = SPI_execute_snapshot(plan, values, nulls, snap, InvalidSnapshot, false, false, count);
	else
		rc = SPI_execute_plan(plan, values, nulls, false, count);
	AtEOXact_GUC(true, nest);
	if (rc < 0)
		elog(ERROR, "ws: SPI_execute_plan failed (%s) for \"%s\"",
			 SPI_result_code_string(rc), sql);
	return (int) SPI_processed;
}

/* sql's cached plan run with the engine's planner settings, a fresh snapshot each time */
static int
WsRun(SPIPlanPtr *cache, const char *sql, int nargs, const Oid *argtypes,
	  Datum *values, const char *nulls, long count)
{
	return WsRunAt(cache, sql, nargs, argtypes, values, nulls, count, InvalidSnapshot);
}

/* Column col (1-based) of result row as int64 */
int64
WsGetInt64(int row, int col, bool *isnull)
{
	bool		n;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &n);

	if (isnull)
		*isnull = n;
	if (n)
		return 0;
	switch (SPI_gettypeid(SPI_tuptable->tupdesc, col))
	{
		case INT4OID:
			return DatumGetInt32(d);
		case INT2OID:
			return DatumGetInt16(d);
		default:
			return DatumGetInt64(d);
	}
}

/* Column col of row as a palloc'd C string in the current context, NULL for NULL */
char *
WsGetText(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

/* Column col of row as a detoasted jsonb copied into the current context */
Jsonb *
WsGetJsonb(int row, int col)
{
	bool		n;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &n);

	if (n)
		return NULL;
	return DatumGetJsonbPCopy(d);
}

/* Column col of row as a boolean, false for NULL */
bool
WsGetBool(int row, int col)
{
	bool		n;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &n);

	return !n && DatumGetBool(d);
}

/* Column col of row as an interval copied into the current context, NULL for NULL */
Interval *
WsGetInterval(int row, int col)
{
	bool		n;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &n);
	Interval   *i;

	if (n)
		return NULL;
	i = palloc(sizeof(Interval));
	memcpy(i, DatumGetIntervalP(d), sizeof(Interval));
	return i;
}

/* Column col of row as a jsonpath copied into the current context, NULL for NULL */
JsonPath *
WsGetJsonPath(int row, int col)
{
	bool		n;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &n);

	return n ? NULL : DatumGetJsonPathPCopy(d);
}

/* Column col of row as a timestamp, WS_NO_TIME for NULL */
static TimestampTz
WsGetTimestamp(int row, int col)
{
	bool		n;
	Datum		d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col, &n);

	return n ? WS_NO_TIME : DatumGetTimestampTz(d);
}

/* ---------- definitions ---------- */

/* The workflow version's name, version and params (primary key of ws.workflow) */
int
WsQueryWorkflow(int64 workflow)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(workflow)};

	return WsRun(&plan_workflow, "SELECT name, version, params FROM ws.workflow WHERE id = $1",
				 1, types, values, NULL, 1);
}

/*
 * Its nodes by id, each with its action's form (node (workflow, name) unique index; the
 * action by its primary key)
 */
int
WsQueryNodes(int64 workflow)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(workflow)};

	return WsRun(&plan_nodes,
				 "SELECT n.id, n.name, n.action, n.role::text, n.is_start, n.is_end, "
				 "       n.\"join\"::text, n.split::text, n.params, n.wait, n.wait_until::text, n.retries, "
				 "       (SELECT a.params FROM ws.action a WHERE a.name OPERATOR(pg_catalog.=) n.action), "
				 "       n.due, n.message, n.correlate::text, n.deadline, "
				 "       n.call, n.foreach::text, n.item, n.sequential, n.\"as\", "
				 "       a.function::oid::bigint, a.function::text, "
				 "       (SELECT r.oid::bigint FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) a.owner) "
				 "  FROM ws.node n LEFT JOIN ws.action a ON a.name OPERATOR(pg_catalog.=) n.action "
				 " WHERE n.workflow = $1 ORDER BY n.id",
				 1, types, values, NULL, 0);
}

/* Its transitions by id (transition (workflow, parent) index) */
int
WsQueryTransitions(int64 workflow)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(workflow)};

	return WsRun(&plan_transitions,
				 "SELECT id, parent, child, condition, priority, \"on\" FROM ws.transition "
				 " WHERE workflow = $1 ORDER BY id",
				 1, types, values, NULL, 0);
}

/* What ws.validate finds wrong with the version, joined by "; ", NULL when nothing */
char *
WsQueryProblems(int64 workflow)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(workflow)};

	WsRun(&plan_problems, "SELECT pg_catalog.string_agg(p, '; ') FROM ws_internal.validate($1) p",
		  1, types, values, NULL, 1);
	return WsGetText(0, 1);
}

/* ---------- tasks ---------- */

/*
 * The member of role who can log in with the fewest open assigned tasks, ties by name,
 * never skip (NULL: nobody to skip); NULL when there is none (the partial index
 * task_assigned on ws.task (assignee) for the counts). Members are followed only through
 * roles that inherit: a NOINHERIT role (an authenticator that may SET ROLE to the users,
 * as PostgREST and ws's web interface use one) holds no rights of the roles it is
 * granted, so it never acts on a task as itself and is never its assignee.
 */
char *
WsQueryLeastLoaded(const char *role, const char *skip)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(role), CStringGetTextDatum(skip ? skip : "")};

	if (WsRun(&plan_least_loaded,
			  "WITH RECURSIVE m(oid) AS ("
			  "   SELECT oid FROM pg_catalog.pg_roles WHERE rolname = $1"
			  "   UNION SELECT a.member FROM pg_catalog.pg_auth_members a JOIN m ON a.roleid = m.oid"
			  "          JOIN pg_catalog.pg_roles i ON i.oid = a.member WHERE i.rolinherit) "
			  "SELECT r.rolname::text FROM m JOIN pg_catalog.pg_roles r ON r.oid = m.oid "
			  " WHERE r.rolcanlogin AND r.rolname::text <> $2 "
			  " ORDER BY (SELECT count(*) FROM ws.task t WHERE t.assignee = r.rolname "
			  "              AND t.wait IS NOT NULL), r.rolname LIMIT 1",
			  2, types, values, NULL, 1) == 0)
		return NULL;
	return WsGetText(0, 1);
}

/* The assignee of task, NULL: nobody (primary key of ws.task) */
char *
WsQueryAssignee(int64 task)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(task)};

	if (WsRun(&plan_assignee, "SELECT assignee::text FROM ws.task WHERE id = $1",
			  1, types, values, NULL, 1) == 0)
		return NULL;
	return WsGetText(0, 1);
}

/*
 * task's node, state, attempts, params and times (primary key of ws.task); false: none.
 * lock: under the task's row lock, as it is once the lock is had (ws.tick deciding that a
 * lease has ended, which a heartbeat moves under that lock).
 */
bool
WsQueryTask(int64 task, int64 *node, char **state, int *attempts, Jsonb **params,
			TimestampTz *due_at, TimestampTz *lease_until, TimestampTz *deadline_at, bool lock)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(task)};

	if (WsRun(lock ? &plan_task_locked : &plan_task,
			  lock ? "SELECT node, state, attempts, params, due_at, lease_until, deadline_at FROM ws.task"
			  " WHERE id = $1 FOR NO KEY UPDATE"
			  : "SELECT node, state, attempts, params, due_at, lease_until, deadline_at FROM ws.task WHERE id = $1",
			  1, types, values, NULL, 1) == 0)
		return false;
	*node = WsGetInt64(0, 1, NULL);
	*state = WsGetText(0, 2);
	*attempts = (int) WsGetInt64(0, 3, NULL);
	*params = WsGetJsonb(0, 4);
	*due_at = WsGetTimestamp(0, 5);
	*lease_until = WsGetTimestamp(0, 6);
	*deadline_at = WsGetTimestamp(0, 7);
	return true;
}

/* task's own params become params (primary key of ws.task) */
void
WsQuerySetTaskParams(int64 task, Jsonb *params)
{
	Oid			types[2] = {INT8OID, JSONBOID};
	Datum		values[2] = {Int64GetDatum(task), JsonbPGetDatum(params)};

	WsRun(&plan_set_params, "UPDATE ws.task SET params = $2 WHERE id = $1", 2, types, values, NULL, 0);
}

/*
 * The waiting tasks now due, the running tasks whose lease has ended and the active tasks
 * whose deadline has passed, by process then id, at most 10000 (the partial index
 * task_due, ws.lease and the partial index task_deadline, one branch each); in *tasks and
 * *processes, allocated here
 */
int
WsQueryDueTasks(int64 **tasks, int64 **processes)
{
	int			n,
				i;

	n = WsRun(&plan_due_tasks,
			  "SELECT id, process FROM ("
			  "  SELECT id, process FROM ws.task"
			  "   WHERE wait = 'waiting' AND due_at <= pg_catalog.clock_timestamp()"
			  "  UNION"
			  "  SELECT t.id, t.process FROM ws.lease l JOIN ws.task t ON t.id = l.task"
			  "   WHERE l.until < pg_catalog.clock_timestamp()"
			  "  UNION"
			  "  SELECT id, process FROM ws.task"
			  "   WHERE deadline_open AND deadline_at <= pg_catalog.clock_timestamp()) due"
			  " ORDER BY process, id LIMIT 10000",
			  0, NULL, NULL, NULL, 0);
	*tasks = palloc(sizeof(int64) * Max(n, 1));
	*processes = palloc(sizeof(int64) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		(*tasks)[i] = WsGetInt64(i, 1, NULL);
		(*processes)[i] = WsGetInt64(i, 2, NULL);
	}
	return n;
}

/* The time the jsonpath path finds in params (first item, an ISO string); false: none */
bool
WsQueryTimestampAt(Jsonb *params, const char *path, TimestampTz *at)
{
	Oid			types[2] = {JSONBOID, TEXTOID};
	Datum		values[2] = {JsonbPGetDatum(params), CStringGetTextDatum(path)};
	bool		isnull;

	WsRun(&plan_timestamp_at,
		  "SELECT ws_internal.timestamp(pg_catalog.jsonb_path_query_first($1, $2::pg_catalog.jsonpath))",
		  2, types, values, NULL, 1);
	(void) SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	if (isnull)
		return false;
	*at = WsGetTimestamp(0, 1);
	if (*at == WS_NO_TIME)
		*at = MIN_TIMESTAMP;	/* -infinity, which stands for NULL here: long past, due at once */
	return true;
}

/* ---------- multi-instance ---------- */

/* task's group (instance_of; 0: not an instance) and its index in *instance (primary key) */
int64
WsQueryTaskInstance(int64 task, int *instance)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(task)};
	bool		isnull;
	int64		group;

	*instance = 0;
	if (WsRun(&plan_instance, "SELECT instance_of, instance FROM ws.task WHERE id = $1",
			  1, types, values, NULL, 1) == 0)
		return 0;
	group = WsGetInt64(0, 1, &isnull);
	if (isnull)
		return 0;
	*instance = (int) WsGetInt64(0, 2, NULL);
	return group;
}

/*
 * What the jsonpath path yields from params: the one array it yields, or NULL with the
 * number of items it yielded in *count (-1: the one item is not an array)
 */
Jsonb *
WsQueryForeach(Jsonb *params, const char *path, int *count)
{
	Oid			types[2] = {JSONBOID, TEXTOID};
	Datum		values[2] = {JsonbPGetDatum(params), CStringGetTextDatum(path)};

	WsRun(&plan_foreach,
		  "SELECT CASE WHEN pg_catalog.jsonb_typeof(a OPERATOR(pg_catalog.->) 0) = 'array' "
		  "            THEN a OPERATOR(pg_catalog.->) 0 END, pg_catalog.jsonb_array_length(a) "
		  "  FROM pg_catalog.jsonb_path_query_array($1, $2::pg_catalog.jsonpath) a",
		  2, types, values, NULL, 1);
	*count = (int) WsGetInt64(0, 2, NULL);
	return WsGetJsonb(0, 1);
}

/* The array and the deadline of group, a first instance (primary key); false: no such task */
bool
WsQueryGroupFirst(int64 group, Jsonb **items, TimestampTz *deadline_at)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(group)};

	if (WsRun(&plan_group_first, "SELECT instance_items, deadline_at FROM ws.task WHERE id = $1",
			  1, types, values, NULL, 1) == 0)
		return false;
	*items = WsGetJsonb(0, 1);
	*deadline_at = WsGetTimestamp(0, 2);
	return true;
}

/*
 * The results of group's succeeded instances, of process, as an array in index order,
 * and how many (index task_process, then the group's rows)
 */
Jsonb *
WsQueryGroupResults(int64 process, int64 group, int *count)
{
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		values[2] = {Int64GetDatum(process), Int64GetDatum(group)};

	WsRun(&plan_group_results,
		  "SELECT COALESCE(pg_catalog.jsonb_agg(result ORDER BY instance), '[]'), pg_catalog.count(*) "
		  "  FROM ws.task WHERE process = $1 AND instance_of = $2 AND state = 'succeeded'",
		  2, types, values, NULL, 1);
	*count = (int) WsGetInt64(0, 2, NULL);
	return WsGetJsonb(0, 1);
}

/* ---------- call activities ---------- */

/* How deep process is: 0 for a top-level process (index process_pkey, task_pkey, per level) */
int
WsQueryDepth(int64 process)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(process)};

	WsRun(&plan_depth,
		  "WITH RECURSIVE up(id, parent_task, depth) AS ("
		  "  SELECT id, parent_task, 0 FROM ws.process WHERE id = $1"
		  "  UNION ALL"
		  "  SELECT p.id, p.parent_task, up.depth + 1 FROM up, ws.task t, ws.process p"
		  "   WHERE t.id = up.parent_task AND p.id = t.process AND up.depth < 10000)"
		  " SELECT pg_catalog.max(depth) FROM up",
		  1, types, values, NULL, 1);
	return (int) WsGetInt64(0, 1, NULL);
}

/* The process of task (primary key); 0: none */
int64
WsQueryTaskProcess(int64 task)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(task)};

	if (WsRun(&plan_task_process, "SELECT process FROM ws.task WHERE id = $1", 1, types, values, NULL, 1) == 0)
		return 0;
	return WsGetInt64(0, 1, NULL);
}

/*
 * The newest child process of calling task (index process_parent_task), its state in
 * *state and how many children task started in *count; 0: none
 */
int64
WsQueryChild(int64 task, char **state, int *count)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(task)};

	WsRun(&plan_child,
		  "SELECT pg_catalog.max(id), "
		  "       (SELECT c.state FROM ws.process c WHERE c.parent_task = $1 ORDER BY c.id DESC LIMIT 1), "
		  "       pg_catalog.count(*) FROM ws.process WHERE parent_task = $1",
		  1, types, values, NULL, 1);
	*state = WsGetText(0, 2);
	*count = (int) WsGetInt64(0, 3, NULL);
	return *count > 0 ? WsGetInt64(0, 1, NULL) : 0;
}

/* The members of vars that start lacks or holds with another value */
Jsonb *
WsQueryChanged(Jsonb *vars, Jsonb *start)
{
	Oid			types[2] = {JSONBOID, JSONBOID};
	Datum		values[2] = {JsonbPGetDatum(vars), JsonbPGetDatum(start)};

	WsRun(&plan_changed,
		  "SELECT COALESCE(pg_catalog.jsonb_object_agg(e.key, e.value), '{}') "
		  "  FROM pg_catalog.jsonb_each($1) e "
		  " WHERE ($2 OPERATOR(pg_catalog.->) e.key) IS DISTINCT FROM e.value",
		  2, types, values, NULL, 1);
	return WsGetJsonb(0, 1);
}

/* ---------- SQL actions ---------- */

/*
 * The search_path a new session of role would have in this database: its setting for
 * this database, its own, this database's, else the built-in default (pg_db_role_setting)
 */
char *
WsQueryRoleSearchPath(Oid role)
{
	Oid			types[1] = {OIDOID};
	Datum		values[1] = {ObjectIdGetDatum(role)};
	char	   *path;

	WsRun(&plan_search_path,
		  "SELECT s.c FROM ("
		  "  SELECT pg_catalog.substr(c, 13) AS c, "
		  "         CASE WHEN d.setrole = $1 AND d.setdatabase <> 0 THEN 1 WHEN d.setrole = $1 THEN 2 ELSE 3 END AS rank"
		  "    FROM pg_catalog.pg_db_role_setting d, pg_catalog.unnest(d.setconfig) c"
		  "   WHERE d.setrole IN ($1, 0)"
		  "     AND d.setdatabase IN (0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = pg_catalog.current_database()))"
		  "     AND NOT (d.setrole = 0 AND d.setdatabase = 0)"
		  "     AND c LIKE 'search_path=%') s ORDER BY s.rank LIMIT 1",
		  1, types, values, NULL, 1);
	path = SPI_processed > 0 ? WsGetText(0, 1) : NULL;
	return path ? path : pstrdup("\"$user\", public");
}

/* ---------- messages ---------- */

/* The key the jsonpath path finds in params (its first item, as text); NULL: none */
char *
WsQueryCorrelate(Jsonb *params, const char *path)
{
	Oid			types[2] = {JSONBOID, TEXTOID};
	Datum		values[2] = {JsonbPGetDatum(params), CStringGetTextDatum(path)};

	WsRun(&plan_correlate,
		  "SELECT pg_catalog.jsonb_path_query_first($1, $2::pg_catalog.jsonpath) OPERATOR(pg_catalog.#>>) '{}'",
		  2, types, values, NULL, 1);
	return WsGetText(0, 1);
}

/*
 * Take (delete) the oldest kept message named name with key (NULL: none) that has not
 * expired and that its sender may send to a task of role (NULL: anyone), skipping one
 * another transaction is taking; its payload and sender in *payload, *sent_by. False:
 * none (ws.message (name, key, id) index)
 */
bool
WsQueryTakeKept(const char *name, const char *key, const char *role, Jsonb **payload, char **sent_by)
{
	Oid			types[3] = {TEXTOID, NAMEOID, TEXTOID};
	Datum		values[3] = {CStringGetTextDatum(name), role ? WsNameDatum(role) : (Datum) 0,
		key ? CStringGetTextDatum(key) : (Datum) 0};
	char		nulls[3] = {' ', role ? ' ' : 'n', key ? ' ' : 'n'};
	const char *sql = key
		? "DELETE FROM ws.message m WHERE m.id = ("
		"  SELECT k.id FROM ws.message k"
		"   WHERE k.name = $1 AND k.key = $3 AND k.expires_at > pg_catalog.now()"
		"     AND ($2 IS NULL OR EXISTS (SELECT FROM pg_catalog.pg_roles s, pg_catalog.pg_roles r"
		"          WHERE s.rolname = k.sent_by AND r.rolname = $2"
		"            AND pg_catalog.pg_has_role(s.oid, r.oid, 'MEMBER')))"
		"   ORDER BY k.id LIMIT 1 FOR UPDATE SKIP LOCKED)"
		" RETURNING m.payload, m.sent_by::text"
		: "DELETE FROM ws.message m WHERE m.id = ("
		"  SELECT k.id FROM ws.message k"
		"   WHERE k.name = $1 AND k.key IS NULL AND $3::text IS NULL AND k.expires_at > pg_catalog.now()"
		"     AND ($2 IS NULL OR EXISTS (SELECT FROM pg_catalog.pg_roles s, pg_catalog.pg_roles r"
		"          WHERE s.rolname = k.sent_by AND r.rolname = $2"
		"            AND pg_catalog.pg_has_role(s.oid, r.oid, 'MEMBER')))"
		"   ORDER BY k.id LIMIT 1 FOR UPDATE SKIP LOCKED)"
		" RETURNING m.payload, m.sent_by::text";

	if (WsRun(&plan_take_kept[key != NULL], sql, 3, types, values, nulls, 1) == 0)
		return false;
	*payload = WsGetJsonb(0, 1);
	*sent_by = WsGetText(0, 2);
	return true;
}

/*
 * The tasks waiting for message name with key (NULL: none), by process then id, in
 * *tasks and *processes, allocated here (partial index task_message)
 */
int
WsQueryWaitingFor(const char *name, const char *key, int64 **tasks, int64 **processes)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(name), key ? CStringGetTextDatum(key) : (Datum) 0};
	char		nulls[2] = {' ', key ? ' ' : 'n'};
	int			n,
				i;

	n = WsRun(&plan_waiting_for[key != NULL],
			  key ? "SELECT t.id, t.process FROM ws.task t JOIN ws.process p ON p.id = t.process"
			  " WHERE t.message = $1 AND t.message_key = $2 AND t.wait = 'waiting'"
			  " ORDER BY COALESCE(p.root, p.id), t.process, t.id"
			  : "SELECT t.id, t.process FROM ws.task t JOIN ws.process p ON p.id = t.process"
			  " WHERE t.message = $1 AND t.message_key IS NULL AND $2::text IS NULL AND t.wait = 'waiting'"
			  " ORDER BY COALESCE(p.root, p.id), t.process, t.id",
			  2, types, values, nulls, 0);
	*tasks = palloc(sizeof(int64) * Max(n, 1));
	*processes = palloc(sizeof(int64) * Max(n, 1));
	for (i = 0; i < n; i++)
	{
		(*tasks)[i] = WsGetInt64(i, 1, NULL);
		(*processes)[i] = WsGetInt64(i, 2, NULL);
	}
	return n;
}

/*
 * The tasks of process waiting for a message, by id: rows (id, message, message_key) left
 * in SPI_tuptable (task_process index)
 */
int
WsQueryWaitingIn(int64 process)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(process)};

	return WsRun(&plan_waiting_in,
				 "SELECT id, message, message_key FROM ws.task"
				 " WHERE process = $1 AND wait = 'waiting' AND message IS NOT NULL ORDER BY id",
				 1, types, values, NULL, 0);
}

/* Keep message name with key and payload, sent by sent_by, for ttl */
void
WsQueryKeep(const char *name, const char *key, Jsonb *payload, Interval *ttl, const char *sent_by)
{
	Oid			types[5] = {TEXTOID, TEXTOID, JSONBOID, INTERVALOID, NAMEOID};
	Datum		values[5] = {CStringGetTextDatum(name), key ? CStringGetTextDatum(key) : (Datum) 0,
		JsonbPGetDatum(payload), IntervalPGetDatum(ttl), WsNameDatum(sent_by)};
	char		nulls[5] = {' ', key ? ' ' : 'n', ' ', ' ', ' '};

	WsRun(&plan_keep,
		  "INSERT INTO ws.message (name, key, payload, expires_at, sent_by)"
		  " VALUES ($1, $2, $3, pg_catalog.now() OPERATOR(pg_catalog.+) $4, $5)",
		  5, types, values, nulls, 0);
}

/* Drop the kept messages that have expired; how many (message_expires index) */
int
WsQueryExpire(void)
{
	return WsRun(&plan_expire, "DELETE FROM ws.message WHERE expires_at <= pg_catalog.now()",
				 0, NULL, NULL, NULL, 0);
}

/* ---------- business keys (keys.c) ---------- */

static SPIPlanPtr plan_key_process;

/*
 * The process of a workflow of that name carrying key, 0 for none (index process_key, then
 * the workflow's primary key); seen by snap, or (InvalidSnapshot) a fresh snapshot
 */
int64
WsQueryKeyProcess(const char *workflow, const char *key, Snapshot snap)
{
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		values[2] = {CStringGetTextDatum(workflow), CStringGetTextDatum(key)};

	if (WsRunAt(&plan_key_process,
				"SELECT p.id FROM ws.process p JOIN ws.workflow w ON w.id = p.workflow "
				" WHERE p.key OPERATOR(pg_catalog.=) $2 AND w.name OPERATOR(pg_catalog.=) $1",
				2, types, values, NULL, 1, snap) == 0)
		return 0;
	return WsGetInt64(0, 1, NULL);
}

/* ---------- the worker protocol ---------- */

/* task's state, attempts and node's role (primary keys); false: no such task */
bool
WsQueryRunningTask(int64 task, char **state, int *attempts, char **role, char **call)
{
	Oid			types[1] = {INT8OID};
	Datum		values[1] = {Int64GetDatum(task)};

	if (WsRun(&plan_running_task,
			  "SELECT t.state, t.attempts, n.role::text, n.call FROM ws.task t "
			  "  JOIN ws.node n ON n.id = t.node WHERE t.id = $1",
			  1, types, values, NULL, 1) == 0)
		return false;
	*state = WsGetText(0, 1);
	*attempts = (int) WsGetInt64(0, 2, NULL);
	*role = WsGetText(0, 3);
	*call = WsGetText(0, 4);
	return true;
}

/*
 * A running task's lease ends lease from now, if it is still running at that attempt
 * (has_attempt), in ws.task and in ws.lease; returns the tasks changed (primary keys of
 * ws.task and ws.lease). Two statements: the first locks the task and reads its lease as
 * it is now (a heartbeat, a claim or a tick may have moved it while this one waited for
 * the lock); the second, with a snapshot taken after the lock, sees that lease's row and
 * moves it. Unchanged (a second heartbeat in the same transaction), the row stays.
 */
int
WsQueryHeartbeat(int64 task, Datum lease, bool has_attempt, int attempt)
{
	Oid			types[3] = {INT8OID, INTERVALOID, INT4OID};
	Datum		values[3] = {Int64GetDatum(task), lease, Int32GetDatum(attempt)};
	char		nulls[3] = {' ', ' ', has_attempt ? ' ' : 'n'};
	Oid			mtypes[3] = {INT8OID, INTERVALOID, TIMESTAMPTZOID};
	Datum		mvalues[3] = {Int64GetDatum(task), lease, (Datum) 0};
	char		mnulls[3] = {' ', ' ', ' '};
	bool		isnull;

	if (WsRun(&plan_heartbeat_lock,
			  "SELECT lease_until FROM ws.task"
			  " WHERE id = $1 AND state = 'running' AND ($3 IS NULL OR attempts = $3)"
			  " FOR NO KEY UPDATE",
			  3, types, values, nulls, 1) == 0)
		return 0;
	mvalues[2] = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
	mnulls[2] = isnull ? 'n' : ' ';
	WsRun(&plan_heartbeat,
		  "WITH u AS (UPDATE ws.task SET lease_until = now() + $2 WHERE id = $1"
		  "            RETURNING id, lease_until),"
		  " d AS (DELETE FROM ws.lease l USING u"
		  "        WHERE l.until = $3 AND l.task = $1 AND l.until <> u.lease_until) "
		  "INSERT INTO ws.lease (until, task) SELECT lease_until, id FROM u ON CONFLICT DO NOTHING",
		  3, mtypes, mvalues, mnulls, 0);
	return 1;
}

/* A running task's progress (primary key of ws.task); returns the rows changed */
int
WsQueryProgress(int64 task, Datum percent)
{
	Oid			types[2] = {INT8OID, NUMERICOID};
	Datum		values[2] = {Int64GetDatum(task), percent};

	return WsRun(&plan_progress,
				 "UPDATE ws.task SET progress = $2 WHERE id = $1 AND state = 'running'",
				 2, types, values, NULL, 0);
}
