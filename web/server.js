// web/server.js: ws's web interface. PostGraphile 5 serves the `ws` schema as GraphQL at
// /graphql; every request runs as the logged-in person's own database role (PostGraphile's
// per-request `role` setting over one authenticator connection, the PostgREST model), so
// ws's grants and role checks decide what anyone may see or do: this server holds no
// permission logic of its own. It only knows who is logged in:
//   POST /login   {user, password}: verified by opening a real PostgreSQL connection as
//                 that role; only roles the authenticator may SET ROLE to can log in
//   POST /logout  ends the session
//   GET  /me      the session's role
//   GET  /events  Server-Sent Events: "change" within a second of any ws event
//                 (LISTEN ws_web, ws_process, ws_ready), so pages refetch without reload
// and the static browser UI in public/. Usage: node server.js --dsn URL [--listen HOST:PORT]
// [--session-seconds N] [--secure-cookie 1] [--hosts HOST:PORT,...] [--export-schema FILE];
// the DSN is the authenticator's; each option can also be WS_WEB_<NAME> in the environment.
import { createServer } from "node:http";
import { readFile } from "node:fs/promises";
import { randomBytes, createHmac, timingSafeEqual } from "node:crypto";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { parse as parseConnectionString } from "pg-connection-string";
import { createRequire } from "node:module";
import { postgraphile } from "postgraphile";
import { PostGraphileAmberPreset } from "postgraphile/presets/amber";
import { makePgService } from "postgraphile/adaptors/pg";
import { grafserv } from "postgraphile/grafserv/node";
import { GraphQLError } from "postgraphile/graphql";

const here = dirname(fileURLToPath(import.meta.url));

// ws is an extension, and PostGraphile 5 drops every table, view and function that belongs
// to an extension when it reads the catalog (pg-introspection's parseIntrospectionResults
// has a flag for keeping them that graphile-build-pg never sets). The views and functions
// of the ws schema are exactly what this interface serves, so keep them: the flag is set
// here, on the module object graphile-build-pg calls through (versions pinned by
// package-lock.json), together with disabling PgRemoveExtensionResourcesPlugin below.
{
    const introspection = createRequire(import.meta.url)("pg-introspection");
    const parse = introspection.parseIntrospectionResults;
    introspection.parseIntrospectionResults = (text) => parse(text, true);
}

// ---- options
function option(name, fallback) {
    const i = process.argv.indexOf(`--${name}`);
    if (i >= 0 && i + 1 < process.argv.length) return process.argv[i + 1];
    return process.env[`WS_WEB_${name.toUpperCase().replace(/-/g, "_")}`] ?? fallback;
}
const dsn = option("dsn");
if (!dsn) {
    console.error("usage: node server.js --dsn postgres://authenticator:password@host/db [--listen 127.0.0.1:8020]");
    process.exit(2);
}
const [listenHost, listenPort] = (() => {
    const l = option("listen", "127.0.0.1:8020");
    const i = l.lastIndexOf(":");
    return [l.slice(0, i), Number(l.slice(i + 1))];
})();
const sessionSeconds = Number(option("session-seconds", 8 * 3600));
const secureCookie = option("secure-cookie", "") === "1";
const dsnConfig = parseDsn(dsn);

// node-postgres's own parser reads the DSN; the login check reuses its host, port, database
function parseDsn(s) {
    const c = parseConnectionString(s);
    return { host: c.host || "/var/run/postgresql", port: Number(c.port || 5432),
             database: c.database || undefined, user: c.user, password: c.password };
}

// ---- the authenticator's pool: PostGraphile's requests, and the two checks of a login
const pool = new pg.Pool({ ...dsnConfig, max: 10, application_name: "ws-web" });
pool.on("error", (e) => console.error("ws web: pool:", e.message));

// ---- sessions: a random id in a signed cookie; the role lives only on the server
const secret = randomBytes(32);
const sessions = new Map(); // id -> {role, expires (ms)}
const sign = (v) => createHmac("sha256", secret).update(v).digest("base64url");

