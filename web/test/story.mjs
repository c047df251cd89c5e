// web/test/story.mjs: the web interface's story in Debian's chromium (playwright-core),
// run by test/integration/web.sh, which prepares the database and the servers and passes
// them in WS_WEB_* variables. Prints one TAP line a check ("ok - ..." / "not ok - ...")
// and the load times; screenshots go to $WS_WEB_OUT/shots.
import { chromium } from "playwright-core";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readFileSync } from "node:fs";

const env = process.env;
const URL1 = env.WS_WEB_URL, URL2 = env.WS_WEB_URL2;
const P = { story: env.WS_WEB_P_STORY, cancel: env.WS_WEB_P_CANCEL, fail: env.WS_WEB_P_FAIL, long: env.WS_WEB_P_LONG };
const shots = `${env.WS_WEB_OUT}/shots`;
mkdirSync(shots, { recursive: true });
let failures = 0;

function ok(cond, message, detail) {
    if (cond) console.log(`ok - ${message}`);
    else {
        failures++;
        console.log(`not ok - ${message}`);
        if (detail !== undefined) console.log(`#   ${String(detail).replace(/\n/g, "\n#   ")}`);
    }
}
// psql as the superuser, for setting the scene and checking the database
function sql(query) {
    const [cmd, ...args] = env.WS_WEB_PSQL.split(" ");
    return execFileSync(cmd, [...args, "-c", query], { encoding: "utf8" }).trim();
}
// the same, with psql variables: sqlv("SELECT :'f'", {f: text}) (any text, quoted by psql)
function sqlv(query, vars) {
    const [cmd, ...args] = env.WS_WEB_PSQL.split(" ");
    const v = Object.entries(vars).flatMap(([k, x]) => ["-v", `${k}=${x}`]);
    return execFileSync(cmd, [...args, ...v], { encoding: "utf8", input: query }).trim();
}
// BPMN's flow nodes, participants and lanes, counted by the database in a BPMN document
const BPMN_NS = `ARRAY[ARRAY['b', 'http://www.omg.org/spec/BPMN/20100524/MODEL']]`;
const FLOW_NODES = `/b:definitions/b:process/*[local-name() != "sequenceFlow" and local-name() != "laneSet" and local-name() != "extensionElements" and local-name() != "documentation"]`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(f, ms = 15000) {
    const end = Date.now() + ms;
    for (;;) {
        try { if (await f()) return true; } catch { /* not yet */ }
        if (Date.now() > end) return false;
        await sleep(50);
    }
}
const p95 = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.ceil(s.length * 0.95) - 1)]; };

// ---- plain HTTP: what no browser would send
const H = { "Content-Type": "application/json", Origin: URL1 };
async function login(user, password, url = URL1, headers = {}) {
    const res = await fetch(`${url}/login`, { method: "POST", headers: { ...H, Origin: url, ...headers }, body: JSON.stringify({ user, password }) });
    const cookie = (res.headers.get("set-cookie") ?? "").split(";")[0];
    return { status: res.status, cookie };
}
async function graphql(cookie, query, url = URL1, headers = {}) {
    const res = await fetch(`${url}/graphql`, { method: "POST", headers: { ...H, Origin: url, Cookie: cookie, ...headers }, body: JSON.stringify({ query }) });
    return { status: res.status, body: await res.json().catch(() => null) };
}

