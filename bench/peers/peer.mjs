// bench/peers/peer.mjs: one measured run of a peer job queue for bench/run --peers.
//
//   node peer.mjs ROW CLIENTS SECONDS DATABASE
//
// ROW is one of
//   gw1    graphile-worker, one job per fetch (its defaults: no local queue, each completion
//          its own statement), concurrentJobs = CLIENTS, in one process
//   gw3    graphile-worker, chains of three dependent jobs: each job's task enqueues the next
//          with helpers.addJob (the next job has a higher priority, so a chain finishes before
//          new chains start, as in ws's row a); same settings as gw1; counts jobs, not chains
//   gwb    graphile-worker's batched mode with its perfTest settings (localQueue size 500,
//          refetchDelay 10 ms, completeJobBatchDelay 0, failJobBatchDelay 0), concurrentJobs
//          = CLIENTS, maxPoolSize CLIENTS + 1, in one process
//   gwp    gwb exactly as graphile-worker's perfTest runs it: 4 processes of concurrentJobs 24,
//          maxPoolSize 25 each (CLIENTS is ignored; the row is labelled 4x24)
//   boss   pg-boss work() with batchSize 100 (one handler call gets up to 100 jobs, pg-boss
//          completes them in one statement when it returns), localConcurrency = CLIENTS workers
//          in one process, burstWhenBatchFull (fetch again at once while batches come back full)
//
// The database DATABASE is the peer's own (bench/run creates it empty); the peer installs its
// schema there on first use. Connection: the libpq environment (PGHOST, PGPORT, PGUSER).
//
// What it does: tops the queue up to enough jobs for the run (1.5 x the last rate measured for
// this row and client count, kept in the table bench_peer_rate of that database, times
// SECONDS; at first a default guess), starts the workers, lets them run 1 s unmeasured (pools
// connecting), then counts in the database the jobs completed between two snapshots SECONDS
// apart, and prints jobs/s = completed / (time between the snapshots, the database's clock).
// Completed: graphile-worker deletes a completed job, so completed = jobs present at the first
// snapshot + jobs added between them (the job id sequence) - jobs present at the second;
// pg-boss keeps it with state 'completed' and completed_on, which is counted. A job counts when
// its completion has committed. A run whose queue ran dry (no job left waiting at the second
// snapshot) is run again with twice the supply, up to 3 times; after that it warns (exit 3).
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

const [, , ROW, CLIENTS_S, SECONDS_S, DATABASE] = process.argv;
const CLIENTS = Number(CLIENTS_S);
const SECONDS = Number(SECONDS_S);
const ROWS = ['gw1', 'gw3', 'gwb', 'gwp', 'boss'];
if (ROW !== 'gwp-child' && !ROWS.includes(ROW) || !(CLIENTS >= 1) || !(SECONDS > 0) || !DATABASE) {
    console.error(`usage: node peer.mjs ${ROWS.join('|')} CLIENTS SECONDS DATABASE`);
    process.exit(2);
}
process.env.NO_LOG_SUCCESS = '1'; // as graphile-worker's perfTest runs
const WARMUP_MS = 1000;
// WS_PEER_SMOKE=1 (bench/run --smoke): a small supply, and a queue that runs dry is no error
const SMOKE = process.env.WS_PEER_SMOKE === '1';
// a guess at the rate for the first run's supply; later runs use the last measured rate
const DEFAULT_RATE = { gw1: 3000, gw3: 3000, gwb: 40000, gwp: 40000, boss: 30000 };
const GW_TASK = 'log_if_999'; // the perfTest's task name; here it does nothing at all
const BOSS_QUEUE = 'bench';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---------- graphile-worker ----------
async function gwSettings(row, clients) {
    const worker = {
        concurrentJobs: clients,
        maxPoolSize: clients + 1,
        gracefulShutdownAbortTimeout: 2500,
    };
    if (row === 'gwb' || row === 'gwp') {
        // perfTest/graphile.config.js of graphile-worker's repository
        Object.assign(worker, {
            localQueue: { size: 500, refetchDelay: { durationMs: 10 } },
            completeJobBatchDelay: 0,
            failJobBatchDelay: 0,
        });
    }
    if (row === 'gwp') Object.assign(worker, { concurrentJobs: 24, maxPoolSize: 25 });
    return worker;
}

