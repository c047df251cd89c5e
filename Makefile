# ws: PGXS build. `make && make install`, then `make installcheck` against a running
# server, or `test/run` for the whole suite on a throwaway cluster.
EXTENSION = ws
EXTVERSION = 0.4.0
MODULE_big = ws
OBJS = src/ws.o src/access.o src/store.o src/store_write.o src/queries.o src/graph.o src/forms.o src/states.o \
       src/step.o src/flush.o src/engine.o src/children.o src/actions.o src/people.o src/timers.o src/batch.o src/calls.o \
       src/claim.o src/keys.o src/messages.o src/notifier.o src/queue.o src/errors.o
DATA_built = sql/ws--$(EXTVERSION).sql
# the install script of the first version (frozen), and the upgrade scripts from it on;
# an older version installs through them (CREATE EXTENSION ws VERSION '0.2.0')
DATA = sql/ws--0.1.0.sql sql/ws--0.1.0--0.2.0.sql sql/ws--0.2.0--0.3.0.sql \
       sql/ws--0.3.0--0.4.0.sql ws--0.1.0.control ws--0.2.0.control ws--0.3.0.control
PG_CPPFLAGS = -DWS_VERSION='"$(EXTVERSION)"' -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers -Wno-sign-compare

REGRESS = definitions sequential conference joins errors dot forms validation readonly store messages deadlines compositions_defs compositions sql_actions retention keys stats bpmn shards migrate
REGRESS_OPTS = --inputdir=test/regress --load-extension=ws
ISOLATION = and_join or_join xor_join claim complete_cancel claim_cancel complete_twice notify tick_tick complete_lease fill_cancel retry_complete batch_batch claim_role complete_rr start_delete take_complete heartbeat_complete fail_claim send_send deadline_complete call_cancel call_call call_deadline action_cancel start_key purge_retry migrate_complete heartbeat_tick
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=ws

# WS_ASSERTS=1 (test/run builds so) compiles ws's Assert()s in, also for a server built
# without assertions (the extension's own checks only; nothing else changes)
WS_ASSERTS ?= 0
ifeq ($(WS_ASSERTS),1)
PG_CPPFLAGS += -DUSE_ASSERT_CHECKING
endif

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# the version is compiled in (-DWS_VERSION), and WS_ASSERTS: objects follow the Makefile
# and the last build's flags; and the headers (PGXS tracks them only with --enable-depend:
# an object built against an older struct layout crashes the server)
src/build-flags: FORCE
	@echo 'WS_ASSERTS=$(WS_ASSERTS)' | cmp -s - $@ || echo 'WS_ASSERTS=$(WS_ASSERTS)' > $@
