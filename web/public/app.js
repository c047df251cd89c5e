// web/public/app.js: ws's browser UI. Plain JS: every page is a few GraphQL requests to
// /graphql (PostGraphile over the ws schema, run as the logged-in role) and DOM built with
// textContent only, so names from the database always render as text. What a role may do
// is decided by the database: a refused request shows the database's own error.
"use strict";

const $ = (sel, el = document) => el.querySelector(sel);
const main = () => $("#main");
const state = { role: null, admin: false, drafts: {}, fieldErrors: {}, opened: new Set(), render: null };

// h("tag#id.class", {attr: value, onclick: f}, children...): strings become text nodes
function h(tag, attrs = {}, ...children) {
    const [name, ...marks] = tag.split(/(?=[.#])/);
    const el = document.createElement(name);
    for (const m of marks) {
        if (m[0] === "#") el.id = m.slice(1);
        else el.classList.add(m.slice(1));
    }
    for (const [k, v] of Object.entries(attrs ?? {})) {
        if (v == null || v === false) continue;
        if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
        else if (k === "dataset") Object.assign(el.dataset, v);
        else if (k in el && k !== "list" && k !== "form") el[k] = v;
        else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
    return el;
}
const stateTag = (s) => h("span.state.state-" + s, {}, s);
const when = (t) => (t ? new Date(t).toLocaleString() : "");

// ---- the server
class DbError extends Error {
    constructor(e) {
        super(e.message);
        this.code = e.extensions?.code;
        this.detail = e.extensions?.detail;
        this.hint = e.extensions?.hint;
    }
    get text() {
        return [this.message, this.detail, this.hint].filter(Boolean).join("\n");
    }
}
async function gql(query, variables = {}) {
    const res = await fetch("/graphql", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ query, variables }),
    });
    if (res.status === 401) {
        showLogin();
        throw new DbError({ message: "not logged in" });
    }
    const body = await res.json();
    if (body.errors?.length) throw new DbError(body.errors[0]);
    return body.data;
}
// the same, but a refusal (or any error) gives null and the error
async function tryGql(query, variables) {
    try {
        return [await gql(query, variables), null];
    } catch (e) {
        return [null, e];
    }
}
async function post(path, body) {
    const res = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body ?? {}) });
    return [res.status, await res.json().catch(() => ({}))];
}

// ---- login, logout, the frame
function showLogin(message) {
    state.role = null;
    $("#nav").hidden = true;
    $("#logout").hidden = true;
    $("#who").textContent = "";
    closeEvents();
    main().replaceChildren($("#login-form").content.cloneNode(true));
    if (message) $("#login-error").textContent = message;
    $("#login").addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const f = ev.target;
        const button = $("button", f);
        button.disabled = true;
        $("#login-error").textContent = "";
        const [status, body] = await post("/login", { user: f.user.value, password: f.password.value });
        button.disabled = false;
        if (status !== 200) {
            $("#login-error").textContent = body.error ?? "login refused";
            return;
        }
        await start();
    });
}

async function start() {
    const res = await fetch("/me");
    if (res.status !== 200) return showLogin();
    state.role = (await res.json()).role;
    // administrators may read ws.workflow; the database says who is one
    const [, err] = await tryGql("{ allWorkflows(first: 1) { nodes { rowId } } }");
    state.admin = !err;
    $("#who").textContent = state.role + (state.admin ? " (admin)" : "");
    $("#nav").hidden = false;
    $("#nav-workflows").hidden = !state.admin;
    $("#logout").hidden = false;
    openEvents();
    if (!location.hash || location.hash === "#") location.hash = "#/tasks";
    else route();
}

$("#logout").addEventListener("click", async () => {
    await post("/logout");
    location.hash = "";
    showLogin("logged out");
});

// ---- live: the server sends "change" within a second of any ws event; the current page
// reloads its data (drafts in forms are kept). EventSource reconnects by itself.
let events = null;
function openEvents() {
    closeEvents();
    events = new EventSource("/events");
    events.addEventListener("open", () => $("#live").classList.add("on"));
    events.addEventListener("error", () => $("#live").classList.remove("on"));
    events.addEventListener("change", () => refresh());
}
function closeEvents() {
    if (events) events.close();
    events = null;
    $("#live").classList.remove("on");
}
let refreshing = null, again = false;
async function refresh() {
    if (!state.render) return;
    if (refreshing) { again = true; return; }
    refreshing = state.render().catch((e) => {
        console.error(e);
        main().replaceChildren(h("p.error", {}, e.text ?? e.message));
    });
    await refreshing;
    refreshing = null;
    if (again) { again = false; refresh(); }
}