async function gwRunner(row, clients) {
    const { run, Logger } = await import('graphile-worker');
    const worker = await gwSettings(row, clients);
    const pgPool = new pg.Pool({ database: DATABASE, max: worker.maxPoolSize });
    poolErrors(pgPool);
    const logger = new Logger(() => (level, message) => {
        if (level === 'error') console.error(`graphile-worker: ${message}`);
    });
    const taskList = {
        [GW_TASK]: async () => {},
        chain: async (payload, helpers) => {
            if (payload.step < 3) {
                await helpers.addJob('chain', { step: payload.step + 1 }, { priority: -payload.step });
            }
        },
    };
    const runner = await run({
        pgPool,
        logger,
        taskList,
        noHandleSignals: true,
        preset: { worker },
    });
    return {
        stop: async () => {
            await runner.stop();
            await pgPool.end();
        },
    };
}

async function gwSetup(client) {
    const { runMigrations, Logger } = await import('graphile-worker');
    const logger = new Logger(() => (level, message) => {
        if (level === 'error') console.error(`graphile-worker: ${message}`);
    });
    const pgPool = new pg.Pool({ database: DATABASE, max: 2 });
    poolErrors(pgPool);
    await runMigrations({ pgPool, logger });
    await pgPool.end();
}

function poolErrors(pool) {
    pool.on('error', (e) => console.error(`graphile-worker pool: ${e.message}`));
    pool.on('connect', (c) => c.on('error', (e) => console.error(`graphile-worker connection: ${e.message}`)));
}

// jobs waiting (not locked) of the row's task
const gwTask = (row) => (row === 'gw3' ? 'chain' : GW_TASK);
async function gwWaiting(client, row) {
    const { rows } = await client.query(
        `SELECT count(*)::bigint AS n FROM graphile_worker._private_jobs j
           JOIN graphile_worker._private_tasks t ON t.id = j.task_id
          WHERE t.identifier = $1 AND j.locked_at IS NULL`, [gwTask(row)]);
    return Number(rows[0].n);
}

// the perfTest's way of adding jobs in bulk (init.js): graphile_worker.add_jobs with an array of
// job_spec, no job key; here built in SQL, 100,000 a statement
async function gwAdd(client, row, n) {
    const spec = row === 'gw3'
        ? `json_build_object('identifier', 'chain', 'payload', json_build_object('step', 1))`
        : `json_build_object('identifier', '${GW_TASK}', 'payload', json_build_object('id', i))`;
    for (let left = n; left > 0; left -= 100000) {
        await client.query(
            `SELECT 1 FROM graphile_worker.add_jobs(array(
               SELECT json_populate_record(null::graphile_worker.job_spec, ${spec})
                 FROM generate_series(1, $1) i)) LIMIT 1`, [Math.min(left, 100000)]);
    }
}

async function gwSnapshot(client, row) {
    const { rows } = await client.query(
        `SELECT extract(epoch FROM statement_timestamp())::float8 AS t,
                (SELECT count(*) FROM graphile_worker._private_jobs j
                   JOIN graphile_worker._private_tasks t ON t.id = j.task_id
                  WHERE t.identifier = $1)::bigint AS present,
                (SELECT count(*) FROM graphile_worker._private_jobs j
                   JOIN graphile_worker._private_tasks t ON t.id = j.task_id
                  WHERE t.identifier = $1 AND j.locked_at IS NULL)::bigint AS waiting,
                pg_sequence_last_value(pg_get_serial_sequence('graphile_worker._private_jobs', 'id'))::bigint AS seq`,
        [gwTask(row)]);
    const r = rows[0];
    return { t: r.t, present: Number(r.present), waiting: Number(r.waiting), seq: Number(r.seq) };
}

