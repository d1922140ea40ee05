// The demo city's supervision orders: one in every state (open, replied,
// sent back, closed, overdue, escalated to a case, case decided), issued to
// the first maintenance units and one user unit in registry order, citing
// their elevators and, where the city has them, their active overdue
// maintenance alerts (and hazard ids when the caller has some). Deterministic
// for a given city; run once (skipped when orders exist).
import type { Logger } from 'pino';
import type { Service } from '../service/service.js';
import { addDays, cstDate, DAY_MS } from '../domain/time.js';
import { SupervisionOrders } from '../supervision/orders.js';

type Plan = { steps: [string, Record<string, unknown>][]; overdue?: boolean; case?: [string, Record<string, unknown>][] };

const INSPECTOR = '张伟（市局特种设备安全监察科）';
const CHIEF = '王科长';

const PLANS: Plan[] = [
  { steps: [] }, // open
  { steps: [['reply', { text: '已按要求完成整改，附整改照片及维保记录。', attachments: ['整改报告/2026-01.pdf'] }]] }, // replied
  { steps: [['reply', { text: '已完成整改。' }], ['send_back', { by: INSPECTOR, reason: '未附维保记录与整改前后照片，请补充。' }]] }, // sent back
  { steps: [['reply', { text: '已更换门锁触点并复测合格。', attachments: ['https://files.example.invalid/demo/door-lock.jpg'] }], ['close', { by: INSPECTOR, conclusion: '现场核查，整改到位。' }]] }, // closed
  { steps: [], overdue: true }, // overdue, still with the unit
  { steps: [['escalate', { by: CHIEF, reason: '逾期未整改，转立案调查。' }]], overdue: true }, // escalated: case filed
  {
    steps: [['escalate', { by: CHIEF, reason: '逾期未整改且拒不回复。' }]], overdue: true,
    case: [['investigate', { by: INSPECTOR, note: '现场检查确认维保记录缺失 3 次。' }], ['decide', { by: CHIEF, decision: '责令限期改正，并处罚款人民币三万元。', penaltyYuan: 30000 }]],
  }, // case decided
];

const ITEMS = ['按期完成半月维护保养并如实记录', '对逾期未维保电梯立即安排维保', '提交整改报告及整改前后照片'];

export async function seedDemoOrders(service: Service, log: Pick<Logger, 'info'>, hazardIds: string[] = []): Promise<number> {
  const { orders, registry, alerts, db } = service;
  if (orders.list({ pageSize: 1 }).total > 0) return 0;
  const units = [...registry.units.items.values()].sort((a, b) => a.id.localeCompare(b.id));
  const elevators = [...registry.elevators.items.values()].sort((a, b) => a.code.localeCompare(b.code));
  if (!units.length || !elevators.length) return 0;
  const overdueAlerts = alerts.list({ type: 'maintenance_overdue', state: 'open', pageSize: 500, sort: 'id' }).items;
  const now = Date.now();
  // Orders that are overdue by now were issued in the past: a store with its clock 30 days back issues them.
  const past = new SupervisionOrders({ db, alerts, registry, now: () => now - 30 * DAY_MS });
  let n = 0;
  const issue = (i: number, plan: Plan, unitKind: 'maintenance' | 'user') => {
    const unit = units[i % units.length]!;
    const own = elevators.filter((e) => (unitKind === 'user' ? e.userUnit === elevators[i % elevators.length]!.userUnit : e.maintenanceUnit === unit.id)).slice(0, 3);
    const cited = own.length ? own : [elevators[i % elevators.length]!];
    const input = {
      by: INSPECTOR, unitKind, unit: unitKind === 'user' ? cited[0]!.userUnit : unit.id, items: ITEMS.slice(0, 1 + (i % 3)),
      dueOn: plan.overdue ? cstDate(now - 10 * DAY_MS) : addDays(cstDate(now), 15 + i),
      basis: '《中华人民共和国特种设备安全法》第四十五条',
      evidence: {
        elevators: cited.map((e) => e.code),
        alerts: overdueAlerts.filter((a) => cited.some((e) => e.code === a.subject)).map((a) => a.id).slice(0, 5),
        hazards: hazardIds.slice(i, i + 1),
      },
    };
    const o = (plan.overdue ? past : orders).open(input);
    if (plan.overdue) orders.checkOverdue();
    for (const [action, body] of plan.steps) orders.act(o.id, action as never, { by: `${o.unitName ?? o.unit}`, ...body });
    const caseId = orders.get(o.id)!.caseId;
    for (const [action, body] of plan.case ?? []) orders.actCase(caseId!, action as never, body);
    n++;
  };
  PLANS.forEach((p, i) => issue(i, p, 'maintenance'));
  issue(PLANS.length, { steps: [] }, 'user');
  log.info({ orders: n }, 'demo supervision orders issued (every state)');
  return n;
}
