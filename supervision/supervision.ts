// Supervision of maintenance units: scorecards on demand and the interview
// list, generated on demand and on node-cron schedules (Asia/Shanghai):
// yearly in early January for the previous calendar year, monthly for the
// rolling twelve months as an early warning.
import type { Database } from 'better-sqlite3';
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import type { AlertStore } from '../alerts/store.js';
import type { Registry } from '../registry/registry.js';
import { InterviewCases } from './cases.js';
import type { InfluxStore } from '../storage/influx.js';
import { DEFAULT_CRITERIA, InterviewLists, periodMs, previousYear, rollingYear, type InterviewCriteria, type InterviewList } from './interview.js';
import { computeScorecards, DEFAULT_SCORECARD, type Scorecard } from './scorecard.js';

export interface SupervisionOptions {
  db: Database;
  store: InfluxStore;
  registry: Registry;
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
    return computeScorecards(this.opts, periodMs(period.from, period.to), { ...DEFAULT_SCORECARD, minInspections: this.criteria.minInspections });
  }

  async generate(period: { from: string; to: string }, trigger: 'api' | 'schedule'): Promise<InterviewList> {
    const cards = await this.scorecards(period);
    return this.lists.save(period, cards, this.criteria, trigger);
  }

  /** The records behind a listed unit: its failed first inspections and its complaints in the period. */
  async evidence(unit: string, period: { from: string; to: string }) {
    const p = periodMs(period.from, period.to);
    const esc = unit.replace(/\\/g, '\\\\').replace(/'/g, "\\'");
    const where = `"unit" = '${esc}' AND time >= ${p.from}ms AND time < ${p.to}ms`;
    const [failedInspections, complaints] = await Promise.all([
      this.opts.store.rows(`SELECT "elevator", "institution", "attempt", "id", "unit_source" FROM "inspection" WHERE "kind" = 'periodic' AND "attempt" = 1 AND "result" = 'fail' AND ${where} LIMIT 5000`),
      this.opts.store.rows(`SELECT "id", "source", "category", "elevator", "unit_source" FROM "complaint" WHERE ${where} LIMIT 5000`),
    ]);
    return { unit, period, failedInspections, complaints };
  }
}
