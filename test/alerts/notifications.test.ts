// Notifications through the real pipeline: MQTT.js publish → InfluxDB →
// rule → alert → routed to contacts in the registry → webhook (a local HTTP
// receiver standing in for DingTalk / WeCom robots).
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { startWebhookSink, type WebhookSink } from '../../simulators/webhook-sink.js';
import { api, connect, publish, registerSmallCity, startTestService, waitFor, type SmallCity, type TestService } from '../helpers.js';

let s: TestService;
let city: SmallCity;
let gw: MqttClient;
let mu: MqttClient;
let sink: WebhookSink;

beforeAll(async () => {
  sink = await startWebhookSink();
  s = await startTestService({ NOTIFY_ALLOW_HOSTS: sink.allow, NOTIFY_RETRY_BASE_MS: '50', NOTIFY_LATE_AFTER_S: '60', NOTIFY_LATE_GRACE_S: '1', NOTIFY_HISTORICAL_AFTER_S: '3600' });
  city = await registerSmallCity(s);
  gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
  mu = await connect(s.mqttPort, 'PMU1', city.secrets.PMU1);
  const contact = async (c: Record<string, unknown>) => expect((await api(s, 'POST', '/api/v1/contacts', c)).status).toBe(201);
  await contact({ id: 'li', name: '李检查员', phone: '13800000001', districts: ['大祥区'], minSeverity: 'major', webhook: `${sink.url}/li` });
  await contact({ id: 'ding', name: '大祥区监管群', phone: '13800000002', districts: '大祥区', minSeverity: 'critical', format: 'dingtalk', secret: 'SECtest', webhook: `${sink.url}/robot/send?access_token=abc` });
  await contact({ id: 'wang', name: '王检查员', districts: ['双清区'], minSeverity: 'warning', format: 'wecom', webhook: `${sink.url}/wang` });
});
afterAll(async () => {
  await gw?.endAsync();
  await mu?.endAsync();
  await s?.cleanup();
  await sink?.close();
});
beforeEach(async () => {
  // Each test counts only what it caused: let earlier deliveries finish, then forget them.
  sink.respond = () => ({ status: 200, body: { errcode: 0, errmsg: 'ok' } });
  await s.notifier.idle();
  sink.received.length = 0;
  sink.attempts.length = 0;
});

const to = (path: string) => sink.received.filter((r) => r.path === path);
const generic = () => to('/li').map((r) => r.body as { key: string; transition: string; alert: { id: number; type: string } });
const entrapment = (id: string, ts: number, elevator = 'E1') => publish(gw, `se/v1/elevator/${elevator}/event`, { id, ts, type: 'entrapment', state: 'raised' });
const settle = async () => expect(await s.notifier.idle()).toBe(true);

