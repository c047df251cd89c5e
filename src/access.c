/*
 * access.c: who is calling, and running the engine's SQL as the extension owner.
 *
 * The SQL-callable functions of ws are not SECURITY DEFINER: they must know the role
 * current where the call is made (SET ROLE counts, as poolers and PostgREST use it), and
 * a SECURITY DEFINER function can no longer see it. So each entry point records
 * GetUserId() as the caller, then switches to the owner of schema ws for its SPI work
 * (users hold no privileges on the tables) and switches back before returning. An error
 * restores the user id through transaction abort. Every function pins search_path in its
 * declaration, so the SQL below resolves only pg_catalog and ws objects.
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_type.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_namespace.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "parser/parse_func.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"

#include "access.h"
#include "ws.h"

static Oid	ws_owner = InvalidOid;
static bool ws_version_ok = false;

/*
 * Check the version again after any relcache invalidation: ALTER EXTENSION ws UPDATE
 * changes ws's tables, so a session that loaded this library before someone updated the
 * schema under it refuses to go on with code of another version. (Invalidations are rare
 * next to engine calls, and the check is one index lookup.)
 */
static void
WsForgetVersion(Datum arg, Oid relid)
{
	ws_version_ok = false;
}

/* Look the owner of schema ws up again after a change to pg_namespace (ALTER SCHEMA). */
static void
WsForgetOwner(Datum arg, int cacheid, uint32 hashvalue)
{
	ws_owner = InvalidOid;
}

/*
 * Refuse to run on a schema of another version than this library's: after installing a
 * new build, ALTER EXTENSION ws UPDATE must come first. Checked once per backend, and
 * again after invalidations (WsForgetVersion).
 */
static void
WsCheckVersion(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tup;
	char	   *installed = NULL;
	static bool registered = false;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber, F_NAMEEQ,
				CStringGetDatum("ws"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tup = systable_getnext(scan);
	if (HeapTupleIsValid(tup))
	{
		bool		isnull;
		Datum		d = heap_getattr(tup, Anum_pg_extension_extversion, RelationGetDescr(rel), &isnull);

		if (!isnull)
			installed = text_to_cstring(DatumGetTextPP(d));
	}
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (installed != NULL && strcmp(installed, WS_VERSION) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("the ws library is version %s but this database has ws %s", WS_VERSION,
						installed),
				 errhint("Run ALTER EXTENSION ws UPDATE in this database.")));
	if (!registered)
	{
		CacheRegisterRelcacheCallback(WsForgetVersion, (Datum) 0);
		registered = true;
	}
	ws_version_ok = true;
}

/* The owner of schema ws, looked up once per backend and again after WsForgetOwner. */
static Oid
WsOwner(void)
{
	static bool registered = false;

	if (!registered)
	{
		CacheRegisterSyscacheCallback(NAMESPACEOID, WsForgetOwner, (Datum) 0);
		registered = true;
	}
	if (!OidIsValid(ws_owner))
	{
		Oid			nsp = get_namespace_oid("ws", false);
		HeapTuple	tup = SearchSysCache1(NAMESPACEOID, ObjectIdGetDatum(nsp));

		if (!HeapTupleIsValid(tup))
			elog(ERROR, "ws: cache lookup failed for schema %u", nsp);
		ws_owner = ((Form_pg_namespace) GETSTRUCT(tup))->nspowner;
		ReleaseSysCache(tup);
	}
	return ws_owner;
}

/* Record the caller and become the owner for the engine's own SQL. */
void
WsEnter(WsCaller *who)
{
	static int	calls = 0;

	if (!ws_version_ok)
		WsCheckVersion();
	who->call = ++calls;
	who->caller = GetUserId();
	who->actor = GetUserNameFromId(who->caller, false);
	GetUserIdAndSecContext(&who->saved_userid, &who->saved_sec_context);
	SetUserIdAndSecContext(WsOwner(), who->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
}

/* Become the caller again. */
void
WsLeave(WsCaller *who)
{
	SetUserIdAndSecContext(who->saved_userid, who->saved_sec_context);
}

/* May the caller act for role? A NULL role is open to every ws user. */
bool
WsIsMember(WsCaller *who, const char *role)
{
	Oid			roleid;

	if (role == NULL)
		return true;
	roleid = get_role_oid(role, true);
	if (!OidIsValid(roleid))
		return superuser_arg(who->caller);
	return is_member_of_role(who->caller, roleid);
}

/*
 * Is the caller an administrator of ws? Those are the roles that may call ws.assign,
 * which ws.grant_admin grants (and superusers). Not "may read ws.task": reading is given
 * for reports too (pg_read_all_data), and must not let anyone act on others' tasks.
 * Called as the extension's owner (WsEnter), so the lookup needs no grant of the caller.
 */
bool
WsIsAdmin(WsCaller *who)
{
	Oid			argtypes[2] = {INT8OID, NAMEOID};
	Oid			assign = LookupFuncName(list_make2(makeString("ws"), makeString("assign")), 2,
										argtypes, false);

	return pg_proc_aclcheck(assign, who->caller, ACL_EXECUTE) == ACLCHECK_OK;
}

/* May role log in? */
bool
WsRoleCanLogin(Oid role)
{
	HeapTuple	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(role));
	bool		can;

	if (!HeapTupleIsValid(tup))
		return false;
	can = ((Form_pg_authid) GETSTRUCT(tup))->rolcanlogin;
	ReleaseSysCache(tup);
	return can;
}

/* Refuse with 42501 unless the caller may act for role on task. */
void
WsCheckMember(WsCaller *who, const char *role, int64 task, const char *verb)
{
	if (!WsIsMember(who, role))
		ereport(ERROR,
				(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
				 errmsg("permission denied to %s task " INT64_FORMAT, verb, task),
				 errdetail("Role \"%s\" is not a member of role \"%s\".", who->actor, role),
				 errhint("Ask an administrator to GRANT \"%s\" TO \"%s\", or act as a member of it.",
						 role, who->actor)));
}
