// Supervision orders and enforcement cases as a store, on SQLite and on
// PostgreSQL: the lifecycle, send back, the overdue check (clock injected)
// raising exactly one alert, escalation to a case and its decision, illegal
// steps refused with 409, the counts for credit grades, the leader-only check.
import { afterEach, describe, expect, it } from 'vitest';
import { AlertStore } from '../../alerts/store.js';
import { Registry } from '../../registry/registry.js';
import { cstMidnight, DAY_MS } from '../../domain/time.js';
import { OrderError, SupervisionOrders, ORDER_OVERDUE_ALERT } from '../../supervision/orders.js';
import { orderActions } from '../../supervision/order-rules.js';
import { BACKENDS, openTestDb } from '../db.js';
import { quietLog } from '../helpers.js';

const T0 = cstMidnight('2026-03-02') + 9 * 3_600_000; // 09:00 Beijing time

async function setup(backend: (typeof BACKENDS)[number], cleanups: (() => unknown)[], leader?: () => boolean) {
  const db = await openTestDb(backend, cleanups);
  const registry = new Registry(db, quietLog);
  registry.units.put({ id: 'U1', name: '安达电梯维保公司' });
  registry.elevators.put({ code: 'E1', address: '宝庆路 1 号', district: '大祥区', userUnit: '宝庆物业', maintenanceUnit: 'U1' });
  registry.elevators.put({ code: 'E2', address: '宝庆路 2 号', district: '大祥区', userUnit: '宝庆物业', maintenanceUnit: 'U1' });
  const alerts = new AlertStore(db);
  let now = T0;
  const clock = { set: (t: number) => void (now = t) };
  const orders = new SupervisionOrders({ db, alerts, registry, now: () => now, ...(leader ? { isLeader: leader } : {}) });
  return { db, alerts, orders, clock };
}

const refused = (fn: () => unknown, status: number, msg: RegExp) => {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(OrderError);
    expect((e as OrderError).statusCode).toBe(status);
    expect((e as Error).message).toMatch(msg);
    return;
  }
  throw new Error('expected a refusal');
};

