// Maintenance-unit scorecards over a period, computed from the records in
// InfluxDB in event time (backfilled history counts; a re-sent record lands
// on the same point, so duplicates never count twice). The unit of a record
// is the record's own `unit` tag, which ingest fills from the registry when
// the record has none. The heavy lifting is done by InfluxDB (counts grouped
// by unit; maintenance gaps with elapsed() in a subquery that returns only
// the overdue gaps), so memory stays bounded by the number of elevators, not
// of records. Entrapment timings come from the alert engine's rescue timings
// (one row per entrapment, however many times the gateway repeated it).
import type { Database } from 'better-sqlite3';
import { cstMidnight, DAY_MS } from '../domain/time.js';
import { FAULT_SEVERITY } from '../alerts/rules/elevator-faults.js';
import type { Registry } from '../registry/registry.js';
import type { InfluxStore } from '../storage/influx.js';

export interface Period {
  /** epoch ms, inclusive */
  from: number;
  /** epoch ms, exclusive */
  to: number;
}

export interface ScorecardOptions {
  /** below this many first periodic inspections the pass rate is "insufficient data" */
  minInspections: number;
  /** an entrapment arrival slower than this counts as late (TSG T5002: 30 min) */
  arrivalLimitMs: number;
}

export const DEFAULT_SCORECARD: ScorecardOptions = { minInspections: 5, arrivalLimitMs: 30 * 60_000 };

export interface Scorecard {
  unit: string;
  name: string | null;
  /** elevators the registry lists for the unit */
  elevators: number;
  inspections: {
    /** periodic inspections with attempt 1 in the period */
    first: number;
    passed: number;
    /** passed / first, or null: "insufficient data" below the minimum sample */
    passRate: number | null;
    insufficient: boolean;
    reinspections: number;
  };
  complaints: { count: number; /** per 100 elevators */ rate: number | null };
  maintenance: { records: number; routine: number; overdueEpisodes: number; overdueElevatorDays: number; elevatorsWithoutRecords: number };
  /** periodic inspections that fell due in the period and were not passed by their due date */
  overdueInspections: { count: number; elevatorDays: number };
  entrapments: { count: number; per100: number | null; meanArrivalMin: number | null; meanRescueMin: number | null; arrivalsOverLimit: number };
  dangerousFaults: number;
}

const DANGEROUS = Object.entries(FAULT_SEVERITY).filter(([t, s]) => s === 'critical' && t !== 'entrapment').map(([t]) => t);
const ms = (t: number) => `${Math.trunc(t)}ms`;
const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

interface Counter { [unit: string]: number }

async function countBy(store: InfluxStore, q: string, field = 'count'): Promise<Counter> {
  const out: Counter = {};
  for (const r of await store.rows(q)) out[String(r.unit ?? '')] = (out[String(r.unit ?? '')] ?? 0) + Number(r[field] ?? 0);
  return out;
}

async function timesBy(store: InfluxStore, q: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const r of await store.rows(q)) out.set(String(r.elevator), Number(r.time));
  return out;
}