describe('severity rise', () => {
  it('a gas alarm going from 25 to 55 %LEL is its own transition, paged at the new severity, once', async () => {
    expect((await api(s, 'POST', '/api/v1/contacts', { id: 'zhao', name: '双清区应急', districts: ['双清区'], minSeverity: 'critical', webhook: `${sink.url}/zhao` })).status).toBe(201);
    const g = await connect(s.mqttPort, 'GWG', city.secrets.GWG);
    const t = Date.now() - 30_000;
    const gas = () => api(s, 'GET', '/api/v1/alerts?type=gas_leak&subject=G1:D9');
    const wang = () => to('/wang').map((r) => (r.body as { markdown: { content: string } }).markdown.content.split('\n')[0]); // WeCom: the bold title first
    await publish(g, 'se/v1/gas-site/G1/reading', { id: 'sev-1', ts: t, detector: 'D9', lel: 25 });
    const alert = (await waitFor(gas, (r) => r.body.total === 1)).body.items[0];
    expect(alert.severity).toBe('major');
    await settle();
    expect(wang()).toEqual(['**【严重】新告警：燃气泄漏**']);
    expect(to('/zhao')).toHaveLength(0); // critical only

    await publish(g, 'se/v1/gas-site/G1/reading', { id: 'sev-2', ts: t + 10_000, detector: 'D9', lel: 55 });
    await waitFor(gas, (r) => r.body.items[0]?.severity === 'critical');
    await publish(g, 'se/v1/gas-site/G1/reading', { id: 'sev-3', ts: t + 20_000, detector: 'D9', lel: 56 }); // same level: nothing new
    await waitFor(async () => s.spool.depthCount, (n) => n === 0);
    await settle();
    await new Promise((r) => setTimeout(r, 300)); // any extra send would show up by now
    expect(wang()).toEqual(['**【严重】新告警：燃气泄漏**', '**【紧急】级别升高：燃气泄漏**']);
    expect(to('/zhao').map((r) => r.body)).toMatchObject([{ transition: 'severity_raised', alert: { id: alert.id, severity: 'critical', count: 2 } }]);
    const log = (await api(s, 'GET', `/api/v1/notifications?alertId=${alert.id}&sort=id`)).body.items as { transition: string; contact: string; status: string }[];
    expect(log.map((n) => [n.transition, n.contact, n.status])).toEqual([['raised', 'wang', 'sent'], ['severity_raised', 'wang', 'sent'], ['severity_raised', 'zhao', 'sent']]);
    await g.endAsync();
  });
});

describe('late data', () => {
  const alertAt = async (firstAt: number) =>
    (await waitFor(() => api(s, 'GET', '/api/v1/alerts?type=entrapment&subject=E2'), (r) => r.body.items.some((a: { firstAt: number }) => a.firstAt === firstAt))).body.items.find((a: { firstAt: number }) => a.firstAt === firstAt);
  const logOf = async (id: number) => (await api(s, 'GET', `/api/v1/notifications?alertId=${id}`)).body.items as { status: string; reason: string; transition: string }[];

  it('a backfilled entrapment raised and cleared days ago is recorded, not paged', async () => {
    const before = sink.received.length;
    const t = Date.now() - 2 * 86_400_000;
    await entrapment('old-1', t, 'E2');
    await publish(mu, 'se/v1/records/rescue', { id: 'old-rs', ts: t + 600_000, elevator: 'E2', unit: 'MU1', stage: 'released' });
    await waitFor(() => alertAt(t), (a) => a.state === 'resolved');
    await settle();
    expect(sink.received.length).toBe(before);
    const log = await logOf((await alertAt(t)).id);
    expect(log.map((n) => n.status)).toEqual(['suppressed', 'suppressed']);
    expect(log[0]!.reason).toMatch(/historical data/);
  });

  it('a late raise that is over by the end of the grace period is not paged', async () => {
    const before = sink.received.length;
    const t = Date.now() - 5 * 60_000;
    await entrapment('late-1', t, 'E2');
    await publish(mu, 'se/v1/records/rescue', { id: 'late-rs', ts: t + 60_000, elevator: 'E2', unit: 'MU1', stage: 'false_alarm' });
    const a = await waitFor(() => alertAt(t), (x) => x.state === 'resolved');
    await new Promise((r) => setTimeout(r, 1200)); // past the grace period
    await settle();
    expect(sink.received.length).toBe(before);
    expect((await logOf(a.id)).every((n) => n.status === 'suppressed' && /condition was over/.test(n.reason))).toBe(true);
  });

  it('a late raise still active after the grace period is paged, marked late', async () => {
    const t = Date.now() - 3 * 60_000; // after the previous test's resolution: older raises are history by design
    await entrapment('late-2', t, 'E2');
    const a = await alertAt(t);
    expect((await logOf(a.id)).map((n) => n.status)).toEqual(['held', 'held']);
    await waitFor(async () => generic().filter((b) => b.alert.id === a.id).length, (n) => n === 1, 5000);
    expect(to('/li').at(-1)!.body.text).toContain('数据迟到 3 分钟');
    await publish(mu, 'se/v1/records/rescue', { id: 'late-2-rs', ts: Date.now() - 1000, elevator: 'E2', unit: 'MU1', stage: 'released' });
    await waitFor(async () => generic().filter((b) => b.alert.id === a.id).map((b) => b.transition).join(), (x) => x === 'raised,resolved', 5000);
  });
});

