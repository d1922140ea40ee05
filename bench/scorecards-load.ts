// The data set of `npm run bench:scorecards`, run by bench/scorecards.ts as a
// child process (so the loader's memory does not count against the
// computation's): a deterministic (seeded) year of partner records for a city
// or a province, written straight into the record ledger (storage/ledger.ts,
// the rows ingest writes when it accepts them; not through MQTT: the
// benchmark measures the scorecards, not ingest), the units and elevators
// registered in the registry, and entrapment timings in `rescue_timings`, all
// in one SQLite database as the service keeps them.
//
// Per elevator: routine maintenance every 12–15 days (16–25 when its unit is
// late, as often as the unit's lateness), ~0.5 repairs a year, the passing
// periodic inspection of the year before (whose next-due date falls in the
// period), the period's periodic inspection (first attempt passes with the
// unit's pass rate, re-inspections after a failure; sometimes after the due
// date, sometimes none at all), entrapments and a few other faults. Per unit:
// complaints at the unit's rate. Records are generated one elevator at a time
// and written in transactions of BENCH_BATCH records, so memory stays
// bounded.
//
// While generating, it computes what every scorecard must say (the generated
// outcomes, with the scorecard's own definitions) and writes that, with the
// load figures, to load.json: the benchmark checks the computed scorecards
// and the interview list against it.
import { openDb, sqliteDb, type Db } from '../storage/db.js';
import { statSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { RescueTimings } from '../alerts/rescue-timings.js';
import { FAULT_SEVERITY } from '../alerts/rules/elevator-faults.js';
import type { ChannelRecord } from '../domain/channels.js';
import type { EventType } from '../domain/messages.js';
import { cstDate, cstMidnight, DAY_MS, MINUTE_MS } from '../domain/time.js';
import { Registry } from '../registry/registry.js';
import { inspectionAttempts, maintenanceKind, personName, workTime } from '../simulators/behaviour-records.js';
import { clamp, Rng } from '../simulators/random.js';
import { RecordLedger, type LedgerItem } from '../storage/ledger.js';

export interface LoadParams {
  dbPath: string;
  /** postgres://… (BENCH_STATE=postgres): load there instead of the SQLite file dbPath */
  dbUrl?: string;
  outPath: string;
  elevators: number;
  units: number;
  seed: number;
  /** the period, YYYY-MM-DD, [from, to) */
  from: string;
  to: string;
  batch: number;
  /** share of elevators on a 30-day maintenance interval instead of 15 */
  interval30: number;
}

/** What one unit's scorecard must say, from the generated outcomes. */
export interface UnitExpect {
  unit: string;
  elevators: number;
  targetPassRate: number;
  first: number;
  passed: number;
  reinspections: number;
  complaints: number;
  records: number;
  routine: number;
  overdueEpisodes: number;
  overdueDays: number;
  without: number;
  overdueInspections: number;
  overdueInspectionDays: number;
  entrapments: number;
  arrivalsOverLimit: number;
  dangerous: number;
}

export interface LoadResult {
  params: Omit<LoadParams, 'dbPath' | 'outPath'>;
  records: number;
  dbBytes: number;
  loadMs: number;
  rescueRows: number;
  counts: Record<string, number>;
  units: UnitExpect[];
}

const DANGEROUS = (Object.keys(FAULT_SEVERITY) as EventType[]).filter((t) => FAULT_SEVERITY[t] === 'critical' && t !== 'entrapment');
const MINOR: EventType[] = ['door_close_fault', 'door_open_fault', 'safety_circuit_open', 'power_failure'];
const INSTITUTIONS = ['特检院一所', '特检院二所', '特检院三所', '市特检中心'];
const CATEGORIES = ['困人', '电梯异响', '运行抖动', '门开关异常', '经常停梯', '维保不到位', '按钮失灵'];
const ARRIVAL_LIMIT_MS = 30 * MINUTE_MS;

export const unitId = (u: number) => `MU${String(u).padStart(4, '0')}`;
export const elevatorCode = (i: number) => `E${String(i).padStart(7, '0')}`;

interface UnitTraits { passRate: number; lateness: number; complaintsPer100: number; size: number }

/** Unit traits and sizes: 3 % tiny units (1–4 elevators, "insufficient data"), the rest sized by weight. */
function unitTraits(root: Rng, units: number, elevators: number): UnitTraits[] {
  const traits = Array.from({ length: units }, (_, u) => {
    const r = root.fork(`unit:${u}`);
    const tiny = r.chance(0.03);
    const weight = r.range(0.3, 2.5);
    const late = r.chance(0.2);
    return {
      tiny, weight, size: tiny ? r.int(1, 4) : 0,
      passRate: clamp(r.normal(0.72, 0.1), 0.4, 0.97),
      lateness: late ? r.range(0.3, 0.7) : r.range(0.02, 0.12),
      complaintsPer100: r.chance(0.3) ? r.range(6, 40) : r.range(1, 4.5),
    };
  });
  const rest = elevators - traits.reduce((a, t) => a + t.size, 0);
  const big = traits.filter((t) => !t.tiny);
  const w = big.reduce((a, t) => a + t.weight, 0);
  for (const t of big) t.size = Math.max(1, Math.floor((rest * t.weight) / w));
  let left = elevators - traits.reduce((a, t) => a + t.size, 0);
  for (let k = 0; left !== 0; k = (k + 1) % big.length, left += left > 0 ? -1 : 1) {
    if (left < 0 && big[k]!.size <= 1) continue;
    big[k]!.size += left > 0 ? 1 : -1;
  }
  return traits;
}

export async function load(P: LoadParams): Promise<LoadResult> {
  const root = new Rng(P.seed);
  const from = cstMidnight(P.from);
  const to = cstMidnight(P.to);
  const days = Math.round((to - from) / DAY_MS);
  const traits = unitTraits(root, P.units, P.elevators);

  // Elevator → unit: blocks of each unit's size, shuffled so units interleave across districts.
  const unitOf = new Int32Array(P.elevators);
  for (let u = 0, i = 0; u < P.units; u++) for (let k = 0; k < traits[u]!.size; k++) unitOf[i++] = u;
  const shuffle = root.fork('assign');
  for (let i = P.elevators - 1; i > 0; i--) {
    const j = Math.floor(shuffle.next() * (i + 1));
    const t = unitOf[i]!;
    unitOf[i] = unitOf[j]!;
    unitOf[j] = t;
  }
  // Registry facts per elevator, from their own stream: maintenance interval and the day the periodic inspection falls due.
  const interval = new Uint8Array(P.elevators);
  const dueDay = new Uint16Array(P.elevators);
  for (let i = 0; i < P.elevators; i++) {
    const r = root.fork(`pre:${i}`);
    interval[i] = r.chance(P.interval30) ? 30 : 15;
    dueDay[i] = r.int(0, days - 1);
  }
  const district = (i: number) => `区${i % 16}`;

  // 1. Registry: units and elevators, each collection in one transaction (putMany).
  const db = P.dbUrl ? openDb({ url: P.dbUrl, dataDir: '', timeoutMs: 600_000 }) : sqliteDb(P.dbPath);
  const registry = new Registry(db);
  const t0 = performance.now();
  const uerr = registry.units.putMany(Array.from({ length: P.units }, (_, u) => ({ row: u, input: { id: unitId(u), name: `维保单位${u}` } })));
  const eerr = registry.elevators.putMany(Array.from({ length: P.elevators }, (_, i) => ({
    row: i,
    input: {
      code: elevatorCode(i), address: `测试路${i}号`, district: district(i), userUnit: '物业', maintenanceUnit: unitId(unitOf[i]!),
      nextInspectionDue: cstDate(from + (dueDay[i]! + 365) * DAY_MS), maintenanceIntervalDays: interval[i]!,
    },
  })));
  if (uerr.length || eerr.length) throw new Error(`registration failed: ${JSON.stringify([...uerr, ...eerr].slice(0, 3))}`);
  const registerMs = performance.now() - t0;
  console.log(`  registry: ${P.units} units, ${P.elevators} elevators registered (putMany, one transaction each) in ${(registerMs / 1000).toFixed(1)} s`);

  // 2. Records.
  new RescueTimings(db);
  const insertRescue = db.prepare('INSERT INTO rescue_timings (alert_id, elevator, unit, trapped_at, dispatched_at, arrived_at, released_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
  let rescues: [number, string, string, number, number, number, number][] = [];
  let rescueRows = 0;
  const flushRescues = db.transaction(() => {
    insertRescue.runMany(rescues);
    rescueRows += rescues.length;
    rescues = [];
  });

  const exp: UnitExpect[] = traits.map((t, u) => ({
    unit: unitId(u), elevators: t.size, targetPassRate: t.passRate, first: 0, passed: 0, reinspections: 0, complaints: 0, records: 0, routine: 0,
    overdueEpisodes: 0, overdueDays: 0, without: 0, overdueInspections: 0, overdueInspectionDays: 0, entrapments: 0, arrivalsOverLimit: 0, dangerous: 0,
  }));
  const counts: Record<string, number> = { maintenance: 0, inspection: 0, complaint: 0, elevator_event: 0 };
  const ledger = new RecordLedger(db);
  let buf: LedgerItem[] = [];
  let written = 0;
  const flush = () => {
    ledger.add(buf);
    written += buf.length;
    buf = [];
  };
  const put = (item: LedgerItem, what: string) => {
    buf.push(item);
    counts[what]!++;
  };
  const tLoad = performance.now();
  let lastReport = tLoad;

  for (let i = 0; i < P.elevators; i++) {
    const code = elevatorCode(i);
    const u = unitOf[i]!;
    const unit = unitId(u);
    const t = traits[u]!;
    const x = exp[u]!;
    const ctx = { district: district(i), unit };
    const r = root.fork(`e:${i}`);
    const iv = interval[i]!;
    const I = iv * DAY_MS;
    const overdue = (start: number, end: number) => {
      const a = Math.max(start, from);
      const b = Math.min(end, to);
      if (b <= a) return;
      x.overdueEpisodes++;
      x.overdueDays += (b - a) / DAY_MS;
    };

    // Routine maintenance, from one visit before the period to its end; 0.3 % of elevators have none.
    if (r.chance(0.003)) x.without++;
    else {
      let prev: number | undefined;
      let visit = 0;
      for (let day = from - r.int(1, iv - 1) * DAY_MS; day < to; ) {
        visit++;
        const ts = workTime(day, r);
        const rec: ChannelRecord['maintenance'] = { id: `${code}.m${visit}`, ts, elevator: code, unit, kind: maintenanceKind(visit), technician: personName(r) };
        put({ channel: 'maintenance', record: rec, code: null, ctx }, 'maintenance');
        if (ts >= from) {
          x.records++;
          x.routine++;
        }
        if (prev !== undefined) overdue(prev + I, ts);
        prev = ts;
        const late = r.chance(t.lateness);
        day += (iv === 15 ? (late ? r.int(16, 25) : r.int(12, 15)) : late ? r.int(31, 45) : r.int(24, 30)) * DAY_MS;
      }
      if (prev !== undefined) overdue(prev + I, to);
    }
    // Repairs: ~0.5 a year.
    for (let ts = from + Math.floor(r.exp(2 * 365 * DAY_MS) / 1000) * 1000, n = 1; ts < to; ts += Math.floor(r.exp(2 * 365 * DAY_MS) / 1000) * 1000, n++) {
      put({ channel: 'maintenance', record: { id: `${code}.r${n}`, ts, elevator: code, unit, kind: 'repair', technician: personName(r) }, code: null, ctx }, 'maintenance');
      x.records++;
    }

    // Periodic inspections: last year's pass (due in the period), then this period's cycle.
    const due = from + dueDay[i]! * DAY_MS;
    const institution = INSTITUTIONS[i % INSTITUTIONS.length]!;
    const passes: { t: number; due: string }[] = [];
    const inspect = (id: string, ts: number, attempt: number, result: 'pass' | 'fail', nextDue?: string) => {
      const rec: ChannelRecord['inspection'] = { id, ts, elevator: code, institution, unit, kind: 'periodic', attempt, result, ...(nextDue ? { nextDue } : {}) };
      put({ channel: 'inspection', record: rec, code: null, ctx }, 'inspection');
      if (result === 'pass' && nextDue) passes.push({ t: ts, due: nextDue });
    };
    inspect(`${code}.i0`, workTime(due - 365 * DAY_MS, r), 1, 'pass', cstDate(due));
    if (!r.chance(0.02)) {
      let day = r.chance(0.05 + 0.2 * t.lateness) ? due + r.int(1, 60) * DAY_MS : due - r.int(0, 30) * DAY_MS;
      for (const a of inspectionAttempts(t.passRate, r)) {
        day += a.gapDays * DAY_MS;
        const ts = workTime(day, r);
        if (ts >= to) break;
        inspect(`${code}.i${a.attempt}`, ts, a.attempt, a.result, a.result === 'pass' ? cstDate(day + 365 * DAY_MS) : undefined);
        if (ts >= from) {
          if (a.attempt === 1) {
            x.first++;
            if (a.result === 'pass') x.passed++;
          } else x.reinspections++;
        }
      }
    }
    // Overdue inspections, as the scorecard defines them (a pass's due date in the period, no pass by the end of that day).
    passes.sort((a, b) => a.t - b.t);
    passes.forEach((p, k) => {
      const overdueFrom = cstMidnight(p.due) + DAY_MS;
      if (overdueFrom <= from || overdueFrom > to) return;
      const next = passes.slice(k + 1).find((q) => q.t >= p.t)?.t ?? Infinity;
      if (next < overdueFrom) return;
      x.overdueInspections++;
      x.overdueInspectionDays += (Math.min(next, to) - overdueFrom) / DAY_MS;
    });

    // Events: entrapments (~0.3 a year, more for late units) with their rescue timings, dangerous and minor faults.
    let n = 0;
    const event = (type: EventType, ts: number, minutes: number) => {
      n++;
      put({ channel: 'event', record: { id: `${code}.e${n}r`, ts, type, state: 'raised', floor: 1 + (n % 20) }, code, ctx }, 'elevator_event');
      put({ channel: 'event', record: { id: `${code}.e${n}c`, ts: ts + minutes * MINUTE_MS, type, state: 'cleared' }, code, ctx }, 'elevator_event');
    };
    for (let ts = from + Math.floor(r.exp((365 * DAY_MS) / (0.3 * (1 + t.lateness))) / 1000) * 1000; ts < to; ts += Math.floor(r.exp((365 * DAY_MS) / (0.3 * (1 + t.lateness))) / 1000) * 1000) {
      const dispatched = ts + r.int(30, 240) * 1000;
      const arrived = dispatched + Math.round((r.chance(0.88) ? r.range(5, 25) : r.range(31, 55)) * 60) * 1000;
      const released = arrived + r.int(120, 720) * 1000;
      event('entrapment', ts, Math.ceil((released - ts) / MINUTE_MS));
      rescues.push([1_000_000 + rescueRows + rescues.length, code, unit, ts, dispatched, arrived, released]);
      x.entrapments++;
      if (arrived - ts > ARRIVAL_LIMIT_MS) x.arrivalsOverLimit++;
    }
    for (let ts = from + Math.floor(r.exp(365 * DAY_MS / 0.08) / 1000) * 1000; ts < to; ts += Math.floor(r.exp(365 * DAY_MS / 0.08) / 1000) * 1000) {
      event(r.pick(DANGEROUS), ts, r.int(5, 120));
      x.dangerous++;
    }
    for (let ts = from + Math.floor(r.exp(365 * DAY_MS / 0.3) / 1000) * 1000; ts < to; ts += Math.floor(r.exp(365 * DAY_MS / 0.3) / 1000) * 1000) {
      event(r.pick(MINOR), ts, r.int(1, 30));
    }

    if (rescues.length >= 10_000) flushRescues();
    if (buf.length >= P.batch) flush();
    if (performance.now() - lastReport > 15_000) {
      lastReport = performance.now();
      const s = (lastReport - tLoad) / 1000;
      console.log(`  … ${i + 1}/${P.elevators} elevators, ${written} records in ${s.toFixed(0)} s (${Math.round(written / s)} records/s)`);
    }
  }

  // Complaints: per unit at its rate per 100 elevators, most naming one of its elevators.
  const members: number[][] = traits.map(() => []);
  for (let i = 0; i < P.elevators; i++) members[unitOf[i]!]!.push(i);
  for (let u = 0; u < P.units; u++) {
    const r = root.fork(`complaints:${u}`);
    const mean = (traits[u]!.complaintsPer100 * traits[u]!.size) / 100;
    const count = Math.floor(mean) + (r.chance(mean - Math.floor(mean)) ? 1 : 0);
    for (let k = 0; k < count; k++) {
      const ts = from + Math.floor((r.next() * (to - from)) / 1000) * 1000;
      const i = r.pick(members[u]!);
      const rec: ChannelRecord['complaint'] = {
        id: `${unitId(u)}.c${k}`, ts, source: r.chance(0.55) ? '12345' : '96333', category: r.pick(CATEGORIES), unit: unitId(u),
        ...(r.chance(0.85) ? { elevator: elevatorCode(i) } : {}),
      };
      put({ channel: 'complaint', record: rec, code: null, ctx: { district: district(i), unit: unitId(u) } }, 'complaint');
      exp[u]!.complaints++;
    }
    if (buf.length >= P.batch) flush();
  }
  flushRescues();
  flush();
  if (db.dialect === 'sqlite') db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  const loadMs = performance.now() - tLoad;
  const records = ledger.count();
  const dbBytes = db.dialect === 'postgres' ? (db.prepare('SELECT pg_database_size(current_database())').pluck().get() as number) : statSync(P.dbPath).size;
  db.close();
  const { dbPath: _d, outPath: _o, dbUrl: _u, ...params } = P;
  return { params, records, dbBytes, loadMs, rescueRows, counts, units: exp };
}

// Run as a script: node dist/bench/scorecards-load.js '<LoadParams JSON>'
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const P = JSON.parse(process.argv[2]!) as LoadParams;
  Promise.resolve().then(() => load(P)).then(
    (res) => {
      writeFileSync(P.outPath, JSON.stringify(res));
      process.exit(0);
    },
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