function issueCookie(res, role) {
    const id = randomBytes(24).toString("base64url");
    const expires = Date.now() + sessionSeconds * 1000;
    sessions.set(id, { role, expires });
    const value = `${id}.${expires}`;
    res.setHeader("Set-Cookie", `ws_session=${value}.${sign(value)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${sessionSeconds}${secureCookie ? "; Secure" : ""}`);
}

// The session of a request, or null: the cookie's signature, its expiry and the server's
// own record must all agree.
function sessionOf(req) {
    const m = /(?:^|;\s*)ws_session=([A-Za-z0-9_-]+)\.(\d+)\.([A-Za-z0-9_-]+)/.exec(req.headers.cookie ?? "");
    if (!m) return null;
    const value = `${m[1]}.${m[2]}`;
    const want = Buffer.from(sign(value)), got = Buffer.from(m[3]);
    if (want.length !== got.length || !timingSafeEqual(want, got)) return null;
    const s = sessions.get(m[1]);
    if (!s || s.expires !== Number(m[2]) || s.expires < Date.now()) {
        sessions.delete(m[1]);
        return null;
    }
    return { id: m[1], ...s };
}
setInterval(() => {
    const now = Date.now();
    for (const [id, s] of sessions) if (s.expires < now) sessions.delete(id);
}, 60_000).unref();

// ---- login throttling: after 10 wrong passwords for a name (or from one address), each
// further attempt waits, one second more per failure up to 10 s; a success clears the name
const failures = new Map(); // key -> {count, last}
const failureCount = (k) => {
    const f = failures.get(k);
    if (f && Date.now() - f.last > 15 * 60_000) { failures.delete(k); return 0; }
    return f?.count ?? 0;
};
const noteFailure = (k) => failures.set(k, { count: failureCount(k) + 1, last: Date.now() });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function login(user, password) {
    // only roles the authenticator may switch to: never the authenticator itself
    const { rows } = await pool.query(
        `SELECT r.rolname <> current_user AND pg_has_role(current_user, r.oid, 'MEMBER') AS ok
           FROM pg_roles r WHERE r.rolname = $1`, [user]);
    if (!rows[0]?.ok) return false;
    const c = new pg.Client({ host: dsnConfig.host, port: dsnConfig.port, database: dsnConfig.database,
                              user, password, connectionTimeoutMillis: 5000 });
    try {
        await c.connect();
        await c.end();
        return true;
    } catch (e) {
        c.end().catch(() => {});
        return false;
    }
}

// ---- PostGraphile 5
// The database's own error reaches the browser: message, SQLSTATE, detail, hint.
function maskError(error) {
    const o = error.originalError;
    if (o && typeof o.code === "string" && /^[0-9A-Z]{5}$/.test(o.code)) {
        return new GraphQLError(o.message, {
            nodes: error.nodes, source: error.source, positions: error.positions, path: error.path,
            originalError: o,
            extensions: { code: o.code, detail: o.detail ?? null, hint: o.hint ?? null },
        });
    }
    if (!o || o instanceof GraphQLError) return error;
    console.error("ws web: masked error:", o);
    return new GraphQLError("internal error (see the server's log)", {
        nodes: error.nodes, source: error.source, positions: error.positions, path: error.path,
    });
}

// ws.node's type would be "Node", the name of GraphQL's global object interface
const WsNamesPlugin = {
    name: "WsNamesPlugin",
    version: "0.4.0",
    inflection: {
        replace: {
            tableType(previous, options, codec) {
                const name = previous(codec);
                return name === "Node" ? "WorkflowNode" : name;
            },
        },
    },
};

