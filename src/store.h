/*
 * store.h: row reads and writes of ws's tables without planned statements (store.c).
 */
#ifndef WS_STORE_H
#define WS_STORE_H

typedef enum WsTable
{
	WS_TASK,
	WS_READY,
	WS_LEASE,
	WS_EVENT,
	WS_PROCESS,
	WS_WORKFLOW,
	WS_NTABLES
} WsTable;

struct WsCaller;
typedef struct WsStore WsStore;
typedef struct WsStoreScan WsStoreScan;

/* How WsStoreFind and WsStoreLock take a row they find */
typedef enum WsLock
{
	WS_LOCK_UPDATE,				/* FOR UPDATE, waiting for whoever holds or writes it */
	WS_LOCK_NO_KEY_UPDATE,		/* FOR NO KEY UPDATE (what an UPDATE of other columns takes) */
	WS_LOCK_UPDATE_SKIP,		/* FOR UPDATE, or not at all when another holds or writes it */
	WS_LOCK_NONE,				/* only read it */
	WS_LOCK_KEY_SHARE			/* FOR KEY SHARE (against deletion and key changes), waiting */
} WsLock;

extern WsStore *WsStoreBegin(struct WsCaller *who);
extern void WsStoreEnd(WsStore *s);
extern void WsStoreNew(WsStore *s, WsTable t);
extern bool WsStoreFind(WsStore *s, WsTable t, const Datum *keys, WsLock mode);
extern bool WsStoreLock(WsStore *s, WsTable t, WsLock mode);
extern void WsStoreForgetSnapshot(WsStore *s);
extern WsStoreScan *WsStoreScanBegin(WsStore *s, WsTable t, const char *index,
									 const Datum *keys, int nkeys, uint32 any);
extern bool WsStoreScanNext(WsStoreScan *sc);
extern Datum WsStoreScanGet(WsStoreScan *sc, const char *name, bool *isnull);
extern int	WsStoreScanCol(WsStoreScan *sc, const char *name);
extern Datum WsStoreScanGetAt(WsStoreScan *sc, int attnum, bool *isnull);
extern void WsStoreScanEnd(WsStoreScan *sc);
extern Datum WsStoreGet(WsStore *s, WsTable t, const char *name, bool *isnull);
extern void WsStoreChange(WsStore *s, WsTable t);
extern void WsStoreSet(WsStore *s, WsTable t, const char *name, Oid type, Datum value,
					   bool isnull);
extern void WsStoreInsert(WsStore *s, WsTable t);
extern void WsStoreUpdate(WsStore *s, WsTable t);
extern void WsStoreDelete(WsStore *s, WsTable t);
extern int64 WsStoreNextId(WsTable t);

#endif
