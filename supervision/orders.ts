// Supervision orders (安全监察指令书) and the cases (立案) they escalate to:
// the store that applies the pure rules of supervision/order-rules.ts. Every
// step is a row of order_steps (who, when, the step's validated fields), in
// the same transaction as the state it moves. An order past its deadline
// raises one `order_overdue` alert from a timed check (on the cluster's
// leader only); closing the order, or closing the case it escalated to,
// resolves that alert.
import type { Logger } from 'pino';
import type { Db } from '../storage/db.js';
import { migrate, type Migration } from '../storage/migrations.js';
import type { AlertStore } from '../alerts/store.js';
import type { Registry } from '../registry/registry.js';
import { AppError } from '../common/errors.js';
import { cstDate, cstMidnight, DAY_MS, MINUTE_MS } from '../domain/time.js';
import { sorting, type SortOf } from '../storage/sort.js';
import {
  CASE_STEP_SCHEMAS, caseActions, caseTransition, issuesText, newlyOverdue, OPEN_SCHEMA, ORDER_STEP_SCHEMAS, orderActions, orderTransition,
  type CaseAction, type EnforcementState, type OrderAction, type OrderState, type UnitKind,
} from './order-rules.js';

export const ORDER_OVERDUE_ALERT = 'order_overdue';

export class OrderError extends AppError {
  constructor(message: string, statusCode: 400 | 404 | 409) {
    super(message, statusCode);
  }
}

export interface OrderStep {
  id: number;
  subject: 'order' | 'case';
  action: string;
  from: string | null;
  to: string;
  by: string;
  at: number;
  fields: Record<string, unknown>;
}

export interface SupervisionOrder {
  id: number;
  /** 监察指令书 number as printed: 监指〔year〕n */
  number: string;
  unitKind: UnitKind;
  unit: string;
  unitName: string | null;
  district: string | null;
  state: OrderState;
  items: string[];
  basis: string | null;
  evidence: { hazards: string[]; alerts: number[]; elevators: string[] };
  dueOn: string;
  /** the end of dueOn, Beijing time */
  dueAt: number;
  issuedBy: string;
  issuedAt: number;
  overdueAt: number | null;
  overdueAlertId: number | null;
  caseId: number | null;
  updatedAt: number;
}

export interface EnforcementCase {
  id: number;
  orderId: number;
  unitKind: UnitKind;
  unit: string;
  state: EnforcementState;
  filedBy: string;
  filedAt: number;
  decision: string | null;
  penaltyYuan: number | null;
  closedAt: number | null;
}

export const ORDER_SORT = sorting({ id: 'id', dueOn: 'due_at', issuedAt: 'issued_at', unit: 'unit', state: 'state' }, 'id');
export type OrderSort = SortOf<typeof ORDER_SORT>;

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'supervision orders, their steps and enforcement cases',
    up: `
      CREATE TABLE IF NOT EXISTS supervision_orders (
        id INTEGER PRIMARY KEY AUTOINCREMENT, unit_kind TEXT NOT NULL, unit TEXT NOT NULL, unit_name TEXT, district TEXT, state TEXT NOT NULL,
        items TEXT NOT NULL, basis TEXT, evidence TEXT NOT NULL, due_on TEXT NOT NULL, due_at INTEGER NOT NULL, issued_by TEXT NOT NULL,
        issued_at INTEGER NOT NULL, overdue_at INTEGER, overdue_alert_id INTEGER, case_id INTEGER, updated_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS supervision_orders_unit ON supervision_orders (unit, issued_at);
      CREATE INDEX IF NOT EXISTS supervision_orders_state ON supervision_orders (state, due_at);
      CREATE TABLE IF NOT EXISTS enforcement_cases (
        id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER NOT NULL UNIQUE, unit_kind TEXT NOT NULL, unit TEXT NOT NULL, state TEXT NOT NULL,
        filed_by TEXT NOT NULL, filed_at INTEGER NOT NULL, decision TEXT, penalty_yuan REAL, closed_at INTEGER
      );
      CREATE INDEX IF NOT EXISTS enforcement_cases_unit ON enforcement_cases (unit, filed_at);
      CREATE TABLE IF NOT EXISTS order_steps (
        id INTEGER PRIMARY KEY AUTOINCREMENT, order_id INTEGER NOT NULL, subject TEXT NOT NULL, action TEXT NOT NULL, from_state TEXT,
        to_state TEXT NOT NULL, actor TEXT NOT NULL, at INTEGER NOT NULL, fields TEXT NOT NULL
      );
      CREATE INDEX IF NOT EXISTS order_steps_order ON order_steps (order_id, id);
    `,
  },
];