const preset = {
    extends: [PostGraphileAmberPreset],
    plugins: [WsNamesPlugin],
    // ws is an extension: its views and functions are what this interface serves
    disablePlugins: ["PgRemoveExtensionResourcesPlugin"],
    pgServices: [makePgService({ pool, schemas: ["ws", "ws_web"] })],
    grafserv: { graphiql: false, websockets: false, maskError, graphqlPath: "/graphql" },
    grafast: {
        context(requestContext) {
            const s = requestContext.node?.req?.wsSession;
            // grafserv is only reached with a session (see handle below)
            return { pgSettings: { role: s.role } };
        },
    },
    schema: { exportSchemaSDLPath: option("export-schema", undefined) },
};
const pgl = postgraphile(preset);
const serv = pgl.createServ(grafserv);
const graphqlHandler = serv.createHandler();

// ---- live changes: one LISTEN connection; every page that shows ws data subscribes
const listeners = new Set();
let changePending = null;
function announce() {
    // at most one "change" per 150 ms: a busy step sends many notifications
    if (changePending) return;
    changePending = setTimeout(() => {
        changePending = null;
        for (const res of listeners) res.write("event: change\ndata: {}\n\n");
    }, 150);
}
async function listen() {
    const c = new pg.Client({ ...dsnConfig, application_name: "ws-web listen" });
    c.on("notification", announce);
    c.on("error", () => {});
    c.on("end", () => setTimeout(() => listen().catch(retryListen), 1000));
    await c.connect();
    await c.query("LISTEN ws_web; LISTEN ws_process; LISTEN ws_ready");
    announce();
}
const retryListen = (e) => {
    console.error("ws web: LISTEN:", e.message);
    setTimeout(() => listen().catch(retryListen), 1000);
};
listen().catch(retryListen);

// ---- HTTP
const types = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml" };
const staticFiles = {
    "/viz.js": join(here, "node_modules/@viz-js/viz/dist/viz-global.js"),
    // bpmn-js's navigated viewer (the global BpmnJS) and its styles, as the package ships them
    "/bpmn-viewer.js": join(here, "node_modules/bpmn-js/dist/bpmn-navigated-viewer.production.min.js"),
    "/diagram-js.css": join(here, "node_modules/bpmn-js/dist/assets/diagram-js.css"),
    "/bpmn-js.css": join(here, "node_modules/bpmn-js/dist/assets/bpmn-js.css"),
};
const security = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
};

function send(res, status, body, type = "application/json; charset=utf-8") {
    res.writeHead(status, { "Content-Type": type, "Cache-Control": "no-store", ...security });
    res.end(typeof body === "string" || Buffer.isBuffer(body) ? body : JSON.stringify(body));
}

async function readJson(req, limit = 1_000_000) {
    let size = 0;
    const chunks = [];
    for await (const c of req) {
        size += c.length;
        if (size > limit) throw new Error("request too large");
        chunks.push(c);
    }
    return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
}

// A request that changes something must come from our own pages: its Origin (or Referer)
// must be this server, and it must be JSON (which a cross-site form cannot send without a
// CORS preflight, which is refused).
function sameOrigin(req) {
    const origin = req.headers.origin ?? (req.headers.referer ? new URL(req.headers.referer).origin : null);
    if (!origin || origin === "null") return false;
    try {
        return new URL(origin).host === req.headers.host;
    } catch {
        return false;
    }
}
const isJson = (req) => /^application\/json\b/i.test(req.headers["content-type"] ?? "");

// The names this server answers to: its listen address, localhost for a loopback one, and
// those of --hosts (comma-separated host:port, for a proxy in front). Another Host header is
// a page of another site that had its name resolve to this address (DNS rebinding): refused.
const hosts = new Set([`${listenHost}:${listenPort}`, ...String(option("hosts", "")).split(",").filter(Boolean)]);
if (["127.0.0.1", "::1", "localhost"].includes(listenHost)) {
    for (const h of ["127.0.0.1", "localhost", "[::1]"]) hosts.add(`${h}:${listenPort}`);
}