// ---- router
const pages = { tasks: pageTasks, start: pageStart, processes: pageProcesses, process: pageProcess, workflows: pageWorkflows, workflow: pageWorkflow };
function route() {
    if (!state.role) return;
    const [, name = "tasks", arg] = location.hash.split("/");
    for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("current", a.dataset.page === ({ process: "processes", workflow: "workflows" }[name] ?? name));
    const page = pages[name] ?? pageTasks;
    main().replaceChildren(h("p.muted", {}, "loading…"));
    state.render = () => page(arg);
    refresh();
}
window.addEventListener("hashchange", route);

// resolves once the browser has laid out and painted what was just built (load times)
const painted = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));

// ---- (a) My tasks
const TASKS = `query {
  allMyTasks { nodes { task process workflow node action state assignee role params effectiveParams missing assignedToMe error createdAt } }
}`;
async function pageTasks() {
    const t0 = performance.now();
    const data = await gql(TASKS);
    const tasks = data.allMyTasks.nodes;
    const actions = [...new Set(tasks.filter((t) => t.action && t.state === "pending").map((t) => t.action))];
    const forms = actions.length ? (await gql("query($a: [String]) { wsWebActionForms(actions: $a) }", { a: actions })).wsWebActionForms ?? {} : {};
    keepDrafts();
    // the first tasks come with their forms; a long list's others open theirs on a click
    const list = tasks.length ? tasks.map((t, i) => taskCard(t, forms[t.action] ?? {}, i < 20 || state.opened.has(t.task)))
                              : [h("p.muted#no-tasks", {}, "No open tasks for you.")];
    main().replaceChildren(h("h1", {}, "My tasks"), h("div#tasks", {}, list));
    restoreDrafts();
    await painted();
    window.wsTiming = { page: "tasks", ms: performance.now() - t0, tasks: tasks.length };
}

function taskCard(t, form, open) {
    const card = h("div.card.task", { dataset: { task: t.task, node: t.node } },
        h("div", {}, h("strong.node-name", {}, t.node), " ", stateTag(t.state), " ",
          h("span.muted", {}, `task ${t.task} of `), h("a", { href: `#/process/${t.process}` }, `${t.workflow} process ${t.process}`)),
        h("div.muted", {}, t.assignedToMe ? "assigned to you" : t.assignee ? `assigned to ${t.assignee}` : `open to role ${t.role ?? "any ws user"}`,
          t.action ? ` · action ${t.action}` : " · a human task"));
    if (t.error && t.state === "pending") card.append(h("div.muted", {}, t.error));
    if (t.state === "pending" && !t.assignedToMe) {
        card.append(h("button.take", { onclick: () => act(card, "mutation($t: BigInt!) { take(input: {task: $t}) { clientMutationId } }", { t: t.task }) }, "Take it"));
    }
    const error = h("p.error.task-error", {});
    if (t.state === "pending") {
        const build = () => (t.action ? fillForm(t, form) : completeForm(t));
        if (open) card.append(build());
        else {
            const b = h("button.open", { onclick: () => { state.opened.add(t.task); b.replaceWith(build()); } }, t.action ? "Fill…" : "Complete…");
            card.append(b);
        }
    }
    card.append(error);
    return card;
}

