# ws: PGXS build. `make && make install`, then `make installcheck` against a running
# server, or `test/run` for the whole suite on a throwaway cluster.
EXTENSION = ws
EXTVERSION = 0.1.0
MODULE_big = ws
OBJS = src/ws.o src/access.o src/graph.o src/engine.o src/claim.o src/history.o
DATA_built = sql/ws--$(EXTVERSION).sql
PG_CPPFLAGS = -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare

REGRESS = definitions sequential conference joins errors
REGRESS_OPTS = --load-extension=ws
ISOLATION = and_join or_join xor_join claim complete_cancel claim_cancel complete_twice notify tick_tick complete_lease fill_cancel retry_complete
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=ws

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# the install script is built from its parts, in name order
sql/ws--$(EXTVERSION).sql: $(sort $(wildcard sql/parts/*.sql))
	cat $^ > $@

# ---- ws-worker (issue 5): the worker client, a libpq program (worker/ws-worker.c) built with
# the extension and installed beside PostgreSQL's binaries. ----
WS_WORKER = worker/ws-worker
all: $(WS_WORKER)
$(WS_WORKER): worker/ws-worker.c
	$(CC) -std=gnu99 -O2 -g -Wall -Wextra -Werror -I$(shell $(PG_CONFIG) --includedir) \
		-o $@ $< -L$(shell $(PG_CONFIG) --libdir) -lpq
install: install-ws-worker
install-ws-worker: $(WS_WORKER)
	$(MKDIR_P) '$(DESTDIR)$(bindir)'
	$(INSTALL_PROGRAM) $(WS_WORKER) '$(DESTDIR)$(bindir)/ws-worker'
uninstall: uninstall-ws-worker
uninstall-ws-worker:
	rm -f '$(DESTDIR)$(bindir)/ws-worker'
.PHONY: install-ws-worker uninstall-ws-worker
EXTRA_CLEAN += $(WS_WORKER)
# ---- end ws-worker ----
