// `npm run bench:scorecards`: maintenance-unit scorecards and the interview
// list over a year of records, for a city (30,000 elevators, 120 units) and a
// province (500,000 elevators, 2,000 units).
//
// Per scale: a fresh SQLite database (BENCH_DIR) into which
// bench/scorecards-load.ts (a child process) registers the units and
// elevators and writes a deterministic year of records for the previous
// calendar year (CST) into the record ledger, as ingest writes them. Then it
// times what the service does when asked for the list: the scorecards in a
// worker thread (supervision/scorecard-worker.ts, the service's code path)
// and InterviewLists.save() (ranking and freezing the list), BENCH_RUNS times
// (the first on a cold page cache of this process, then warm), with peak
// RSS of this process and of the worker (they share it), CPU, and the longest
// stall of this process's event loop (it must stay free to acknowledge MQTT
// messages meanwhile), and PASS/FAIL against city < 2 s and province < 30 s
// (scorecards + list, slowest run). Every scorecard is checked against what
// the generator knows it must say, and the listed units against the units
// generated below 70 % (with ≥ 5 first inspections) or with ≥ 5 complaints
// per 100 elevators; any difference fails the run (exit code 1).
//
// Environment: BENCH_SCALE (both | city | province | <elevators>x<units>),
// BENCH_KEEP=1 (keep the data in BENCH_DIR, default /tmp/se-bench-scorecards,
// and reuse it on the next run), BENCH_RUNS (3), BENCH_SEED (1),
// BENCH_BATCH (records per transaction, 50000), BENCH_INTERVAL30 (share of
// elevators on a 30-day maintenance interval, 0.002), BENCH_STATE (sqlite, or
// postgres: the same in a project-local PostgreSQL in BENCH_DIR).
import { openDb, sqliteDb, type Db } from '../storage/db.js';
import { startLocalPostgres, type LocalPostgres } from '../storage/postgres.js';
import { freePort } from './free-port.js';
import pino from 'pino';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CRITERIA, InterviewLists, periodMs, previousYear, type ListedUnit } from '../supervision/interview.js';
import { DEFAULT_SCORECARD, type Scorecard } from '../supervision/scorecard.js';
import { scorecardsOffThread } from '../supervision/scorecard-worker.js';
import { Registry } from '../registry/registry.js';
import { benchState, run } from './harness.js';
import type { LoadParams, LoadResult, UnitExpect } from './scorecards-load.js';

interface Scale { name: string; elevators: number; units: number; targetMs: number | null }
const SCALES: Record<string, Scale> = {
  city: { name: 'city', elevators: 30_000, units: 120, targetMs: 2_000 },
  province: { name: 'province', elevators: 500_000, units: 2_000, targetMs: 30_000 },
};
const env = process.env;
const RUNS = Math.max(1, Number(env.BENCH_RUNS ?? 3));
const SEED = Number(env.BENCH_SEED ?? 1);
const KEEP = env.BENCH_KEEP === '1';
const here = fileURLToPath(new URL('.', import.meta.url));

function scales(): Scale[] {
  const s = env.BENCH_SCALE ?? 'both';
  if (s === 'both') return [SCALES.city!, SCALES.province!];
  if (SCALES[s]) return [SCALES[s]];
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (m) return [{ name: s, elevators: Number(m[1]), units: Number(m[2]), targetMs: null }];
  throw new Error(`BENCH_SCALE must be both, city, province or <elevators>x<units>, not ${s}`);
}

const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mb = (b: number) => `${(b / 1048576).toFixed(0)} MB`;
const int = (n: number) => Math.round(n).toLocaleString('en-US');

/** Peak RSS of this process (the scorecard worker is a thread in it), sampled every 20 ms. */
function sampleRss() {
  let peak = process.memoryUsage.rss();
  const h = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 20);
  return { stop: () => (clearInterval(h), Math.max(peak, process.memoryUsage.rss())) };
}