export interface OrdersOptions {
  db: Db;
  alerts: AlertStore;
  registry: Registry;
  log?: Pick<Logger, 'error' | 'info'>;
  /** the clock (tests inject one) */
  now?: () => number;
  /** cluster mode: the overdue check writes only while this node leads */
  isLeader?: () => boolean;
  /** how often the overdue check runs (default one minute) */
  checkEveryMs?: number;
}

export class SupervisionOrders {
  private readonly db: Db;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: OrdersOptions) {
    this.db = opts.db;
    this.now = opts.now ?? Date.now;
    migrate(this.db, 'supervision/orders', MIGRATIONS);
  }

  /** Starts the timed overdue check; unref'd, so it never keeps the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => {
      try {
        this.checkOverdue();
      } catch (err) {
        this.opts.log?.error({ err }, 'supervision orders: overdue check failed');
      }
    }, this.opts.checkEveryMs ?? MINUTE_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Opens an order; the evidence is checked against the alert store and the registry (hazard ids are kept as given). */
  open(input: unknown): SupervisionOrder {
    const p = OPEN_SCHEMA.safeParse(input);
    if (!p.success) throw new OrderError(issuesText(p.error), 400);
    const o = p.data;
    const at = this.now();
    if (o.dueOn < cstDate(at)) throw new OrderError(`dueOn ${o.dueOn} is already past (today is ${cstDate(at)} Beijing time)`, 400);
    const { registry, alerts } = this.opts;
    for (const id of o.evidence.alerts) if (!alerts.get(id)) throw new OrderError(`evidence.alerts: alert ${id} not found`, 400);
    const elevators = o.evidence.elevators.map((code) => {
      const e = registry.elevators.get(code);
      if (!e) throw new OrderError(`evidence.elevators: elevator ${code} is not registered`, 400);
      return e;
    });
    let unitName: string | null = null;
    let district: string | null = null;
    if (o.unitKind === 'maintenance') {
      const u = registry.units.get(o.unit);
      if (!u) throw new OrderError(`unit: maintenance unit ${o.unit} is not registered`, 400);
      unitName = u.name;
    } else {
      // A user unit has no registry entry of its own: the order is about its elevators, which place it in a district.
      if (!elevators.length) throw new OrderError('evidence.elevators: an order to a user unit cites at least one of its elevators', 400);
      const other = elevators.find((e) => e.userUnit !== o.unit);
      if (other) throw new OrderError(`evidence.elevators: elevator ${other.code} belongs to the user unit ${other.userUnit}, not ${o.unit}`, 400);
      unitName = o.unit;
      district = elevators[0]!.district;
    }
    const dueAt = cstMidnight(o.dueOn) + DAY_MS;
    return this.db.transaction(() => {
      const { id } = this.db.prepare(`INSERT INTO supervision_orders (unit_kind, unit, unit_name, district, state, items, basis, evidence, due_on, due_at, issued_by, issued_at, updated_at)
        VALUES (?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`).get(o.unitKind, o.unit, unitName, district, JSON.stringify(o.items), o.basis ?? null,
        JSON.stringify(o.evidence), o.dueOn, dueAt, o.by, at, at) as { id: number };
      this.step(id, 'order', 'open', null, 'open', o.by, at, { items: o.items, dueOn: o.dueOn, evidence: o.evidence, basis: o.basis ?? null });
      return this.get(id)!;
    })();
  }

  get(id: number): SupervisionOrder | undefined {
    const r = this.db.prepare('SELECT * FROM supervision_orders WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r && toOrder(r);
  }

  /** An order with its steps, its case and the actions allowed now. */
  detail(id: number) {
    const o = this.get(id);
    if (!o) return undefined;
    const now = this.now();
    const c = o.caseId !== null ? this.getCase(o.caseId)! : null;
    return { ...o, overdue: isOverdue(o, now), actions: orderActions(o, now), steps: this.steps(id), case: c && { ...c, actions: caseActions(c) } };
  }

  steps(orderId: number): OrderStep[] {
    return (this.db.prepare('SELECT * FROM order_steps WHERE order_id = ? ORDER BY id').all(orderId) as Record<string, unknown>[]).map((r) => ({
      id: r.id as number, subject: r.subject as 'order' | 'case', action: r.action as string, from: r.from_state as string | null, to: r.to_state as string,
      by: r.actor as string, at: Number(r.at), fields: JSON.parse(r.fields as string) as Record<string, unknown>,
    }));
  }

  list(q: { state?: OrderState | undefined; unit?: string | undefined; overdue?: boolean | undefined; page?: number; pageSize?: number; sort?: OrderSort | undefined } = {}) {
    const where: string[] = [];
    const args: Record<string, unknown> = {};
    if (q.state) (where.push('state = @state'), (args.state = q.state));
    if (q.unit) (where.push('unit = @unit'), (args.unit = q.unit));
    if (q.overdue !== undefined) where.push(q.overdue ? 'overdue_at IS NOT NULL' : 'overdue_at IS NULL');
    const w = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const page = Math.max(1, q.page ?? 1);
    const pageSize = Math.min(1000, Math.max(1, q.pageSize ?? 50));
    const total = (this.db.prepare(`SELECT COUNT(*) n FROM supervision_orders ${w}`).get(...(Object.keys(args).length ? [args] : [])) as { n: number }).n;
    const rows = this.db.prepare(`SELECT * FROM supervision_orders ${w} ORDER BY ${ORDER_SORT.order(q.sort ?? '-id')} LIMIT @limit OFFSET @offset`)
      .all({ ...args, limit: pageSize, offset: (page - 1) * pageSize }) as Record<string, unknown>[];
    const now = this.now();
    return { items: rows.map(toOrder).map((o) => ({ ...o, overdue: isOverdue(o, now) })), total, page, pageSize };
  }

  /** Counts by state (the UI's tabs). */
  countsByState(): Record<string, number> {
    const rows = this.db.prepare('SELECT state, COUNT(*) n FROM supervision_orders GROUP BY state').all() as { state: string; n: number }[];
    return Object.fromEntries(rows.map((r) => [r.state, r.n]));
  }

  /** One step of an order; `input` carries who and the step's fields. Illegal transitions: 409. */
  act(id: number, action: OrderAction, input: unknown): SupervisionOrder {
    const parsed = ORDER_STEP_SCHEMAS[action].safeParse(input);
    if (!parsed.success) throw new OrderError(issuesText(parsed.error), 400);
    const { by, ...fields } = parsed.data as { by: string } & Record<string, unknown>;
    const at = this.now();
    return this.db.transaction(() => {
      const o = this.get(id);
      if (!o) throw new OrderError(`supervision order ${id} not found`, 404);
      const out = orderTransition(o, action, at);
      if ('refused' in out) throw new OrderError(out.refused, 409);
      let caseId = o.caseId;
      if (action === 'escalate') {
        caseId = (this.db.prepare(`INSERT INTO enforcement_cases (order_id, unit_kind, unit, state, filed_by, filed_at) VALUES (?, ?, ?, 'filed', ?, ?) RETURNING id`)
          .get(id, o.unitKind, o.unit, by, at) as { id: number }).id;
        this.step(id, 'case', 'file', null, 'filed', by, at, { caseId, reason: fields.reason });
      }
      this.db.prepare('UPDATE supervision_orders SET state = ?, case_id = ?, updated_at = ? WHERE id = ?').run(out.to, caseId, at, id);
      this.step(id, 'order', action, o.state, out.to, by, at, fields);
      if (o.overdueAlertId !== null) {
        const text = action === 'close' ? `监察指令书 ${o.id} 已核查关闭` : action === 'escalate' ? `监察指令书 ${o.id} 已转立案（案件 ${caseId}）` : null;
        if (text) this.settleAlert(o.overdueAlertId, by, text, at, action === 'close');
      }
      return this.get(id)!;
    })();
  }

  getCase(id: number): EnforcementCase | undefined {
    const r = this.db.prepare('SELECT * FROM enforcement_cases WHERE id = ?').get(id) as Record<string, unknown> | undefined;
    return r && toCase(r);
  }

  /** One step of a case; closing it resolves the order's overdue alert. */
  actCase(id: number, action: CaseAction, input: unknown): EnforcementCase {
    const parsed = CASE_STEP_SCHEMAS[action].safeParse(input);
    if (!parsed.success) throw new OrderError(issuesText(parsed.error), 400);
    const { by, ...fields } = parsed.data as { by: string } & Record<string, unknown>;
    const at = this.now();
    return this.db.transaction(() => {
      const c = this.getCase(id);
      if (!c) throw new OrderError(`enforcement case ${id} not found`, 404);
      const out = caseTransition(c, action);
      if ('refused' in out) throw new OrderError(out.refused, 409);
      if (action === 'decide') this.db.prepare('UPDATE enforcement_cases SET state = ?, decision = ?, penalty_yuan = ? WHERE id = ?').run(out.to, fields.decision, fields.penaltyYuan ?? null, id);
      else this.db.prepare('UPDATE enforcement_cases SET state = ?, closed_at = ? WHERE id = ?').run(out.to, action === 'close' ? at : null, id);
      this.step(c.orderId, 'case', action, c.state, out.to, by, at, { caseId: id, ...fields });
      const o = this.get(c.orderId)!;
      if (action === 'close' && o.overdueAlertId !== null) this.settleAlert(o.overdueAlertId, by, `案件 ${id} 已结案`, at, true);
      return this.getCase(id)!;
    })();
  }

  /**
   * The timed check: raises one `order_overdue` alert per order that has gone
   * past its deadline while with the unit. Only on the leader in a cluster.
   * Returns the orders flagged now.
   */
  checkOverdue(): SupervisionOrder[] {
    if (this.opts.isLeader && !this.opts.isLeader()) return [];
    const at = this.now();
    const candidates = (this.db.prepare(`SELECT * FROM supervision_orders WHERE state IN ('open', 'sent_back') AND overdue_at IS NULL AND due_at <= ?`).all(at) as Record<string, unknown>[]).map(toOrder);
    const flagged: SupervisionOrder[] = [];
    for (const o of newlyOverdue(candidates, at)) {
      flagged.push(this.db.transaction(() => {
        const cur = this.get(o.id)!;
        if (cur.overdueAt !== null) return cur; // another check got there first
        const { alert } = this.opts.alerts.raise({
          type: ORDER_OVERDUE_ALERT, severity: 'major', ...alertSubject(cur), at,
          evidence: { orderId: cur.id, number: cur.number, unitKind: cur.unitKind, unit: cur.unit, dueOn: cur.dueOn },
        });
        this.db.prepare('UPDATE supervision_orders SET overdue_at = ?, overdue_alert_id = ?, updated_at = ? WHERE id = ?').run(at, alert.id, at, cur.id);
        this.step(cur.id, 'order', 'overdue', cur.state, cur.state, 'system', at, { alertId: alert.id, dueOn: cur.dueOn });
        return this.get(cur.id)!;
      })());
    }
    if (flagged.length) this.opts.log?.info({ orders: flagged.map((o) => o.id) }, 'supervision orders past their deadline');
    return flagged;
  }

  /**
   * Figures for a unit's credit grade over a period ({from, to} dates, `to`
   * exclusive): orders issued to it, orders of it that went overdue, cases
   * filed against it.
   */
  orderCounts(unit: string, period: { from: string; to: string }): { issued: number; overdue: number; cases: number } {
    const from = cstMidnight(period.from);
    const to = cstMidnight(period.to);
    const n = (sql: string) => (this.db.prepare(sql).get(unit, from, to) as { n: number }).n;
    return {
      issued: n('SELECT COUNT(*) n FROM supervision_orders WHERE unit = ? AND issued_at >= ? AND issued_at < ?'),
      overdue: n('SELECT COUNT(*) n FROM supervision_orders WHERE unit = ? AND overdue_at >= ? AND overdue_at < ?'),
      cases: n('SELECT COUNT(*) n FROM enforcement_cases WHERE unit = ? AND filed_at >= ? AND filed_at < ?'),
    };
  }

  private step(orderId: number, subject: 'order' | 'case', action: string, from: string | null, to: string, by: string, at: number, fields: Record<string, unknown>): void {
    this.db.prepare('INSERT INTO order_steps (order_id, subject, action, from_state, to_state, actor, at, fields) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(orderId, subject, action, from, to, by, at, JSON.stringify(fields));
  }

  private settleAlert(alertId: number, by: string, text: string, at: number, resolve: boolean): void {
    const a = this.opts.alerts.get(alertId);
    if (!a || a.state === 'resolved') return;
    if (resolve) this.opts.alerts.resolve(alertId, by, text, at);
    else this.opts.alerts.note(alertId, by, text, at);
  }
}

/**
 * The overdue alert's subject: a part of the unit for a maintenance unit
 * (`U1:order-7`, city-wide like the unit's other alerts), a part of the first
 * cited elevator for a user unit (so it stays in that district's scope).
 */
function alertSubject(o: SupervisionOrder) {
  return o.unitKind === 'maintenance'
    ? { subjectKind: 'maintenance_unit' as const, subject: `${o.unit}:order-${o.id}`, unit: o.unit }
    : { subjectKind: 'elevator' as const, subject: `${o.evidence.elevators[0]}:order-${o.id}`, district: o.district ?? undefined };
}

/** Past the deadline and not settled (closed or escalated). */
export const isOverdue = (o: { state: OrderState; dueAt: number }, now: number) => o.state !== 'closed' && o.state !== 'escalated' && now >= o.dueAt;

const toOrder = (r: Record<string, unknown>): SupervisionOrder => ({
  id: r.id as number, number: `监指〔${cstDate(r.issued_at as number).slice(0, 4)}〕${r.id as number}号`, unitKind: r.unit_kind as UnitKind, unit: r.unit as string,
  unitName: r.unit_name as string | null, district: r.district as string | null, state: r.state as OrderState, items: JSON.parse(r.items as string) as string[],
  basis: r.basis as string | null, evidence: JSON.parse(r.evidence as string) as SupervisionOrder['evidence'], dueOn: r.due_on as string, dueAt: Number(r.due_at),
  issuedBy: r.issued_by as string, issuedAt: Number(r.issued_at), overdueAt: r.overdue_at === null ? null : Number(r.overdue_at),
  overdueAlertId: r.overdue_alert_id as number | null, caseId: r.case_id as number | null, updatedAt: Number(r.updated_at),
});

const toCase = (r: Record<string, unknown>): EnforcementCase => ({
  id: r.id as number, orderId: r.order_id as number, unitKind: r.unit_kind as UnitKind, unit: r.unit as string, state: r.state as EnforcementState,
  filedBy: r.filed_by as string, filedAt: Number(r.filed_at), decision: r.decision as string | null,
  penaltyYuan: r.penalty_yuan === null ? null : Number(r.penalty_yuan), closedAt: r.closed_at === null ? null : Number(r.closed_at),
});