{
    const r = await login("web_ane", "wrong password");
    ok(r.status === 401 && !r.cookie, "a wrong password is refused, no cookie", r.status);
    const o = await login("web_outsider", "outsider secret");
    ok(o.status === 401, "a role the authenticator may not become cannot log in, even with its right password", o.status);
    const a = await login("web_auth", "auth secret");
    ok(a.status === 401, "the authenticator itself cannot log in", a.status);
    const x = await login("web_ane", "ane secret", URL1, { Origin: "http://evil.example" });
    ok(x.status === 403 && !x.cookie, "a login from another origin (CSRF) is refused", x.status);

    const none = await graphql("", "{ allMyTasks { nodes { task } } }");
    ok(none.status === 401, "GraphQL without a session is refused", none.status);
    const good = await login("web_koldo", "koldo secret");
    ok(good.status === 200 && /^ws_session=[\w-]+\.\d+\.[\w-]+$/.test(good.cookie), "a right password gives a session cookie", good.cookie);
    const [id, exp, sig] = good.cookie.slice("ws_session=".length).split(".");
    const forged = [
        `ws_session=${id}.${exp}.${sig.slice(0, -2)}AA`,              // another signature
        `ws_session=${id}.${Number(exp) + 3600000}.${sig}`,           // a later expiry
        `ws_session=AAAA${id.slice(4)}.${exp}.${sig}`,                // another id
    ];
    for (const f of forged) {
        const r = await graphql(f, "{ allMyTasks { nodes { task } } }");
        ok(r.status === 401, `a forged cookie is refused (${f.slice(11, 30)}…)`, r.status);
    }
    const cross = await graphql(good.cookie, "mutation { cancel(input: {process: \"1\"}) { clientMutationId } }", URL1, { Origin: "http://evil.example" });
    ok(cross.status === 403, "a request with a session from another origin (CSRF) is refused", cross.status);
    const form = await fetch(`${URL1}/graphql`, { method: "POST", headers: { Origin: URL1, Cookie: good.cookie, "Content-Type": "application/x-www-form-urlencoded" }, body: "query=%7B__typename%7D" });
    ok(form.status === 403, "a form post (not JSON) is refused", form.status);
    const tasks = await graphql(good.cookie, "{ allTasks { nodes { rowId } } }");
    ok(tasks.body?.errors?.[0]?.extensions?.code === "42501" && !tasks.body?.data?.allTasks,
       "a user who queries ws.task through the API gets the database's refusal (42501)", JSON.stringify(tasks.body));
    const other = sql(`SELECT t.id FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = ${P.story} AND n.name = 'Address the mailing'`);
    const theirs = await graphql(good.cookie, `{ allMyTasks(condition: {task: "${other}"}) { nodes { task } } }`);
    ok(theirs.body?.data?.allMyTasks?.nodes?.length === 0, "another user's task is not in ws.my_tasks for her", JSON.stringify(theirs.body));
    const fill = await graphql(good.cookie, `mutation { fill(input: {task: "${other}", params: {to: "x"}}) { clientMutationId } }`);
    ok(fill.body?.errors?.[0]?.extensions?.code === "42501", "filling another role's task is refused by the database (42501)", JSON.stringify(fill.body));

    // expiry: the second server's sessions last 2 seconds
    const short = await login("web_koldo", "koldo secret", URL2);
    const before = await graphql(short.cookie, "{ allMyTasks { nodes { task } } }", URL2);
    await sleep(2300);
    const after = await graphql(short.cookie, "{ allMyTasks { nodes { task } } }", URL2);
    ok(before.status === 200 && after.status === 401, "an expired session is refused", `${before.status} then ${after.status}`);

    // throttling: after 10 wrong passwords for a name, the next attempts wait
    const times = [];
    for (let i = 0; i < 12; i++) {
        const t = Date.now();
        await login("web_bulk", "wrong", URL2);
        times.push(Date.now() - t);
    }
    ok(Math.max(...times.slice(0, 10)) < 900 && times[10] >= 900 && times[11] >= 1900,
       `after 10 wrong passwords a login is slowed down (ms: ${times.join(", ")})`);
}

// ---- the browser
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--disable-dev-shm-usage"] });
const dialogs = [], pages = [], cspViolations = [];
async function newPage() {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    ctx.setDefaultTimeout(10000);
    const page = await ctx.newPage();
    pages.push(page);
    page.on("dialog", (d) => { dialogs.push(d.message()); d.dismiss(); });
    page.on("pageerror", (e) => console.log(`# page error: ${e.message}`));
    page.on("console", (m) => { if (/Content.Security.Policy/i.test(m.text())) cspViolations.push(m.text()); });
    return page;
}
async function uiLogin(page, user, password) {
    await page.goto(URL1 + "/");
    await page.fill("#login input[name=user]", user);
    await page.fill("#login input[name=password]", password);
    await page.click("#login button");
}
const shot = (page, name) => page.screenshot({ path: `${shots}/${name}.png`, fullPage: true, timeout: 20000 });
const card = (page, task) => page.locator(`.task[data-task="${task}"]`);
const taskId = (proc, node) => sql(`SELECT t.id FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = ${proc} AND n.name = '${node}' ORDER BY t.id DESC LIMIT 1`);

