// Credit grades and the red and black lists (守信 / 失信名单) as publications:
// publishing grades every unit for the period now and freezes the result —
// every unit's grade, the points each factor took and the inputs they came
// from (scorecard, counts, scoring) — as a new version for the period, like
// the interview list. New records never change a published version;
// publishing again makes the next version. A unit's grade history is read
// from the newest version of each period.
import type { Db } from '../storage/db.js';
import { migrate, type Migration } from '../storage/migrations.js';
import { sorting, type SortOf } from '../storage/sort.js';
import { DEFAULT_SCORING, gradeUnits, NO_SOURCES, redAndBlack, type CreditScoring, type CreditSources, type Grade, type UnitGrade } from './credit.js';
import type { Scorecard } from './scorecard.js';

type Period = { from: string; to: string };

export interface CreditPublication {
  id: number;
  periodFrom: string;
  periodTo: string;
  version: number;
  publishedAt: number;
  publishedBy: string;
  trigger: string;
  scoring: CreditScoring;
  /** every unit considered, graded or not, with its factors and inputs */
  grades: UnitGrade[];
  /** units on the red list (grade A, full data), best first */
  red: string[];
  /** units on the black list (grade D), worst first */
  black: string[];
}

export interface GradeHistoryEntry { periodFrom: string; periodTo: string; listId: number; version: number; publishedAt: number; grade: Grade | null; score: number | null; partial: boolean }

export const CREDIT_LIST_SORT = sorting({ id: 'id', periodFrom: 'period_from', version: 'version', publishedAt: 'published_at' }, 'id');
export type CreditListSort = SortOf<typeof CREDIT_LIST_SORT>;

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'credit lists and their grades',
    up: `CREATE TABLE IF NOT EXISTS credit_lists (id INTEGER PRIMARY KEY AUTOINCREMENT, period_from TEXT NOT NULL, period_to TEXT NOT NULL,
      version INTEGER NOT NULL, published_at INTEGER NOT NULL, published_by TEXT NOT NULL, trigger TEXT NOT NULL, scoring TEXT NOT NULL,
      grades TEXT NOT NULL, red TEXT NOT NULL, black TEXT NOT NULL, considered INTEGER NOT NULL, red_count INTEGER NOT NULL, black_count INTEGER NOT NULL,
      UNIQUE (period_from, period_to, version));
    CREATE TABLE IF NOT EXISTS credit_list_grades (list_id INTEGER NOT NULL, unit TEXT NOT NULL, period_from TEXT NOT NULL, period_to TEXT NOT NULL,
      version INTEGER NOT NULL, published_at INTEGER NOT NULL, grade TEXT, score REAL, partial INTEGER NOT NULL, PRIMARY KEY (list_id, unit));
    CREATE INDEX IF NOT EXISTS credit_list_grades_unit ON credit_list_grades (unit, period_from)`,
  },
];

export interface CreditBookOptions {
  /** the scorecards of a period (Supervision.scorecards: off the event loop) */
  scorecards: (p: Period) => Promise<Scorecard[]>;
  sources?: Partial<CreditSources>;
  scoring?: CreditScoring;
}

export class CreditBook {
  readonly scoring: CreditScoring;
  private sources: CreditSources;

  constructor(private db: Db, private opts: CreditBookOptions) {
    migrate(db, 'supervision/credit-lists', MIGRATIONS);
    this.scoring = opts.scoring ?? DEFAULT_SCORING;
    this.sources = { ...NO_SOURCES, ...opts.sources };
  }

  /** Wires counts kept by other parts (hazards, orders) once they exist. */
  setSources(s: Partial<CreditSources>): void {
    this.sources = { ...this.sources, ...s };
  }

  /** Every unit's grade for the period, computed now (nothing saved). */
  async grades(period: Period): Promise<UnitGrade[]> {
    return gradeUnits(await this.opts.scorecards(period), period, this.sources, this.scoring);
  }

  /** Grades the period now and freezes it as the next version of the period's lists. */
  async publish(period: Period, by: string, trigger: 'api' | 'demo' | 'schedule' = 'api', at = Date.now()): Promise<CreditPublication> {
    return this.save(period, await this.grades(period), by, trigger, at);
  }

