/*
 * ws-worker.c: the ws worker client, a libpq program that runs a command for every task
 * of the actions it subscribes to.
 *
 *   ws-worker [--dsn DSN [--dsn DSN...]] --action NAME [--action NAME...] [--concurrency N]
 *             [--lease SECONDS] [--name WORKER] [--poll SECONDS] [--grace SECONDS]
 *             [--quiet] [--verbose] -- COMMAND [ARGS...]
 *
 * One process, one event loop, one connection per --dsn (a Server: a ws database, such as
 * one shard behind the router). poll() waits on every connection's socket, on the pipes of
 * every running command (stdin, stdout, stderr) and on a self-pipe that the signal handlers
 * (SIGCHLD, SIGTERM, SIGINT) write to. libpq runs non-blocking; every SQL call the worker
 * makes is an Op in its server's FIFO queue, sent one at a time, so a call that the
 * connection loses is simply sent again after reconnecting (ws.complete and ws.fail carry
 * the claimed attempt, so a repeat is refused, never applied twice). Each server connects,
 * backs off and reconnects on its own: one that is down holds up only its own calls.
 *
 * The life of a task: LISTEN ws_ready on every server; a notification for one of our
 * actions, the poll timer or a full previous claim asks that server for a claim. Claims
 * share the free slots: a claim is queued with the slots it asks for reserved (so the
 * claims of several servers never take more tasks than there are slots), the servers that
 * want one are served in turn (round robin), and each asks for its share of the free slots
 * (all of them with one server). A task is reported to the server it was claimed from. Each
 * claimed task gets a slot and a child (its own process group, killed with
 * the worker on Linux) with the effective params on stdin and WS_* in its environment.
 * While it runs, it is heartbeated every lease/3 seconds; "progress: N" lines on its
 * stderr become ws.progress calls, the other lines are kept (the last TAIL_MAX bytes) for
 * the error text. When the child has exited and its pipes are closed, the outcome is
 * reported: exit 0 with empty output is ws.complete(task, '{}'); exit 0 with output is
 * first checked by the server (jsonb_typeof) and then completed, or failed when it is
 * not a JSON object; anything else is ws.fail with the end of stderr. A call refused by
 * the engine (a stale attempt, SQLSTATE 55000) is logged and dropped. A heartbeat that is
 * refused means the lease was lost: the command is killed and its outcome dropped.
 *
 * SIGTERM/SIGINT: stop claiming, wait up to --grace seconds for the running commands,
 * then SIGTERM (and 5 s later SIGKILL) their process groups and ws.fail the tasks with
 * "worker shutting down"; exit once everything is reported. A second signal ends the
 * grace period at once.
 *
 * Errors while connecting or claiming are retried with back-off, except those that
 * someone must fix first (a failed authentication, no such database, ws not installed,
 * no ws.grant_user...): fatal_advice decides, and the worker stops with status 2 and a
 * message saying what to do (with several --dsn, such an error on any of them stops the
 * worker too: a misconfigured server is made plain, not left without a worker). Exit
 * status 0 is a clean stop, 1 a stop with outcomes left unreported or a system error, 2 a
 * usage error or an error retrying cannot fix.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include "libpq-fe.h"

#define TAIL_MAX 2000			/* bytes of stderr kept for the error text */
#define LINE_MAX_ 512			/* longest stderr line inspected for "progress:" */
#define OUTPUT_MAX (16 * 1024 * 1024)	/* largest result accepted on stdout */
#define HARD_KILL_AFTER 5.0		/* seconds between SIGTERM and SIGKILL */
#define PIPE_LINGER 2.0			/* seconds to wait for pipes held open after exit */
#define CONNECT_TIMEOUT 15.0
#define FLUSH_TIMEOUT 10.0		/* at shutdown, seconds to keep trying to report */
#define BACKOFF_MIN 0.25
#define BACKOFF_MAX 30.0
#define MAX_TRIES 5				/* sends of one call on transient errors */
#define CALL_TIMEOUT_MIN 60.0	/* a call unanswered for max(this, lease) s: reconnect */

/* A growable byte buffer. */
typedef struct Buf
{
	char	   *data;
	size_t		len,
				cap;
} Buf;

typedef enum
{
	OP_LISTEN, OP_CLAIM, OP_VALIDATE, OP_COMPLETE, OP_FAIL, OP_HEARTBEAT, OP_PROGRESS
} OpKind;

static const char *op_names[] = {
	"LISTEN", "ws.claim", "validate", "ws.complete", "ws.fail", "ws.heartbeat", "ws.progress"
};

/* One SQL call waiting in the queue or in flight. */
typedef struct Op
{
	struct Op  *next;
	OpKind		kind;
	long long	task;
	int			attempt;
	int			slot;			/* heartbeat: the slot it is for */
	char	   *text;			/* output (validate, complete), error (fail), percent */
	char	   *desc;			/* the task's log line up to its outcome */
	int			tries;
} Op;

/* Where a server's connection stands. */
typedef enum
{
	C_DOWN, C_CONNECTING, C_UP
} ConnState;

/* One --dsn: its connection, its queue of calls and its claims. */
typedef struct Server
{
	const char *dsn;
	char	   *label;			/* "" with one --dsn, else "dsn N: ", for the log */
	PGconn	   *conn;
	ConnState	cstate;
	PostgresPollingStatusType connect_wait;
	double		connect_started;
	double		reconnect_at;
	double		backoff;
	bool		listening;
	bool		want_flush;
	Op		   *qhead,
			   *qtail,
			   *inflight;
	PGresult   *inflight_res;
	double		inflight_since;
	bool		want_claim;
	bool		claim_outstanding;
	int			claim_asked;	/* slots reserved by the claim queued or in flight */
	bool		maybe_more;		/* the last claim got all it asked for */
} Server;

/* A running command. */
typedef struct Slot
{
	bool		used;
	Server	   *server;			/* where the task was claimed, and is reported */
	long long	task,
				process;
	int			attempt;
	char	   *params;
	char	   *desc;			/* "task 12 (process 3, node ..., attempt 1)" */
	pid_t		pid;			/* 0 once reaped */
	int			status;
	double		exited_at;
	int			in_fd,
				out_fd,
				err_fd;			/* -1 when closed */
	size_t		in_off,
				in_len;
	Buf			out;
	bool		out_overflow;
	char		line[LINE_MAX_];
	size_t		line_len;
	bool		line_long;
	char		tail[TAIL_MAX];
	size_t		tail_len;
	bool		tail_cut;
	double		t0;
	struct timespec wall0;
	double		next_beat;
	bool		beat_queued;
	enum
	{
		KILL_NONE, KILL_SHUTDOWN, KILL_LEASE
	}			killed;
	double		hard_kill_at;
} Slot;

/* settings */
static Server *servers;
static int	n_servers;
static char **actions;
static int	n_actions;
static int	concurrency = 1;
static double lease = 60;
static double poll_every = 5;
static double grace = 30;
static char *worker_name;
static int	verbosity = 1;		/* 0 quiet, 1 normal, 2 verbose */
static char **command;
static char *actions_literal;

/* state */
static Slot *slots;
static int	used_slots;
static int	claim_turn;			/* the server first in line for the next claim */
static double next_poll;
static bool stopping;
static double stop_deadline;
static double idle_since;		/* at shutdown: when the last command ended */
static int	sigpipe_fds[2];
static volatile sig_atomic_t got_stop;

/* Seconds on the monotonic clock. */
static double
now_mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* "HH:MM:SS.mmm" (with the date when full) of a wall-clock time. */
static void
format_wall(const struct timespec *ts, bool full, char *buf, size_t size)
{
	struct tm	tm;
	char		s[64];

	localtime_r(&ts->tv_sec, &tm);
	strftime(s, sizeof(s), full ? "%Y-%m-%d %H:%M:%S" : "%H:%M:%S", &tm);
	snprintf(buf, size, "%s.%03ld", s, ts->tv_nsec / 1000000);
}