try {
    // a wrong password in the browser
    const ane = await newPage();
    await uiLogin(ane, "web_ane", "not hers");
    ok(await until(async () => (await ane.textContent("#login-error")).includes("wrong")), "the login page says a wrong password is wrong");
    await shot(ane, "login");

    // ane: her tasks only
    await uiLogin(ane, "web_ane", "ane secret");
    const tl = Date.now();
    ok(await until(() => ane.isVisible("#tasks"), 15000), `ane logs in and sees My tasks (${Date.now() - tl} ms)`);
    const mailing = taskId(P.story, "Address the mailing");
    await card(ane, mailing).waitFor();
    const nodes = await ane.locator(".task .node-name").allTextContents();
    ok(nodes.includes("Address the mailing") && !nodes.includes("Check the budget") && !nodes.includes("Sign"),
       "ane sees the tasks of her roles and none of others", nodes.join(" | "));
    const c = card(ane, mailing);
    ok(await c.locator("label.param[data-key=copies] .req").count() === 1 && (await c.locator("label.param[data-key=copies]").textContent()).includes("copies to print"),
       "the form comes from the action's form: labels and required marks");
    await shot(ane, "tasks");

    // a wrong value: the database's error beside the field, nothing changed
    await c.locator("input[data-key=to]").fill("everyone@example.org");
    await c.locator("input[data-key=copies]").fill("many");
    await c.locator("form.fill button").click();
    ok(await until(async () => (await c.locator(".field-error[data-for=copies]").textContent()).includes("must be of type integer")),
       "a wrong value: the database's error appears beside its field", await c.locator(".field-error[data-for=copies]").textContent());
    ok(sql(`SELECT state || ' ' || params FROM ws.task WHERE id = ${mailing}`) === "pending {}", "and nothing changed in the database");
    await shot(ane, "tasks-error");
    await c.locator("input[data-key=copies]").fill("3");
    await c.locator("form.fill button").click();
    ok(await until(() => sql(`SELECT state FROM ws.task WHERE id = ${mailing}`) === "ready"), "the right value: the task is filled and ready for a worker");

    // a worker completes it; Approve appears on ane's page without a reload
    const navs = [];
    ane.on("framenavigated", () => navs.push(1));
    sql(`SELECT ws.complete(c.task, '{}', c.attempt) FROM ws.claim('{web.mailing}', 'test-worker') c`);
    const approve = taskId(P.story, "Approve");
    const t0 = Date.now();
    ok(await until(() => card(ane, approve).isVisible(), 3000) && navs.length === 0,
       `the new task appears live, without a reload (${Date.now() - t0} ms)`);
    await card(ane, approve).locator("textarea[name=result]").fill('{"approved": true}');
    await card(ane, approve).locator("form.complete button").click();
    ok(await until(() => sql(`SELECT state FROM ws.task WHERE id = ${approve}`) === "succeeded"), "ane completes Approve with a result");
    ok(sql(`SELECT params->>'approved' FROM ws.process WHERE id = ${P.story}`) === "true", "its result is in the process variables");

    // koldo: his task, none of hers; admin things are refused by the database
    const koldo = await newPage();
    await uiLogin(koldo, "web_koldo", "koldo secret");
    const budget = taskId(P.story, "Check the budget");
    await card(koldo, budget).waitFor();
    const kn = await koldo.locator(".task .node-name").allTextContents();
    ok(kn.length === 2 && kn.every((n) => n === "Check the budget"), "koldo sees his tasks and none of ane's", kn.join(" | "));
    await card(koldo, budget).locator("form.complete button").click();
    ok(await until(() => sql(`SELECT state FROM ws.task WHERE id = ${budget}`) === "succeeded"), "koldo completes his task",
       await card(koldo, budget).textContent().catch((e) => e.message));

    await koldo.goto(`${URL1}/#/process/${P.story}`);
    await koldo.locator("#picture svg").waitFor();
    // the page may still be drawing when the button appears: a click on a button that a
    // redraw replaced does nothing, so click until the refusal shows
    ok(await until(async () => {
        if ((await koldo.textContent("#process-actions .action-error")).includes("permission denied")) return true;
        await koldo.click("#cancel", { timeout: 1000 }).catch(() => {});
        await sleep(300);
        return (await koldo.textContent("#process-actions .action-error")).includes("permission denied");
    }),
       "koldo's cancel is refused by the database", await koldo.textContent("#process-actions .action-error"));
    ok(sql(`SELECT state FROM ws.process WHERE id = ${P.story}`) === "running", "and the process still runs");
    await shot(koldo, "process-refused");
    await koldo.goto(`${URL1}/#/workflows`);
    ok(await until(async () => (await koldo.textContent("main")).includes("permission denied")), "the workflows page shows koldo the database's refusal");
    ok(await koldo.locator("#upload, #upload-file, #upload-source").count() === 0, "and no upload control");
    // the node named like HTML is text
    const img = taskId(P.story, "<img src=x onerror=alert(1)>");
    await card(ane, img).waitFor({ timeout: 5000 });
    ok(await ane.locator("main img").count() === 0 && (await card(ane, img).locator(".node-name").textContent()) === "<img src=x onerror=alert(1)>",
       "a node named <img src=x onerror=alert(1)> renders as text in the task list");
    await ane.goto(`${URL1}/#/process/${P.story}`);
    await ane.locator("#picture svg").waitFor();
    ok(await ane.locator("main img").count() === 0 && (await ane.locator("#picture svg text").allTextContents()).some((t) => t.includes("<img src=x")),
       "and in the process picture");
    ok(dialogs.length === 0, "no script ran from it (no alert)", dialogs.join(", "));
    await shot(ane, "process-user");
    await ane.goto(`${URL1}/#/tasks`);
    await card(ane, img).locator("form.complete button").click();
    ok(await until(() => sql(`SELECT state FROM ws.process WHERE id = ${P.story}`) === "completed"), "ane completes the last task: the process completed");

    // ane starts a process: the params editor refuses what is not a JSON object
    await ane.goto(`${URL1}/#/start`);
    await ane.fill("#start-workflow", "story");
    await ane.fill("#start-params", '{"year": ');
    ok(await ane.isDisabled("#start-button") && (await ane.textContent("#params-error")) !== "", "the params editor says when the JSON is wrong");
    await ane.fill("#start-params", '{"year": 2027}');
    await shot(ane, "start");
    await ane.click("#start-button");
    ok(await until(() => /#\/process\/\d+$/.test(ane.url())), "ane starts a process and sees its page");
    const started = ane.url().split("/").pop();
    ok(sql(`SELECT started_by || ' ' || (params->>'year') FROM ws.process WHERE id = ${started}`) === "web_ane 2027", "the process is hers, with her params");

    // the admin: processes, a live picture, cancel, retry, workflows, upload
    const boss = await newPage();
    await uiLogin(boss, "web_boss", "boss secret");
    await boss.locator("#tasks, #no-tasks").first().waitFor();
    await boss.goto(`${URL1}/#/processes`);
    await boss.locator("#processes").waitFor();
    await boss.selectOption("#filter-state", "failed");
    ok(await until(async () => {
        const rows = await boss.locator("#processes tr[data-process]").evaluateAll((trs) => trs.map((tr) => tr.dataset.process));
        return rows.length === 1 && rows[0] === P.fail;
    }), "the processes filtered by state: the failed one");
    await boss.fill("#filter-workflow", "story");
    await boss.selectOption("#filter-state", "running");
    ok(await until(async () => (await boss.locator("#processes tr[data-process]").count()) === 2), "filtered by workflow and state: story's two running processes");
    await shot(boss, "processes");

    await boss.goto(`${URL1}/#/process/${P.cancel}`);
    await boss.locator("#picture svg").waitFor();
    const fill0 = await boss.locator("#picture svg g.node").evaluateAll((gs) => gs.map((g) => g.querySelector("path, polygon, ellipse")?.getAttribute("fill")));
    // a worker (psql here) completes the mailing of that process; the picture changes live
    sql(`SELECT ws.fill(t.id, '{"to": "a@example.org", "copies": 1}') FROM ws.task t JOIN ws.node n ON n.id = t.node WHERE t.process = ${P.cancel} AND n.name = 'Address the mailing'`);
    sql(`SELECT ws.complete(c.task, '{}', c.attempt) FROM ws.claim('{web.mailing}', 'test-worker') c`);
    const t1 = Date.now();
    ok(await until(async () => {
        const now = await boss.locator("#picture svg g.node").evaluateAll((gs) => gs.map((g) => g.querySelector("path, polygon, ellipse")?.getAttribute("fill")));
        return JSON.stringify(now) !== JSON.stringify(fill0);
    }, 3000), `the picture's colours change live when a worker completes a task (${Date.now() - t1} ms)`);
    ok((await boss.locator("#history tr").count()) > 3 && (await boss.textContent("#variables")).includes("{"), "the admin sees tasks, variables and history");
    await shot(boss, "process");
    await boss.click("#cancel");
    ok(await until(() => sql(`SELECT state FROM ws.process WHERE id = ${P.cancel}`) === "cancelled"), "the admin cancels a process");

    await boss.goto(`${URL1}/#/process/${P.fail}`);
    await boss.locator("button.retry").waitFor();
    await boss.click("button.retry");
    ok(await until(() => sql(`SELECT p.state || ' ' || t.state FROM ws.process p JOIN ws.task t ON t.process = p.id WHERE p.id = ${P.fail}`) === "running ready"),
       "the admin retries a failed task: ready again, the process running");

    // workflows: versions, pictures, lint; uploads with errors shown with their line
    const tw = Date.now();
    await boss.goto(`${URL1}/#/workflows`);
    await boss.locator(".workflow[data-name=story] .picture svg").waitFor();
    await boss.locator(".workflow[data-name=story] .bpmn[data-bpmn]").waitFor();
    console.log(`# the workflows page, ${await boss.locator(".workflow").count()} workflows drawn: ${Date.now() - tw} ms`);
    ok(await until(async () => await boss.locator(".workflow[data-name=story] .lint li, .workflow[data-name=story] .lint-clean").count() >= 1),
       "workflows show their pictures and lint");
    await boss.fill("#upload-source", "digraph broken {\n  a -> b;\n  b -> ;\n}\n");
    await boss.click("#upload button");
    ok(await until(async () => /line 3/.test(await boss.textContent("#upload-result"))), "a DOT syntax error is shown with its line", await boss.textContent("#upload-result"));
    await boss.fill("#upload-source", '{"name": "bad",\n "nodes": [{"name": "a"},\n  {"name": "b", "join": "sometimes"}],\n "transitions": [{"from": "a", "to": "b"}]}');
    await boss.click("#upload button");
    ok(await until(async () => /line 3/.test(await boss.textContent("#upload-result"))), "a JSON definition's error is shown with the line of the node it names", await boss.textContent("#upload-result"));
    await boss.fill("#upload-source", '{"name": "bad",\n "nodes": [\n  {"name": "a"},,\n ]}');
    await boss.click("#upload button");
    ok(await until(async () => /line 3/.test(await boss.textContent("#upload-result"))), "a JSON syntax error is shown with its line", await boss.textContent("#upload-result"));
    // the seed's roles are this test's
    const conference = readFileSync(new URL("../../docs/conference.dot", import.meta.url), "utf8")
        .replaceAll('role="organization"', 'role="web_org"').replaceAll('role="accounting"', 'role="web_acc"');
    await boss.fill("#upload-source", conference);
    await boss.click("#upload button");
    ok(await until(async () => (await boss.textContent("#upload-result")).includes("defined")), "the admin uploads the seed's conference DOT", await boss.textContent("#upload-result"));
    await boss.locator(".workflow[data-name=conference] .picture svg").waitFor();
    await boss.locator(".workflow[data-name=conference] .bpmn[data-bpmn]").waitFor();
    ok(!(await boss.textContent(".workflow[data-name=bulk]")).includes("null"), "a workflow without a description shows none");
    await shot(boss, "workflows");

    // BPMN: the admin uploads a .bpmn file (bpmn.io's QR code example); ws.define_bpmn
    // defines it, and the page draws the file as it is and what ws made of it (ws.to_bpmn)
    // with bpmn-js, which reports no import warnings
    const tb = Date.now();
    const data = new URL("../../test/regress/data/", import.meta.url).pathname;
    const qr = readFileSync(`${data}qr-code.bpmn`, "utf8");
    const workflows = () => sql("SELECT count(*) FROM ws.workflow");
    const nWorkflows = workflows();
    await boss.setInputFiles("#upload-file", `${data}qr-code.bpmn`);
    ok(await until(async () => (await boss.inputValue("#upload-source")) === qr), "the admin picks qr-code.bpmn: the form reads the file");
    await boss.click("#upload button");
    ok(await until(async () => (await boss.textContent("#upload-result")).includes("defined")), "the admin uploads it: defined", await boss.textContent("#upload-result"));
    const qrId = sql("SELECT max(id) FROM ws.workflow WHERE name = 'Customer'");
    ok(workflows() === String(Number(nWorkflows) + 1) && qrId !== "" && (await boss.textContent("#define-ok")).includes(`workflow id ${qrId}`),
       `ws.define_bpmn stored it as one workflow (id ${qrId})`);
    // the file as drawn: a shape for each of its flow nodes, participants and lanes
    const fileIds = sqlv(`SELECT string_agg(x::text, ' ') FROM unnest(xpath('${FLOW_NODES}/@id', :'f'::xml, ${BPMN_NS})) x`, { f: qr }).split(" ");
    const pools = Number(sqlv(`SELECT count(*) FROM unnest(xpath('//b:participant | //b:lane', :'f'::xml, ${BPMN_NS}))`, { f: qr }));
    const drawn = boss.locator("#upload-drawn .bpmn[data-bpmn=drawn]");
    await drawn.waitFor();
    const shapeIds = (el) => el.locator("g.djs-shape[data-element-id]").evaluateAll((gs) => gs.map((g) => g.dataset.elementId).filter((id) => !id.endsWith("_label")));
    const fileShapes = await shapeIds(drawn);
    ok(fileIds.length === 6 && fileIds.every((id) => fileShapes.includes(id)) && fileShapes.length === fileIds.length + pools
       && await drawn.getAttribute("data-bpmn-shapes") === String(fileShapes.length),
       `the uploaded file is drawn by bpmn-js: its ${fileIds.length} flow nodes and ${pools} pool and lane (${fileShapes.length} shapes)`, fileShapes.join(" "));
    ok(await drawn.getAttribute("data-bpmn-warnings") === "0", "bpmn-js imported it without warnings", await drawn.getAttribute("data-bpmn-warnings"));
    await boss.locator("#upload").screenshot({ path: `${shots}/upload-bpmn.png` });
    // what ws made of it: the workflow's card, ws.to_bpmn drawn beside its Graphviz picture
    const qrCard = boss.locator(`.workflow[data-workflow="${qrId}"]`);
    const qrBpmn = qrCard.locator(".bpmn[data-bpmn=drawn]");
    await qrBpmn.waitFor();
    const wsNodes = (id) => sql(`SELECT count(*) FROM unnest(xpath('${FLOW_NODES}', ws.to_bpmn(${id}), ${BPMN_NS}))`);
    const qrShapes = await shapeIds(qrBpmn);
    ok(await qrCard.locator(".picture svg").count() === 1 && String(qrShapes.length) === wsNodes(qrId) && await qrBpmn.getAttribute("data-bpmn-warnings") === "0",
       `the new workflow is listed with its Graphviz picture and its ws.to_bpmn drawn by bpmn-js, without warnings (${qrShapes.length} flow nodes)`);
    const qrWs = boss.locator("#upload-ws .bpmn[data-bpmn=drawn]");
    ok(String((await shapeIds(qrWs)).length) === wsNodes(qrId) && await qrWs.getAttribute("data-bpmn-warnings") === "0",
       "and beside the file in the upload's outcome, without warnings");
    const qrText = await qrBpmn.locator("svg").first().textContent();
    ok(["Notices", "Open product", "Is informed"].every((t) => qrText.includes(t)), "with the file's names", qrText);

    // bad files: the database's error, with the line of the element it names; nothing stored
    await boss.fill("#upload-source", qr.slice(0, qr.indexOf("</process>")));
    await boss.click("#upload button");
    ok(await until(async () => /not well-formed XML/.test(await boss.textContent("#upload-result")) && /^line \d+/.test(await boss.textContent("#define-error"))),
       "a malformed file: ws's error (2200M) with the line the XML parser names", await boss.textContent("#upload-result"));
    const sub = qr.replace('<task completionQuantity="1" id="SCAN_QR_CODE"', '<subProcess id="SCAN_QR_CODE"').replace("</task>", "</subProcess>");
    await boss.fill("#upload-source", sub);
    await boss.click("#upload button");
    const subLine = sub.split("\n").findIndex((l) => l.includes('id="SCAN_QR_CODE"')) + 1;
    ok(await until(async () => (await boss.textContent("#define-error")).includes('subProcess "SCAN_QR_CODE" is not supported')
                           && (await boss.textContent("#define-error")).startsWith(`line ${subLine}:`)),
       `an unsupported element: ws's error naming it and its id, at its line (${subLine})`, await boss.textContent("#upload-result"));
    ok(workflows() === String(Number(nWorkflows) + 1), "and neither bad file stored anything", workflows());

    // the forged requests of a user: refused by the database (42501), nothing stored
    const kc = (await login("web_koldo", "koldo secret")).cookie;
    const forged = await fetch(`${URL1}/graphql`, { method: "POST", headers: { ...H, Cookie: kc },
        body: JSON.stringify({ query: "mutation($d: String!) { defineBpmn(input: {bpmn: $d}) { result } }", variables: { d: qr } }) }).then((r) => r.json());
    ok(forged.errors?.[0]?.extensions?.code === "42501" && workflows() === String(Number(nWorkflows) + 1),
       "a user's forged BPMN upload is refused by the database (42501), nothing stored", JSON.stringify(forged));
    const peek = await graphql(kc, `{ wsWebToBpmn(workflow: "${qrId}") }`);
    ok(peek.body?.errors?.[0]?.extensions?.code === "42501" && !peek.body?.data?.wsWebToBpmn,
       "and so is reading a workflow's BPMN (ws.to_bpmn is an administrator's, as ws.to_dot)", JSON.stringify(peek.body));
    await koldo.goto(`${URL1}/#/workflow/${qrId}`);
    ok(await until(async () => (await koldo.textContent("main")).includes("permission denied")) && await koldo.locator(".bpmn, #upload").count() === 0,
       "the workflow's page shows a user the database's refusal, no diagram", await koldo.textContent("main"));

    // ws.to_bpmn of the seed's conference and of a workflow with a call and multi-instance
    // nodes, each on its own page, drawn without warnings (the README's pictures)
    for (const [name, file] of [["conference", "bpmn-conference"], ["reviews", "bpmn-reviews"]]) {
        const id = sql(`SELECT max(id) FROM ws.workflow WHERE name = '${name}'`);
        await boss.goto(`${URL1}/#/workflow/${id}`);
        const canvas = boss.locator(".workflow-page .bpmn[data-bpmn]");
        await canvas.waitFor();
        const shapes = await shapeIds(canvas);
        ok(await canvas.getAttribute("data-bpmn") === "drawn" && await canvas.getAttribute("data-bpmn-warnings") === "0" && String(shapes.length) === wsNodes(id),
           `the ${name} page draws its ws.to_bpmn with bpmn-js, no warnings, a shape for each of its ${shapes.length} flow nodes`,
           `${await canvas.getAttribute("data-bpmn")} ${await canvas.getAttribute("data-bpmn-warnings")} ${shapes.length}`);
        await boss.locator(".workflow-page .picture svg").waitFor();
        await canvas.screenshot({ path: `${shots}/${file}.png` });
        if (name === "conference") await shot(boss, "workflow");
    }
    const kinds = await boss.evaluate(() => document.querySelector(".workflow-page .bpmn-figure").wsViewer.get("elementRegistry")
        .filter((e) => e.businessObject?.loopCharacteristics)
        .map((e) => `${e.type}${e.businessObject.loopCharacteristics.isSequential ? " sequential" : ""}`).sort().join(", "));
    ok(kinds === "bpmn:CallActivity, bpmn:ServiceTask sequential", `bpmn-js sees the call activity and the multi-instance nodes (${kinds})`);
    ok(cspViolations.length === 0, "the pages, bpmn-js included, keep to the Content-Security-Policy", cspViolations.join("\n"));
    console.log(`# the BPMN part of the story: ${Date.now() - tb} ms`);

    // the admin starts the conference; ws-worker does its automated tasks while the
    // picture on the admin's page changes colour by itself
    await boss.goto(`${URL1}/#/start`);
    await boss.fill("#start-workflow", "conference");
    await boss.fill("#start-params", '{"year": 2026}');
    await boss.click("#start-button");
    ok(await until(() => /#\/process\/\d+$/.test(boss.url())), "the admin starts a conference process");
    const conf = boss.url().split("/").pop();
    await boss.locator("#picture svg").waitFor();
    const fills = () => boss.locator("#picture svg g.node").evaluateAll((gs) => gs.map((g) => g.querySelector("path, polygon, ellipse")?.getAttribute("fill")));
    const before = await fills();
    // the servers' LISTEN connections drop; they connect again within a second or two
    const listening = `FROM pg_stat_activity WHERE application_name = 'ws-web listen' AND datname = current_database()`;
    const killed = sql(`SELECT count(pg_terminate_backend(pid)) ${listening}`);
    ok(killed === "2", "the two servers' LISTEN connections are terminated", killed);
    ok(await until(() => sql(`SELECT count(*) ${listening} AND query LIKE 'LISTEN%'`) === "2", 5000),
       "the servers connect again and listen");
    const navs2 = [];
    boss.on("framenavigated", () => navs2.push(1));
    const worker = spawn(env.WS_WEB_WORKER, ["--action", "conferencer.tasks.mailing", "--action", "conferencer.tasks.search",
        "--concurrency", "2", "--poll", "1", "--name", "web-test-worker", "--quiet", "--", "perl", new URL("../../demo/task.pl", import.meta.url).pathname],
        { stdio: ["ignore", "ignore", "inherit"] });
    try {
        ok(await until(() => sql(`SELECT count(*) FROM ws.task WHERE process = ${conf} AND state = 'succeeded'`) === "2", 15000),
           "ws-worker completes the conference's first two tasks");
        ok(await until(async () => (await fills()).filter((f) => f === "palegreen" || f === "#98fb98").length >= 2, 3000) && navs2.length === 0,
           `the admin's picture turns their nodes green without a reload, after the dropped connection (fills before: ${before.join(",")}; after: ${(await fills()).join(",")})`);
    } finally {
        worker.kill("SIGTERM");
    }
    await shot(boss, "process-live");

    // logout ends the session, for the page and for its old cookie
    const cookies = await ane.context().cookies();
    const old = cookies.find((k) => k.name === "ws_session");
    ok(old && old.httpOnly && old.sameSite === "Strict" && old.expires > Date.now() / 1000, "the session cookie is HttpOnly, SameSite=Strict, with an expiry");
    ok(await ane.evaluate(() => document.cookie) === "", "scripts cannot read it");
    await ane.click("#logout");
    await ane.locator("#login").waitFor();
    const after = await graphql(`ws_session=${old.value}`, "{ allMyTasks { nodes { task } } }");
    ok(after.status === 401, "after logout the old cookie is refused", after.status);
    await ane.goto(`${URL1}/#/tasks`);
    ok(await until(() => ane.isVisible("#login")), "after logout the pages ask for a login again");

    // speed: a list of 1,000 open tasks, a process of a 200-node workflow
    const bulk = await newPage();
    await uiLogin(bulk, "web_bulk", "bulk secret");
    await bulk.locator("#tasks").waitFor();
    const listTimes = [];
    for (let i = 0; i < 12; i++) {
        await bulk.evaluate(() => { window.wsTiming = null; });
        await bulk.evaluate(() => window.dispatchEvent(new HashChangeEvent("hashchange")));
        await until(() => bulk.evaluate(() => window.wsTiming?.page === "tasks"), 10000);
        listTimes.push(await bulk.evaluate(() => window.wsTiming.ms));
    }
    const n = await bulk.locator(".task").count();
    ok(n >= 1000, `My tasks lists the 1,000 open tasks (${n}, the fragile process's roleless task too)`);
    console.log(`# My tasks with ${n} open tasks: p95 ${p95(listTimes.slice(2)).toFixed(0)} ms, median ${listTimes.slice(2).sort((a, b) => a - b)[5].toFixed(0)} ms (10 loads after 2 warm-ups)`);
    await bulk.screenshot({ path: `${shots}/tasks-1000.png` });
    const procTimes = [];
    await boss.goto(`${URL1}/#/process/${P.long}`);
    await boss.locator("#picture svg").waitFor({ timeout: 20000 });
    for (let i = 0; i < 12; i++) {
        await boss.evaluate(() => { window.wsTiming = null; });
        await boss.evaluate(() => window.dispatchEvent(new HashChangeEvent("hashchange")));
        await until(() => boss.evaluate(() => window.wsTiming?.page === "process"), 20000);
        procTimes.push(await boss.evaluate(() => window.wsTiming.ms));
    }
    const nn = await boss.locator("#picture svg g.node").count();
    ok(nn === 200, `the process page draws the 200-node workflow (${nn} nodes)`);
    console.log(`# process page of a ${nn}-node workflow: p95 ${p95(procTimes.slice(2)).toFixed(0)} ms, median ${procTimes.slice(2).sort((a, b) => a - b)[5].toFixed(0)} ms (10 loads after 2 warm-ups)`);
} catch (e) {
    ok(false, `the story went on without an exception`, e.stack);
    for (const [i, page] of pages.entries()) {
        console.log(`# page ${i} at ${page.url()}: ${(await page.textContent("main").catch(() => "?")).slice(0, 600)}`);
        await shot(page, `failed-${i}`).catch(() => {});
    }
} finally {
    await browser.close();
}
process.exit(failures ? 1 : 0);
