// Interview cases: one per unit on an interview list, carried from the draft
// to its close, with who did what and when:
//
//   draft → published → scheduled → held → rectifying → closed
//
// Publishing raises a `interview_case` alert on the maintenance unit, so the
// inspectors are notified and every dashboard hears it live through the same
// path as any alert (routing, webhooks, WebSocket, history); each later step
// is a note on that alert, and closing the case resolves it. A unit that had a
// case for the previous period is marked as a repeat.
import type { Db } from '../storage/db.js';
import { migrate, type Migration } from '../storage/migrations.js';
import { z } from 'zod';
import type { AlertStore } from '../alerts/store.js';
import { Listeners, type ErrorLog } from '../domain/listeners.js';
import { sorting, type SortOf } from '../storage/sort.js';
import type { InterviewList } from './interview.js';
import { AppError, issuesText } from '../common/errors.js';

export const CASE_STATES = ['draft', 'published', 'scheduled', 'held', 'rectifying', 'closed'] as const;
export type CaseState = (typeof CASE_STATES)[number];

const who = z.string().min(1).max(64);
/** What each step needs, validated: the step's own fields. */
export const STEP_SCHEMAS = {
  published: z.object({ by: who }),
  scheduled: z.object({ by: who, scheduledAt: z.iso.datetime({ offset: true }), place: z.string().min(1).max(200), attendees: z.array(z.string().min(1).max(100)).min(1).max(50) }),
  held: z.object({ by: who, minutes: z.string().min(1).max(20_000), commitments: z.array(z.string().min(1).max(500)).min(1).max(50) }),
  rectifying: z.object({ by: who, rectifyDue: z.iso.date() }),
  closed: z.object({ by: who, conclusion: z.string().min(1).max(2000) }),
} as const;
export type Step = keyof typeof STEP_SCHEMAS;

const NEXT: Record<CaseState, CaseState | null> = { draft: 'published', published: 'scheduled', scheduled: 'held', held: 'rectifying', rectifying: 'closed', closed: null };

const STEP_ZH: Record<Step, string> = { published: '约谈名单已发布', scheduled: '约谈已安排', held: '约谈已举行', rectifying: '整改中', closed: '案件已结案' };

export interface InterviewCase {
  id: number;
  listId: number;
  unit: string;
  name: string | null;
  periodFrom: string;
  periodTo: string;
  state: CaseState;
  /** the previous period's case of the same unit, when it was listed then too */
  repeatOf: number | null;
  alertId: number | null;
  details: Record<string, unknown>;
  history: { state: CaseState; by: string; at: number; fields: Record<string, unknown> }[];
  createdAt: number;
}

/** Sort keys of the case list (`-` first for descending); ties go by id. The default, `id`, is oldest first. */
export const CASE_SORT = sorting({ id: 'id', unit: 'unit', state: 'state', periodFrom: 'period_from', createdAt: 'created_at' }, 'id');
export type CaseSort = SortOf<typeof CASE_SORT>;

export class CaseError extends AppError {
  constructor(message: string, statusCode: 400 | 404 | 409) {
    super(message, statusCode);
  }
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'interview cases',
    up: `CREATE TABLE IF NOT EXISTS interview_cases (id INTEGER PRIMARY KEY AUTOINCREMENT, list_id INTEGER NOT NULL, unit TEXT NOT NULL, name TEXT,
      period_from TEXT NOT NULL, period_to TEXT NOT NULL, state TEXT NOT NULL, repeat_of INTEGER, alert_id INTEGER, details TEXT NOT NULL DEFAULT '{}',
      history TEXT NOT NULL DEFAULT '[]', created_at INTEGER NOT NULL, UNIQUE (period_from, period_to, unit))`,
  },
];

export class InterviewCases {
  private readonly listeners: Listeners<[InterviewCase]>;

  /** Listeners hear every case created or moved on, after it is committed (the dashboard's live feed). */
  onChange(fn: (c: InterviewCase) => void): () => void {
    return this.listeners.on(fn);
  }

  private changed(cases: InterviewCase[]): void {
    for (const c of cases) this.listeners.emit(c);
  }

  /** `log` hears a change listener's failure (default: a plain pino logger). */
  constructor(private db: Db, private alerts: AlertStore, log?: ErrorLog) {
    this.listeners = new Listeners('interview case change', log);
    migrate(db, 'supervision/cases', MIGRATIONS);
  }

  /**
   * Opens a draft case for every unit on the list. One case per unit and
   * period: a unit already open from an earlier version of the list keeps its case.
   */
  openFor(list: InterviewList, by: string, at = Date.now()): InterviewCase[] {
    const created = new Set<number>();
    const cases = this.db.transaction(() => {
      const prevFrom = `${Number(list.periodFrom.slice(0, 4)) - 1}${list.periodFrom.slice(4)}`;
      const prevTo = `${Number(list.periodTo.slice(0, 4)) - 1}${list.periodTo.slice(4)}`;
      // Prepared once, not per unit: on PostgreSQL every prepare is a server-side statement of the connection.
      const previous = this.db.prepare('SELECT id FROM interview_cases WHERE unit = ? AND period_from = ? AND period_to = ?');
      const insert = this.db.prepare(`INSERT INTO interview_cases (list_id, unit, name, period_from, period_to, state, repeat_of, history, created_at) VALUES (?, ?, ?, ?, ?, 'draft', ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`);
      for (const u of list.units) {
        const prev = previous.get(u.unit, prevFrom, prevTo) as { id: number } | undefined;
        const ins = insert
          .get(list.id, u.unit, u.name, list.periodFrom, list.periodTo, prev?.id ?? null, JSON.stringify([{ state: 'draft', by, at, fields: { listId: list.id, version: list.version } }]), at);
        if (ins) created.add((ins as { id: number }).id);
      }
      return this.list({ periodFrom: list.periodFrom, periodTo: list.periodTo, pageSize: 500 }).items;
    })();
    this.changed(cases.filter((c) => created.has(c.id)));
    return cases;
  }

