// Supervision of maintenance units: scorecards on demand and the interview
// list, generated on demand and on node-cron schedules (Asia/Shanghai):
// yearly in early January for the previous calendar year, monthly for the
// rolling twelve months as an early warning.
import type { Database } from 'better-sqlite3';
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import type { AlertStore } from '../alerts/store.js';
import { InterviewCases } from './cases.js';
import { DEFAULT_CRITERIA, InterviewLists, periodMs, previousYear, rollingYear, type InterviewCriteria, type InterviewList } from './interview.js';
import { DEFAULT_SCORECARD, type Scorecard } from './scorecard.js';
import { scorecardsOffThread } from './scorecard-worker.js';
import { computeTrend, type Trend, type TrendQuery } from './trend.js';

export interface SupervisionOptions {
  /** the service's state database: registry, record ledger, rescue timings, lists and cases */
  db: Database;
  alerts: AlertStore;
  log: Logger;
  criteria?: InterviewCriteria;
  /** cron expressions; null = only on demand */
  schedules?: { yearly: string | null; monthly: string | null };
}

export class Supervision {
  readonly lists: InterviewLists;
  readonly cases: InterviewCases;
  readonly criteria: InterviewCriteria;
  private tasks: ScheduledTask[] = [];

  constructor(private opts: SupervisionOptions) {
    this.lists = new InterviewLists(opts.db);
    this.cases = new InterviewCases(opts.db, opts.alerts);
    this.criteria = opts.criteria ?? DEFAULT_CRITERIA;
  }

  start(): void {
    const { schedules, log } = this.opts;
    const at = (expr: string | null, name: string, period: () => { from: string; to: string }) => {
      if (!expr) return;
      this.tasks.push(cron.schedule(expr, async () => {
        try {
          const l = await this.generate(period(), 'schedule');
          log.info({ id: l.id, period: `${l.periodFrom}..${l.periodTo}`, version: l.version, listed: l.units.length }, `${name} interview list generated`);
        } catch (err) {
          log.error({ err }, `${name} interview list failed`);
        }
      }, { timezone: 'Asia/Shanghai', name: `interview-${name}` }));
    };
    at(schedules?.yearly ?? null, 'yearly', () => previousYear());
    at(schedules?.monthly ?? null, 'monthly', () => rollingYear());
  }

  stop(): void {
    for (const t of this.tasks) void t.destroy();
    this.tasks = [];
  }

  scorecards(period: { from: string; to: string }): Promise<Scorecard[]> {
    return scorecardsOffThread(this.opts.db, periodMs(period.from, period.to), { ...DEFAULT_SCORECARD, minInspections: this.criteria.minInspections });
  }

  /** Pass and complaint rates per unit and calendar quarter (supervision/trend.ts): aggregate reads grouped in SQLite. */
  trend(q: TrendQuery): Trend {
    return computeTrend(this.opts.db, q, this.criteria.minInspections);
  }

  async generate(period: { from: string; to: string }, trigger: 'api' | 'schedule'): Promise<InterviewList> {
    const cards = await this.scorecards(period);
    return this.lists.save(period, cards, this.criteria, trigger);
  }

  /** The records behind a listed unit: its failed first inspections and its complaints in the period (at most 5,000 of each). */
  async evidence(unit: string, period: { from: string; to: string }) {
    const p = periodMs(period.from, period.to);
    const q = (what: string, where: string) => this.opts.db.prepare(`SELECT ${what} FROM records WHERE ${where} AND unit = ? AND ts >= ? AND ts < ? ORDER BY ts LIMIT 5000`).all(unit, p.from, p.to) as Record<string, unknown>[];
    const failedInspections = q(`ts AS time, elevator, party AS institution, attempt, id, unit_source`, `channel = 'inspection' AND kind = 'periodic' AND attempt = 1 AND result = 'fail'`);
    const complaints = q(`ts AS time, id, party AS source, category, elevator, unit_source`, `channel = 'complaint'`);
    return { unit, period, failedInspections, complaints };
  }
}