/** Overdue maintenance per unit: episodes overlapping the period and elevator-days overdue within it. */
async function overdueMaintenance(store: InfluxStore, registry: Registry, p: Period): Promise<{ episodes: Counter; days: Counter; without: Counter }> {
  const episodes: Counter = {};
  const days: Counter = {};
  const without: Counter = {};
  const add = (unit: string, start: number, end: number) => {
    const a = Math.max(start, p.from);
    const b = Math.min(end, p.to);
    if (b <= a) return;
    episodes[unit] = (episodes[unit] ?? 0) + 1;
    days[unit] = (days[unit] ?? 0) + (b - a) / DAY_MS;
  };
  const routine = `FROM "maintenance" WHERE "routine" = 'true'`;
  const [lastBefore, firstIn, lastIn] = await Promise.all([
    timesBy(store, `SELECT last("id") ${routine} AND time < ${ms(p.from)} GROUP BY "elevator"`),
    timesBy(store, `SELECT first("id") ${routine} AND time >= ${ms(p.from)} AND time < ${ms(p.to)} GROUP BY "elevator"`),
    timesBy(store, `SELECT last("id") ${routine} AND time >= ${ms(p.from)} AND time < ${ms(p.to)} GROUP BY "elevator"`),
  ]);
  // Elevators by interval: one gap query per distinct interval (almost always just 15 days).
  const byInterval = new Map<number, string[]>();
  for (const e of registry.elevators.items.values()) {
    const list = byInterval.get(e.maintenanceIntervalDays) ?? [];
    list.push(e.code);
    byInterval.set(e.maintenanceIntervalDays, list);
  }
  const intervals = [...byInterval.keys()].sort((a, b) => (byInterval.get(b)!.length - byInterval.get(a)!.length));
  const re = (codes: string[]) => `/^(${codes.map((c) => c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$/`;
  for (const [i, interval] of intervals.entries()) {
    const I = interval * DAY_MS;
    // The most common interval: every elevator but the others'; the rest: their own elevators.
    const others = intervals.filter((x) => x !== interval).flatMap((x) => byInterval.get(x)!);
    const which = i === 0 ? (others.length ? ` AND "elevator" !~ ${re(others)}` : '') : ` AND "elevator" =~ ${re(byInterval.get(interval)!)}`;
    const gaps = await store.rows(`SELECT "e" FROM (SELECT elapsed("id", 1ms) AS "e" ${routine}${which} AND time >= ${ms(p.from)} AND time < ${ms(p.to)} GROUP BY "elevator", "unit") WHERE "e" > ${I} GROUP BY "unit"`);
    for (const g of gaps) {
      const end = Number(g.time);
      add(String(g.unit), end - Number(g.e) + I, end);
    }
  }
  // The edges: from the last record before the period to the first in it, and from the last one to the period's end.
  for (const e of registry.elevators.items.values()) {
    const I = e.maintenanceIntervalDays * DAY_MS;
    const unit = e.maintenanceUnit;
    const prev = lastBefore.get(e.code);
    const first = firstIn.get(e.code);
    const last = lastIn.get(e.code) ?? prev;
    if (prev !== undefined && first !== undefined && first - prev > I) add(unit, prev + I, first);
    if (last !== undefined) add(unit, last + I, p.to);
    else without[unit] = (without[unit] ?? 0) + 1;
  }
  return { episodes, days, without };
}

/**
 * Periodic inspections overdue in the period: a passing periodic inspection
 * sets the next due date (`next_due`); if that date falls in the period and
 * no passing periodic inspection follows by the end of that day, the
 * elevator is overdue from the next day until the next pass (or the period's
 * end). One row per passing inspection with a due date is read (about one
 * per elevator per year).
 */
async function overdueInspections(store: InfluxStore, registry: Registry, p: Period): Promise<{ count: Counter; days: Counter }> {
  const count: Counter = {};
  const days: Counter = {};
  const rows = await store.rows(`SELECT "next_due" FROM "inspection" WHERE "kind" = 'periodic' AND "result" = 'pass' AND time >= ${ms(p.from - 400 * DAY_MS)} AND time < ${ms(p.to)} GROUP BY "elevator"`);
  const byElevator = new Map<string, { t: number; due: string | null }[]>();
  for (const r of rows) {
    const list = byElevator.get(String(r.elevator)) ?? [];
    list.push({ t: Number(r.time), due: (r.next_due as string | null) ?? null });
    byElevator.set(String(r.elevator), list);
  }
  for (const [code, passes] of byElevator) {
    passes.sort((a, b) => a.t - b.t);
    const unit = registry.elevators.get(code)?.maintenanceUnit;
    if (!unit) continue;
    passes.forEach((pass, i) => {
      if (!pass.due) return;
      const overdueFrom = cstMidnight(pass.due) + DAY_MS;
      if (overdueFrom <= p.from || overdueFrom > p.to) return; // fell due outside the period
      const next = passes.slice(i + 1).find((x) => x.t >= pass.t)?.t ?? Infinity;
      if (next < overdueFrom) return; // passed in time
      count[unit] = (count[unit] ?? 0) + 1;
      days[unit] = (days[unit] ?? 0) + (Math.min(next, p.to) - overdueFrom) / DAY_MS;
    });
  }
  return { count, days };
}

