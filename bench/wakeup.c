/*
 * bench/wakeup.c: wake-up latency of ws_ready (scenario e of bench/run).
 *
 * Two connections in one program, so both timestamps come from the same clock:
 *   L LISTENs on the channel;
 *   W, per sample, starts a process of workflow "bench.wake" (a -> b), claims its task
 *     "a" (action bench.wake.a), then BEGIN; SELECT ws.complete(a); COMMIT. The clock is
 *     read just before COMMIT is sent; then L waits for the notification
 *     ws_ready 'bench.wake.b' (the child became ready). Latency = arrival - COMMIT sent:
 *     an upper bound of commit-to-wake that includes the commit itself (its WAL flush).
 *     (Read after COMMIT returns, the clock would show ~0: PostgreSQL signals listeners
 *     before it answers the committing client.)
 *     W then claims and completes b, which ends the process.
 * With --bare the same is done with no engine: W runs BEGIN; UPDATE one row;
 * NOTIFY bench_bare, 'x'; COMMIT, and L LISTENs on bench_bare. That is the floor set by
 * PostgreSQL's LISTEN/NOTIFY itself.
 *
 * Usage: wakeup [--bare] [samples]   (connection from PGHOST/PGPORT/PGUSER/PGDATABASE)
 * Prints one line: "<samples> <p50 ms> <p99 ms> <max ms>".
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void
die(PGconn *c, const char *what)
{
	fprintf(stderr, "wakeup: %s: %s", what, c ? PQerrorMessage(c) : "\n");
	exit(1);
}

/* Run sql on c; expect a command or tuples; return the result (caller clears). */
static PGresult *
run(PGconn *c, const char *sql)
{
	PGresult   *r = PQexec(c, sql);
	ExecStatusType s = PQresultStatus(r);

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
	{
		fprintf(stderr, "wakeup: %s\n  %s", sql, PQerrorMessage(c));
		exit(1);
	}
	return r;
}

static void
run0(PGconn *c, const char *sql)
{
	PQclear(run(c, sql));
}

/* Discard every notification already received on L. */
static void
drain(PGconn *l)
{
	PGnotify   *n;

	if (!PQconsumeInput(l))
		die(l, "consume input");
	while ((n = PQnotifies(l)) != NULL)
		PQfreemem(n);
}

/* Wait until L receives channel/payload; return the arrival time, or -1 after 5 s. */
static double
wait_for(PGconn *l, const char *channel, const char *payload)
{
	double		deadline = now_ms() + 5000.0;

	for (;;)
	{
		PGnotify   *n;
		struct pollfd p;
		double		left;

		if (!PQconsumeInput(l))
			die(l, "consume input");
		while ((n = PQnotifies(l)) != NULL)
		{
			int			match = strcmp(n->relname, channel) == 0 &&
				strcmp(n->extra, payload) == 0;

			PQfreemem(n);
			if (match)
				return now_ms();
		}
		left = deadline - now_ms();
		if (left <= 0)
			return -1;
		p.fd = PQsocket(l);
		p.events = POLLIN;
		p.revents = 0;
		if (poll(&p, 1, (int) left + 1) < 0 && errno != EINTR)
		{
			perror("poll");
			exit(1);
		}
	}
}

static int
cmp_double(const void *a, const void *b)
{
	double		x = *(const double *) a,
				y = *(const double *) b;

	return (x > y) - (x < y);
}

int
main(int argc, char **argv)
{
	int			bare = 0;
	int			samples = 500;
	int			warmup = 20;
	int			i,
				got = 0,
				lost = 0;
	double	   *lat;
	PGconn	   *l,
			   *w;

	for (i = 1; i < argc; i++)
	{
		if (strcmp(argv[i], "--bare") == 0)
			bare = 1;
		else
			samples = atoi(argv[i]);
	}
	if (samples < 1)
		samples = 1;
	lat = malloc(sizeof(double) * samples);

	l = PQconnectdb("application_name=wakeup-listener");
	if (PQstatus(l) != CONNECTION_OK)
		die(l, "connect");
	w = PQconnectdb("application_name=wakeup-worker");
	if (PQstatus(w) != CONNECTION_OK)
		die(w, "connect");
	run0(l, bare ? "LISTEN bench_bare" : "LISTEN ws_ready");
	if (bare)
	{
		run0(w, "CREATE TABLE IF NOT EXISTS bench.wake_bare (id int PRIMARY KEY, n bigint NOT NULL)");
		run0(w, "INSERT INTO bench.wake_bare VALUES (1, 0) ON CONFLICT DO NOTHING");
	}

	for (i = 0; i < samples + warmup; i++)
	{
		double		t0,
					t1;

		if (bare)
		{
			drain(l);
			run0(w, "BEGIN");
			run0(w, "UPDATE bench.wake_bare SET n = n + 1 WHERE id = 1");
			run0(w, "NOTIFY bench_bare, 'x'");
			t0 = now_ms();
			run0(w, "COMMIT");
			t1 = wait_for(l, "bench_bare", "x");
		}
		else
		{
			PGresult   *r;
			char		sql[256];

			run0(w, "SELECT ws.start('bench.wake')");
			r = run(w, "SELECT task, attempt FROM ws.claim(ARRAY['bench.wake.a'], 'wakeup', 1)");
			if (PQntuples(r) != 1)
			{
				fprintf(stderr, "wakeup: claimed %d tasks of bench.wake.a, expected 1\n", PQntuples(r));
				exit(1);
			}
			snprintf(sql, sizeof(sql), "SELECT ws.complete(%s, '{}', %s)",
					 PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
			PQclear(r);
			drain(l);			/* the start's bench.wake.a notification */
			run0(w, "BEGIN");
			run0(w, sql);
			t0 = now_ms();
			run0(w, "COMMIT");
			t1 = wait_for(l, "ws_ready", "bench.wake.b");
			/* finish the process: claim and complete b */
			run0(w, "SELECT count(ws.complete(task, '{}', attempt)) "
				 "FROM ws.claim(ARRAY['bench.wake.b'], 'wakeup', 1)");
		}
		if (t1 < 0)
		{
			lost++;
			continue;
		}
		if (i >= warmup)
			lat[got++] = t1 - t0;
	}
	if (lost > 0)
		fprintf(stderr, "wakeup: %d notifications did not arrive within 5 s\n", lost);
	if (got == 0)
	{
		printf("0 0 0 0\n");
		return 1;
	}
	qsort(lat, got, sizeof(double), cmp_double);
	{
		int			i50 = (got - 1) / 2;
		int			i99 = (int) ((got * 99 + 99) / 100) - 1;	/* nearest rank */

		if (i99 >= got)
			i99 = got - 1;
		printf("%d %.3f %.3f %.3f\n", got, lat[i50], lat[i99], lat[got - 1]);
	}
	PQfinish(l);
	PQfinish(w);
	return lost > 0 ? 1 : 0;
}