async function handle(req, res) {
    const url = new URL(req.url, "http://x");
    const path = url.pathname;
    if (!hosts.has(String(req.headers.host ?? "").toLowerCase())) {
        return send(res, 421, { error: "this server does not answer to that host name" });
    }
    if (req.method === "POST" && (!sameOrigin(req) || !isJson(req))) {
        return send(res, 403, { error: "refused: cross-origin request or not JSON" });
    }
    if (path === "/login" && req.method === "POST") {
        let body;
        try { body = await readJson(req, 10_000); } catch { return send(res, 400, { error: "bad request" }); }
        const user = String(body.user ?? ""), password = String(body.password ?? "");
        const ip = req.socket.remoteAddress ?? "";
        const n = Math.max(failureCount(`u:${user}`), failureCount(`a:${ip}`));
        if (n >= 10) await sleep(Math.min(10, n - 9) * 1000);
        if (!user || !password || !(await login(user, password))) {
            noteFailure(`u:${user}`);
            noteFailure(`a:${ip}`);
            return send(res, 401, { error: "wrong user name or password" });
        }
        failures.delete(`u:${user}`);
        issueCookie(res, user);
        return send(res, 200, { role: user });
    }
    if (path === "/logout" && req.method === "POST") {
        const s = sessionOf(req);
        if (s) sessions.delete(s.id);
        res.setHeader("Set-Cookie", "ws_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
        return send(res, 200, { ok: true });
    }
    if (path === "/me") {
        const s = sessionOf(req);
        return s ? send(res, 200, { role: s.role, expires: s.expires }) : send(res, 401, { error: "not logged in" });
    }
    if (path === "/graphql") {
        const s = sessionOf(req);
        if (!s) return send(res, 401, { errors: [{ message: "not logged in", extensions: { code: "28000" } }] });
        if (req.method !== "POST") return send(res, 405, { error: "POST only" });
        req.wsSession = s;
        return graphqlHandler(req, res, () => send(res, 404, { error: "not found" }));
    }
    if (path === "/events") {
        const s = sessionOf(req);
        if (!s) return send(res, 401, { error: "not logged in" });
        res.writeHead(200, { "Content-Type": "text/event-stream", "Cache-Control": "no-store", Connection: "keep-alive", ...security });
        res.write("retry: 1000\n\n");
        listeners.add(res);
        const ping = setInterval(() => {
            if (!sessionOf(req)) { res.end(); return; } // logged out or expired: the stream ends
            res.write(": ping\n\n");
        }, 5000);
        res.on("close", () => { clearInterval(ping); listeners.delete(res); });
        return;
    }
    if (req.method !== "GET") return send(res, 405, { error: "method not allowed" });
    if (path === "/favicon.ico") { res.writeHead(204); return res.end(); }
    const file = staticFiles[path] ?? join(here, "public", normalize(path === "/" ? "/index.html" : path).replace(/^(\.\.[/\\])+/, ""));
    if (!file.startsWith(join(here, "public")) && !Object.values(staticFiles).includes(file)) return send(res, 404, { error: "not found" });
    try {
        const body = await readFile(file);
        const ext = file.slice(file.lastIndexOf("."));
        return send(res, 200, body, types[ext] ?? "application/octet-stream");
    } catch {
        return send(res, 404, { error: "not found" });
    }
}

const server = createServer((req, res) => {
    handle(req, res).catch((e) => {
        console.error("ws web:", e);
        if (!res.headersSent) send(res, 500, { error: "internal error" });
    });
});
server.listen(listenPort, listenHost, () => {
    console.log(`ws web: listening on http://${listenHost}:${server.address().port}/ (authenticator ${dsnConfig.user})`);
});
for (const sig of ["SIGINT", "SIGTERM"]) {
    process.on(sig, () => {
        server.close();
        for (const res of listeners) res.end();
        pgl.release().finally(() => pool.end().finally(() => process.exit(0)));
        setTimeout(() => process.exit(0), 2000).unref();
    });
}
