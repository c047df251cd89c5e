/*
 * keys.c: business keys. A process may carry a key (ws.process.key), unique per workflow
 * name among the processes that have not been purged: ws.start with a key that a process
 * of that name carries returns that process and starts nothing, so a retried request
 * never starts twice; ws.process_by_key finds it.
 *
 * The name is not a column of ws.process, so no unique index can hold the rule; a lock
 * does. ws.start takes a transaction-level advisory lock on the pair (name, key) before it
 * looks, and keeps it until it commits: a second start of the same pair waits there, and
 * looks once the first has committed or rolled back. In READ COMMITTED the look takes a
 * fresh snapshot, which sees the first's process. Under REPEATABLE READ and SERIALIZABLE
 * the transaction's snapshot may be older than that commit: a process that only a fresh
 * snapshot sees raises 40001, as a unique index would there, and the retried transaction
 * finds it. The lock's number is a 64-bit hash of the pair, in the advisory lock space
 * users share: a user's lock with the same number only makes one of the two wait.
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/snapmgr.h"

#include "keys.h"
#include "queries.h"

/* Argument arg (when the function has it) as a key: NULL for none; an empty key is refused. */
text *
WsKeyArg(FunctionCallInfo fcinfo, int arg)
{
	text	   *key;

	if (PG_NARGS() <= arg || PG_ARGISNULL(arg))
		return NULL;
	key = PG_GETARG_TEXT_PP(arg);
	if (VARSIZE_ANY_EXHDR(key) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("key must not be empty"),
				 errhint("Pass NULL to start a process without a business key.")));
	return key;
}

/*
 * The process of the workflow named workflow that carries key, 0 when none; from here on
 * the transaction holds the pair's lock, so no other start of the pair gets past it until
 * this transaction ends.
 */
int64
WsKeyProcess(const char *workflow, text *key)
{
	char	   *k = text_to_cstring(key);
	StringInfoData pair;
	uint64		h;
	int64		process;

	initStringInfo(&pair);
	appendBinaryStringInfo(&pair, workflow, strlen(workflow) + 1);	/* with its '\0' */
	appendStringInfoString(&pair, k);
	h = DatumGetUInt64(hash_any_extended((unsigned char *) pair.data, pair.len, 0x7773));
	DirectFunctionCall1(pg_advisory_xact_lock_int8, Int64GetDatum((int64) h));

	process = WsQueryKeyProcess(workflow, k, InvalidSnapshot);
	if (process == 0 && IsolationUsesXactSnapshot() &&
		WsQueryKeyProcess(workflow, k, GetLatestSnapshot()) != 0)
		ereport(ERROR,
				(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
				 errmsg("could not serialize access due to a concurrent start of workflow \"%s\" with key \"%s\"",
						workflow, k),
				 errhint("Retry the transaction: ws.start then returns the process the other transaction started.")));
	return process;
}