for (const backend of BACKENDS) {
  describe(`supervision orders on ${backend}`, () => {
    const cleanups: (() => unknown)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });

    it('open → reply → send back → reply → close, every step with who and when; illegal steps 409', async () => {
      const { orders, alerts, clock } = await setup(backend, cleanups);
      const a = alerts.raise({ type: 'maintenance_overdue', severity: 'major', subjectKind: 'elevator', subject: 'E1', district: '大祥区', at: T0 - DAY_MS });
      refused(() => orders.open({ by: 'li', unitKind: 'maintenance', unit: 'U1', items: ['x'], dueOn: '2026-03-20', evidence: {} }), 400, /cite at least one/);
      refused(() => orders.open({ by: 'li', unitKind: 'maintenance', unit: 'U9', items: ['x'], dueOn: '2026-03-20', evidence: { hazards: ['H1'] } }), 400, /U9 is not registered/);
      refused(() => orders.open({ by: 'li', unitKind: 'maintenance', unit: 'U1', items: ['x'], dueOn: '2026-03-20', evidence: { alerts: [999] } }), 400, /alert 999 not found/);
      refused(() => orders.open({ by: 'li', unitKind: 'user', unit: '别的物业', items: ['x'], dueOn: '2026-03-20', evidence: { elevators: ['E1'] } }), 400, /belongs to the user unit 宝庆物业/);
      refused(() => orders.open({ by: 'li', unitKind: 'maintenance', unit: 'U1', items: ['x'], dueOn: '2026-03-01', evidence: { hazards: ['H1'] } }), 400, /already past/);

      const o = orders.open({ by: 'li', unitKind: 'maintenance', unit: 'U1', items: ['补做 E1 的半月维保', '提交维保记录'], dueOn: '2026-03-20', evidence: { hazards: ['H-17'], alerts: [a.alert.id], elevators: ['E1'] } });
      expect(o).toMatchObject({ state: 'open', unitName: '安达电梯维保公司', dueOn: '2026-03-20', issuedBy: 'li', issuedAt: T0, number: `监指〔2026〕${o.id}号` });
      expect(o.dueAt).toBe(cstMidnight('2026-03-21'));
      refused(() => orders.act(o.id, 'close', { by: 'li', conclusion: 'ok' }), 409, /is open: close is not allowed now \(allowed: reply\)/);
      refused(() => orders.act(o.id, 'escalate', { by: 'li', reason: 'r' }), 409, /not past its rectification deadline/);
      refused(() => orders.act(o.id, 'reply', { by: 'U1', text: 'done', attachments: Array.from({ length: 11 }, (_, i) => `f${i}.jpg`) }), 400, /at most 10/);
      refused(() => orders.act(o.id, 'reply', { by: 'U1', text: 'done', attachments: ['javascript:alert(1)'] }), 400, /URL or a file reference/);

      clock.set(T0 + DAY_MS);
      orders.act(o.id, 'reply', { by: 'U1', text: '已补做维保', attachments: ['https://files.example/e1.jpg', '维保记录/E1-0303.pdf'] });
      refused(() => orders.act(o.id, 'reply', { by: 'U1', text: 'again' }), 409, /is replied: reply is not allowed now \(allowed: send_back, close\)/);
      clock.set(T0 + 2 * DAY_MS);
      orders.act(o.id, 'send_back', { by: 'li', reason: '缺少签字' });
      expect(orderActions(orders.get(o.id)!, T0 + 2 * DAY_MS)).toEqual(['reply']);
      orders.act(o.id, 'reply', { by: 'U1', text: '已补签字', attachments: ['维保记录/E1-0303-signed.pdf'] });
      const closed = orders.act(o.id, 'close', { by: 'li', conclusion: '经核查已整改' });
      expect(closed.state).toBe('closed');
      refused(() => orders.act(o.id, 'send_back', { by: 'li', reason: 'x' }), 409, /is closed: send_back is not allowed now \(no further steps\)/);
      expect(orders.steps(o.id).map((s) => [s.action, s.from, s.to, s.by])).toEqual([
        ['open', null, 'open', 'li'], ['reply', 'open', 'replied', 'U1'], ['send_back', 'replied', 'sent_back', 'li'],
        ['reply', 'sent_back', 'replied', 'U1'], ['close', 'replied', 'closed', 'li'],
      ]);
      expect(orders.steps(o.id)[1]!.fields).toEqual({ text: '已补做维保', attachments: ['https://files.example/e1.jpg', '维保记录/E1-0303.pdf'] });
      expect(orders.steps(o.id)[2]!.at).toBe(T0 + 2 * DAY_MS);
      // closed on time: never overdue, however late the check runs
      clock.set(T0 + 90 * DAY_MS);
      expect(orders.checkOverdue()).toEqual([]);
    });

    it('an overdue order raises exactly one alert, escalates to a case that goes to a decision; closing the case resolves the alert', async () => {
      const { orders, alerts, clock } = await setup(backend, cleanups);
      const o = orders.open({ by: 'li', unitKind: 'maintenance', unit: 'U1', items: ['更换钢丝绳'], dueOn: '2026-03-05', evidence: { elevators: ['E2'] } });
      const u = orders.open({ by: 'li', unitKind: 'user', unit: '宝庆物业', items: ['张贴使用标志'], dueOn: '2026-03-05', evidence: { elevators: ['E1'] } });
      clock.set(cstMidnight('2026-03-06') - 1); // the last millisecond of the deadline day
      expect(orders.checkOverdue()).toEqual([]);
      refused(() => orders.act(o.id, 'escalate', { by: 'li', reason: 'r' }), 409, /not past its rectification deadline/);
      clock.set(cstMidnight('2026-03-06'));
      expect(orders.checkOverdue().map((x) => x.id)).toEqual([o.id, u.id]);
      clock.set(cstMidnight('2026-03-07'));
      expect(orders.checkOverdue()).toEqual([]); // once per order
      const raised = alerts.list({ type: ORDER_OVERDUE_ALERT, pageSize: 10 }).items;
      expect(raised).toHaveLength(2);
      const oa = alerts.get(orders.get(o.id)!.overdueAlertId!)!;
      expect(oa).toMatchObject({ subjectKind: 'maintenance_unit', subject: `U1:order-${o.id}`, unit: 'U1', district: null, state: 'open' });
      expect(alerts.get(orders.get(u.id)!.overdueAlertId!)).toMatchObject({ subjectKind: 'elevator', subject: `E1:order-${u.id}`, district: '大祥区' });
      expect(orders.list({ overdue: true }).items.map((x) => [x.id, x.overdue])).toEqual([[u.id, true], [o.id, true]]);

      const esc = orders.act(o.id, 'escalate', { by: 'chief', reason: '逾期未整改' });
      expect(esc).toMatchObject({ state: 'escalated' });
      const c = orders.getCase(esc.caseId!)!;
      expect(c).toMatchObject({ state: 'filed', orderId: o.id, unit: 'U1', filedBy: 'chief' });
      expect(alerts.get(oa.id)!.state).toBe('open'); // still open while the case runs
      refused(() => orders.actCase(c.id, 'decide', { by: 'chief', decision: 'd' }), 409, /is filed: decide is not allowed now \(allowed: investigate\)/);
      orders.actCase(c.id, 'investigate', { by: 'wang', note: '现场检查' });
      refused(() => orders.actCase(c.id, 'decide', { by: 'chief', decision: 'd', penaltyYuan: -1 }), 400, /penaltyYuan/);
      const decided = orders.actCase(c.id, 'decide', { by: 'chief', decision: '责令改正并处罚款', penaltyYuan: 30000 });
      expect(decided).toMatchObject({ state: 'decided', decision: '责令改正并处罚款', penaltyYuan: 30000 });
      orders.actCase(c.id, 'close', { by: 'chief', conclusion: '已缴纳罚款并整改' });
      expect(alerts.get(oa.id)!.state).toBe('resolved');
      expect(orders.steps(o.id).map((s) => `${s.subject}.${s.action}:${s.to}`)).toEqual([
        'order.open:open', 'order.overdue:open', 'case.file:filed', 'order.escalate:escalated', 'case.investigate:investigating', 'case.decide:decided', 'case.close:closed',
      ]);
      // the user unit's order is closed late: its alert resolves
      orders.act(u.id, 'reply', { by: 'li', text: '已张贴', onBehalfOf: '宝庆物业' });
      orders.act(u.id, 'close', { by: 'li', conclusion: '已核查' });
      expect(alerts.get(orders.get(u.id)!.overdueAlertId!)!.state).toBe('resolved');

      expect(orders.orderCounts('U1', { from: '2026-01-01', to: '2026-04-01' })).toEqual({ issued: 1, overdue: 1, cases: 1 });
      expect(orders.orderCounts('U1', { from: '2026-04-01', to: '2026-07-01' })).toEqual({ issued: 0, overdue: 0, cases: 0 });
      expect(orders.orderCounts('宝庆物业', { from: '2026-01-01', to: '2027-01-01' })).toEqual({ issued: 1, overdue: 1, cases: 0 });
    });

    it('the overdue check writes only on the leader', async () => {
      let leading = false;
      const { orders, clock } = await setup(backend, cleanups, () => leading);
      const o = orders.open({ by: 'li', unitKind: 'maintenance', unit: 'U1', items: ['x'], dueOn: '2026-03-05', evidence: { hazards: ['H1'] } });
      clock.set(cstMidnight('2026-03-10'));
      expect(orders.checkOverdue()).toEqual([]);
      expect(orders.get(o.id)!.overdueAt).toBeNull();
      leading = true;
      expect(orders.checkOverdue().map((x) => x.id)).toEqual([o.id]);
    });
  });
}