// one input a parameter of the action's form; values go to the database as typed, and the
// database says what is wrong (its error appears beside the field it names)
function fillForm(t, form) {
    const f = h("form.fill", { onsubmit: (ev) => { ev.preventDefault(); fill(t, form, f); } });
    const keys = Object.keys(form);
    if (!keys.length) f.append(h("p.muted", {}, "The action declares no form."));
    for (const key of keys) {
        const spec = form[key] ?? {};
        const type = spec.type ?? "string";
        const have = t.effectiveParams?.[key];
        let input;
        const common = { name: key, dataset: { key, type, draft: `${t.task}:${key}` } };
        if (type === "boolean") {
            input = h("select", common, h("option", { value: "" }, ""), h("option", { value: "true" }, "true"), h("option", { value: "false" }, "false"));
            if (have != null) input.value = String(have);
        } else if (type === "object" || type === "array") {
            input = h("textarea", { ...common, rows: 3, placeholder: type === "object" ? '{"key": "value"}' : "[1, 2]" });
            if (have != null) input.value = JSON.stringify(have);
        } else {
            input = h("input", { ...common, type: "text", size: 30,
                placeholder: { integer: "a whole number", number: "a number", timestamp: "2026-12-31T10:00:00Z" }[type] ?? "" });
            if (have != null) input.value = typeof have === "string" ? have : JSON.stringify(have);
        }
        f.append(h("label.param", { dataset: { key } },
            spec.label ?? key, spec.required ? h("span.req", { title: "required" }, " *") : null,
            h("span.muted", {}, ` (${type})`), input, h("span.field-error", { dataset: { for: key } })));
    }
    f.append(h("button", {}, "Fill"));
    return f;
}

// the JSON value of a field as typed: numbers, booleans and JSON where the type says so,
// else the text itself (so that a wrong value reaches the database and is refused there)
function fieldValue(input) {
    const v = input.value.trim();
    if (v === "") return undefined;
    const type = input.dataset.type;
    if (type === "boolean") return v === "true";
    if (type === "integer" || type === "number" || type === "object" || type === "array") {
        try { return JSON.parse(v); } catch { return v; }
    }
    return v;
}

async function fill(t, form, f) {
    const params = {};
    for (const input of f.querySelectorAll("[data-key]")) {
        if (!input.matches("input, select, textarea")) continue;
        const v = fieldValue(input);
        if (v !== undefined && JSON.stringify(v) !== JSON.stringify(t.effectiveParams?.[input.dataset.key])) params[input.dataset.key] = v;
    }
    delete state.fieldErrors[t.task];
    const [, err] = await tryGql("mutation($t: BigInt!, $p: JSON!) { fill(input: {task: $t, params: $p}) { clientMutationId } }", { t: t.task, p: params });
    if (err) {
        // "parameter "n" of action ... must be ...; parameter "m" ...": one error per field
        const byField = {};
        for (const part of err.message.split("; ")) {
            const m = /parameter "([^"]+)"/.exec(part);
            if (m && form[m[1]] !== undefined) byField[m[1]] = part;
        }
        state.fieldErrors[t.task] = { byField, general: Object.keys(byField).length ? "" : err.text };
        showFieldErrors(t.task);
        return;
    }
    for (const k of Object.keys(state.drafts)) if (k.startsWith(`${t.task}:`)) delete state.drafts[k];
    refresh();
}
function showFieldErrors(task) {
    const card = document.querySelector(`.task[data-task="${task}"]`);
    const e = state.fieldErrors[task];
    if (!card || !e) return;
    for (const span of card.querySelectorAll(".field-error")) span.textContent = e.byField[span.dataset.for] ?? "";
    $(".task-error", card).textContent = e.general ?? "";
}

function completeForm(t) {
    const area = h("textarea", { name: "result", rows: 2, dataset: { draft: `${t.task}:result` } });
    area.value = "{}";
    const f = h("form.complete", { onsubmit: async (ev) => {
        ev.preventDefault();
        let result;
        try {
            result = JSON.parse(area.value || "{}");
        } catch (e) {
            $(".task-error", f.parentNode).textContent = `the result is not JSON: ${e.message}`;
            return;
        }
        await act(f.parentNode, "mutation($t: BigInt!, $r: JSON!) { complete(input: {task: $t, result: $r}) { clientMutationId } }", { t: t.task, r: result });
        delete state.drafts[`${t.task}:result`];
    } }, h("label", {}, "Result (a JSON object, merged into the process variables)", area), h("button", {}, "Complete"));
    return f;
}

async function act(card, mutation, vars) {
    const [, err] = await tryGql(mutation, vars);
    if (err) {
        const out = $(".task-error", card) ?? $(".action-error", card);
        if (out) out.textContent = err.text;
        return false;
    }
    refresh();
    return true;
}

// drafts: what was typed survives a live refresh
function keepDrafts() {
    for (const el of main().querySelectorAll("[data-draft]")) state.drafts[el.dataset.draft] = el.value;
}
function restoreDrafts() {
    for (const el of main().querySelectorAll("[data-draft]")) if (state.drafts[el.dataset.draft] !== undefined) el.value = state.drafts[el.dataset.draft];
    for (const task of Object.keys(state.fieldErrors)) showFieldErrors(task);
}

