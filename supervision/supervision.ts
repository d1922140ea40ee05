// Supervision of maintenance units: scorecards on demand and the interview
// list, generated on demand and on node-cron schedules (Asia/Shanghai):
// yearly in early January for the previous calendar year, monthly for the
// rolling twelve months as an early warning.
import type { Db } from '../storage/db.js';
import cron, { type ScheduledTask } from 'node-cron';
import type { Logger } from 'pino';
import type { AlertStore } from '../alerts/store.js';
import type { Registry } from '../registry/registry.js';
import { RecordLedger } from '../storage/ledger.js';
import { UNIT_RATES_ALERT } from '../alerts/rules/unit-rates.js';
import type { Alert } from '../alerts/store.js';
import { CaseError, InterviewCases, type InterviewCase } from './cases.js';
import { DEFAULT_CRITERIA, InterviewLists, periodMs, previousYear, rollingYear, type InterviewCriteria, type InterviewList } from './interview.js';
import { DEFAULT_SCORECARD, type Scorecard } from './scorecard.js';
import type { HazardDueDays } from './hazards.js';
import { scorecardsOffThread } from './scorecard-worker.js';
import { computeTrend, type Trend, type TrendQuery } from './trend.js';
import { CreditBook } from './credit-lists.js';
import type { CreditScoring, CreditSources } from './credit.js';

export interface SupervisionOptions {
  /** the service's state database: record ledger, rescue timings, lists and cases */
  db: Db;
  alerts: AlertStore;
  /** the registry in memory: units and their elevators for the scorecards and the trend */
  registry: Registry;
  log: Logger;
  criteria?: InterviewCriteria;
  /** cron expressions; null = only on demand */
  schedules?: { yearly: string | null; monthly: string | null };
  /** hazards' rectification deadlines, for the scorecards' overdue hazards (HAZARD_DUE_DAYS_*) */
  hazardDueDays?: HazardDueDays;
  /** cluster mode: scheduled lists are generated only while this node leads */
  leader?: () => boolean;
  /** unit credit grades: the scoring (CREDIT_SCORING) and the counts other parts keep (hazards, orders; default none) */
  credit?: { scoring?: CreditScoring; sources?: Partial<CreditSources> };
}

export class Supervision {
  readonly lists: InterviewLists;
  readonly cases: InterviewCases;
  readonly criteria: InterviewCriteria;
  /** unit credit grades and the red and black lists (supervision/credit-lists.ts) */
  readonly credit: CreditBook;
  private readonly ledger: RecordLedger;
  private tasks: ScheduledTask[] = [];

  constructor(private opts: SupervisionOptions) {
    this.lists = new InterviewLists(opts.db);
    this.cases = new InterviewCases(opts.db, opts.alerts, opts.log);
    this.criteria = opts.criteria ?? DEFAULT_CRITERIA;
    this.ledger = new RecordLedger(opts.db);
    this.credit = new CreditBook(opts.db, {
      scorecards: (p) => this.scorecards(p),
      scoring: opts.credit?.scoring,
      sources: {
        interviews: (unit, p) => {
          const ms = periodMs(p.from, p.to);
          return this.cases.summoned(unit, ms.from, ms.to);
        },
        ...opts.credit?.sources,
      },
    });
  }

  start(): void {
    const { schedules, log } = this.opts;
    const at = (expr: string | null, name: string, period: () => { from: string; to: string }) => {
      if (!expr) return;
      this.tasks.push(cron.schedule(expr, async () => {
        if (this.opts.leader && !this.opts.leader()) return; // a cluster generates the list once, on its leader
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
    return scorecardsOffThread(this.opts.db, this.opts.registry, periodMs(period.from, period.to), {
      ...DEFAULT_SCORECARD, minInspections: this.criteria.minInspections, hazardDueDays: this.opts.hazardDueDays ?? DEFAULT_SCORECARD.hazardDueDays,
    });
  }

  /** Pass and complaint rates per unit and calendar quarter (supervision/trend.ts): the ledger's counts grouped by unit and quarter. */
  trend(q: TrendQuery): Trend {
    return computeTrend(this.ledger, this.opts.registry, q, this.criteria.minInspections);
  }

  async generate(period: { from: string; to: string }, trigger: 'api' | 'schedule'): Promise<InterviewList> {
    const cards = await this.scorecards(period);
    return this.lists.save(period, cards, this.criteria, trigger);
  }

  /**
   * The unit flags (`unit_rates` alerts) of these units: the active one, else
   * the newest resolved one — whether and since when a listed unit carried a flag.
   */
  flagsOf(units: string[]): { unit: string; alertId: number; since: number; state: Alert['state']; resolvedAt: number | null }[] {
    const { alerts } = this.opts;
    return units.flatMap((unit) => {
      const a = alerts.active(UNIT_RATES_ALERT, 'maintenance_unit', unit) ?? alerts.lastResolved(UNIT_RATES_ALERT, 'maintenance_unit', unit);
      return a ? [{ unit, alertId: a.id, since: a.firstAt, state: a.state, resolvedAt: a.resolvedAt }] : [];
    });
  }

  /**
   * The interview case of a flagged unit, opened from its flag: the unit's
   * case still in progress if there is one; otherwise a draft case on the
   * newest interview list for the flag's twelve months that lists the unit,
   * generating that list (a new version) when none does. A unit that no
   * longer meets the criteria gets no case (409).
   */
  async caseFromFlag(flag: Alert, by: string): Promise<{ case: InterviewCase; listId: number; created: boolean }> {
    if (flag.type !== UNIT_RATES_ALERT) throw new CaseError(`alert ${flag.id} is a ${flag.type} alert, not a unit flag (${UNIT_RATES_ALERT}); cases are opened from unit flags`, 400);
    const unit = flag.subject;
    const inProgress = this.cases.list({ unit, sort: '-id', pageSize: 1 }).items.find((c) => c.state !== 'closed');
    if (inProgress) return { case: inProgress, listId: inProgress.listId, created: false };
    const window = (flag.evidence.at(-1) as { window?: { from: string; to: string } } | undefined)?.window;
    if (!window) throw new CaseError(`alert ${flag.id} has no twelve-month window in its evidence`, 409);
    const newest = this.lists.list({ from: window.from, pageSize: 100 }).items.find((l) => l.periodTo === window.to);
    let list = newest && this.lists.get(newest.id as number);
    if (!list?.units.some((u) => u.unit === unit)) list = await this.generate(window, 'api');
    const listed = list.units.find((u) => u.unit === unit);
    if (!listed) throw new CaseError(`unit ${unit} no longer meets the interview criteria for ${window.from} to ${window.to} (list ${list.id} version ${list.version}); no case opened`, 409);
    const before = this.cases.list({ unit, periodFrom: list.periodFrom, periodTo: list.periodTo, pageSize: 1 }).total;
    const c = this.cases.openFor({ ...list, units: [listed] }, by).find((x) => x.unit === unit)!;
    const created = before === 0;
    if (created && flag.state !== 'resolved') this.opts.alerts.note(flag.id, by, `已建立约谈案件 #${c.id}（${list.periodFrom} 至 ${list.periodTo}）`);
    return { case: c, listId: list.id, created };
  }

  /** The records behind a listed unit: its failed first inspections and its complaints in the period (at most 5,000 of each). */
  async evidence(unit: string, period: { from: string; to: string }) {
    const p = periodMs(period.from, period.to);
    return { unit, period, ...this.ledger.unitRecords(unit, p.from, p.to, 5000) };
  }
}
