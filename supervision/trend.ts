// Quarterly trend of the maintenance units: per calendar quarter (China
// Standard Time), first periodic inspections, passes, the pass rate (null
// below the minimum sample, as on the scorecards), complaints and the
// complaint rate per 100 elevators (the registry's current assignment, as on
// the scorecards). The database groups the record ledger by unit and quarter
// (the quarter found from `ts` in SQL), so memory follows units × quarters,
// never the number of records.
import type { Db } from '../storage/db.js';
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

/**
 * Which of the quarters first..last holds `ts`, in SQL, as 0, 1, 2…: the quarters' CST boundaries are
 * computed here and compared in SQL (portable, unlike each engine's date functions). The boundaries are
 * parameters, so the statement's text depends only on how many quarters.
 */
function sqlQuarter(first: number, last: number): { sql: string; args: number[] } {
  let sql = 'CASE';
  const args: number[] = [];
  for (let q = first; q <= last; q++) {
    sql += ` WHEN ts < ? THEN ${q - first}`;
    args.push(quarterStart(q + 1));
  }
  return { sql: `${sql} END`, args };
}

/** A trend asked for a unit the registry and the ledger do not know: 404. */
export class UnknownUnitError extends AppError {
  constructor(message: string) {
    super(message, 404);
  }
}

/** Per unit (or only `q.unit`), one point per quarter, zeros where the ledger has nothing. */
export function computeTrend(db: Db, q: TrendQuery, minInspections: number, now = Date.now()): Trend {
  const last = quarterOf(q.to ? addDays(q.to, -1) : cstDate(now));
  const firstQ = last - q.quarters + 1;
  const from = quarterStart(firstQ);
  const to = quarterStart(last + 1);
  const unitSql = q.unit !== undefined ? ' AND unit = ?' : '';
  const quarter = sqlQuarter(firstQ, last);
  const args = [...quarter.args, from, to, ...(q.unit !== undefined ? [q.unit] : [])];

  const inspections = db.prepare(`SELECT unit, ${quarter.sql} q, COUNT(*) first, SUM(CASE WHEN result = 'pass' THEN 1 ELSE 0 END) passed
    FROM records WHERE channel = 'inspection' AND ts >= ? AND ts < ?${unitSql} AND kind = 'periodic' AND attempt = 1
    GROUP BY unit, q`).all(...args) as { unit: string | null; q: number; first: number; passed: number }[];
  const complaints = db.prepare(`SELECT unit, ${quarter.sql} q, COUNT(*) n
    FROM records WHERE channel = 'complaint' AND ts >= ? AND ts < ?${unitSql}
    GROUP BY unit, q`).all(...args) as { unit: string | null; q: number; n: number }[];
  const elevators = new Map(db.prepare(`SELECT json_extract(data, '$.maintenanceUnit') unit, COUNT(*) n FROM elevators GROUP BY 1`).raw().all() as [string | null, number][]);
  const names = new Map(db.prepare(`SELECT key, json_extract(data, '$.name') FROM units`).raw().all() as [string, string | null][]);

  const cell = new Map<string, { first: number; passed: number; complaints: number }>();
  const at = (unit: string, qi: number) => {
    const k = `${unit}\u0000${qi}`;
    let c = cell.get(k);
    if (!c) cell.set(k, (c = { first: 0, passed: 0, complaints: 0 }));
    return c;
  };
  for (const r of inspections) if (r.unit) Object.assign(at(r.unit, firstQ + r.q), { first: r.first, passed: r.passed });
  for (const r of complaints) if (r.unit) at(r.unit, firstQ + r.q).complaints = r.n;

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