describe('webhooks', () => {
  it('sends each transition exactly once to each contact it is routed to', async () => {
    const t = Date.now() - 5000;
    await entrapment('n-1', t);
    await entrapment('n-2', t + 1000); // a repeat updates the alert; nobody is paged again
    const alert = (await waitFor(() => api(s, 'GET', '/api/v1/alerts?type=entrapment&state=active'), (r) => r.body.items[0]?.count === 2)).body.items[0];
    await settle();
    expect(generic().map((b) => b.transition)).toEqual(['raised']);

    await api(s, 'POST', `/api/v1/alerts/${alert.id}/ack`, { by: 'li' });
    await publish(mu, 'se/v1/records/rescue', { id: 'n-rs', ts: t + 2000, elevator: 'E1', unit: 'MU1', stage: 'released' });
    await waitFor(() => api(s, 'GET', `/api/v1/alerts/${alert.id}`), (r) => r.body.state === 'resolved');
    await settle();
    await new Promise((r) => setTimeout(r, 300)); // any extra send would show up by now
    expect(generic().map((b) => b.transition)).toEqual(['raised', 'acknowledged', 'resolved']);
    expect(new Set(generic().map((b) => b.key)).size).toBe(3);
    expect(to('/li').every((r) => r.headers['idempotency-key'] === (r.body as { key: string }).key)).toBe(true);
    expect(to('/wang')).toHaveLength(0); // other district

    // The DingTalk robot got the same three, signed and in its markdown format, @-mentioning the phone.
    const ding = to('/robot/send');
    expect(ding).toHaveLength(3);
    for (const r of ding) {
      const ts = r.query.get('timestamp')!;
      expect(r.query.get('access_token')).toBe('abc');
      expect(r.query.get('sign')).toBe(createHmac('sha256', 'SECtest').update(`${ts}\nSECtest`).digest('base64'));
      expect(r.body).toMatchObject({ msgtype: 'markdown', at: { atMobiles: ['13800000002'], isAtAll: false } });
    }
    const first = ding[0]!.body as { markdown: { title: string; text: string } };
    expect(first.markdown.title).toBe('【紧急】新告警：困人');
    expect(first.markdown.text).toContain('电梯：E1');
    expect(first.markdown.text).toContain('区域：大祥区');

    const log = (await api(s, 'GET', `/api/v1/notifications?alertId=${alert.id}`)).body;
    expect(log.total).toBe(6);
    expect(log.items.every((n: { status: string; attempts: number }) => n.status === 'sent' && n.attempts === 1)).toBe(true);
  });

  it('routes by severity and district: a minor fault reaches only the contact that asked for minor ones', async () => {
    const before = sink.received.length;
    await publish(gw, 'se/v1/elevator/E1/event', { id: 'n-door', ts: Date.now() - 1000, type: 'door_close_fault', state: 'raised' });
    await waitFor(() => api(s, 'GET', '/api/v1/alerts?type=door_close_fault'), (r) => r.body.total === 1);
    await settle();
    expect(sink.received.length).toBe(before); // li wants major and up, the robot critical; wang covers 双清区

    await publish(gw, 'se/v1/elevator/E2/event', { id: 'n-safety', ts: Date.now() - 1000, type: 'safety_circuit_open', state: 'raised' });
    await waitFor(() => api(s, 'GET', '/api/v1/alerts?type=safety_circuit_open'), (r) => r.body.total === 1);
    await settle();
    expect(sink.received.slice(before).map((r) => r.path)).toEqual(['/li']);
  });

  it('retries with backoff until the receiver answers, and still sends once', async () => {
    sink.respond = (_r, n) => (n % 3 === 2 ? { status: 200, body: { errcode: 0 } } : { status: 503, body: { error: 'busy' } });
    const before = generic().length;
    const attemptsBefore = sink.attempts.length;
    await entrapment('n-retry', Date.now() - 1000, 'E2');
    await waitFor(async () => generic().length, (n) => n === before + 1, 10_000);
    await settle();
    const row = (await api(s, 'GET', '/api/v1/notifications?contact=li')).body.items[0];
    expect(row).toMatchObject({ status: 'sent', transition: 'raised' });
    expect(row.attempts).toBeGreaterThan(1);
    expect(sink.attempts.length - attemptsBefore).toBeGreaterThan(2); // the robot too, each until success
    expect(generic().length).toBe(before + 1);
  });

  it('a DingTalk robot that answers errcode ≠ 0 counts as a failure and is retried', async () => {
    let robotCalls = 0;
    sink.respond = (r) => (r.path === '/robot/send' && robotCalls++ === 0 ? { status: 200, body: { errcode: 130101, errmsg: 'send too fast' } } : { status: 200, body: { errcode: 0 } });
    await entrapment('n-fast', Date.now(), 'E1');
    await waitFor(async () => to('/robot/send').length, (n) => n === 1, 10_000);
    await settle();
    const row = (await api(s, 'GET', '/api/v1/notifications?contact=ding')).body.items[0];
    expect(row).toMatchObject({ status: 'sent', attempts: 2, transition: 'raised' });
    expect(robotCalls).toBe(2);
  });

  it('sorts the notification log by a whitelisted key, ties by id; anything else is 400', async () => {
    await settle();
    const items = (await api(s, 'GET', '/api/v1/notifications?pageSize=500&sort=-attempts')).body.items as { id: number; attempts: number }[];
    expect(items[0]!.attempts).toBeGreaterThan(1);
    for (let i = 1; i < items.length; i++) {
      const [a, b] = [items[i - 1]!, items[i]!];
      expect(a.attempts > b.attempts || (a.attempts === b.attempts && a.id > b.id), `#${a.id}:${a.attempts} before #${b.id}:${b.attempts}`).toBe(true);
    }
    const byId = (await api(s, 'GET', '/api/v1/notifications?pageSize=500&sort=id')).body.items as { id: number }[];
    expect(byId.map((n) => n.id)).toEqual(byId.map((n) => n.id).sort((a, b) => a - b));
    for (const bad of ['contact', 'next_at', 'id;DROP TABLE notifications']) {
      expect((await api(s, 'GET', `/api/v1/notifications?sort=${encodeURIComponent(bad)}`)).status).toBe(400);
    }
  });
});