FORCE:
$(OBJS) src/dot/ws_dot.o src/dot/ws_layout.o: Makefile src/build-flags $(wildcard src/*.h)
.PHONY: FORCE

# the install script is built from its parts, in name order
sql/ws--$(EXTVERSION).sql: $(sort $(wildcard sql/parts/*.sql))
	cat $^ > $@

# ---- ws-worker: the worker client, a libpq program (worker/ws-worker.c) built with
# the extension and installed beside PostgreSQL's binaries (pg_config --bindir), with a symbolic
# link to it in WS_WORKER_LINKDIR to put it on the PATH (make install WS_WORKER_LINKDIR= skips
# the link). The link is not made over a file that is not a link, and uninstall removes it
# only while it points to our binary. ----
WS_WORKER = worker/ws-worker
WS_WORKER_LINKDIR ?= /usr/local/bin
WS_WORKER_LINK = $(DESTDIR)$(WS_WORKER_LINKDIR)/ws-worker
all: $(WS_WORKER)
$(WS_WORKER): worker/ws-worker.c
	$(CC) -std=gnu99 -O2 -g -Wall -Wextra -Werror -I$(shell $(PG_CONFIG) --includedir) \
		-o $@ $< -L$(shell $(PG_CONFIG) --libdir) -lpq
install: install-ws-worker
install-ws-worker: $(WS_WORKER)
	$(MKDIR_P) '$(DESTDIR)$(bindir)'
	$(INSTALL_PROGRAM) $(WS_WORKER) '$(DESTDIR)$(bindir)/ws-worker'
ifneq ($(strip $(WS_WORKER_LINKDIR)),)
ifneq ($(abspath $(WS_WORKER_LINKDIR)),$(abspath $(bindir)))
	@if [ -e '$(WS_WORKER_LINK)' ] && [ ! -L '$(WS_WORKER_LINK)' ]; then \
		echo "ws-worker: $(WS_WORKER_LINK) exists and is not a symbolic link: remove it, or skip the link with make install WS_WORKER_LINKDIR=" >&2; \
		exit 1; \
	fi
	$(MKDIR_P) '$(DESTDIR)$(WS_WORKER_LINKDIR)'
	ln -sfn '$(bindir)/ws-worker' '$(WS_WORKER_LINK)'
endif
endif
uninstall: uninstall-ws-worker
uninstall-ws-worker:
	rm -f '$(DESTDIR)$(bindir)/ws-worker'
ifneq ($(strip $(WS_WORKER_LINKDIR)),)
	@if [ -L '$(WS_WORKER_LINK)' ] && [ "$$(readlink '$(WS_WORKER_LINK)')" = '$(bindir)/ws-worker' ]; then \
		echo "rm -f '$(WS_WORKER_LINK)'"; rm -f '$(WS_WORKER_LINK)'; \
	fi
endif
# (not EXTRA_CLEAN: PGXS tests it with ifdef when included, before this block)
clean: clean-ws-worker
clean-ws-worker:
	rm -f $(WS_WORKER)
.PHONY: install-ws-worker uninstall-ws-worker clean-ws-worker
# ---- end ws-worker ----

# ---- ws_dot -----------------------------------------------------------------------------
# ws.define_dot lives in its own library, ws_dot (src/dot/ws_dot.c), linked with Graphviz's
# libcgraph (Debian: libgraphviz-dev), so the engine library ws never loads Graphviz.
# ws.to_bpmn's diagram is laid out there too (src/dot/ws_layout.c), with libgvc's dot layout.
WS_DOT_CFLAGS := $(shell pkg-config --cflags libgvc 2>/dev/null || echo -I/usr/include/graphviz)
WS_DOT_LIBS := $(shell pkg-config --libs libgvc 2>/dev/null || echo -lgvc -lcgraph -lcdt)
WS_DOT_OBJS = src/dot/ws_dot.o src/dot/ws_layout.o

$(WS_DOT_OBJS): override CPPFLAGS += $(WS_DOT_CFLAGS)
src/dot/ws_dot$(DLSUFFIX): $(WS_DOT_OBJS)
	$(CC) $(CFLAGS) $(WS_DOT_OBJS) $(LDFLAGS) $(LDFLAGS_SL) -shared -o $@ $(WS_DOT_LIBS)

all: src/dot/ws_dot$(DLSUFFIX)
install: install-ws-dot
install-ws-dot: src/dot/ws_dot$(DLSUFFIX) installdirs
	$(INSTALL_SHLIB) src/dot/ws_dot$(DLSUFFIX) '$(DESTDIR)$(pkglibdir)/ws_dot$(DLSUFFIX)'
uninstall: uninstall-ws-dot
uninstall-ws-dot:
	rm -f '$(DESTDIR)$(pkglibdir)/ws_dot$(DLSUFFIX)'
clean: clean-ws-dot
clean-ws-dot:
	rm -f src/dot/ws_dot.o src/dot/ws_layout.o src/dot/ws_dot$(DLSUFFIX)
.PHONY: install-ws-dot uninstall-ws-dot clean-ws-dot
# ---- end ws_dot --------------------------------------------------------------------------

# ---- test targets: each runs against the server PGHOST/PGPORT/PGUSER name, with ws
# installed (test/run: a throwaway cluster). check-regress and check-isolation are the two
# halves of installcheck; check-pgtap runs test/pgtap/*.sql with pg_prove in a new database
# ws_tap; check-integration runs every test/integration/*.sh (INTEGRATION=... picks some)
# and fails after the last one when any failed.
INTEGRATION ?= $(sort $(wildcard test/integration/*.sh))
WS_TAP_DB = ws_tap

check-regress:
	$(pg_regress_installcheck) $(REGRESS_OPTS) $(REGRESS)

check-isolation:
	$(pg_isolation_regress_installcheck) $(ISOLATION_OPTS) $(ISOLATION)

check-pgtap:
	PATH='$(bindir)':"$$PATH" && \
	PGOPTIONS='-c client_min_messages=warning' dropdb --if-exists '$(WS_TAP_DB)' && createdb '$(WS_TAP_DB)' && \
	psql -X -q -v ON_ERROR_STOP=1 -d '$(WS_TAP_DB)' -c 'CREATE EXTENSION ws' -c 'CREATE EXTENSION pgtap' && \
	pg_prove -d '$(WS_TAP_DB)' $(sort $(wildcard test/pgtap/*.sql))

check-integration:
	@failed=; \
	for t in $(INTEGRATION); do \
		echo "== $$t"; \
		bash "$$t" || { echo "FAILED: $$t"; failed="$$failed $$t"; }; \
	done; \
	if [ -n "$$failed" ]; then echo "integration scripts failed:$$failed"; exit 1; fi

.PHONY: check-regress check-isolation check-pgtap check-integration
# ---- end test targets ----