// ---- (b) Start a process
async function pageStart() {
    if (main().querySelector("#start-form")) return; // nothing live here: keep what is typed
    const [wf] = await tryGql("{ allWorkflowOverviews { nodes { name } } }");
    const names = [...new Set((wf?.allWorkflowOverviews?.nodes ?? []).map((w) => w.name))];
    const params = h("textarea#start-params", { rows: 8, spellcheck: false });
    params.value = "{}";
    const check = h("p.error#params-error");
    const button = h("button#start-button", {}, "Start");
    const validate = () => {
        try {
            const v = JSON.parse(params.value || "{}");
            if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error("params must be a JSON object");
            check.textContent = "";
            button.disabled = false;
            return v;
        } catch (e) {
            check.textContent = e.message;
            button.disabled = true;
            return null;
        }
    };
    params.addEventListener("input", validate);
    const workflow = h("input#start-workflow", { name: "workflow", required: true, list: "workflow-names", size: 30 });
    const out = h("p.error#start-error");
    const form = h("form#start-form.card", { onsubmit: async (ev) => {
        ev.preventDefault();
        const p = validate();
        if (!p) return;
        const [data, err] = await tryGql("mutation($w: String!, $p: JSON!) { wsWebStart(input: {workflow: $w, params: $p}) { result } }", { w: workflow.value, p });
        if (err) { out.textContent = err.text; return; }
        location.hash = `#/process/${data.wsWebStart.result}`;
    } },
        h("label", {}, "Workflow", workflow, h("datalist#workflow-names", {}, names.map((n) => h("option", { value: n })))),
        h("label", {}, "Params (a JSON object: the process variables)", params), check, button, out);
    main().replaceChildren(h("h1", {}, "Start a process"), form);
}

// ---- (c) Processes
async function pageProcesses() {
    const old = main().querySelector("#process-filters");
    const wf = old ? $("#filter-workflow", old).value : "";
    const st = old ? $("#filter-state", old).value : "";
    const cond = {};
    if (wf) cond.workflow = wf;
    if (st) cond.state = st;
    const data = await gql(`query($c: ProcessOverviewCondition) {
      allProcessOverviews(condition: $c, orderBy: PROCESS_DESC, first: 200) { nodes { process workflow version state startedBy startedAt endedAt at error } } }`, { c: cond });
    const rows = data.allProcessOverviews.nodes;
    const filters = h("form#process-filters.filters", { onchange: () => refresh(), onsubmit: (e) => { e.preventDefault(); refresh(); } },
        h("label", {}, "Workflow", h("input#filter-workflow", { value: wf, size: 20 })),
        h("label", {}, "State", h("select#filter-state", {}, ["", "running", "completed", "failed", "cancelled"].map((s) => h("option", { value: s, selected: s === st }, s || "any")))),
        h("button", {}, "Filter"));
    const table = h("table#processes", {},
        h("tr", {}, ["process", "workflow", "state", "at", "started by", "started", "ended", "error"].map((c) => h("th", {}, c))),
        rows.map((p) => h("tr", { dataset: { process: p.process } },
            h("td", {}, h("a", { href: `#/process/${p.process}` }, p.process)), h("td", {}, `${p.workflow} v${p.version}`), h("td", {}, stateTag(p.state)),
            h("td", {}, p.at ?? ""), h("td", {}, p.startedBy), h("td", {}, when(p.startedAt)), h("td", {}, when(p.endedAt)), h("td", {}, p.error ?? ""))));
    const focused = document.activeElement?.id;
    main().replaceChildren(h("h1", {}, "Processes"), filters, rows.length ? table : h("p.muted", {}, "No processes to show."));
    if (focused) document.getElementById(focused)?.focus();
}

let vizPromise = null;
async function renderDot(dot) {
    vizPromise ??= Viz.instance();
    const viz = await vizPromise;
    return viz.renderSVGElement(dot);
}

