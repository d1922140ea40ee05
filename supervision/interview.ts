// The interview list (约谈名单): every maintenance unit whose first periodic-
// inspection pass rate is below the threshold (with at least the minimum
// sample) or whose complaint rate is at or above its threshold — either or
// both, by policy — ranked, with the criteria it failed and its scorecard as
// evidence. A generated list is a frozen snapshot in the database: new data never
// changes it; generating again for the same period makes a new version.
import type { Db } from '../storage/db.js';
import { execDdl, migrate, type Migration } from '../storage/migrations.js';
import { shownBeside } from '../domain/figures.js';
import { addDays, cstDate, cstMidnight } from '../domain/time.js';
import { sorting, type SortOf } from '../storage/sort.js';
import type { Scorecard } from './scorecard.js';

export interface InterviewCriteria {
  /** a pass rate strictly below this fails (0.7 = 70 %; exactly 70 % does not) */
  passRateBelow: number;
  /** first periodic inspections needed for the pass rate to count */
  minInspections: number;
  /** complaints per 100 elevators at or above this fail */
  complaintRateAtLeast: number;
  /** any: one failed criterion lists the unit; all: every criterion must fail */
  policy: 'any' | 'all';
}

export const DEFAULT_CRITERIA: InterviewCriteria = { passRateBelow: 0.7, minInspections: 5, complaintRateAtLeast: 5, policy: 'any' };

export interface Reason {
  criterion: 'pass_rate' | 'complaint_rate';
  value: number;
  threshold: number;
  text: string;
}

export interface ListedUnit {
  rank: number;
  unit: string;
  name: string | null;
  reasons: Reason[];
  scorecard: Scorecard;
}

export interface InterviewList {
  id: number;
  periodFrom: string;
  periodTo: string;
  version: number;
  generatedAt: number;
  trigger: string;
  criteria: InterviewCriteria;
  units: ListedUnit[];
  /** units considered */
  considered: number;
}

/** The previous calendar year in China Standard Time, as [from, to) dates. */
export function previousYear(now = Date.now()): { from: string; to: string } {
  const y = Number(cstDate(now).slice(0, 4));
  return { from: `${y - 1}-01-01`, to: `${y}-01-01` };
}

/** The twelve months before the first day of the current month (CST). */
export function rollingYear(now = Date.now()): { from: string; to: string } {
  const to = `${cstDate(now).slice(0, 7)}-01`;
  const y = Number(to.slice(0, 4));
  return { from: `${y - 1}${to.slice(4)}`, to };
}

export const periodMs = (from: string, to: string) => ({ from: cstMidnight(from), to: cstMidnight(to) });
export const lastDay = (to: string) => addDays(to, -1);

export { shownBeside };
const pct = (x: number, threshold = x) => `${shownBeside(x * 100, threshold * 100, 1)}%`;

// The exact rates, from the counts: criteria are decided on these, never on a rounded figure.
const exactPassRate = (s: Scorecard, c: InterviewCriteria) => (s.inspections.first >= c.minInspections ? s.inspections.passed / s.inspections.first : null);
const exactComplaintRate = (s: Scorecard) => (s.elevators > 0 ? (s.complaints.count / s.elevators) * 100 : null);

/** Which criteria a scorecard fails (pure). */
export function failedCriteria(s: Scorecard, c: InterviewCriteria): { reasons: Reason[]; listed: boolean } {
  const reasons: Reason[] = [];
  const rate = exactPassRate(s, c);
  if (rate !== null && rate < c.passRateBelow) {
    reasons.push({ criterion: 'pass_rate', value: rate, threshold: c.passRateBelow, text: `定期检验一次合格率 ${pct(rate, c.passRateBelow)}（${s.inspections.passed}/${s.inspections.first}）低于 ${pct(c.passRateBelow)}` });
  }
  const crate = exactComplaintRate(s);
  if (crate !== null && crate >= c.complaintRateAtLeast) {
    reasons.push({ criterion: 'complaint_rate', value: crate, threshold: c.complaintRateAtLeast, text: `投诉率 ${shownBeside(crate, c.complaintRateAtLeast, 2)} 起/百台（${s.complaints.count} 起，${s.elevators} 台）不低于 ${c.complaintRateAtLeast}` });
  }
  const listed = c.policy === 'any' ? reasons.length > 0 : reasons.length === 2;
  return { reasons, listed };
}