describe('the notification list of a district-scoped caller', () => {
  it('holds only notifications of alerts in its districts (and city-wide ones), paged over those alone', async () => {
    const t = Date.now() - 10_000;
    await entrapment('scope-e2', t, 'E2'); // 大祥区: li and ding; 双清区's notifications are the gas alarm's above
    await waitFor(async () => s.spool.depthCount, (n) => n === 0);
    await settle();
    const all = s.notifier.list({ pageSize: 500 });
    const districtOf = (alertId: number) => s.alerts.get(alertId)!.district;
    const expected = all.items.filter((n) => districtOf(n.alertId) === '大祥区').map((n) => n.id);
    expect(expected.length).toBeGreaterThan(1);
    expect(all.items.some((n) => districtOf(n.alertId) === '双清区')).toBe(true);
    const scoped = s.notifier.list({ districts: ['大祥区'], pageSize: 500 });
    expect(scoped.items.map((n) => n.id)).toEqual(expected);
    expect(scoped.total).toBe(expected.length);
    // a page is cut from the caller's notifications, in the asked order
    expect(s.notifier.list({ districts: ['大祥区'], pageSize: 1, page: 2, sort: 'id' }).items.map((n) => n.id)).toEqual([[...expected].sort((a, b) => a - b)[1]]);
    expect(s.notifier.list({ districts: ['北塔区'] })).toMatchObject({ items: [], total: 0 });
  });
});