async function pageProcess(id) {
    const t0 = performance.now();
    const pid = String(id);
    const [pd, pdErr] = await tryGql("query($p: BigInt!) { processDot(process: $p) }", { p: pid });
    // variables and tasks: administrators read the tables; users the views of their own
    let proc, tasks, history = null, names = {};
    if (state.admin) {
        const d = await gql(`query($p: BigInt!) {
          processByRowId(rowId: $p) { rowId workflow state params startedAt endedAt error startedBy }
          allTasks(condition: {process: $p}, orderBy: ROW_ID_ASC) { nodes { rowId node state assignee attempts error result createdAt endedAt } }
          allEvents(condition: {process: $p}, orderBy: ROW_ID_ASC) { nodes { rowId at task state actor detail } } }`, { p: pid });
        proc = d.processByRowId;
        tasks = d.allTasks.nodes;
        history = d.allEvents.nodes;
        if (proc) {
            const n = await gql("query($w: BigInt!) { allNodes(condition: {workflow: $w}) { nodes { rowId name } } }", { w: proc.workflow });
            for (const x of n.allNodes.nodes) names[x.rowId] = x.name;
        }
    } else {
        const d = await gql(`query($p: BigInt!) {
          allMyProcesses(condition: {rowId: $p}) { nodes { rowId workflowName state params startedAt endedAt error startedBy } }
          allMyTasks(condition: {process: $p}) { nodes { task node state assignee attempts error createdAt } } }`, { p: pid });
        proc = d.allMyProcesses.nodes[0];
        tasks = d.allMyTasks.nodes.map((t) => ({ ...t, rowId: t.task, nodeName: t.node }));
    }
    const picture = h("div.picture#picture");
    if (pdErr) picture.append(h("p.error", {}, pdErr.text));
    else picture.append(await renderDot(pd.processDot));
    const body = [h("h1", {}, `Process ${pid}`)];
    if (!proc) {
        body.push(h("p.muted", {}, "You see this process's picture only if ws lets you; its details are not yours to read."), picture);
        main().replaceChildren(...body);
        return;
    }
    const actions = h("div.card#process-actions", {},
        h("div", {}, "State ", stateTag(proc.state), proc.error ? h("span.error", {}, ` ${proc.error}`) : null),
        h("div.muted", {}, `started by ${proc.startedBy} ${when(proc.startedAt)}${proc.endedAt ? `, ended ${when(proc.endedAt)}` : ""}`));
    if (proc.state === "running" || proc.state === "failed") {
        actions.append(h("button#cancel", { onclick: () => act(actions, "mutation($p: BigInt!) { cancel(input: {process: $p, reason: \"cancelled in the web interface\"}) { clientMutationId } }", { p: pid }) }, "Cancel the process"));
    }
    actions.append(h("p.error.action-error"));
    const taskTable = h("table#tasks", {}, h("tr", {}, ["task", "node", "state", "assignee", "attempts", "error", ""].map((c) => h("th", {}, c))),
        tasks.map((t) => h("tr", { dataset: { task: t.rowId } },
            h("td", {}, t.rowId), h("td", {}, t.nodeName ?? names[t.node] ?? t.node), h("td", {}, stateTag(t.state)), h("td", {}, t.assignee ?? ""),
            h("td", {}, t.attempts), h("td", {}, t.error ?? ""),
            h("td", {}, t.state === "failed" ? h("button.retry", { onclick: () => act(actions, "mutation($t: BigInt!) { retry(input: {task: $t}) { clientMutationId } }", { t: t.rowId }) }, "Retry") : ""))));
    body.push(actions, h("div.row", {}, h("div", {}, h("h2", {}, "Picture"), picture),
        h("div", {}, h("h2", {}, "Variables"), h("pre#variables", {}, JSON.stringify(proc.params, null, 2)))),
        h("h2", {}, state.admin ? "Tasks" : "My open tasks in it"), taskTable);
    if (history) {
        const nodeOf = Object.fromEntries(tasks.map((t) => [t.rowId, names[t.node] ?? t.node]));
        body.push(h("h2", {}, "History"), h("table#history", {}, h("tr", {}, ["at", "node", "task", "state", "actor", "detail"].map((c) => h("th", {}, c))),
            history.map((e) => h("tr", {}, h("td", {}, when(e.at)), h("td", {}, e.task ? nodeOf[e.task] ?? "" : "(process)"), h("td", {}, e.task ?? ""), h("td", {}, stateTag(e.state)), h("td", {}, e.actor), h("td", {}, e.detail ?? "")))));
    } else {
        body.push(h("p.muted", {}, "The full history is for administrators."));
    }
    main().replaceChildren(...body);
    await painted();
    window.wsTiming = { page: "process", ms: performance.now() - t0, tasks: tasks.length };
}