  get(id: number): InterviewCase | undefined {
    const r = this.db.prepare('SELECT * FROM interview_cases WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r && toCase(r);
  }

  list(q: { state?: CaseState | undefined; unit?: string | undefined; periodFrom?: string | undefined; periodTo?: string | undefined; page?: number; pageSize?: number; sort?: CaseSort | undefined } = {}) {
    const where: string[] = [];
    const args: Record<string, unknown> = {};
    if (q.state) (where.push('state = @state'), (args.state = q.state));
    if (q.unit) (where.push('unit = @unit'), (args.unit = q.unit));
    if (q.periodFrom) (where.push('period_from = @periodFrom'), (args.periodFrom = q.periodFrom));
    if (q.periodTo) (where.push('period_to = @periodTo'), (args.periodTo = q.periodTo));
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const page = Math.max(1, q.page ?? 1);
    const pageSize = Math.min(500, Math.max(1, q.pageSize ?? 50));
    // No bind values at all without a filter: PostgreSQL refuses values a statement has no parameter for.
    const total = (this.db.prepare(`SELECT COUNT(*) n FROM interview_cases ${w}`).get(...(where.length ? [args] : [])) as { n: number }).n;
    const rows = this.db.prepare(`SELECT * FROM interview_cases ${w} ORDER BY ${CASE_SORT.order(q.sort ?? 'id')} LIMIT @limit OFFSET @offset`).all({ ...args, limit: pageSize, offset: (page - 1) * pageSize }) as Record<string, unknown>[];
    return { items: rows.map(toCase), total, page, pageSize };
  }

  /** Interviews of a unit: its cases published (the unit summoned) at a time in [from, to) ms — the credit grade's count. */
  summoned(unit: string, from: number, to: number): number {
    const rows = this.db.prepare(`SELECT history FROM interview_cases WHERE unit = ? AND state != 'draft'`).all(unit) as { history: string }[];
    return rows.filter((r) => (JSON.parse(r.history) as InterviewCase['history']).some((h) => h.state === 'published' && h.at >= from && h.at < to)).length;
  }

  /** Moves a case one step on; `input` carries who and the step's fields. */
  advance(id: number, to: string, input: unknown, at = Date.now()): InterviewCase {
    const c = this.db.transaction(() => {
      const c = this.get(id);
      if (!c) throw new CaseError(`interview case ${id} not found`, 404);
      const next = NEXT[c.state];
      if (to !== next) throw new CaseError(next ? `case ${id} is ${c.state}; the next step is ${next}, not ${to}` : `case ${id} is closed`, 409);
      const parsed = STEP_SCHEMAS[to as Step].safeParse(input);
      if (!parsed.success) throw new CaseError(issuesText(parsed.error), 400);
      const { by, ...fields } = parsed.data as { by: string } & Record<string, unknown>;
      let alertId = c.alertId;
      const text = `${STEP_ZH[to as Step]}：${c.name ?? c.unit}（${c.periodFrom} 至 ${c.periodTo}）`;
      if (to === 'published') {
        const r = this.alerts.raise({
          type: 'interview_case', severity: 'major', subjectKind: 'maintenance_unit', subject: c.unit, unit: c.unit, at,
          evidence: { caseId: c.id, listId: c.listId, period: [c.periodFrom, c.periodTo], repeatOf: c.repeatOf, by },
        });
        alertId = r.alert.id;
      } else if (alertId !== null && this.alerts.get(alertId)?.state !== 'resolved') {
        if (to === 'closed') this.alerts.resolve(alertId, by, text, at);
        else this.alerts.note(alertId, by, text, at);
      }
      this.db.prepare('UPDATE interview_cases SET state = ?, alert_id = ?, details = ?, history = ? WHERE id = ?').run(
        to, alertId, JSON.stringify({ ...c.details, ...fields }), JSON.stringify([...c.history, { state: to, by, at, fields }]), id);
      return this.get(id)!;
    })();
    this.changed([c]);
    return c;
  }
}

const toCase = (r: Record<string, unknown>): InterviewCase => ({
  id: r.id as number, listId: r.list_id as number, unit: r.unit as string, name: r.name as string | null, periodFrom: r.period_from as string,
  periodTo: r.period_to as string, state: r.state as CaseState, repeatOf: r.repeat_of as number | null, alertId: r.alert_id as number | null,
  details: JSON.parse(r.details as string) as Record<string, unknown>, history: JSON.parse(r.history as string) as InterviewCase['history'], createdAt: r.created_at as number,
});