export async function computeScorecards(deps: { store: InfluxStore; registry: Registry; db: Database }, p: Period, opts: ScorecardOptions = DEFAULT_SCORECARD): Promise<Scorecard[]> {
  const { store, registry, db } = deps;
  const inPeriod = `time >= ${ms(p.from)} AND time < ${ms(p.to)}`;
  const [first, passed, reinspections, complaints, records, routineRecords, faults, overdue, late] = await Promise.all([
    countBy(store, `SELECT count("attempt") FROM "inspection" WHERE "kind" = 'periodic' AND "attempt" = 1 AND ${inPeriod} GROUP BY "unit"`),
    countBy(store, `SELECT count("attempt") FROM "inspection" WHERE "kind" = 'periodic' AND "attempt" = 1 AND "result" = 'pass' AND ${inPeriod} GROUP BY "unit"`),
    countBy(store, `SELECT count("attempt") FROM "inspection" WHERE "kind" = 'periodic' AND "attempt" > 1 AND ${inPeriod} GROUP BY "unit"`),
    countBy(store, `SELECT count("id") FROM "complaint" WHERE ${inPeriod} GROUP BY "unit"`),
    countBy(store, `SELECT count("id") FROM "maintenance" WHERE ${inPeriod} GROUP BY "unit"`),
    countBy(store, `SELECT count("id") FROM "maintenance" WHERE "routine" = 'true' AND ${inPeriod} GROUP BY "unit"`),
    countBy(store, `SELECT count("id") FROM "elevator_event" WHERE "state" = 'raised' AND "type" =~ /^(${DANGEROUS.join('|')})$/ AND ${inPeriod} GROUP BY "unit"`),
    overdueMaintenance(store, registry, p),
    overdueInspections(store, registry, p),
  ]);
  const rescues = db.prepare(`SELECT unit, COUNT(*) n, AVG(arrived_at - trapped_at) arrival, AVG(released_at - trapped_at) rescue,
      SUM(CASE WHEN arrived_at - trapped_at > ? THEN 1 ELSE 0 END) late
    FROM rescue_timings WHERE trapped_at >= ? AND trapped_at < ? GROUP BY unit`).all(opts.arrivalLimitMs, p.from, p.to) as { unit: string | null; n: number; arrival: number | null; rescue: number | null; late: number }[];
  const rescueBy = new Map(rescues.map((r) => [r.unit ?? '', r]));

  const elevatorsBy: Counter = {};
  for (const e of registry.elevators.items.values()) elevatorsBy[e.maintenanceUnit] = (elevatorsBy[e.maintenanceUnit] ?? 0) + 1;
  const units = new Set([...registry.units.items.keys(), ...Object.keys(first), ...Object.keys(complaints), ...Object.keys(records)].filter(Boolean));
  return [...units].sort().map((unit): Scorecard => {
    const n = elevatorsBy[unit] ?? 0;
    const f = first[unit] ?? 0;
    const ok = passed[unit] ?? 0;
    const insufficient = f < opts.minInspections;
    const c = complaints[unit] ?? 0;
    const r = rescueBy.get(unit);
    return {
      unit,
      name: registry.units.get(unit)?.name ?? null,
      elevators: n,
      inspections: { first: f, passed: ok, passRate: insufficient ? null : round(ok / f), insufficient, reinspections: reinspections[unit] ?? 0 },
      complaints: { count: c, rate: n ? round((c / n) * 100, 2) : null },
      maintenance: {
        records: records[unit] ?? 0, routine: routineRecords[unit] ?? 0, overdueEpisodes: overdue.episodes[unit] ?? 0,
        overdueElevatorDays: round(overdue.days[unit] ?? 0, 1), elevatorsWithoutRecords: overdue.without[unit] ?? 0,
      },
      overdueInspections: { count: late.count[unit] ?? 0, elevatorDays: round(late.days[unit] ?? 0, 1) },
      entrapments: {
        count: r?.n ?? 0, per100: n ? round(((r?.n ?? 0) / n) * 100, 2) : null,
        meanArrivalMin: r?.arrival != null ? round(r.arrival / 60_000, 1) : null, meanRescueMin: r?.rescue != null ? round(r.rescue / 60_000, 1) : null,
        arrivalsOverLimit: r?.late ?? 0,
      },
      dangerousFaults: faults[unit] ?? 0,
    };
  });
}
