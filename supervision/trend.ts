// Quarterly trend of the maintenance units: per calendar quarter (China
// Standard Time), first periodic inspections, passes, the pass rate (null
// below the minimum sample, as on the scorecards), complaints and the
// complaint rate per 100 elevators (the registry's current assignment, as on
// the scorecards). The record ledger groups its rows by unit and quarter
// (quarter boundaries computed here, in China Standard Time, and handed to
// it as time buckets), so memory follows units × quarters, never the number
// of records; the registry's part comes from its memory.
import type { Registry } from '../registry/registry.js';
import type { RecordLedger } from '../storage/ledger.js';
import { addDays, cstDate, cstMidnight } from '../domain/time.js';
import { AppError } from '../common/errors.js';

export interface TrendPoint {
  /** "2025Q1" */
  quarter: string;
  /** periodic inspections with attempt 1 in the quarter */
  first: number;
  passed: number;
  /** passed / first, or null below the minimum sample */
  passRate: number | null;
  complaints: number;
  /** per 100 elevators, null when the registry lists none for the unit */
  complaintRate: number | null;
}

export interface UnitTrend {
  unit: string;
  name: string | null;
  points: TrendPoint[];
}

export interface Trend {
  quarters: string[];
  items: UnitTrend[];
}

export interface TrendQuery {
  /** only this unit */
  unit?: string | undefined;
  /** how many quarters, ending with the last one */
  quarters: number;
  /** YYYY-MM-DD, exclusive: the last quarter is the one holding the day before; default the current quarter */
  to?: string | undefined;
}

/** Quarter index: year * 4 + (0..3). */
const quarterOf = (date: string) => Number(date.slice(0, 4)) * 4 + Math.floor((Number(date.slice(5, 7)) - 1) / 3);
const quarterStart = (q: number) => cstMidnight(`${Math.floor(q / 4)}-${String((q % 4) * 3 + 1).padStart(2, '0')}-01`);
const quarterName = (q: number) => `${Math.floor(q / 4)}Q${(q % 4) + 1}`;

/** A trend asked for a unit the registry and the ledger do not know: 404. */
export class UnknownUnitError extends AppError {
  constructor(message: string) {
    super(message, 404);
  }
}

/** Per unit (or only `q.unit`), one point per quarter, zeros where the ledger has nothing. */
export function computeTrend(ledger: RecordLedger, registry: Registry, q: TrendQuery, minInspections: number, now = Date.now()): Trend {
  const last = quarterOf(q.to ? addDays(q.to, -1) : cstDate(now));
  const firstQ = last - q.quarters + 1;
  // bucket i is quarter firstQ + i
  const bounds = Array.from({ length: q.quarters + 1 }, (_, i) => quarterStart(firstQ + i));
  const inspections = ledger.inspectionsByUnit(bounds, q.unit).map((r) => ({ ...r, q: firstQ + r.bucket }));
  const complaints = ledger.complaintsByUnit(bounds, q.unit).map((r) => ({ ...r, q: firstQ + r.bucket }));
  const elevators = new Map<string, number>();
  for (const e of registry.elevators.items.values()) elevators.set(e.maintenanceUnit, (elevators.get(e.maintenanceUnit) ?? 0) + 1);
  const names = new Map([...registry.units.items.values()].map((u) => [u.id, u.name ?? null]));

  const cell = new Map<string, { first: number; passed: number; complaints: number }>();
  const at = (unit: string, qi: number) => {
    const k = `${unit}\u0000${qi}`;
    let c = cell.get(k);
    if (!c) cell.set(k, (c = { first: 0, passed: 0, complaints: 0 }));
    return c;
  };
  for (const r of inspections) if (r.unit) Object.assign(at(r.unit, r.q), { first: r.first, passed: r.passed });
  for (const r of complaints) if (r.unit) at(r.unit, r.q).complaints = r.n;

  const seen = new Set([...inspections, ...complaints].map((r) => r.unit).filter((u): u is string => !!u));
  let units: string[];
  if (q.unit !== undefined) {
    if (!names.has(q.unit) && !elevators.has(q.unit) && !seen.has(q.unit)) throw new UnknownUnitError(`unit ${q.unit} not found`);
    units = [q.unit];
  } else {
    units = [...new Set([...names.keys(), ...seen])].sort();
  }

  const qs = Array.from({ length: q.quarters }, (_, i) => firstQ + i);
  return {
    quarters: qs.map(quarterName),
    items: units.map((unit) => {
      const n = elevators.get(unit) ?? 0;
      return {
        unit,
        name: names.get(unit) ?? null,
        points: qs.map((qi): TrendPoint => {
          const c = cell.get(`${unit}\u0000${qi}`) ?? { first: 0, passed: 0, complaints: 0 };
          return {
            quarter: quarterName(qi), first: c.first, passed: c.passed,
            passRate: c.first < minInspections ? null : c.passed / c.first,
            complaints: c.complaints, complaintRate: n ? (c.complaints / n) * 100 : null,
          };
        }),
      };
    }),
  };
}