// ---- (d) Workflows (administrators): every version with its Graphviz picture and, next
// to it, its BPMN diagram (ws.to_bpmn drawn by bpmn-js); #/workflow/ID shows one larger
async function pageWorkflows() {
    const keep = main().querySelector("#upload-source")?.value;
    // the upload's outcome stays across live refreshes (moved, so a drawn diagram stays live)
    const keepOut = main().querySelector("#upload-result");
    const [d, err] = await tryGql("{ allWorkflows(orderBy: [NAME_ASC, VERSION_DESC]) { nodes { rowId name version description } } }");
    if (err) {
        main().replaceChildren(h("h1", {}, "Workflows"), h("p.error", {}, err.text));
        return;
    }
    const source = h("textarea#upload-source", { rows: 12, spellcheck: false, placeholder: 'digraph conference { ... }  or  {"name": ..., "nodes": [...]}  or  <bpmn:definitions ...>' });
    if (keep) source.value = keep;
    const result = keepOut ?? h("div#upload-result");
    const file = h("input#upload-file", { type: "file", accept: ".dot,.gv,.json,.bpmn,.xml,text/plain,application/json,application/xml,text/xml",
                                          onchange: async () => { source.value = await file.files[0].text(); } });
    const upload = h("form.card#upload", { onsubmit: async (ev) => { ev.preventDefault(); await define(source.value, result); } },
        h("h2", {}, "Upload a definition (Graphviz DOT, JSON or BPMN 2.0)"), file, h("label", {}, "Definition", source), h("button", {}, "Define"), result);
    const list = h("div#workflows");
    main().replaceChildren(h("h1", {}, "Workflows"), upload, list);
    for (const w of d.allWorkflows.nodes) {
        const card = h("div.card.workflow", { dataset: { workflow: w.rowId, name: w.name } });
        list.append(card);
        await workflowView(card, w, "list");
    }
}

// One workflow larger: its BPMN diagram across the page, its Graphviz picture and lint
async function pageWorkflow(id) {
    const [d, err] = await tryGql("query($w: BigInt!) { workflowByRowId(rowId: $w) { rowId name version description } }", { w: String(id) });
    const head = h("p", {}, h("a", { href: "#/workflows" }, "← all workflows"));
    if (err || !d.workflowByRowId) {
        main().replaceChildren(head, h("h1", {}, `Workflow ${id}`), h("p.error", {}, err ? err.text : `workflow ${id} does not exist`));
        return;
    }
    const w = d.workflowByRowId;
    const view = h("div.workflow-page", { dataset: { workflow: w.rowId, name: w.name } });
    main().replaceChildren(head, view);
    await workflowView(view, w, "page");
}

// Fills el with a workflow's title, lint, Graphviz picture and BPMN diagram. The database
// decides what may be seen (ws.to_dot, ws.lint and ws.to_bpmn are an administrator's): a
// refusal shows its error in the place of what was refused.
async function workflowView(el, w, where) {
    const [[x, e], [b, be]] = await Promise.all([
        tryGql("query($w: BigInt!) { wsWebToDot(workflow: $w) wsWebLint(workflow: $w) { nodes } }", { w: w.rowId }),
        tryGql("query($w: BigInt!) { wsWebToBpmn(workflow: $w) }", { w: w.rowId }),
    ]);
    const title = `${w.name} v${w.version}`;
    el.replaceChildren(where === "page" ? h("h1", {}, title, h("span.muted", {}, ` (id ${w.rowId})`))
                                        : h("h2", {}, h("a", { href: `#/workflow/${w.rowId}` }, title), h("span.muted", {}, ` (id ${w.rowId})`)),
        ...(w.description ? [h("p", {}, w.description)] : []));
    const graphviz = h("figure.graphviz-figure", {}, h("figcaption", {}, "Graphviz"));
    if (e) graphviz.append(h("p.error", {}, e.text));
    else {
        const warnings = x.wsWebLint.nodes;
        el.append(warnings.length ? h("ul.lint", {}, warnings.map((l) => h("li", {}, "⚠ ", l))) : h("p.muted.lint-clean", {}, "lint: no warnings"));
        graphviz.append(h("div.picture", {}, await renderDot(x.wsWebToDot)));
    }
    let bpmn;
    if (be) bpmn = h("figure.bpmn-figure", {}, h("figcaption", {}, "BPMN 2.0 (ws.to_bpmn)"), h("p.error", {}, be.text));
    else bpmn = bpmnFigure(`${where}:${w.rowId}`, b.wsWebToBpmn, "BPMN 2.0 (ws.to_bpmn, drawn by bpmn-js)");
    el.append(h("div.pictures", {}, graphviz, bpmn.figure ?? bpmn));
    if (bpmn.draw) await bpmn.draw();
}

