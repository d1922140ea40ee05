// Maintenance-unit scorecards over a period, computed from the record
// ledger (storage/ledger.ts: one row per accepted record id, in event time,
// so backfilled history counts and duplicates never count twice). The unit
// of a record is the record's own `unit`, which ingest fills from the
// registry when the record has none. SQLite does the heavy lifting (counts
// grouped by unit; routine maintenance and passing inspections streamed per
// elevator in index order, each walked once), so memory stays bounded by
// the number of elevators, not of records. Entrapment timings come from the
// alert engine's rescue timings (one row per entrapment, however many times
// the gateway repeated it). Each table is read through its owner's methods
// (RecordLedger, RescueTimings); the registry's part comes from its memory
// (registryView), handed over with the job.
import { cstMidnight, DAY_MS, MINUTE_MS } from '../domain/time.js';
import { FAULT_SEVERITY } from '../alerts/rules/elevator-faults.js';
import type { RescueTimings } from '../alerts/rescue-timings.js';
import type { Registry } from '../registry/registry.js';
import type { RecordLedger } from '../storage/ledger.js';
import { DEFAULT_HAZARD_DUE_DAYS, type HazardDueDays, type HazardStore } from './hazards.js';

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
  /** hazards' rectification deadlines per level (HAZARD_DUE_DAYS_*) */
  hazardDueDays: HazardDueDays;
  /** open and overdue hazards are counted at the period's end, or at this time when earlier (default: now) */
  now?: number;
}

export const DEFAULT_SCORECARD: ScorecardOptions = { minInspections: 5, arrivalLimitMs: 30 * MINUTE_MS, hazardDueDays: DEFAULT_HAZARD_DUE_DAYS };

export interface Scorecard {
  unit: string;
  name: string | null;
  /** elevators the registry lists for the unit */
  elevators: number;
  inspections: {
    /** periodic inspections with attempt 1 in the period */
    first: number;
    passed: number;
    /** passed / first, exact (rounded only where shown), or null: "insufficient data" below the minimum sample */
    passRate: number | null;
    insufficient: boolean;
    reinspections: number;
  };
  complaints: { count: number; /** per 100 elevators, exact: thresholds compare this, displays round it */ rate: number | null };
  maintenance: { records: number; routine: number; overdueEpisodes: number; overdueElevatorDays: number; elevatorsWithoutRecords: number };
  /** periodic inspections that fell due in the period and were not passed by their due date */
  overdueInspections: { count: number; elevatorDays: number };
  entrapments: { count: number; per100: number | null; meanArrivalMin: number | null; meanRescueMin: number | null; arrivalsOverLimit: number };
  dangerousFaults: number;
  /** hazards (supervision/hazards.ts) open, and open past their deadline, at the period's end (or now, if earlier) */
  hazards: { open: number; overdue: number };
}

const DANGEROUS = Object.entries(FAULT_SEVERITY).filter(([t, s]) => s === 'critical' && t !== 'entrapment').map(([t]) => t);
const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;

interface Counter { [unit: string]: number }

/** How far before the period the last routine maintenance is looked for (an older one counts as none). */
const MAINTENANCE_LOOKBACK_MS = 366 * DAY_MS;

/**
 * Overdue maintenance per unit: episodes overlapping the period and
 * elevator-days overdue within it. An elevator is overdue from one interval
 * after a routine maintenance until the next one (or the period's end). A gap
 * ending in the period belongs to the unit of the record that ended it; the
 * tail after the last record and elevators without any record, to the
 * registry's unit.
 */
