// Supervision orders through the real service: a hazard found goes to an
// order, the unit replies with its own partner credentials, the inspector
// sends it back, then verifies and closes it; an overdue order raises one
// alert and escalates to a case that goes to a decision; roles, illegal
// steps (409), the audit rows, the printable order and the CSV/XLSX export.
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays, cstDate, DAY_MS } from '../../domain/time.js';
import { SupervisionOrders } from '../../supervision/orders.js';
import { startWebhookSink, type WebhookSink } from '../../simulators/webhook-sink.js';
import { api, startTestService, waitFor, type TestService } from '../helpers.js';

let s: TestService;
let sink: WebhookSink;
const PW = 'correct horse battery';
const bearer = (token: string) => ({ authorization: `Bearer ${token}`, 'content-type': 'application/json' });
const basic = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`, 'content-type': 'application/json' });
let insp: Record<string, string>;
let viewer: Record<string, string>;
let unitU1: Record<string, string>;
let unitU2: Record<string, string>;

async function login(username: string) {
  const r = await api(s, 'POST', '/api/v1/session', { username, password: PW, bearer: true }, { 'content-type': 'application/json' });
  expect(r.status).toBe(200);
  return bearer(r.body.token as string);
}

beforeAll(async () => {
  sink = await startWebhookSink();
  s = await startTestService({ NOTIFY_ALLOW_HOSTS: sink.allow });
  const put = async (entity: string, body: unknown) => expect((await api(s, 'POST', `/api/v1/${entity}`, body)).status).toBe(201);
  await put('units', { id: 'U1', name: '安达电梯维保公司' });
  await put('units', { id: 'U2', name: '顺通电梯维保公司' });
  await put('elevators', { code: 'E1', address: '宝庆路 1 号', district: '大祥区', userUnit: '宝庆物业', maintenanceUnit: 'U1' });
  await put('contacts', { id: 'daxiang', name: '大祥区监察组', districts: ['大祥区'], minSeverity: 'major', webhook: `${sink.url}/daxiang` });
  await put('partners', { id: 'P-U1', kind: 'maintenance_unit', name: '安达电梯维保公司', unit: 'U1' });
  await put('partners', { id: 'P-U2', kind: 'maintenance_unit', name: '顺通电梯维保公司', unit: 'U2' });
  unitU1 = basic('P-U1', (await api(s, 'POST', '/api/v1/partners/P-U1/secret')).body.secret as string);
  unitU2 = basic('P-U2', (await api(s, 'POST', '/api/v1/partners/P-U2/secret')).body.secret as string);
  for (const u of [{ username: 'li', role: 'inspector', districts: ['大祥区'], displayName: '李检查' }, { username: 'view', role: 'viewer' }]) {
    expect((await api(s, 'POST', '/api/v1/users', { ...u, password: PW })).status).toBe(201);
  }
  insp = await login('li');
  viewer = await login('view');
}, 60_000);
afterAll(async () => {
  await s?.cleanup();
  await sink?.close();
});

const due = () => addDays(cstDate(Date.now()), 10);

describe('supervision orders over HTTP', () => {
  it('a found hazard → order → the unit replies → sent back → replied → verified and closed; audited; roles enforced', async () => {
    const body = { unitKind: 'maintenance', unit: 'U1', items: ['更换 E1 的曳引钢丝绳', '提交整改照片'], dueOn: due(), evidence: { hazards: ['HZ-2026-0001'], elevators: ['E1'] }, by: 'someone-else' };
    expect((await api(s, 'POST', '/api/v1/supervision-orders', body, viewer)).status).toBe(403);
    const opened = await api(s, 'POST', '/api/v1/supervision-orders', body, insp);
    expect(opened.status).toBe(201);
    const id = opened.body.id as number;
    expect(opened.body).toMatchObject({ state: 'open', issuedBy: 'li', actions: ['reply'], steps: [{ action: 'open', by: 'li' }] }); // the signed-in user, not the body's name

    // Another unit's partner may not reply; nor may anyone without credentials.
    expect((await api(s, 'POST', `/api/v1/supervision-orders/${id}/reply`, { text: 'x' }, unitU2)).status).toBe(403);
    expect((await api(s, 'POST', `/api/v1/supervision-orders/${id}/reply`, { text: 'x' }, basic('P-U1', 'wrong'))).status).toBe(401);
    expect((await api(s, 'POST', `/api/v1/supervision-orders/${id}/reply`, { text: 'x' }, { 'content-type': 'application/json' })).status).toBe(401);
    // The unit may only reply: its credentials do not close orders.
    expect((await api(s, 'POST', `/api/v1/supervision-orders/${id}/close`, { conclusion: 'x' }, unitU1)).status).toBe(401);

    const tooMany = await api(s, 'POST', `/api/v1/supervision-orders/${id}/reply`, { text: '已更换', attachments: Array.from({ length: 11 }, (_, i) => `照片${i}.jpg`) }, unitU1);
    expect(tooMany).toMatchObject({ status: 400, body: { error: 'invalid request', issues: ['/attachments at most 10 attachments'] } });
    const replied = await api(s, 'POST', `/api/v1/supervision-orders/${id}/reply`, { text: '已更换钢丝绳', attachments: ['https://files.example/u1/e1-rope.jpg', '整改报告/E1.pdf'], by: 'li' }, unitU1);
    expect(replied.status).toBe(200);
    expect(replied.body).toMatchObject({ state: 'replied', actions: ['send_back', 'close'] });
    expect(replied.body.steps[1]).toMatchObject({ action: 'reply', by: 'partner:P-U1', fields: { attachments: ['https://files.example/u1/e1-rope.jpg', '整改报告/E1.pdf'] } });

    const illegal = await api(s, 'POST', `/api/v1/supervision-orders/${id}/reply`, { text: 'again' }, unitU1);
    expect(illegal).toMatchObject({ status: 409, body: { error: `order ${id} is replied: reply is not allowed now (allowed: send_back, close)` } });
    expect((await api(s, 'POST', `/api/v1/supervision-orders/${id}/send_back`, { reason: '照片看不清钢丝绳规格' }, insp)).body.state).toBe('sent_back');
    expect((await api(s, 'POST', `/api/v1/supervision-orders/${id}/reply`, { text: '补充清晰照片', attachments: ['https://files.example/u1/e1-rope-2.jpg'] }, unitU1)).body.state).toBe('replied');
    const closed = await api(s, 'POST', `/api/v1/supervision-orders/${id}/close`, { conclusion: '现场核查已整改' }, insp);
    expect(closed.body).toMatchObject({ state: 'closed', actions: [] });
    expect((await api(s, 'POST', `/api/v1/supervision-orders/${id}/escalate`, { reason: 'x' }, insp)).status).toBe(409);

    const audit = (await api(s, 'GET', `/api/v1/audit?target=supervision-order:${id}&sort=id`)).body.items as { actor: string; action: string; details: Record<string, unknown> }[];
    expect(audit.map((a) => [a.action, a.actor])).toEqual([
      ['supervision-order.open', 'li'], ['supervision-order.reply', 'partner:P-U1'], ['supervision-order.send_back', 'li'],
      ['supervision-order.reply', 'partner:P-U1'], ['supervision-order.close', 'li'],
    ]);
    expect(audit[2]!.details).toMatchObject({ reason: '照片看不清钢丝绳规格' });

    const list = (await api(s, 'GET', '/api/v1/supervision-orders?state=closed', undefined, viewer)).body;
    expect(list.items.map((o: { id: number }) => o.id)).toContain(id);
    expect(list.counts.closed).toBeGreaterThanOrEqual(1);
  });

  it('an overdue order raises one alert and escalates to a case that goes to a decision', async () => {
    // Opened 30 days ago with a deadline 20 days ago (a clock of its own on the service's database).
    const past = new SupervisionOrders({ db: s.db, alerts: s.alerts, registry: s.registry, now: () => Date.now() - 30 * DAY_MS });
    const o = past.open({ by: 'li', unitKind: 'user', unit: '宝庆物业', items: ['在轿厢内张贴使用登记标志'], dueOn: cstDate(Date.now() - 20 * DAY_MS), evidence: { elevators: ['E1'], hazards: ['HZ-2026-0002'] } });
    const m = past.open({ by: 'li', unitKind: 'maintenance', unit: 'U1', items: ['补做半月维保'], dueOn: cstDate(Date.now() - 20 * DAY_MS), evidence: { elevators: ['E1'] } });
    expect(s.orders.checkOverdue().map((x) => x.id)).toEqual([o.id, m.id]);
    expect(s.orders.checkOverdue()).toEqual([]);
    const alerts = (await api(s, 'GET', '/api/v1/alerts?type=order_overdue&sort=id')).body.items as { subject: string; state: string }[];
    expect(alerts).toEqual([expect.objectContaining({ subject: `E1:order-${o.id}`, state: 'open' }), expect.objectContaining({ subject: `U1:order-${m.id}`, state: 'open' })]);
    // Both reach the district's inspectors: the user unit's by its elevator, the maintenance unit's by the districts it works in.
    const heard = await waitFor(async () => sink.received.filter((r) => r.path === '/daxiang'), (r) => r.length === 2, 5000);
    expect(heard.map((r) => (r.body as { title: string }).title)).toEqual(['【严重】新告警：监察指令书逾期未整改', '【严重】新告警：监察指令书逾期未整改']);

    const esc = await api(s, 'POST', `/api/v1/supervision-orders/${o.id}/escalate`, { reason: '逾期未整改' }, insp);
    expect(esc.body).toMatchObject({ state: 'escalated', overdue: false, case: { state: 'filed', filedBy: 'li', actions: ['investigate'] } });
    const caseId = esc.body.case.id as number;
    expect((await api(s, 'POST', `/api/v1/enforcement-cases/${caseId}/decide`, { decision: 'x' }, insp))).toMatchObject({ status: 409, body: { error: `case ${caseId} is filed: decide is not allowed now (allowed: investigate)` } });
    expect((await api(s, 'POST', `/api/v1/enforcement-cases/${caseId}/investigate`, { note: '现场检查，使用标志未张贴' }, viewer)).status).toBe(403);
    await api(s, 'POST', `/api/v1/enforcement-cases/${caseId}/investigate`, { note: '现场检查，使用标志未张贴' }, insp);
    const decided = await api(s, 'POST', `/api/v1/enforcement-cases/${caseId}/decide`, { decision: '责令限期改正，处罚款 1 万元', penaltyYuan: 10000 }, insp);
    expect(decided.body.case).toMatchObject({ state: 'decided', decision: '责令限期改正，处罚款 1 万元', penaltyYuan: 10000, actions: ['close'] });
    await api(s, 'POST', `/api/v1/enforcement-cases/${caseId}/close`, { conclusion: '已缴纳罚款并整改' }, insp);
    expect((await api(s, 'GET', '/api/v1/alerts?type=order_overdue&sort=id')).body.items[0].state).toBe('resolved');
    const audit = (await api(s, 'GET', `/api/v1/audit?target=enforcement-case:${caseId}&sort=id`)).body.items as { action: string; actor: string }[];
    expect(audit.map((a) => a.action)).toEqual(['enforcement-case.investigate', 'enforcement-case.decide', 'enforcement-case.close']);
  });

  it('prints an order as a complete page and exports the orders as CSV and XLSX', async () => {
    const o = (await api(s, 'POST', '/api/v1/supervision-orders', { unitKind: 'maintenance', unit: 'U2', items: ['<script>x</script> 整改'], dueOn: due(), evidence: { hazards: ['HZ-9'] } }, insp)).body;
    const page = await fetch(`${s.httpUrl}/api/v1/supervision-orders/${o.id}/print`, { headers: viewer });
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/text\/html/);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src-attr 'unsafe-hashes' 'sha256-/);
    const html = await page.text();
    expect(html).toMatch(/^<!DOCTYPE html>/);
    expect(html).toContain('特种设备安全监察指令书');
    expect(html).toContain(o.number);
    expect(html).toContain('顺通电梯维保公司');
    expect(html).toContain('&lt;script&gt;x&lt;/script&gt; 整改');
    expect(html).toContain('@media print');
    expect(html).not.toMatch(/<(link|img|script)\b|src=|https?:\/\/(?!files)/);

    const csv = await fetch(`${s.httpUrl}/api/v1/supervision-orders/export?format=csv&unit=U2`, { headers: viewer });
    expect(csv.headers.get('content-disposition')).toMatch(/filename\*=UTF-8''/);
    const bytes = Buffer.from(await csv.arrayBuffer());
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]); // the BOM Excel needs
    const lines = bytes.subarray(3).toString('utf8').trimEnd().split('\r\n');
    expect(lines[0]).toBe('指令书编号,对象类型,单位,单位名称,所在区,状态,是否逾期,整改事项,证据,整改期限,签发人,签发时间（北京时间）,案件编号');
    expect(lines).toHaveLength(2);
    expect(lines[1]).toContain(`${o.number},维保单位,U2,顺通电梯维保公司,,待整改,否,`);

    const x = await fetch(`${s.httpUrl}/api/v1/supervision-orders/export?format=xlsx`, { headers: viewer });
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(Buffer.from(await x.arrayBuffer()) as unknown as ArrayBuffer);
    const ws = wb.getWorksheet('安全监察指令书')!;
    expect(ws.getRow(2).getCell(1).value).toBe('指令书编号');
    const numbers = Array.from({ length: ws.rowCount - 2 }, (_, i) => ws.getRow(i + 3).getCell(1).value);
    expect(numbers).toContain(o.number);
    expect(numbers.length).toBe((await api(s, 'GET', '/api/v1/supervision-orders')).body.total);
  });
});