// ---- BPMN diagrams: bpmn-js's navigated viewer (web/node_modules/bpmn-js, served by the
// server), loaded on first use. A drawn diagram is kept by key and reused while its XML is
// the same, so live refreshes do not draw it again.
let bpmnJs = null;
function loadBpmnJs() {
    bpmnJs ??= new Promise((resolve, reject) => {
        const s = h("script", { src: "/bpmn-viewer.js" });
        s.addEventListener("load", () => resolve(window.BpmnJS));
        s.addEventListener("error", () => { bpmnJs = null; reject(new Error("bpmn-js could not be loaded")); });
        document.head.append(s);
    });
    return bpmnJs;
}
const bpmnDrawn = new Map(); // key -> {xml, figure, viewer}

// A figure for BPMN XML and draw(), which draws it once the figure is in the page (bpmn-js
// fits the diagram to its container's size). The canvas (.bpmn) then carries
// data-bpmn="drawn" or "error", data-bpmn-warnings (how many warnings bpmn-js's importXML
// gave, listed under it) and data-bpmn-shapes (its flow elements' shapes, labels and
// the process or collaboration itself not counted).
function bpmnFigure(key, xml, caption) {
    const old = key && bpmnDrawn.get(key);
    if (old && old.xml === xml) return { figure: old.figure };
    if (old) { old.viewer?.destroy(); bpmnDrawn.delete(key); }
    const canvas = h("div.bpmn");
    const figure = h("figure.bpmn-figure", {}, h("figcaption", {}, caption), canvas);
    const draw = async () => {
        let viewer = null;
        try {
            const BpmnJS = await loadBpmnJs();
            viewer = new BpmnJS({ container: canvas, width: "100%", height: "100%" });
            const { warnings } = await viewer.importXML(xml);
            // fitted, with a margin (a scroll bar appearing later narrows the page)
            const c = viewer.get("canvas");
            c.zoom("fit-viewport", "auto");
            c.zoom(c.zoom() * 0.95);
            const shapes = viewer.get("elementRegistry").filter((e) => !e.waypoints && e.type !== "label" && e.parent);
            canvas.dataset.bpmnShapes = shapes.length;
            canvas.dataset.bpmnWarnings = warnings.length;
            if (warnings.length) figure.append(h("ul.bpmn-warnings", {}, warnings.map((w) => h("li", {}, "⚠ bpmn-js: ", w.message))));
            canvas.dataset.bpmn = "drawn";
            figure.wsViewer = viewer;
        } catch (e) {
            canvas.dataset.bpmnWarnings = e.warnings?.length ?? 0;
            canvas.dataset.bpmn = "error";
            figure.append(h("p.error", {}, `bpmn-js could not draw it: ${e.message}`));
        }
        // kept only when drawn in the page: a figure a new page replaced meanwhile was
        // fitted to no size at all
        if (key && canvas.isConnected) bpmnDrawn.set(key, { xml, figure, viewer });
        else if (key) viewer?.destroy();
    };
    return { figure, draw };
}