async function runLoader(P: LoadParams): Promise<LoadResult> {
  const child = spawn(process.execPath, ['--max-old-space-size=4096', join(here, 'scorecards-load.js'), JSON.stringify(P)], { stdio: ['ignore', 'inherit', 'inherit'] });
  const code = await new Promise<number | null>((res) => child.once('exit', res));
  if (code !== 0) throw new Error(`loader exited with code ${code}`);
  return JSON.parse(readFileSync(P.outPath, 'utf8')) as LoadResult;
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

/** Compares every scorecard with the generated outcomes and the list with the units that must be listed; returns the problems. */
function verify(cards: Scorecard[], exp: UnitExpect[], listed: ListedUnit[]): { problems: string[]; summary: string[] } {
  const problems: string[] = [];
  const byUnit = new Map(cards.map((c) => [c.unit, c]));
  if (cards.length !== exp.length) problems.push(`${cards.length} scorecards for ${exp.length} units`);
  const c = DEFAULT_CRITERIA;
  const expPass = new Set<string>();
  const expComplaint = new Set<string>();
  let targetBelow = 0;
  let insufficient = 0;
  for (const x of exp) {
    if (x.targetPassRate < c.passRateBelow) targetBelow++;
    if (x.first < c.minInspections) insufficient++;
    else if (x.passed / x.first < c.passRateBelow) expPass.add(x.unit);
    if (round((x.complaints / x.elevators) * 100, 2) >= c.complaintRateAtLeast) expComplaint.add(x.unit);
    const s = byUnit.get(x.unit);
    if (!s) {
      problems.push(`${x.unit}: no scorecard`);
      continue;
    }
    const checks: [string, number, number, number][] = [
      ['elevators', s.elevators, x.elevators, 0],
      ['inspections.first', s.inspections.first, x.first, 0],
      ['inspections.passed', s.inspections.passed, x.passed, 0],
      ['inspections.reinspections', s.inspections.reinspections, x.reinspections, 0],
      ['complaints.count', s.complaints.count, x.complaints, 0],
      ['maintenance.records', s.maintenance.records, x.records, 0],
      ['maintenance.routine', s.maintenance.routine, x.routine, 0],
      ['maintenance.overdueEpisodes', s.maintenance.overdueEpisodes, x.overdueEpisodes, 0],
      ['maintenance.overdueElevatorDays', s.maintenance.overdueElevatorDays, round(x.overdueDays, 1), 0.11],
      ['maintenance.elevatorsWithoutRecords', s.maintenance.elevatorsWithoutRecords, x.without, 0],
      ['overdueInspections.count', s.overdueInspections.count, x.overdueInspections, 0],
      ['overdueInspections.elevatorDays', s.overdueInspections.elevatorDays, round(x.overdueInspectionDays, 1), 0.11],
      ['entrapments.count', s.entrapments.count, x.entrapments, 0],
      ['entrapments.arrivalsOverLimit', s.entrapments.arrivalsOverLimit, x.arrivalsOverLimit, 0],
      ['dangerousFaults', s.dangerousFaults, x.dangerous, 0],
    ];
    for (const [name, got, want, tol] of checks) if (Math.abs(got - want) > tol) problems.push(`${x.unit} ${name}: scorecard ${got}, generated ${want}`);
  }
  const expListed = new Set([...expPass, ...expComplaint]);
  const got = new Map(listed.map((l) => [l.unit, l]));
  for (const u of expListed) if (!got.has(u)) problems.push(`${u} should be listed but is not`);
  for (const [u, l] of got) {
    if (!expListed.has(u)) problems.push(`${u} is listed but should not be`);
    const reasons = l.reasons.map((r) => r.criterion).sort().join(',');
    const want = [...(expComplaint.has(u) ? ['complaint_rate'] : []), ...(expPass.has(u) ? ['pass_rate'] : [])].join(',');
    if (reasons !== want) problems.push(`${u} listed for ${reasons}, generated outcome says ${want}`);
  }
  const listedPass = listed.filter((l) => l.reasons.some((r) => r.criterion === 'pass_rate')).length;
  const listedComplaint = listed.filter((l) => l.reasons.some((r) => r.criterion === 'complaint_rate')).length;
  const summary = [
    `units: ${exp.length}; ${insufficient} with < ${c.minInspections} first inspections (insufficient data); ${targetBelow} drawn with a target pass rate < 70 %`,
    `pass rate < 70 % with ≥ ${c.minInspections} first inspections: generated ${expPass.size}, listed for it ${listedPass}`,
    `complaints ≥ ${c.complaintRateAtLeast} per 100 elevators: generated ${expComplaint.size}, listed for it ${listedComplaint}`,
    `listed: ${listed.length} (expected ${expListed.size}); scorecard fields checked: 15 per unit`,
  ];
  return { problems, summary };
}

async function benchScale(S: Scale, period: { from: string; to: string }): Promise<boolean> {
  const p = periodMs(period.from, period.to);
  console.log(`\n=== ${S.name}: ${int(S.elevators)} elevators, ${int(S.units)} units, period ${period.from} .. ${period.to} (CST) ===`);
  const base = env.BENCH_DIR ?? join(tmpdir(), 'se-bench-scorecards');
  const dir = KEEP ? join(base, `${S.name}-${period.from}-seed${SEED}`) : mkdtempSync(join(tmpdir(), 'se-bench-scorecards-'));
  const loadedPath = join(dir, 'load.json');
  const P: LoadParams = {
    dbPath: join(dir, 'state.db'), outPath: loadedPath, elevators: S.elevators, units: S.units, seed: SEED,
    from: period.from, to: period.to, batch: Number(env.BENCH_BATCH ?? 50_000), interval30: Number(env.BENCH_INTERVAL30 ?? 0.002),
  };
  const sameParams = (r: LoadResult) => (['elevators', 'units', 'seed', 'from', 'to', 'interval30'] as const).every((k) => r.params[k] === P[k]);
  let loaded: LoadResult | null = existsSync(loadedPath) ? (JSON.parse(readFileSync(loadedPath, 'utf8')) as LoadResult) : null;
  if (loaded && !sameParams(loaded)) loaded = null;
  let db: Db | null = null;
  let pg: LocalPostgres | null = null;
  try {
    if (benchState() === 'postgres') {
      mkdirSync(dir, { recursive: true });
      pg = await startLocalPostgres({ dataDir: dir, port: await freePort(), log: pino({ level: 'warn' }) });
      P.dbUrl = pg.url;
      console.log('state on a project-local PostgreSQL');
    }
    if (loaded) console.log(`reusing the data in ${dir} (BENCH_KEEP=1): ${int(loaded.records)} records, loaded earlier in ${sec(loaded.loadMs)}`);
    else {
      if (!pg) rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      console.log(`loading into ${pg ? 'PostgreSQL' : dir} …`);
      loaded = await runLoader(P);
      const c = loaded.counts;
      console.log(`load: ${int(loaded.records)} ledger rows of ${int(c.maintenance! + c.inspection! + c.complaint! + c.elevator_event!)} records (maintenance ${int(c.maintenance!)}, inspection ${int(c.inspection!)}, complaint ${int(c.complaint!)}, elevator events ${int(c.elevator_event!)}, of which only the raised are kept) in ${sec(loaded.loadMs)} → ${int(loaded.records / (loaded.loadMs / 1000))} rows/s; database ${mb(loaded.dbBytes)}; ${int(loaded.rescueRows)} rescue timings`);
    }
    db = P.dbUrl ? openDb({ url: P.dbUrl, dataDir: '', timeoutMs: 600_000 }) : sqliteDb(P.dbPath);
    const lists = new InterviewLists(db);
    // The registry in memory, as in the service (the scorecards take its units and elevators from there).
    const registry = new Registry(db);
    const opts = { ...DEFAULT_SCORECARD, minInspections: DEFAULT_CRITERIA.minInspections };
    const times: number[] = [];
    let mismatches = 0;
    for (let run = 1; run <= RUNS; run++) {
      global.gc?.();
      const rss = sampleRss();
      const stall = monitorEventLoopDelay({ resolution: 10 });
      stall.enable();
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const cards: Scorecard[] = await scorecardsOffThread(db, registry, p, opts);
      const t1 = performance.now();
      const listed: ListedUnit[] = lists.save(period, cards, DEFAULT_CRITERIA, 'bench').units;
      const t2 = performance.now();
      stall.disable();
      const cpu = process.cpuUsage(cpu0);
      const peak = rss.stop();
      times.push(t2 - t0);
      console.log(`run ${run}${run === 1 ? ' (first after loading or start)' : ''}: scorecards ${sec(t1 - t0)} (${cards.length} units, worker thread), list ${sec(t2 - t1)} (${listed.length} listed) → ${sec(t2 - t0)}`);
      console.log(`  CPU ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s; peak RSS ${mb(peak)}; longest event-loop stall of the main thread ${(stall.max / 1e6).toFixed(0)} ms`);
      const v = verify(cards, loaded.units, listed);
      if (run === 1) {
        console.log('  sanity check against the generated outcomes:');
        for (const s of v.summary) console.log(`    ${s}`);
      }
      if (v.problems.length) {
        mismatches++;
        console.log(`  MISMATCH: ${v.problems.length} problems, e.g.:`);
        for (const pr of v.problems.slice(0, 15)) console.log(`    ${pr}`);
      } else if (run === 1) console.log('  OK: every scorecard matches the generated data, and exactly the expected units are listed');
    }
    const worst = Math.max(...times);
    const met = S.targetMs === null || worst < S.targetMs;
    if (S.targetMs !== null) console.log(`${met ? 'PASS' : 'FAIL'}: ${S.name} scorecards + list, slowest of ${times.length} runs: ${sec(worst)} (target < ${sec(S.targetMs)})`);
    return met && mismatches === 0;
  } finally {
    db?.close();
    await pg?.stop();
    if (!KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

async function main() {
  const period = previousYear();
  let ok = true;
  for (const S of scales()) ok = (await benchScale(S, period)) && ok;
  process.exit(ok ? 0 : 1);
}

run(main);