  /** Freezes these grades as the next version for the period (one transaction). */
  save(period: Period, grades: UnitGrade[], by: string, trigger: string, at = Date.now(), scoring = this.scoring): CreditPublication {
    const { red, black } = redAndBlack(grades);
    return this.db.transaction(() => {
      const v = (this.db.prepare('SELECT COALESCE(MAX(version), 0) v FROM credit_lists WHERE period_from = ? AND period_to = ?').get(period.from, period.to) as { v: number }).v + 1;
      const { id } = this.db.prepare(`INSERT INTO credit_lists (period_from, period_to, version, published_at, published_by, trigger, scoring, grades, red, black, considered, red_count, black_count)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`).get(period.from, period.to, v, at, by, trigger, JSON.stringify(scoring), JSON.stringify(grades),
        JSON.stringify(red.map((g) => g.unit)), JSON.stringify(black.map((g) => g.unit)), grades.length, red.length, black.length) as { id: number };
      const row = this.db.prepare('INSERT INTO credit_list_grades (list_id, unit, period_from, period_to, version, published_at, grade, score, partial) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)');
      for (const g of grades) row.run(id, g.unit, period.from, period.to, v, at, g.grade, g.score, g.partial ? 1 : 0);
      return this.get(id)!;
    })();
  }

  get(id: number): CreditPublication | undefined {
    const r = this.db.prepare('SELECT * FROM credit_lists WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r && {
      id: r.id as number, periodFrom: r.period_from as string, periodTo: r.period_to as string, version: r.version as number, publishedAt: Number(r.published_at),
      publishedBy: r.published_by as string, trigger: r.trigger as string, scoring: JSON.parse(r.scoring as string) as CreditScoring,
      grades: JSON.parse(r.grades as string) as UnitGrade[], red: JSON.parse(r.red as string) as string[], black: JSON.parse(r.black as string) as string[],
    };
  }

  /** The publications, newest first by default, without their grades (counts only). */
  list(q: { from?: string | undefined; page?: number; pageSize?: number; sort?: CreditListSort | undefined } = {}) {
    const page = Math.max(1, q.page ?? 1);
    const pageSize = Math.min(100, Math.max(1, q.pageSize ?? 20));
    const where = q.from ? 'WHERE period_from = @from' : '';
    // No bind values at all without a filter: PostgreSQL refuses values a statement has no parameter for.
    const total = (this.db.prepare(`SELECT COUNT(*) n FROM credit_lists ${where}`).get(...(q.from ? [{ from: q.from }] : [])) as { n: number }).n;
    const rows = this.db.prepare(`SELECT id, period_from, period_to, version, published_at, published_by, trigger, considered, red_count, black_count FROM credit_lists ${where}
      ORDER BY ${CREDIT_LIST_SORT.order(q.sort ?? '-id')} LIMIT @limit OFFSET @offset`).all({ ...(q.from ? { from: q.from } : {}), limit: pageSize, offset: (page - 1) * pageSize }) as Record<string, unknown>[];
    return {
      items: rows.map((r) => ({
        id: r.id as number, periodFrom: r.period_from as string, periodTo: r.period_to as string, version: r.version as number, publishedAt: Number(r.published_at),
        publishedBy: r.published_by as string, trigger: r.trigger as string, considered: r.considered as number, red: r.red_count as number, black: r.black_count as number,
      })),
      total, page, pageSize,
    };
  }

  /** A unit's published grade per period (the newest version of each), oldest period first. */
  history(unit: string): GradeHistoryEntry[] {
    const rows = this.db.prepare('SELECT list_id, period_from, period_to, version, published_at, grade, score, partial FROM credit_list_grades WHERE unit = ? ORDER BY period_from, period_to, version')
      .all(unit) as Record<string, unknown>[];
    const newest = new Map<string, GradeHistoryEntry>();
    for (const r of rows) {
      newest.set(`${r.period_from}|${r.period_to}`, {
        periodFrom: r.period_from as string, periodTo: r.period_to as string, listId: r.list_id as number, version: r.version as number, publishedAt: Number(r.published_at),
        grade: (r.grade as Grade | null) ?? null, score: r.score === null ? null : Number(r.score), partial: r.partial === 1 || r.partial === true,
      });
    }
    return [...newest.values()];
  }
}