/* One line on stderr at level (0 always, 1 normal, 2 verbose). */
static void
logmsg(int level, const char *fmt,...)
{
	struct timespec ts;
	char		when[80];
	va_list		ap;

	if (level > verbosity)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	format_wall(&ts, true, when, sizeof(when));
	fprintf(stderr, "%s ws-worker %s: ", when, worker_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* malloc, exiting with status 1 when memory is out. */
static void *
xmalloc(size_t n)
{
	void	   *p = malloc(n ? n : 1);

	if (p == NULL)
	{
		fprintf(stderr, "ws-worker: out of memory\n");
		exit(1);
	}
	return p;
}

/* strdup, exiting with status 1 when memory is out. */
static char *
xstrdup(const char *s)
{
	size_t		n = strlen(s);
	char	   *p = xmalloc(n + 1);

	memcpy(p, s, n + 1);
	return p;
}

/* A malloc'd printf. */
static char *
xprintf(const char *fmt,...)
{
	va_list		ap;
	char	   *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
	{
		fprintf(stderr, "ws-worker: out of memory\n");
		exit(1);
	}
	va_end(ap);
	return s;
}

/* Append n bytes to b, keeping it NUL-terminated. */
static void
buf_append(Buf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap)
	{
		size_t		cap = b->cap ? b->cap : 256;

		while (cap < b->len + n + 1)
			cap *= 2;
		b->data = realloc(b->data, cap);
		if (b->data == NULL)
		{
			fprintf(stderr, "ws-worker: out of memory\n");
			exit(1);
		}
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/*
 * Replace what is not valid UTF-8 (and control characters other than newline and tab)
 * in s by '?', in place, so that the text is accepted by a UTF-8 database.
 */
static void
sanitize_utf8(char *s)
{
	unsigned char *p = (unsigned char *) s;

	while (*p)
	{
		int			n = 0;

		if (*p < 0x80)
		{
			if (*p < 0x20 && *p != '\n' && *p != '\t')
				*p = '?';
			p++;
			continue;
		}
		if ((*p & 0xE0) == 0xC0 && *p >= 0xC2)
			n = 1;
		else if ((*p & 0xF0) == 0xE0)
			n = 2;
		else if ((*p & 0xF8) == 0xF0 && *p <= 0xF4)
			n = 3;
		if (n > 0)
		{
			int			i;

			for (i = 1; i <= n; i++)
				if ((p[i] & 0xC0) != 0x80)
					break;
			if (i > n)
			{
				p += n + 1;
				continue;
			}
		}
		*p++ = '?';
	}
}

/* Trim white space at both ends, in place; returns the start. */
static char *
trim(char *s)
{
	size_t		n;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* The first max characters of s, with "..." when cut, malloc'd and on one line. */
static char *
excerpt(const char *s, size_t max)
{
	size_t		n = strlen(s);
	char	   *e;
	size_t		i;

	if (n <= max)
		e = xstrdup(s);
	else
	{
		e = xmalloc(max + 4);
		memcpy(e, s, max);
		strcpy(e + max, "...");
	}
	for (i = 0; e[i]; i++)
		if (e[i] == '\n' || e[i] == '\r')
			e[i] = ' ';
	return e;
}

/*
 * Queue
 */

/* A new call of kind for task at attempt, with copies of text and desc. */
static Op  *
op_new(OpKind kind, long long task, int attempt, const char *text, const char *desc)
{
	Op		   *op = xmalloc(sizeof(Op));

	memset(op, 0, sizeof(Op));
	op->kind = kind;
	op->task = task;
	op->attempt = attempt;
	op->slot = -1;
	op->text = text ? xstrdup(text) : NULL;
	op->desc = desc ? xstrdup(desc) : NULL;
	return op;
}

/* Free a call. */
static void
op_free(Op *op)
{
	free(op->text);
	free(op->desc);
	free(op);
}

/* Queue a call at the end of sv's queue. */
static void
op_push(Server *sv, Op *op)
{
	op->next = NULL;
	if (sv->qtail)
		sv->qtail->next = op;
	else
		sv->qhead = op;
	sv->qtail = op;
}

/* Queue a call at the front of sv's queue, to be sent next. */
static void
op_push_front(Server *sv, Op *op)
{
	op->next = sv->qhead;
	sv->qhead = op;
	if (sv->qtail == NULL)
		sv->qtail = op;
}

/* Take the first call of sv's queue, or NULL. */
static Op  *
op_pop(Server *sv)
{
	Op		   *op = sv->qhead;

	if (op)
	{
		sv->qhead = op->next;
		if (sv->qhead == NULL)
			sv->qtail = NULL;
		op->next = NULL;
	}
	return op;
}

/* Slots free for new claims: neither running a command nor reserved by a claim. */
static int
free_slots(void)
{
	int			n = concurrency - used_slots;
	int			i;

	for (i = 0; i < n_servers; i++)
		n -= servers[i].claim_asked;
	return n;
}

/* The claim of sv is answered or dropped: its reserved slots are free again. */
static void
claim_ended(Server *sv)
{
	sv->claim_outstanding = false;
	sv->claim_asked = 0;
}

/* Log the end of a task: its description, then the outcome. */
static void
log_task(const char *desc, const char *outcome)
{
	logmsg(1, "%s: %s", desc, outcome);
}

/* Queue ws.fail for a task (on sv, where it was claimed) and log its end. */
static void
report_fail(Server *sv, long long task, int attempt, const char *desc, const char *error)
{
	char	   *e = xstrdup(error);
	char	   *first;

	sanitize_utf8(e);
	first = excerpt(e, 200);
	{
		char	   *o = xprintf("failed: %s", first);

		log_task(desc, o);
		free(o);
	}
	free(first);
	op_push(sv, op_new(OP_FAIL, task, attempt, e, desc));
	free(e);
}

/*
 * Signals
 */

/* Signal handler: count stop signals and wake the loop through the self-pipe. */
static void
on_signal(int sig)
{
	int			saved = errno;
	char		c = (char) sig;

	if (sig == SIGTERM || sig == SIGINT)
		got_stop++;
	if (write(sigpipe_fds[1], &c, 1) < 0)
	{
		/* the pipe is full: the loop wakes up anyway */
	}
	errno = saved;
}

/* Create the self-pipe and catch SIGCHLD, SIGTERM and SIGINT; ignore SIGPIPE. */
static void
setup_signals(void)
{
	struct sigaction sa;

	if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) < 0)
	{
		perror("ws-worker: pipe");
		exit(1);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * Children
 */

/* Make fd non-blocking. */
static void
set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Close *fd if open and mark it closed (-1). */
static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Start COMMAND for a claimed task in slot s; a failure to start is a task failure. */
static void
spawn(Slot *s, const char *node, const char *action)
{
	int			in[2],
				out[2],
				err[2];
	pid_t		parent = getpid();

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
	{
		char	   *e = xprintf("ws-worker could not create pipes: %s", strerror(errno));

		report_fail(s->server, s->task, s->attempt, s->desc, e);
		free(e);
		return;
	}
	s->pid = fork();
	if (s->pid < 0)
	{
		char	   *e = xprintf("ws-worker could not fork: %s", strerror(errno));

		close(in[0]);
		close(in[1]);
		close(out[0]);
		close(out[1]);
		close(err[0]);
		close(err[1]);
		s->pid = 0;
		report_fail(s->server, s->task, s->attempt, s->desc, e);
		free(e);
		return;
	}
	if (s->pid == 0)
	{
		char		num[32];
		sigset_t	none;

		setpgid(0, 0);
#ifdef __linux__
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
#else
		(void) parent;
#endif
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGCHLD, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		snprintf(num, sizeof(num), "%lld", s->task);
		setenv("WS_TASK", num, 1);
		snprintf(num, sizeof(num), "%lld", s->process);
		setenv("WS_PROCESS", num, 1);
		snprintf(num, sizeof(num), "%d", s->attempt);
		setenv("WS_ATTEMPT", num, 1);
		setenv("WS_NODE", node, 1);
		setenv("WS_ACTION", action, 1);
		setenv("WS_WORKER", worker_name, 1);
		execvp(command[0], command);
		fprintf(stderr, "ws-worker: cannot run %s: %s\n", command[0], strerror(errno));
		_exit(127);
	}
	setpgid(s->pid, s->pid);	/* also here, so kill(-pid) works at once */
	close(in[0]);
	close(out[1]);
	close(err[1]);
	s->in_fd = in[1];
	s->out_fd = out[0];
	s->err_fd = err[0];
	set_nonblock(s->in_fd);
	set_nonblock(s->out_fd);
	set_nonblock(s->err_fd);
}

/* Take a task claimed from sv into a free slot and start its command. */
static void
start_task(Server *sv, long long task, long long process, const char *node, const char *action,
		   const char *params, int attempt)
{
	Slot	   *s = NULL;
	int			i;
	char	   *desc = xprintf("task %lld (process %lld, node \"%s\", action %s, attempt %d)",
							   task, process, node, action, attempt);

	for (i = 0; i < concurrency; i++)
		if (!slots[i].used)
		{
			s = &slots[i];
			break;
		}
	if (s == NULL)
	{
		/* cannot happen: a claim never asks for more than the free slots */
		report_fail(sv, task, attempt, desc, "ws-worker claimed more tasks than it has slots");
		free(desc);
		return;
	}
	memset(s, 0, sizeof(Slot));
	s->used = true;
	used_slots++;
	s->server = sv;
	s->task = task;
	s->process = process;
	s->attempt = attempt;
	s->params = xprintf("%s\n", params);
	s->in_len = strlen(s->params);
	s->desc = desc;
	s->in_fd = s->out_fd = s->err_fd = -1;
	s->t0 = now_mono();
	clock_gettime(CLOCK_REALTIME, &s->wall0);
	s->next_beat = s->t0 + lease / 3;
	logmsg(2, "%s: starting", desc);
	spawn(s, node, action);
	if (s->pid == 0)
	{
		/* could not start: already reported */
		free(s->params);
		free(s->desc);
		s->used = false;
		used_slots--;
	}
}

/* Keep the last TAIL_MAX bytes of stderr. */
static void
tail_append(Slot *s, const char *p, size_t n)
{
	if (n >= TAIL_MAX)
	{
		p += n - TAIL_MAX;
		n = TAIL_MAX;
		s->tail_len = 0;
		s->tail_cut = true;
	}
	if (s->tail_len + n > TAIL_MAX)
	{
		size_t		drop = s->tail_len + n - TAIL_MAX;

		memmove(s->tail, s->tail + drop, s->tail_len - drop);
		s->tail_len -= drop;
		s->tail_cut = true;
	}
	memcpy(s->tail + s->tail_len, p, n);
	s->tail_len += n;
}

/* "progress: N" (0..100, optionally with %): the percent, else -1. */
static double
progress_line(const char *line)
{
	const char *p;
	char	   *end;
	double		v;

	if (strncmp(line, "progress:", 9) != 0)
		return -1;
	p = line + 9;
	while (*p == ' ' || *p == '\t')
		p++;
	if (!(*p >= '0' && *p <= '9'))
		return -1;
	v = strtod(p, &end);
	if (*end == '%')
		end++;
	while (*end == ' ' || *end == '\t' || *end == '\r')
		end++;
	if (*end != '\0' || !(v >= 0 && v <= 100))
		return -1;
	return v;
}

/* Queue ws.progress, replacing one for the same task that has not been sent yet. */
static void
queue_progress(Slot *s, double v)
{
	Op		   *op;
	char		num[64];

	snprintf(num, sizeof(num), "%g", v);
	for (op = s->server->qhead; op; op = op->next)
		if (op->kind == OP_PROGRESS && op->task == s->task)
		{
			free(op->text);
			op->text = xstrdup(num);
			return;
		}
	op_push(s->server, op_new(OP_PROGRESS, s->task, s->attempt, num, NULL));
}

/* A whole line of stderr: a progress report, or text for the tail. */
static void
end_line(Slot *s, bool newline)
{
	double		v;

	s->line[s->line_len] = '\0';
	if (!s->line_long && newline && (v = progress_line(s->line)) >= 0)
		queue_progress(s, v);
	else
	{
		tail_append(s, s->line, s->line_len);
		if (newline)
			tail_append(s, "\n", 1);
	}
	s->line_len = 0;
	s->line_long = !newline;
}

/* Bytes read from a command's stderr. */
static void
stderr_bytes(Slot *s, const char *p, size_t n)
{
	size_t		i;

	for (i = 0; i < n; i++)
	{
		if (p[i] == '\n')
		{
			end_line(s, true);
			s->line_long = false;
		}
		else
		{
			if (s->line_len >= LINE_MAX_ - 1)
				end_line(s, false);
			s->line[s->line_len++] = p[i] ? p[i] : '?';
		}
	}
}

/* Read what is there on fd (stdout or stderr of slot s); close it at end of file. */
static void
read_child(Slot *s, int *fd, bool is_err)
{
	char		buf[65536];

	for (;;)
	{
		ssize_t		n = read(*fd, buf, sizeof(buf));

		if (n > 0)
		{
			if (is_err)
				stderr_bytes(s, buf, n);
			else if (s->out.len + n > OUTPUT_MAX)
				s->out_overflow = true;
			else
				buf_append(&s->out, buf, n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		/* end of file or an error */
		if (is_err && s->line_len > 0)
			end_line(s, false);
		close_fd(fd);
		return;
	}
}

/* Write more of the params to the command's stdin; close it when done. */
static void
write_child(Slot *s)
{
	while (s->in_off < s->in_len)
	{
		ssize_t		n = write(s->in_fd, s->params + s->in_off, s->in_len - s->in_off);

		if (n > 0)
			s->in_off += n;
		else if (n < 0 && errno == EINTR)
			continue;
		else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		else
			break;				/* EPIPE: the command does not read its input */
	}
	close_fd(&s->in_fd);
}

/* Collect every child that has ended. */
static void
reap(void)
{
	for (;;)
	{
		int			status;
		pid_t		pid = waitpid(-1, &status, WNOHANG);
		int			i;

		if (pid <= 0)
			return;
		for (i = 0; i < concurrency; i++)
			if (slots[i].used && slots[i].pid == pid)
			{
				slots[i].pid = 0;
				slots[i].status = status;
				slots[i].exited_at = now_mono();
				close_fd(&slots[i].in_fd);
			}
	}
}

/* Signal a command's whole process group. */
static void
kill_slot(Slot *s, int sig)
{
	if (s->pid > 0)
		kill(-s->pid, sig);
}

/* The command of slot s has ended: report its outcome and free the slot. */
static void
finish(Slot *s)
{
	struct timespec wall1;
	char		t0[80],
				t1[80];
	char	   *desc;
	char	   *tail;
	char	   *e = NULL;
	double		secs = now_mono() - s->t0;
	int			i;

	clock_gettime(CLOCK_REALTIME, &wall1);
	format_wall(&s->wall0, false, t0, sizeof(t0));
	format_wall(&wall1, false, t1, sizeof(t1));
	desc = xprintf("%s: start %s, end %s, %.3f s", s->desc, t0, t1, secs);

	tail = xmalloc(s->tail_len + 4);
	memcpy(tail, s->tail, s->tail_len);
	tail[s->tail_len] = '\0';
	{
		char	   *t = trim(tail);

		memmove(tail, t, strlen(t) + 1);
	}
	if (s->tail_cut && tail[0])
	{
		char	   *t = xprintf("...%s", tail);

		free(tail);
		tail = t;
	}

	if (s->killed == KILL_LEASE)
		log_task(desc, "the task is no longer ours (a heartbeat was refused): the command was stopped and its outcome dropped");
	else if (s->killed == KILL_SHUTDOWN)
	{
		e = xprintf("worker shutting down: the command did not finish within the grace period of %g s%s%s",
					grace, tail[0] ? ": " : "", tail);
		report_fail(s->server, s->task, s->attempt, desc, e);
	}
	else if (WIFEXITED(s->status) && WEXITSTATUS(s->status) == 0)
	{
		bool		has_nul = s->out.len > 0 && memchr(s->out.data, '\0', s->out.len) != NULL;
		char	   *out = trim(s->out.data ? s->out.data : (char *) "");

		if (s->out_overflow)
		{
			e = xprintf("command output is larger than %d bytes", OUTPUT_MAX);
			report_fail(s->server, s->task, s->attempt, desc, e);
		}
		else if (out[0] == '\0')
		{
			log_task(desc, "succeeded");
			op_push(s->server, op_new(OP_COMPLETE, s->task, s->attempt, "{}", desc));
		}
		else if (has_nul)
		{
			e = xstrdup("command output contains a NUL byte: it is not a JSON object");
			report_fail(s->server, s->task, s->attempt, desc, e);
		}
		else
			op_push(s->server, op_new(OP_VALIDATE, s->task, s->attempt, out, desc));
	}
	else if (WIFEXITED(s->status))
	{
		e = xprintf("command exited with status %d%s%s", WEXITSTATUS(s->status),
					tail[0] ? ": " : " (nothing on standard error)", tail);
		report_fail(s->server, s->task, s->attempt, desc, e);
	}
	else if (WIFSIGNALED(s->status))
	{
		e = xprintf("command killed by signal %d (%s)%s%s", WTERMSIG(s->status),
					strsignal(WTERMSIG(s->status)), tail[0] ? ": " : "", tail);
		report_fail(s->server, s->task, s->attempt, desc, e);
	}
	else
		report_fail(s->server, s->task, s->attempt, desc, "command ended in an unknown way");

	free(e);
	free(tail);
	free(desc);
	free(s->params);
	free(s->desc);
	free(s->out.data);
	close_fd(&s->in_fd);
	close_fd(&s->out_fd);
	close_fd(&s->err_fd);
	s->used = false;
	used_slots--;
	for (i = 0; i < n_servers; i++)
		if (servers[i].maybe_more)
			servers[i].want_claim = true;
}

/*
 * Connection
 */

/*
 * Can retrying fix this error, met while connecting (connecting) or in ws.claim? The one
 * place that decides. NULL: it may heal, and the caller goes on trying with its back-off.
 * Otherwise someone must act first, and the answer (malloc'd) says what to do; the
 * worker then stops with status 2 (stop_fatal). message is the error's text.
 *
 * Cannot heal:
 *   28000, 28P01  authentication failed: no pg_hba.conf entry, a wrong password, an
 *                 unknown role, a role that may not log in
 *   3D000         the database does not exist
 *   42501         insufficient privilege: no CONNECT on the database, or ws.grant_user
 *                 was not run for the role (permission denied for schema ws, ws.claim)
 *   3F000, 42883  ws is not in the database: schema ws or function ws.claim does not exist
 *   no SQLSTATE while connecting: libpq refused the connection string ("invalid ...
 *                 value", "invalid connection option") or had no password to send
 * May heal: everything else, notably a refused or lost connection (no SQLSTATE, 08xxx),
 * a server starting up or shutting down (57P01, 57P02, 57P03), too many connections
 * (53300), a database that does not accept connections now (55000 while connecting),
 * a library and a schema of different versions during an upgrade (55000 in ws.claim,
 * until ALTER EXTENSION ws UPDATE has run), serialization failures and deadlocks
 * (40001, 40P01) and any other error of ws.claim.
 */
static char *
fatal_advice(Server *sv, bool connecting, const char *sqlstate, const char *message)
{
	const char *db = PQdb(sv->conn) ? PQdb(sv->conn) : "";
	const char *user = PQuser(sv->conn) ? PQuser(sv->conn) : "";

	if (sqlstate == NULL || sqlstate[0] == '\0')
	{
		if (!connecting || message == NULL)
			return NULL;
		if (strstr(message, "no password supplied"))
			return xstrdup("Give the password in --dsn, PGPASSWORD or ~/.pgpass.");
		if (strncmp(message, "invalid ", 8) == 0 || strstr(message, "connection option") ||
			strstr(message, "could not match"))
			return xstrdup("Fix the connection string (--dsn) or the PG* environment variables.");
		return NULL;
	}
	if (strncmp(sqlstate, "28", 2) == 0)
		return xprintf("Check the user name \"%s\", its password (--dsn, PGPASSWORD, ~/.pgpass) and the server's pg_hba.conf.",
					   user);
	if (strcmp(sqlstate, "3D000") == 0)
		return xstrdup("Check the database name (--dsn dbname=..., PGDATABASE), or create the database.");
	if (strcmp(sqlstate, "42501") == 0)
		return connecting ?
			xprintf("An administrator must run GRANT CONNECT ON DATABASE \"%s\" TO \"%s\".", db, user) :
			xprintf("An administrator must run SELECT ws.grant_user('%s') in database \"%s\".", user, db);
	if (connecting)
		return NULL;
	if (strcmp(sqlstate, "3F000") == 0 || strcmp(sqlstate, "42883") == 0)
		return xprintf("Is ws installed there? An administrator must run CREATE EXTENSION ws in database \"%s\" (or ALTER EXTENSION ws UPDATE if it is of another version).",
					   db);
	return NULL;
}

/*
 * Stop with status 2 on an error of server sv that retrying cannot fix: say what failed
 * and what to do (both malloc'd, freed here). Running commands are stopped: their leases
 * end and the tasks are taken again.
 */
static void
stop_fatal(Server *sv, char *what, char *advice)
{
	int			i,
				n = 0;

	logmsg(0, "%scannot use database \"%s\": %s; not retrying. %s", sv->label,
		   sv->conn && PQdb(sv->conn) ? PQdb(sv->conn) : "", what, advice);
	for (i = 0; i < concurrency; i++)
		if (slots[i].used && slots[i].pid > 0)
		{
			kill_slot(&slots[i], SIGTERM);
			n++;
		}
	if (n > 0)
		logmsg(0, "stopped %d running command%s; the leases of their tasks will end", n,
			   n == 1 ? "" : "s");
	free(what);
	free(advice);
	for (i = 0; i < n_servers; i++)
		if (servers[i].conn)
			PQfinish(servers[i].conn);
	exit(2);
}

/* Is p the start of a SQLSTATE (five digits or capital letters)? */
static bool
is_sqlstate(const char *p)
{
	int			i;

	for (i = 0; i < 5; i++)
		if (!((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'Z')))
			return false;
	return true;
}

/*
 * Read libpq's message of a failed connection, made with PQERRORS_VERBOSE so that an
 * error the server sent reads "FATAL:  28P01: password authentication failed ...": the
 * SQLSTATE of the last such error into sqlstate ("" when none), its message and detail
 * into *message (malloc'd, NULL when none). Returns the message without its LOCATION
 * lines, for the log (malloc'd).
 */
static char *
connection_error(const char *raw, char *sqlstate, char **message)
{
	Buf			text = {0};
	const char *line = raw;
	bool		after_error = false;

	sqlstate[0] = '\0';
	*message = NULL;
	while (*line)
	{
		const char *end = strchr(line, '\n');
		int			len = end ? (int) (end - line) : (int) strlen(line);
		int			i;

		if (strncmp(line, "LOCATION:", 9) == 0)
			;
		else if (after_error && strncmp(line, "DETAIL:  ", 9) == 0)
		{
			char	   *m = xprintf("%s: %.*s", *message, len - 9, line + 9);

			free(*message);
			*message = m;
			buf_append(&text, line, len + (end ? 1 : 0));
		}
		else
		{
			after_error = false;
			for (i = 0; i + 10 <= len; i++)
				if (strncmp(line + i, ":  ", 3) == 0 && is_sqlstate(line + i + 3) &&
					strncmp(line + i + 8, ": ", 2) == 0)
				{
					memcpy(sqlstate, line + i + 3, 5);
					sqlstate[5] = '\0';
					free(*message);
					*message = xprintf("%.*s", len - i - 10, line + i + 10);
					after_error = true;
					break;
				}
			buf_append(&text, line, len + (end ? 1 : 0));
		}
		line += len + (end ? 1 : 0);
	}
	return text.data ? text.data : xstrdup("");
}

/* The connection of sv is gone: requeue what was in flight and plan a reconnect. */
static void
lost_connection(Server *sv, const char *why)
{
	double		now = now_mono();
	char	   *msg = excerpt(why && why[0] ? why : "connection lost", 1000);
	char	   *p,
			   *q;

	/* one line: newlines and tabs of libpq's messages become single spaces */
	for (p = q = msg; *p; p++)
	{
		if (*p == '\t')
			*p = ' ';
		if (*p == ' ' && q > msg && q[-1] == ' ')
			continue;
		*q++ = *p;
	}
	*q = '\0';
	logmsg(0, "%s%s: %s; trying again in %.2g s", sv->label,
		   sv->cstate == C_UP ? "connection lost" : "cannot connect", trim(msg), sv->backoff);
	free(msg);
	if (sv->conn)
		PQfinish(sv->conn);
	sv->conn = NULL;
	sv->cstate = C_DOWN;
	sv->listening = false;
	sv->want_flush = false;
	if (sv->inflight_res)
		PQclear(sv->inflight_res);
	sv->inflight_res = NULL;
	if (sv->inflight)
	{
		if (sv->inflight->kind == OP_CLAIM || sv->inflight->kind == OP_LISTEN)
		{
			if (sv->inflight->kind == OP_CLAIM)
				logmsg(2, "%sa claim was in flight; tasks it may have taken come back when their lease ends",
					   sv->label);
			op_free(sv->inflight);
		}
		else
			op_push_front(sv, sv->inflight);
		sv->inflight = NULL;
	}
	/* drop queued claims and LISTENs: they are redone after reconnecting */
	{
		Op		   *op = sv->qhead,
				   *keep = NULL,
				   *last = NULL;

		while (op)
		{
			Op		   *next = op->next;

			if (op->kind == OP_CLAIM || op->kind == OP_LISTEN)
				op_free(op);
			else
			{
				op->next = NULL;
				if (last)
					last->next = op;
				else
					keep = op;
				last = op;
			}
			op = next;
		}
		sv->qhead = keep;
		sv->qtail = last;
	}
	claim_ended(sv);
	sv->want_claim = true;
	sv->reconnect_at = now + sv->backoff;
	sv->backoff = sv->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : sv->backoff * 2;
}

/* sv's connection could not be made: stop if retrying cannot fix why, else try again later. */
static void
connect_failed(Server *sv)
{
	char		sqlstate[6];
	char	   *message;
	char	   *text = connection_error(PQerrorMessage(sv->conn), sqlstate, &message);
	char	   *advice = fatal_advice(sv, true, sqlstate, message ? message : trim(text));

	if (advice)
	{
		char	   *what = message ? xprintf("%s (SQLSTATE %s)", message, sqlstate) : excerpt(trim(text), 1000);

		free(text);
		free(message);
		stop_fatal(sv, what, advice);
	}
	lost_connection(sv, text);
	free(text);
	free(message);
}

/* Begin a non-blocking connection to sv. */
static void
start_connect(Server *sv)
{
	/* keepalives first, so that the DSN (expanded from dbname) can override them */
	const char *kw[] = {"keepalives", "keepalives_idle", "keepalives_interval", "keepalives_count",
	"dbname", "fallback_application_name", NULL};
	const char *val[] = {"1", "15", "5", "3", sv->dsn, "ws-worker", NULL};

	sv->conn = PQconnectStartParams(kw, val, 1);
	if (sv->conn == NULL)
	{
		fprintf(stderr, "ws-worker: out of memory\n");
		exit(1);
	}
	if (PQstatus(sv->conn) == CONNECTION_BAD)
	{
		connect_failed(sv);
		return;
	}
	/* the server's errors while connecting then carry their SQLSTATE (connection_error) */
	PQsetErrorVerbosity(sv->conn, PQERRORS_VERBOSE);
	sv->cstate = C_CONNECTING;
	sv->connect_wait = PGRES_POLLING_WRITING;
	sv->connect_started = now_mono();
	logmsg(2, "%sconnecting", sv->label);
}

/* Advance sv's connection being made. */
static void
continue_connect(Server *sv)
{
	sv->connect_wait = PQconnectPoll(sv->conn);
	if (sv->connect_wait == PGRES_POLLING_FAILED)
		connect_failed(sv);
	else if (sv->connect_wait == PGRES_POLLING_OK)
	{
		sv->cstate = C_UP;
		PQsetErrorVerbosity(sv->conn, PQERRORS_DEFAULT);
		PQsetnonblocking(sv->conn, 1);
		if (n_servers == 1)
			logmsg(1, "connected to database \"%s\" as %s; listening on ws_ready for %s",
				   PQdb(sv->conn), PQuser(sv->conn), actions_literal);
		else
			logmsg(1, "%sconnected to database \"%s\" on %s port %s as %s; listening on ws_ready for %s",
				   sv->label, PQdb(sv->conn), PQhost(sv->conn), PQport(sv->conn), PQuser(sv->conn),
				   actions_literal);
		op_push_front(sv, op_new(OP_LISTEN, 0, 0, NULL, NULL));
	}
}

/* Send sv's next queued call when nothing is in flight there. */
static void
send_next(Server *sv)
{
	PGconn	   *conn = sv->conn;

	while (sv->cstate == C_UP && sv->inflight == NULL && sv->qhead)
	{
		Op		   *op = op_pop(sv);
		char		a[32],
					b[32],
					c[32];
		const char *pv[4];
		int			ok = 0;

		snprintf(a, sizeof(a), "%lld", op->task);
		snprintf(c, sizeof(c), "%d", op->attempt);
		switch (op->kind)
		{
			case OP_LISTEN:
				ok = PQsendQuery(conn, "LISTEN ws_ready");
				break;
			case OP_CLAIM:
				if (stopping)
				{
					claim_ended(sv);
					op_free(op);
					continue;
				}
				snprintf(a, sizeof(a), "%d", op->attempt);	/* the slots it reserved */
				snprintf(b, sizeof(b), "%.3f", lease);
				pv[0] = actions_literal;
				pv[1] = worker_name;
				pv[2] = a;
				pv[3] = b;
				ok = PQsendQueryParams(conn,
									   "SELECT task, process, node, action, params, attempt, lease_until "
									   "FROM ws.claim($1::text[], $2, $3, make_interval(secs => $4))",
									   4, NULL, pv, NULL, NULL, 0);
				break;
			case OP_VALIDATE:
				pv[0] = op->text;
				ok = PQsendQueryParams(conn, "SELECT jsonb_typeof($1::jsonb)", 1, NULL, pv, NULL, NULL, 0);
				break;
			case OP_COMPLETE:
				pv[0] = a;
				pv[1] = op->text;
				pv[2] = c;
				ok = PQsendQueryParams(conn, "SELECT ws.complete($1::bigint, $2::jsonb, $3::integer)",
									   3, NULL, pv, NULL, NULL, 0);
				break;
			case OP_FAIL:
				pv[0] = a;
				pv[1] = op->text;
				pv[2] = c;
				ok = PQsendQueryParams(conn, "SELECT ws.fail($1::bigint, $2::text, $3::integer)",
									   3, NULL, pv, NULL, NULL, 0);
				break;
			case OP_HEARTBEAT:
				snprintf(b, sizeof(b), "%.3f", lease);
				pv[0] = a;
				pv[1] = b;
				pv[2] = c;
				ok = PQsendQueryParams(conn,
									   "SELECT ws.heartbeat($1::bigint, make_interval(secs => $2::float8), $3::integer)",
									   3, NULL, pv, NULL, NULL, 0);
				break;
			case OP_PROGRESS:
				pv[0] = a;
				pv[1] = op->text;
				ok = PQsendQueryParams(conn, "SELECT ws.progress($1::bigint, $2::numeric)",
									   2, NULL, pv, NULL, NULL, 0);
				break;
		}
		op->tries++;
		sv->inflight = op;
		sv->inflight_since = now_mono();
		if (!ok)
		{
			lost_connection(sv, PQerrorMessage(conn));
			return;
		}
		if (op->kind == OP_HEARTBEAT || op->kind == OP_PROGRESS)
			logmsg(2, "%s task %lld attempt %d%s%s", op_names[op->kind], op->task, op->attempt,
				   op->kind == OP_PROGRESS ? " " : "", op->kind == OP_PROGRESS ? op->text : "");
		sv->want_flush = PQflush(conn) == 1;
	}
}

/* The slot running task at attempt, claimed from sv, or NULL. */
static Slot *
find_slot(Server *sv, long long task, int attempt)
{
	int			i;

	for (i = 0; i < concurrency; i++)
		if (slots[i].used && slots[i].server == sv && slots[i].task == task &&
			slots[i].attempt == attempt)
			return &slots[i];
	return NULL;
}

/* Is this error the connection of sv going away (rather than the call being refused)? */
static bool
is_connection_error(Server *sv, PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return PQstatus(sv->conn) == CONNECTION_BAD || state == NULL ||
		strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0;
}

/* Is this error worth sending the call again for? */
static bool
is_transient_error(PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	return state && (strncmp(state, "40", 2) == 0 || strncmp(state, "53", 2) == 0 ||
					 strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0);
}

/* The primary message of an error, with its detail, on one line (malloc'd). */
static char *
error_text(PGresult *res)
{
	const char *m = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	const char *d = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	char	   *s;

	if (m == NULL)
		m = PQresultErrorMessage(res);
	s = xprintf("%s%s%s (SQLSTATE %s)", m, d ? ": " : "", d ? d : "", st ? st : "none");
	return s;
}

/* LISTEN ws_ready answered: claiming may begin, with notifications or by polling only. */
static void
listen_done(Server *sv, bool ok, const char *err)
{
	if (!ok)
		logmsg(0, "%sLISTEN ws_ready failed: %s; polling every %g s only", sv->label, err, poll_every);
	sv->listening = true;
	sv->backoff = BACKOFF_MIN;
	sv->want_claim = true;
}

/* ws.claim answered: start the tasks it took, or stop if retrying cannot fix its error. */
static void
claim_done(Server *sv, Op *op, PGresult *res, bool ok, char *err)
{
	int			i,
				n;

	claim_ended(sv);
	if (!ok)
	{
		char	   *advice = fatal_advice(sv, false, PQresultErrorField(res, PG_DIAG_SQLSTATE),
										  PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));

		if (advice)
			stop_fatal(sv, err, advice);	/* frees err, and exits */
		logmsg(0, "%sws.claim failed: %s; trying again in %g s", sv->label, err, poll_every);
		sv->want_claim = false;
		return;
	}
	n = PQntuples(res);
	logmsg(2, "%sclaimed %d of %d", sv->label, n, op->attempt);
	for (i = 0; i < n; i++)
		start_task(sv, strtoll(PQgetvalue(res, i, 0), NULL, 10),
				   strtoll(PQgetvalue(res, i, 1), NULL, 10),
				   PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
				   PQgetvalue(res, i, 4), atoi(PQgetvalue(res, i, 5)));
	sv->maybe_more = n >= op->attempt;
	if (sv->maybe_more)
		sv->want_claim = true;	/* there may be more */
}

/* The server's verdict on a command's output: complete with a JSON object, else fail. */
static void
validate_done(Server *sv, Op *op, PGresult *res, bool ok, const char *err)
{
	if (!ok)
	{
		char	   *head = excerpt(op->text, 200);
		char	   *e = xprintf("command output is not valid JSON (%s); it begins: %s", err, head);

		report_fail(sv, op->task, op->attempt, op->desc, e);
		free(head);
		free(e);
	}
	else if (strcmp(PQgetvalue(res, 0, 0), "object") != 0)
	{
		char	   *head = excerpt(op->text, 200);
		char	   *e = xprintf("command output is a JSON %s, not an object: %s",
								PQgetvalue(res, 0, 0), head);

		report_fail(sv, op->task, op->attempt, op->desc, e);
		free(head);
		free(e);
	}
	else
	{
		log_task(op->desc, "succeeded");
		op_push(sv, op_new(OP_COMPLETE, op->task, op->attempt, op->text, op->desc));
	}
}

/* ws.complete answered: a result the engine refused fails the task; a stale one is dropped. */
static void
complete_done(Server *sv, Op *op, PGresult *res, bool ok, const char *err)
{
	const char *state;

	if (ok)
	{
		logmsg(2, "ws.complete task %lld attempt %d: done", op->task, op->attempt);
		return;
	}
	state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (state && strcmp(state, "55000") != 0 && strcmp(state, "42704") != 0 &&
		strcmp(state, "42501") != 0)
	{
		/* the engine refused the result itself: the task fails with why */
		char	   *e = xprintf("ws.complete refused the command's result: %s", err);

		logmsg(0, "ws.complete of task %lld attempt %d refused: %s; failing the task",
			   op->task, op->attempt, err);
		op_push(sv, op_new(OP_FAIL, op->task, op->attempt, e, op->desc));
		free(e);
	}
	else
		logmsg(0, "ws.complete of task %lld attempt %d refused, task dropped: %s",
			   op->task, op->attempt, err);
}

/* ws.heartbeat answered: a refusal means the lease is lost, so the command is stopped. */
static void
heartbeat_done(Server *sv, Op *op, bool ok, const char *err)
{
	Slot	   *s = find_slot(sv, op->task, op->attempt);

	if (s)
		s->beat_queued = false;
	if (ok)
		return;
	logmsg(0, "ws.heartbeat of task %lld attempt %d refused: %s", op->task, op->attempt, err);
	if (s && s->killed == KILL_NONE)
	{
		s->killed = KILL_LEASE;
		s->hard_kill_at = now_mono() + HARD_KILL_AFTER;
		kill_slot(s, SIGTERM);
	}
}

/* Handle the result of sv's call in flight. */
static void
call_done(Server *sv, Op *op, PGresult *res)
{
	ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	bool		ok = st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK;
	char	   *err = NULL;

	if (!ok)
	{
		if (res == NULL || is_connection_error(sv, res))
		{
			/* put it back; lost_connection requeues the call in flight */
			lost_connection(sv, res ? PQresultErrorMessage(res) : PQerrorMessage(sv->conn));
			return;
		}
		if (is_transient_error(res) && op->tries < MAX_TRIES)
		{
			err = error_text(res);
			logmsg(1, "%s for task %lld: %s; trying again", op_names[op->kind], op->task, err);
			free(err);
			sv->inflight = NULL;
			op_push(sv, op);
			return;
		}
		err = error_text(res);
	}
	sv->inflight = NULL;

	switch (op->kind)
	{
		case OP_LISTEN:
			listen_done(sv, ok, err);
			break;
		case OP_CLAIM:
			claim_done(sv, op, res, ok, err);
			break;
		case OP_VALIDATE:
			validate_done(sv, op, res, ok, err);
			break;
		case OP_COMPLETE:
			complete_done(sv, op, res, ok, err);
			break;
		case OP_FAIL:
			if (ok)
				logmsg(2, "ws.fail task %lld attempt %d: done", op->task, op->attempt);
			else
				logmsg(0, "ws.fail of task %lld attempt %d refused, task dropped: %s",
					   op->task, op->attempt, err);
			break;
		case OP_HEARTBEAT:
			heartbeat_done(sv, op, ok, err);
			break;
		case OP_PROGRESS:
			if (!ok)
				logmsg(1, "ws.progress of task %lld refused: %s", op->task, err);
			break;
	}
	free(err);
	op_free(op);
}

/* Read what sv sent: results and notifications. */
static void
read_connection(Server *sv)
{
	PGnotify   *n;

	if (!PQconsumeInput(sv->conn))
	{
		lost_connection(sv, PQerrorMessage(sv->conn));
		return;
	}
	while (sv->inflight && !PQisBusy(sv->conn))
	{
		PGresult   *res = PQgetResult(sv->conn);

		if (res == NULL)
		{
			Op		   *op = sv->inflight;
			PGresult   *r = sv->inflight_res;

			sv->inflight_res = NULL;
			call_done(sv, op, r);
			if (r)
				PQclear(r);
			if (sv->cstate != C_UP)
				return;
			send_next(sv);
			if (sv->cstate != C_UP)
				return;
			continue;
		}
		if (sv->inflight_res)
			PQclear(sv->inflight_res);
		sv->inflight_res = res;
	}
	while ((n = PQnotifies(sv->conn)) != NULL)
	{
		int			i;

		for (i = 0; i < n_actions; i++)
			if (strcmp(n->extra, actions[i]) == 0)
			{
				logmsg(2, "%snotified: %s", sv->label, n->extra);
				sv->want_claim = true;
			}
		PQfreemem(n);
	}
	if (PQstatus(sv->conn) == CONNECTION_BAD)
		lost_connection(sv, PQerrorMessage(sv->conn));
}

/*
 * Main
 */

/* Print the help text to f. */
static void
usage(FILE *f)
{
	fprintf(f,
			"ws-worker runs a command for every ws task of the actions it subscribes to.\n"
			"\n"
			"Usage:\n"
			"  ws-worker [OPTION]... --action NAME [--action NAME]... -- COMMAND [ARGS]...\n"
			"\n"
			"Options:\n"
			"  --dsn DSN          libpq connection string or URI (default: the PG* environment);\n"
			"                     repeat for more databases (shards): tasks are claimed from all\n"
			"  --action NAME      an action to take tasks of; repeat for more\n"
			"  --concurrency N    commands run at once (default 1)\n"
			"  --lease SECONDS    lease of a claimed task; renewed every third of it (default 60)\n"
			"  --name WORKER      worker name recorded with each claim (default host:pid)\n"
			"  --poll SECONDS     claim at least this often without notifications (default 5)\n"
			"  --grace SECONDS    on SIGTERM/SIGINT, wait this long for running commands (default 30)\n"
			"  --quiet            log errors only\n"
			"  --verbose          log every call and notification too\n"
			"  --help             show this help and exit\n"
			"\n"
			"For each task, COMMAND gets the task's effective params as JSON on standard input and\n"
			"WS_TASK, WS_PROCESS, WS_NODE, WS_ACTION, WS_ATTEMPT (and WS_WORKER) in its environment.\n"
			"Exit status 0 completes the task with the JSON object on standard output (empty output\n"
			"is {}); any other exit, a signal, or output that is not a JSON object fails the task\n"
			"with the end of standard error. Lines \"progress: N\" on standard error report 0..100.\n"
			"One line per task is logged on standard error.\n"
			"\n"
			"A lost connection, a server that is down or starting, too many connections and the\n"
			"like are retried with back-off, each --dsn on its own: the others go on meanwhile.\n"
			"Errors that retrying cannot fix, on any --dsn, stop the worker.\n"
			"\n"
			"Exit status:\n"
			"  0  stopped by SIGTERM/SIGINT with every outcome reported (or --help)\n"
			"  1  stopped with outcomes unreported, or a system error (out of memory, poll)\n"
			"  2  a usage error, or an error retrying cannot fix: authentication failed, no such\n"
			"     database, an invalid connection string, ws not installed or of another version,\n"
			"     the role not granted ws.grant_user\n");
}

/* Parse a positive number of seconds for option opt, or exit. */
static double
seconds_arg(const char *opt, const char *v, double min)
{
	char	   *end;
	double		d = strtod(v, &end);

	if (end == v || *end != '\0' || !(d >= min) || d > 86400 * 365)
	{
		fprintf(stderr, "ws-worker: %s must be a number of seconds of at least %g, not \"%s\"\n",
				opt, min, v);
		exit(2);
	}
	return d;
}

/* The actions as a text[] literal. */
static char *
array_literal(void)
{
	Buf			b = {0};
	int			i;

	buf_append(&b, "{", 1);
	for (i = 0; i < n_actions; i++)
	{
		const char *p;

		if (i)
			buf_append(&b, ",", 1);
		buf_append(&b, "\"", 1);
		for (p = actions[i]; *p; p++)
		{
			if (*p == '"' || *p == '\\')
				buf_append(&b, "\\", 1);
			buf_append(&b, p, 1);
		}
		buf_append(&b, "\"", 1);
	}
	buf_append(&b, "}", 1);
	return b.data;
}

/* The value of option opt (--action, --name), or exit when it is empty. */
static char *
nonempty_arg(const char *opt, char *v)
{
	if (v[0] == '\0')
	{
		fprintf(stderr, "ws-worker: %s must not be empty\n", opt);
		exit(2);
	}
	return v;
}

/* Parse --concurrency (an integer from 1 to 10000), or exit. */
static int
concurrency_arg(const char *v)
{
	char	   *end;
	long		n = strtol(v, &end, 10);

	if (end == v || *end != '\0' || n < 1 || n > 10000)
	{
		fprintf(stderr, "ws-worker: --concurrency must be an integer from 1 to 10000, not \"%s\"\n",
				v);
		exit(2);
	}
	return (int) n;
}

/* The default worker name: "host:pid". */
static char *
default_worker_name(void)
{
	char		host[256];

	if (gethostname(host, sizeof(host)) != 0)
		strcpy(host, "localhost");
	host[sizeof(host) - 1] = '\0';
	return xprintf("%s:%d", host, (int) getpid());
}

/* Exit with a usage error when libpq cannot parse a --dsn, or one is given twice. */
static void
check_dsns(void)
{
	int			i,
				j;

	for (i = 0; i < n_servers; i++)
	{
		const char *dsn = servers[i].dsn;
		char	   *errmsg = NULL;
		PQconninfoOption *o = PQconninfoParse(dsn, &errmsg);

		if (dsn[0] && o == NULL)
		{
			fprintf(stderr, "ws-worker: invalid --dsn: %s", errmsg ? errmsg : "out of memory\n");
			exit(2);
		}
		if (o)
			PQconninfoFree(o);
		if (errmsg)
			PQfreemem(errmsg);
		for (j = 0; j < i; j++)
			if (strcmp(servers[j].dsn, dsn) == 0)
			{
				fprintf(stderr, "ws-worker: --dsn number %d is the same as number %d\n", i + 1, j + 1);
				exit(2);
			}
	}
}

/* One Server for each --dsn (one for the PG* environment when there is none). */
static void
make_servers(char **dsns, int n)
{
	int			i;

	if (n == 0)
		dsns[n++] = "";
	n_servers = n;
	servers = xmalloc(sizeof(Server) * n);
	memset(servers, 0, sizeof(Server) * n);
	for (i = 0; i < n; i++)
	{
		servers[i].dsn = dsns[i];
		servers[i].label = n == 1 ? xstrdup("") : xprintf("dsn %d: ", i + 1);
		servers[i].cstate = C_DOWN;
		servers[i].backoff = BACKOFF_MIN;
		servers[i].want_claim = true;
	}
	free(dsns);
}

/* Read the options and the command into the settings, or exit with status 2 (0 for --help). */
static void
parse_args(int argc, char **argv)
{
	static const struct option opts[] = {
		{"dsn", required_argument, NULL, 'd'},
		{"action", required_argument, NULL, 'a'},
		{"concurrency", required_argument, NULL, 'c'},
		{"lease", required_argument, NULL, 'l'},
		{"name", required_argument, NULL, 'n'},
		{"poll", required_argument, NULL, 'p'},
		{"grace", required_argument, NULL, 'g'},
		{"quiet", no_argument, NULL, 'q'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}
	};
	int			c;
	char	  **dsns = xmalloc(sizeof(char *) * argc);
	int			n_dsns = 0;

	actions = xmalloc(sizeof(char *) * argc);
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1)
	{
		switch (c)
		{
			case 'd':
				dsns[n_dsns++] = optarg;
				break;
			case 'a':
				actions[n_actions++] = nonempty_arg("--action", optarg);
				break;
			case 'c':
				concurrency = concurrency_arg(optarg);
				break;
			case 'l':
				lease = seconds_arg("--lease", optarg, 1);
				break;
			case 'n':
				worker_name = nonempty_arg("--name", optarg);
				break;
			case 'p':
				poll_every = seconds_arg("--poll", optarg, 0.1);
				break;
			case 'g':
				grace = seconds_arg("--grace", optarg, 0);
				break;
			case 'q':
				verbosity = 0;
				break;
			case 'v':
				verbosity = 2;
				break;
			case 'h':
				usage(stdout);
				exit(0);
			default:
				fprintf(stderr, "Try \"ws-worker --help\".\n");
				exit(2);
		}
	}
	if (n_actions == 0)
	{
		fprintf(stderr, "ws-worker: at least one --action is needed\nTry \"ws-worker --help\".\n");
		exit(2);
	}
	if (optind >= argc)
	{
		fprintf(stderr, "ws-worker: no command given after --\nTry \"ws-worker --help\".\n");
		exit(2);
	}
	command = argv + optind;
	if (worker_name == NULL)
		worker_name = default_worker_name();
	actions_literal = array_literal();
	make_servers(dsns, n_dsns);
	check_dsns();
}

/* On SIGTERM/SIGINT: stop claiming, then after the grace period stop the commands. */
static void
shutdown_step(double now)
{
	int			i;

	if (got_stop && !stopping)
	{
		stopping = true;
		stop_deadline = now + grace;
		for (i = 0; i < n_servers; i++)
			servers[i].want_claim = false;
		logmsg(1, "stopping: no more claims; waiting up to %g s for %d running command%s",
			   grace, used_slots, used_slots == 1 ? "" : "s");
	}
	if (!stopping)
		return;
	if (got_stop > 1 && stop_deadline > now)
	{
		logmsg(1, "second signal: stopping the running commands now");
		stop_deadline = now;
	}
	for (i = 0; i < concurrency; i++)
	{
		Slot	   *s = &slots[i];

		if (!s->used || s->pid == 0)
			continue;
		if (now >= stop_deadline && s->killed == KILL_NONE)
		{
			s->killed = KILL_SHUTDOWN;
			s->hard_kill_at = now + HARD_KILL_AFTER;
			kill_slot(s, SIGTERM);
		}
	}
	if (used_slots > 0)
		idle_since = 0;
	else
	{
		int			unsent = 0;
		bool		sending = false;	/* a server with calls left is up */

		if (idle_since == 0)
			idle_since = now;
		for (i = 0; i < n_servers; i++)
		{
			Server	   *sv = &servers[i];
			int			n = sv->inflight ? 1 : 0;
			Op		   *op;

			for (op = sv->qhead; op; op = op->next)
				n++;
			unsent += n;
			if (n > 0 && sv->cstate == C_UP)
				sending = true;
		}
		if (unsent == 0)
		{
			logmsg(1, "stopped");
			for (i = 0; i < n_servers; i++)
				if (servers[i].conn)
					PQfinish(servers[i].conn);
			exit(0);
		}
		if (now - idle_since > FLUSH_TIMEOUT && !sending)
		{
			logmsg(0, "stopped with %d call%s unsent; the leases of their tasks will end", unsent,
				   unsent == 1 ? "" : "s");
			exit(1);
		}
	}
}

/* What a descriptor in the poll set is. */
typedef enum
{
	PFD_SIGNALS, PFD_CONNECTION, PFD_STDIN, PFD_STDOUT, PFD_STDERR
} PollKind;

/* The descriptors one poll() waits on, with the kind and the slot or server of each. */
typedef struct PollSet
{
	struct pollfd *fds;
	Slot	  **slot;
	Server	  **server;
	PollKind   *kind;
	int			n;
} PollSet;

/* Seconds a call may stay unanswered before the connection is given up. */
static double
call_timeout(void)
{
	return lease > CALL_TIMEOUT_MIN ? lease : CALL_TIMEOUT_MIN;
}

/* Allocate the slots and the poll set, catch the signals and log the start. */
static void
start_up(PollSet *ps)
{
	int			n = 1 + n_servers + 3 * concurrency;

	slots = xmalloc(sizeof(Slot) * concurrency);
	memset(slots, 0, sizeof(Slot) * concurrency);
	ps->fds = xmalloc(sizeof(struct pollfd) * n);
	ps->slot = xmalloc(sizeof(Slot *) * n);
	ps->server = xmalloc(sizeof(Server *) * n);
	ps->kind = xmalloc(sizeof(PollKind) * n);
	setup_signals();
	if (n_servers == 1)
		logmsg(1, "starting: actions %s, concurrency %d, lease %g s, command %s", actions_literal,
			   concurrency, lease, command[0]);
	else
		logmsg(1, "starting: actions %s, concurrency %d, lease %g s, command %s, %d databases",
			   actions_literal, concurrency, lease, command[0], n_servers);
	next_poll = now_mono() + poll_every;
}

/* Connect sv when it is time, and give up a connection that hangs while connecting or in a call. */
static void
tend_connection(Server *sv, double now)
{
	if (sv->cstate == C_DOWN && now >= sv->reconnect_at)
		start_connect(sv);
	if (sv->cstate == C_CONNECTING && now - sv->connect_started > CONNECT_TIMEOUT)
		lost_connection(sv, "timed out connecting");
	if (sv->cstate == C_UP && sv->inflight && now - sv->inflight_since > call_timeout())
		lost_connection(sv, "no answer from the server");
}

/* The timers of slot i: heartbeat, hard kill, pipes held open after exit; finish it when done. */
static void
slot_timers(Slot *s, int i, double now)
{
	if (s->pid > 0 && now >= s->next_beat)
	{
		if (!s->beat_queued && s->server->cstate == C_UP && s->killed != KILL_LEASE)
		{
			Op		   *op = op_new(OP_HEARTBEAT, s->task, s->attempt, NULL, NULL);

			op->slot = i;
			op_push(s->server, op);
			s->beat_queued = true;
		}
		s->next_beat = now + lease / 3;
	}
	if (s->killed != KILL_NONE && s->pid > 0 && now >= s->hard_kill_at)
	{
		kill_slot(s, SIGKILL);
		s->hard_kill_at = now + HARD_KILL_AFTER;
	}
	if (s->pid == 0 && (s->out_fd >= 0 || s->err_fd >= 0) && now - s->exited_at > PIPE_LINGER)
	{
		/* something the command started still holds its pipes: stop waiting */
		if (s->out_fd >= 0)
			read_child(s, &s->out_fd, false);
		if (s->err_fd >= 0)
			read_child(s, &s->err_fd, true);
		close_fd(&s->out_fd);
		close_fd(&s->err_fd);
	}
	if (s->pid == 0 && s->out_fd < 0 && s->err_fd < 0)
		finish(s);
}

/* The timers: every slot's, then the poll timer that asks every server for a claim. */
static void
run_timers(double now)
{
	int			i;

	for (i = 0; i < concurrency; i++)
		if (slots[i].used)
			slot_timers(&slots[i], i, now);
	if (now >= next_poll)
	{
		for (i = 0; i < n_servers; i++)
			servers[i].want_claim = true;
		next_poll = now + poll_every;
	}
}

/* Is a claim from sv wanted and is there room for it? */
static bool
claim_due(Server *sv)
{
	return sv->want_claim && sv->listening && !stopping && !sv->claim_outstanding &&
		free_slots() > 0;
}

/* Is a claim from any server due? */
static bool
any_claim_due(void)
{
	int			i;

	for (i = 0; i < n_servers; i++)
		if (claim_due(&servers[i]))
			return true;
	return false;
}

/*
 * Queue the claims that are due, taking the servers in turn from claim_turn: each reserves
 * its share of the free slots (the free slots divided by the servers that want a claim,
 * rounded up), until no slot is free or no claim is due.
 */
static void
queue_claims(void)
{
	for (;;)
	{
		int			free = free_slots(),
					due = 0,
					pick = -1,
					i;
		Server	   *sv;
		Op		   *op;

		for (i = 0; i < n_servers; i++)
		{
			int			k = (claim_turn + i) % n_servers;

			if (claim_due(&servers[k]))
			{
				due++;
				if (pick < 0)
					pick = k;
			}
		}
		if (pick < 0 || free <= 0)
			return;
		sv = &servers[pick];
		op = op_new(OP_CLAIM, 0, 0, NULL, NULL);
		op->attempt = (free + due - 1) / due;	/* how many it asks for */
		sv->claim_asked = op->attempt;
		sv->claim_outstanding = true;
		sv->want_claim = false;
		op_push(sv, op);
		claim_turn = (pick + 1) % n_servers;
	}
}

/* The next time a timer is due: polling, connecting, a call, shutdown, or a slot's timers. */
static double
next_wake(double now)
{
	double		wake = next_poll;
	int			i;

	for (i = 0; i < n_servers; i++)
	{
		Server	   *sv = &servers[i];

		if (sv->cstate == C_DOWN && sv->reconnect_at < wake)
			wake = sv->reconnect_at;
		if (sv->cstate == C_CONNECTING && sv->connect_started + CONNECT_TIMEOUT < wake)
			wake = sv->connect_started + CONNECT_TIMEOUT;
		if (sv->cstate == C_UP && sv->inflight && sv->inflight_since + call_timeout() < wake)
			wake = sv->inflight_since + call_timeout();
	}
	if (stopping && stop_deadline > now && stop_deadline < wake)
		wake = stop_deadline;
	if (stopping && used_slots == 0)
		wake = now + 0.5 < wake ? now + 0.5 : wake;
	for (i = 0; i < concurrency; i++)
	{
		Slot	   *s = &slots[i];

		if (!s->used)
			continue;
		if (s->pid > 0 && s->next_beat < wake)
			wake = s->next_beat;
		if (s->killed != KILL_NONE && s->pid > 0 && s->hard_kill_at < wake)
			wake = s->hard_kill_at;
		if (s->pid == 0 && s->exited_at + PIPE_LINGER + 0.01 < wake)
			wake = s->exited_at + PIPE_LINGER + 0.01;
	}
	return wake;
}

/* Add descriptor fd, waited on for events, to the poll set. */
static void
poll_add(PollSet *ps, int fd, short events, PollKind kind, Slot *s, Server *sv)
{
	ps->fds[ps->n].fd = fd;
	ps->fds[ps->n].events = events;
	ps->slot[ps->n] = s;
	ps->server[ps->n] = sv;
	ps->kind[ps->n++] = kind;
}

/* Fill the poll set: the signal pipe, every connection, and the pipes of every command. */
static void
build_poll_set(PollSet *ps)
{
	int			i;

	ps->n = 0;
	poll_add(ps, sigpipe_fds[0], POLLIN, PFD_SIGNALS, NULL, NULL);
	for (i = 0; i < n_servers; i++)
	{
		Server	   *sv = &servers[i];
		short		events;

		if (sv->cstate == C_DOWN || PQsocket(sv->conn) < 0)
			continue;
		if (sv->cstate == C_CONNECTING)
			events = sv->connect_wait == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		else
			events = POLLIN | (sv->want_flush ? POLLOUT : 0);
		poll_add(ps, PQsocket(sv->conn), events, PFD_CONNECTION, NULL, sv);
	}
	for (i = 0; i < concurrency; i++)
	{
		Slot	   *s = &slots[i];

		if (!s->used)
			continue;
		if (s->in_fd >= 0)
			poll_add(ps, s->in_fd, POLLOUT, PFD_STDIN, s, NULL);
		if (s->out_fd >= 0)
			poll_add(ps, s->out_fd, POLLIN, PFD_STDOUT, s, NULL);
		if (s->err_fd >= 0)
			poll_add(ps, s->err_fd, POLLIN, PFD_STDERR, s, NULL);
	}
}

/* Wait in poll() until a descriptor is ready or wake (at once when a claim is due). */
static void
wait_for_events(PollSet *ps, double now, double wake)
{
	int			timeout;

	build_poll_set(ps);
	timeout = wake <= now ? 0 : (int) ((wake - now) * 1000) + 1;
	if (any_claim_due())
		timeout = 0;
	if (poll(ps->fds, ps->n, timeout) < 0 && errno != EINTR)
	{
		perror("ws-worker: poll");
		exit(1);
	}
}

/* Empty the self-pipe the signal handlers write to. */
static void
drain_signal_pipe(void)
{
	char		buf[256];

	while (read(sigpipe_fds[0], buf, sizeof(buf)) > 0)
		;
}

/* sv's socket is ready (revents re): advance connecting, or flush and read. */
static void
connection_ready(Server *sv, short re)
{
	if (sv->cstate == C_CONNECTING)
		continue_connect(sv);
	else if (sv->cstate == C_UP)
	{
		if (re & POLLOUT)
			sv->want_flush = PQflush(sv->conn) == 1;
		if (sv->cstate == C_UP)
			read_connection(sv);
	}
}

/* Act on every descriptor poll() found ready. */
static void
act_on_events(PollSet *ps)
{
	int			i;

	for (i = 0; i < ps->n; i++)
	{
		short		re = ps->fds[i].revents;
		Slot	   *s = ps->slot[i];

		if (re == 0)
			continue;
		switch (ps->kind[i])
		{
			case PFD_SIGNALS:
				drain_signal_pipe();
				break;
			case PFD_CONNECTION:
				connection_ready(ps->server[i], re);
				break;
			case PFD_STDIN:
				if (s->in_fd >= 0)
					write_child(s);
				break;
			case PFD_STDOUT:
				if (s->out_fd >= 0)
					read_child(s, &s->out_fd, false);
				break;
			case PFD_STDERR:
				if (s->err_fd >= 0)
					read_child(s, &s->err_fd, true);
				break;
		}
	}
}

/* Parse the options, then run the event loop until shutdown_step or an error exits. */
int
main(int argc, char **argv)
{
	PollSet		ps;

	parse_args(argc, argv);
	setvbuf(stderr, NULL, _IOLBF, 0);
	start_up(&ps);

	for (;;)
	{
		double		now = now_mono();
		int			i;

		for (i = 0; i < n_servers; i++)
			tend_connection(&servers[i], now);
		run_timers(now);
		shutdown_step(now);
		queue_claims();
		for (i = 0; i < n_servers; i++)
			send_next(&servers[i]);
		wait_for_events(&ps, now, next_wake(now));
		act_on_events(&ps);
		reap();
	}
}