// Define from DOT, JSON or BPMN 2.0 XML (ws.define_dot, ws.define, ws.define_bpmn); an
// error is shown with the line it is about: the line a JSON syntax error, Graphviz or the
// XML parser names, or else the first line naming the node (or, in BPMN, the element id)
// the error names. A BPMN file that loads is drawn as it is, beside what ws made of it.
async function define(text, out) {
    for (const f of out.querySelectorAll(".bpmn-figure")) f.wsViewer?.destroy();
    out.replaceChildren();
    const lines = text.split("\n");
    const show = (message, line) => {
        out.append(h("p.error#define-error", {}, line ? `line ${line}: ${message}` : message));
        if (line && lines[line - 1] !== undefined) out.append(h("pre.error-line", {}, `${line} | ${lines[line - 1]}`));
    };
    const isJson = text.trimStart().startsWith("{");
    const isBpmn = text.trimStart().startsWith("<");
    let doc;
    if (isJson) {
        try {
            doc = JSON.parse(text);
        } catch (e) {
            const at = jsonErrorAt(text);
            return show(`not JSON: ${e.message}`, at == null ? null : text.slice(0, at).split("\n").length);
        }
    }
    const [data, err] = isJson ? await tryGql("mutation($d: JSON!) { define(input: {doc: $d}) { result } }", { d: doc })
        : isBpmn ? await tryGql("mutation($d: String!) { defineBpmn(input: {bpmn: $d}) { result } }", { d: text })
        : await tryGql("mutation($d: String!) { defineDot(input: {dot: $d}) { result } }", { d: text });
    if (err) {
        let line = /line (\d+)/.exec(err.text)?.[1];
        if (!line && isBpmn) {
            // BPMN errors name the element by its id: "subProcess "Sub_1""
            for (const [, id] of err.message.matchAll(/"([^"]+)"/g)) {
                const i = lines.findIndex((l) => l.includes(`id="${id}"`));
                if (i >= 0) { line = i + 1; break; }
            }
        } else if (!line) {
            const name = /(?:node|nodes?) "([^"]+)"/.exec(err.text)?.[1];
            if (name) {
                const i = lines.findIndex((l) => l.includes(`"${name}"`));
                if (i >= 0) line = i + 1;
            }
        }
        return show(err.text, line ? Number(line) : null);
    }
    const id = (data.define ?? data.defineDot ?? data.defineBpmn).result;
    out.append(h("p#define-ok", {}, `defined: workflow id ${id} `, h("a", { href: `#/workflow/${id}` }, "(open it)")));
    if (isBpmn) {
        // the file as drawn in it, and the workflow ws made of it as ws.to_bpmn writes it
        const drawn = bpmnFigure(null, text, "the uploaded file, as drawn in it");
        drawn.figure.id = "upload-drawn";
        const [b, be] = await tryGql("query($w: BigInt!) { wsWebToBpmn(workflow: $w) }", { w: id });
        const made = be ? { figure: h("figure.bpmn-figure", {}, h("p.error", {}, be.text)) }
                        : bpmnFigure(null, b.wsWebToBpmn, `workflow ${id}, as ws.to_bpmn writes it`);
        made.figure.id = "upload-ws";
        out.append(h("div.pictures", {}, drawn.figure, made.figure));
        await drawn.draw();
        if (made.draw) await made.draw();
    }
    refresh();
}

// Where JSON text stops being JSON: the offset of the first character a JSON parser cannot
// take (browsers' own messages do not all say where).
function jsonErrorAt(text) {
    let i = 0;
    const ws = () => { while (/\s/.test(text[i] ?? "")) i++; };
    const fail = () => { throw i; };
    const lit = (w) => { if (text.startsWith(w, i)) i += w.length; else fail(); };
    function value() {
        ws();
        const c = text[i];
        if (c === "{") {
            i++; ws();
            if (text[i] === "}") { i++; return; }
            for (;;) {
                ws(); if (text[i] !== '"') fail(); string(); ws();
                if (text[i] !== ":") fail(); i++; value(); ws();
                if (text[i] === ",") { i++; continue; }
                if (text[i] === "}") { i++; return; }
                fail();
            }
        } else if (c === "[") {
            i++; ws();
            if (text[i] === "]") { i++; return; }
            for (;;) {
                value(); ws();
                if (text[i] === ",") { i++; continue; }
                if (text[i] === "]") { i++; return; }
                fail();
            }
        } else if (c === '"') string();
        else if (c === "t") lit("true");
        else if (c === "f") lit("false");
        else if (c === "n") lit("null");
        else {
            const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
            if (!m) fail();
            i += m[0].length;
        }
    }
    function string() {
        i++;
        while (i < text.length && text[i] !== '"') {
            if (text[i] === "\\") i++;
            else if (text[i] === "\n") fail();
            i++;
        }
        if (text[i] !== '"') fail();
        i++;
    }
    try {
        value(); ws();
        return i < text.length ? i : null;
    } catch (at) {
        return at;
    }
}

start();