/** Ranks listed units: more failed criteria first, then lower pass rate, then higher complaint rate. */
export function rankUnits(cards: Scorecard[], c: InterviewCriteria): ListedUnit[] {
  const listed = cards.map((s) => ({ s, ...failedCriteria(s, c) })).filter((x) => x.listed);
  const passRate = (s: Scorecard) => exactPassRate(s, c) ?? Infinity;
  listed.sort((a, b) => b.reasons.length - a.reasons.length || passRate(a.s) - passRate(b.s) || (exactComplaintRate(b.s) ?? 0) - (exactComplaintRate(a.s) ?? 0) || (a.s.unit < b.s.unit ? -1 : 1));
  return listed.map((x, i) => ({ rank: i + 1, unit: x.s.unit, name: x.s.name, reasons: x.reasons, scorecard: x.s }));
}

/** Sort keys of the interview lists (`-` first for descending); ties go by id. The default, `-id`, is newest first. */
export const LIST_SORT = sorting({ id: 'id', periodFrom: 'period_from', version: 'version', generatedAt: 'generated_at' }, 'id');
export type InterviewListSort = SortOf<typeof LIST_SORT>;

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'interview lists',
    up: `CREATE TABLE IF NOT EXISTS interview_lists (id INTEGER PRIMARY KEY AUTOINCREMENT, period_from TEXT NOT NULL, period_to TEXT NOT NULL,
      version INTEGER NOT NULL, generated_at INTEGER NOT NULL, trigger TEXT NOT NULL, criteria TEXT NOT NULL, units TEXT NOT NULL, considered INTEGER NOT NULL,
      UNIQUE (period_from, period_to, version))`,
  },
  {
    version: 2,
    name: 'listed units counted when saved',
    // The list page showed json_array_length(units), which PostgreSQL spells differently: the count is kept at save instead.
    up: (db) => {
      execDdl(db, 'ALTER TABLE interview_lists ADD COLUMN listed INTEGER');
      const set = db.prepare('UPDATE interview_lists SET listed = ? WHERE id = ?');
      for (const r of db.prepare('SELECT id, units FROM interview_lists').all() as { id: number; units: string }[]) set.run((JSON.parse(r.units) as unknown[]).length, r.id);
    },
  },
];

export class InterviewLists {
  constructor(private db: Db) {
    migrate(db, 'supervision/interview', MIGRATIONS);
  }

  /** Freezes a new version of the list for the period. */
  save(period: { from: string; to: string }, cards: Scorecard[], criteria: InterviewCriteria, trigger: string, at = Date.now()): InterviewList {
    return this.db.transaction(() => {
      const v = (this.db.prepare('SELECT COALESCE(MAX(version), 0) v FROM interview_lists WHERE period_from = ? AND period_to = ?').get(period.from, period.to) as { v: number }).v + 1;
      const units = rankUnits(cards, criteria);
      const info = this.db.prepare(`INSERT INTO interview_lists (period_from, period_to, version, generated_at, trigger, criteria, units, considered, listed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`)
        .get(period.from, period.to, v, at, trigger, JSON.stringify(criteria), JSON.stringify(units), cards.length, units.length);
      return this.get((info as { id: number }).id)!;
    })();
  }

  get(id: number): InterviewList | undefined {
    const r = this.db.prepare('SELECT * FROM interview_lists WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r && toList(r);
  }

  list(q: { from?: string | undefined; page?: number; pageSize?: number; sort?: InterviewListSort | undefined } = {}) {
    const page = Math.max(1, q.page ?? 1);
    const pageSize = Math.min(100, Math.max(1, q.pageSize ?? 20));
    const where = q.from ? 'WHERE period_from = @from' : '';
    // No bind values at all without a filter: PostgreSQL refuses values a statement has no parameter for.
    const total = (this.db.prepare(`SELECT COUNT(*) n FROM interview_lists ${where}`).get(...(q.from ? [{ from: q.from }] : [])) as { n: number }).n;
    const rows = this.db.prepare(`SELECT id, period_from, period_to, version, generated_at, trigger, criteria, considered, listed FROM interview_lists ${where} ORDER BY ${LIST_SORT.order(q.sort ?? '-id')} LIMIT @limit OFFSET @offset`)
      .all({ ...(q.from ? { from: q.from } : {}), limit: pageSize, offset: (page - 1) * pageSize }) as Record<string, unknown>[];
    return {
      items: rows.map((r) => ({ id: r.id, periodFrom: r.period_from, periodTo: r.period_to, version: r.version, generatedAt: r.generated_at, trigger: r.trigger, criteria: JSON.parse(String(r.criteria)), considered: r.considered, listed: r.listed })),
      total, page, pageSize,
    };
  }
}

const toList = (r: Record<string, unknown>): InterviewList => ({
  id: r.id as number, periodFrom: r.period_from as string, periodTo: r.period_to as string, version: r.version as number, generatedAt: r.generated_at as number,
  trigger: r.trigger as string, criteria: JSON.parse(r.criteria as string) as InterviewCriteria, units: JSON.parse(r.units as string) as ListedUnit[], considered: r.considered as number,
});
