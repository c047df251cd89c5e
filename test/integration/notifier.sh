#!/usr/bin/env bash
# test/integration/notifier.sh: notifications sent after commit by the ws notifier
# (notifier.py) in a database of its own. Needs PGHOST/PGPORT/PGUSER of a cluster with ws
# in shared_preload_libraries (test/run provides one).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/lib/common.sh"
ws_scratch_db notifier
/usr/bin/python3 "$here/notifier.py"