function overdueMaintenance(ledger: RecordLedger, registry: RegistryView, p: Period): { episodes: Counter; days: Counter; without: Counter } {
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
  const interval = (code: string) => registry.elevators.get(code)?.[1] ?? 15 * DAY_MS;
  // Routine maintenance per elevator in time order, walked once: JavaScript does this about twice as fast
  // as LAG() over the same rows in SQLite.
  const rows = ledger.routineMaintenance(p.from - MAINTENANCE_LOOKBACK_MS, p.to);
  const seen = new Set<string>();
  let code = '';
  let I = 0;
  let prev = -Infinity;
  const tail = () => {
    if (code) add(registry.elevators.get(code)?.[0] ?? '', prev + I, p.to);
  };
  for (const [e, ts, unit] of rows) {
    if (e !== code) {
      tail();
      code = e;
      seen.add(e);
      I = interval(e);
    } else if (ts >= p.from && ts - prev > I) add(unit, prev + I, ts);
    prev = ts;
  }
  tail();
  for (const [code, [unit]] of registry.elevators) if (!seen.has(code)) without[unit] = (without[unit] ?? 0) + 1;
  return { episodes, days, without };
}

/**
 * Periodic inspections overdue in the period: a passing periodic inspection
 * sets the next due date (`next_due`); if that date falls in the period and
 * no passing periodic inspection follows by the end of that day, the
 * elevator is overdue from the next day until the next pass (or the period's
 * end). One row per passing inspection is read (about one per elevator per
 * year), in elevator and time order.
 */
function overdueInspections(ledger: RecordLedger, registry: RegistryView, p: Period): { count: Counter; days: Counter } {
  const count: Counter = {};
  const days: Counter = {};
  const rows = ledger.periodicPasses(p.from - 400 * DAY_MS, p.to);
  let code = '';
  let passes: { t: number; due: string | null }[] = [];
  const flush = () => {
    const unit = registry.elevators.get(code)?.[0];
    if (!unit) return;
    passes.forEach((pass, i) => {
      if (!pass.due) return;
      const overdueFrom = cstMidnight(pass.due) + DAY_MS;
      if (overdueFrom <= p.from || overdueFrom > p.to) return; // fell due outside the period
      const next = passes[i + 1]?.t ?? Infinity;
      if (next < overdueFrom) return; // passed in time
      count[unit] = (count[unit] ?? 0) + 1;
      days[unit] = (days[unit] ?? 0) + (Math.min(next, p.to) - overdueFrom) / DAY_MS;
    });
  };
  for (const [e, t, due] of rows) {
    if (e !== code) {
      flush();
      code = e;
      passes = [];
    }
    passes.push({ t, due });
  }
  flush();
  return { count, days };
}

/** Rows grouped by unit → a map by unit ('' for records without one). */
function countAll<T extends { unit: string | null }>(rows: T[]): Map<string, T> {
  return new Map(rows.map((r) => [r.unit ?? '', r]));
}

/** What the scorecards need of the registry. */
export interface RegistryView {
  /** elevator code → [maintenance unit, maintenance interval in ms] */
  elevators: Map<string, [string, number]>;
  /** unit id → name */
  units: Map<string, string | null>;
}

/** The registry's part of the scorecards, from its memory (no SQL on its tables: the registry owns them). */
export function registryView(registry: Registry): RegistryView {
  const elevators = new Map<string, [string, number]>();
  for (const e of registry.elevators.items.values()) elevators.set(e.code, [e.maintenanceUnit, (e.maintenanceIntervalDays ?? 15) * DAY_MS]);
  const units = new Map<string, string | null>();
  for (const u of registry.units.items.values()) units.set(u.id, u.name ?? null);
  return { elevators, units };
}

/**
 * A registry view as two strings, for a worker thread: a province's 500,000 elevators cross as one string
 * copy (codes and unit ids never hold a tab or a newline) instead of 500,000 entries to clone.
 */
export interface PackedRegistryView {
  /** `code\tunit\tintervalMs` lines */
  elevators: string;
  /** JSON [id, name][] */
  units: string;
}

/** Packs the registry's part straight from its memory, yielding to the event loop every `chunk` elevators (MQTT keeps being acknowledged). */
export async function packRegistryView(registry: Registry, chunk = 20_000): Promise<PackedRegistryView> {
  const lines: string[] = [];
  for (const e of registry.elevators.items.values()) {
    lines.push(`${e.code}\t${e.maintenanceUnit}\t${(e.maintenanceIntervalDays ?? 15) * DAY_MS}`);
    if (lines.length % chunk === 0) await new Promise((r) => setImmediate(r));
  }
  return { elevators: lines.join('\n'), units: JSON.stringify([...registry.units.items.values()].map((u) => [u.id, u.name ?? null])) };
}