// ---------- pg-boss ----------
async function bossNew(max) {
    const { PgBoss } = await import('pg-boss');
    const boss = new PgBoss({
        database: DATABASE,
        host: process.env.PGHOST,
        port: Number(process.env.PGPORT || 5432),
        user: process.env.PGUSER || 'postgres',
        max,
    });
    boss.on('error', (e) => console.error(`pg-boss: ${e.message}`));
    await boss.start();
    return boss;
}

async function bossSetup() {
    const boss = await bossNew(2);
    if (!(await boss.getQueue(BOSS_QUEUE))) await boss.createQueue(BOSS_QUEUE);
    await boss.stop({ graceful: true });
}

async function bossRunner(clients) {
    const boss = await bossNew(clients + 2);
    await boss.work(BOSS_QUEUE, {
        batchSize: 100,
        localConcurrency: clients,
        burstWhenBatchFull: true,
        pollingIntervalSeconds: 0.5,
    }, async (jobs) => jobs.length);
    return { stop: async () => boss.stop({ graceful: true, timeout: 10000 }) };
}

async function bossWaiting(client) {
    const { rows } = await client.query(
        `SELECT count(*)::bigint AS n FROM pgboss.job WHERE name = $1 AND state = 'created'`, [BOSS_QUEUE]);
    return Number(rows[0].n);
}

// pg-boss's bulk path, insert(), 10,000 jobs a call
async function bossAdd(n) {
    const boss = await bossNew(2);
    for (let left = n, i = 0; left > 0; left -= 10000) {
        const jobs = [];
        for (let k = 0; k < Math.min(left, 10000); k++) jobs.push({ data: { id: i++ } });
        await boss.insert(BOSS_QUEUE, jobs);
    }
    await boss.stop({ graceful: true });
}

async function bossSnapshot(client, since) {
    const { rows } = await client.query(
        `SELECT extract(epoch FROM statement_timestamp())::float8 AS t,
                (SELECT count(*) FROM pgboss.job WHERE name = $1 AND state = 'created')::bigint AS waiting,
                (SELECT count(*) FROM pgboss.job WHERE name = $1 AND state = 'completed'
                    AND completed_on >= to_timestamp($2::float8))::bigint AS completed`,
        [BOSS_QUEUE, since ?? 1e12]);
    const r = rows[0];
    return { t: r.t, waiting: Number(r.waiting), completed: Number(r.completed) };
}

// ---------- the run ----------
async function startWorkers() {
    if (ROW === 'boss') return bossRunner(CLIENTS);
    if (ROW !== 'gwp') return gwRunner(ROW, CLIENTS);
    // the perfTest's parallelism: 4 processes
    const me = fileURLToPath(import.meta.url);
    const kids = [];
    for (let i = 0; i < 4; i++) {
        const kid = fork(me, ['gwp-child', '24', String(SECONDS), DATABASE], { stdio: 'inherit' });
        kids.push(kid);
    }
    await Promise.all(kids.map((k) => new Promise((resolve, reject) => {
        k.once('message', (m) => (m === 'ready' ? resolve() : reject(new Error(String(m)))));
        k.once('exit', (code) => reject(new Error(`a perfTest worker process exited (${code})`)));
    })));
    let died = 0;
    for (const k of kids) {
        k.removeAllListeners('exit');
        k.once('exit', () => { died++; });
    }
    return {
        stop: async () => {
            if (died) throw new Error(`${died} of the 4 perfTest worker processes died during the run`);
            await Promise.all(kids.map((k) => new Promise((resolve) => {
                k.removeAllListeners('exit');
                if (k.exitCode !== null || k.signalCode !== null) return resolve();
                k.once('exit', resolve);
                k.send('stop');
            })));
        },
    };
}

