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
ISOLATION = and_join or_join xor_join claim complete_cancel claim_cancel complete_twice notify
ISOLATION_OPTS = --inputdir=test/isolation --load-extension=ws

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# the install script is built from its parts, in name order
sql/ws--$(EXTVERSION).sql: $(sort $(wildcard sql/parts/*.sql))
	cat $^ > $@