export function unpackRegistryView(p: PackedRegistryView): RegistryView {
  const elevators = new Map<string, [string, number]>();
  if (p.elevators) {
    for (const line of p.elevators.split('\n')) {
      const [code, unit, interval] = line.split('\t');
      elevators.set(code!, [unit!, Number(interval)]);
    }
  }
  return { elevators, units: new Map(JSON.parse(p.units) as [string, string | null][]) };
}

/** The owners of the tables the scorecards read. */
export interface ScorecardSources {
  ledger: RecordLedger;
  timings: RescueTimings;
  /** the hazard book's table (absent: no hazards counted) */
  hazards?: Pick<HazardStore, 'countsByUnit'>;
}

/** Every unit's scorecard for the period, from the record ledger, the rescue timings and the registry's view. Synchronous: run it off the event loop for a big registry (supervision/scorecard-worker.ts). */
export function computeScorecards(sources: ScorecardSources, registry: RegistryView, p: Period, opts: ScorecardOptions = DEFAULT_SCORECARD): Scorecard[] {
  const { ledger, timings } = sources;
  const inspections = countAll(ledger.inspectionsByUnit([p.from, p.to]));
  const complaints = countAll(ledger.complaintsByUnit([p.from, p.to]));
  const maintenance = countAll(ledger.maintenanceByUnit(p.from, p.to));
  const faults = countAll(ledger.eventsByUnit(DANGEROUS, p.from, p.to));
  const overdue = overdueMaintenance(ledger, registry, p);
  const late = overdueInspections(ledger, registry, p);
  const rescues = countAll(timings.byUnit(p.from, p.to, opts.arrivalLimitMs));
  const hazards = sources.hazards?.countsByUnit(p, opts.now ?? Date.now()) ?? new Map<string, { open: number; overdue: number }>();

  const elevatorsBy: Counter = {};
  for (const [unit] of registry.elevators.values()) elevatorsBy[unit] = (elevatorsBy[unit] ?? 0) + 1;
  const units = new Set([...registry.units.keys(), ...inspections.keys(), ...complaints.keys(), ...maintenance.keys(), ...hazards.keys()].filter(Boolean));
  return [...units].sort().map((unit): Scorecard => {
    const n = elevatorsBy[unit] ?? 0;
    const i = inspections.get(unit);
    const f = i?.first ?? 0;
    const ok = i?.passed ?? 0;
    const insufficient = f < opts.minInspections;
    const c = complaints.get(unit)?.n ?? 0;
    const m = maintenance.get(unit);
    const r = rescues.get(unit);
    return {
      unit,
      name: registry.units.get(unit) ?? null,
      elevators: n,
      inspections: { first: f, passed: ok, passRate: insufficient ? null : ok / f, insufficient, reinspections: i?.rein ?? 0 },
      complaints: { count: c, rate: n ? (c / n) * 100 : null },
      maintenance: {
        records: m?.n ?? 0, routine: m?.routine ?? 0, overdueEpisodes: overdue.episodes[unit] ?? 0,
        overdueElevatorDays: round(overdue.days[unit] ?? 0, 1), elevatorsWithoutRecords: overdue.without[unit] ?? 0,
      },
      overdueInspections: { count: late.count[unit] ?? 0, elevatorDays: round(late.days[unit] ?? 0, 1) },
      entrapments: {
        count: r?.n ?? 0, per100: n ? ((r?.n ?? 0) / n) * 100 : null,
        meanArrivalMin: r?.arrivals ? round(r.arrivalSum! / r.arrivals / MINUTE_MS, 1) : null, meanRescueMin: r?.rescues ? round(r.rescueSum! / r.rescues / MINUTE_MS, 1) : null,
        arrivalsOverLimit: r?.late ?? 0,
      },
      dangerousFaults: faults.get(unit)?.n ?? 0,
      hazards: { open: hazards.get(unit)?.open ?? 0, overdue: hazards.get(unit)?.overdue ?? 0 },
    };
  });
}
