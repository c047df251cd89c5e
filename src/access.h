/*
 * access.h: who is calling, and acting as the extension's owner (access.c).
 */
#ifndef WS_ACCESS_H
#define WS_ACCESS_H

typedef struct WsCaller
{
	int			call;			/* this call's number in the backend (nested calls too) */
	Oid			caller;			/* current_user when ws was called */
	char	   *actor;			/* its name, recorded in ws.event */
	Oid			saved_userid;
	int			saved_sec_context;
} WsCaller;

extern void WsEnter(WsCaller *who);
extern void WsLeave(WsCaller *who);
extern bool WsIsAdmin(WsCaller *who);
extern bool WsIsMember(WsCaller *who, const char *role);
extern bool WsRoleCanLogin(Oid role);
extern void WsCheckMember(WsCaller *who, const char *role, int64 task, const char *verb);

#endif