async function main() {
    const client = new pg.Client({ database: DATABASE });
    await client.connect();
    await client.query(`CREATE TABLE IF NOT EXISTS bench_peer_rate (
        row text, clients int, rate float8 NOT NULL, PRIMARY KEY (row, clients))`);
    const gw = ROW !== 'boss';
    if (gw) await gwSetup(client); else await bossSetup();

    const { rows: last } = await client.query(
        'SELECT rate FROM bench_peer_rate WHERE row = $1 AND clients = $2', [ROW, CLIENTS]);
    let rate = SMOKE ? 500 : last.length ? Math.max(last[0].rate, 100) : DEFAULT_RATE[ROW];
    let r;
    // a run whose queue ran dry is run again with twice the supply, up to 3 times
    for (let attempt = 1; ; attempt++) {
        r = await measureOnce(client, gw, rate);
        if (!r.dry || SMOKE || attempt === 3) break;
        console.error(`peer.mjs: ${ROW} at ${CLIENTS}: the queue ran dry (${r.jobs} jobs in ${r.secs.toFixed(1)} s); again with a larger supply`);
        rate = 2 * Math.max(rate, r.perSec);
    }
    await client.query(
        `INSERT INTO bench_peer_rate VALUES ($1, $2, $3)
         ON CONFLICT (row, clients) DO UPDATE SET rate = excluded.rate`, [ROW, CLIENTS, r.perSec]);
    await client.end();
    console.log(Math.round(r.perSec));
    if (r.dry && !SMOKE) {
        console.error(`peer.mjs: ${ROW} at ${CLIENTS}: the queue ran dry during the run (${r.jobs} jobs in ${r.secs.toFixed(1)} s); the figure is too low`);
        process.exit(3);
    }
}

// one measured run with a supply for RATE jobs/s
async function measureOnce(client, gw, rate) {
    const need = Math.ceil(1.5 * rate * (SECONDS + WARMUP_MS / 1000)) + 1000;
    const waiting = gw ? await gwWaiting(client, ROW) : await bossWaiting(client);
    if (waiting < need) {
        // a chain head brings two more jobs
        const add = ROW === 'gw3' ? Math.ceil((need - waiting) / 3) : need - waiting;
        if (gw) await gwAdd(client, ROW, add); else await bossAdd(add);
        await client.query(gw ? 'VACUUM ANALYZE graphile_worker._private_jobs' : 'VACUUM ANALYZE pgboss.job');
    }
    // in smoke mode the supply is small: the window starts before the workers, so that it
    // holds every job they complete
    let workers;
    if (!SMOKE) {
        workers = await startWorkers();
        await sleep(WARMUP_MS);
    }
    let jobs, secs, dry;
    if (gw) {
        const a = await gwSnapshot(client, ROW);
        if (SMOKE) workers = await startWorkers();
        await sleep(SECONDS * 1000);
        const b = await gwSnapshot(client, ROW);
        jobs = a.present + (b.seq - a.seq) - b.present;
        secs = b.t - a.t;
        dry = b.waiting === 0;
    } else {
        const a = await bossSnapshot(client, null);
        if (SMOKE) workers = await startWorkers();
        await sleep(SECONDS * 1000);
        const b = await bossSnapshot(client, a.t);
        jobs = b.completed;
        secs = b.t - a.t;
        dry = b.waiting === 0;
    }
    await workers.stop();
    return { jobs, secs, dry, perSec: jobs / secs };
}

async function child() {
    const workers = await gwRunner('gwp', 24);
    process.send('ready');
    process.on('message', async (m) => {
        if (m === 'stop') {
            await workers.stop();
            process.exit(0);
        }
    });
}

(ROW === 'gwp-child' ? child() : main()).catch((e) => {
    console.error(`peer.mjs ${ROW}: ${e.stack || e.message}`);
    process.exit(1);
});
