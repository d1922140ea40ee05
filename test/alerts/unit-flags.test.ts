// Unit flags through the real pipeline: an institute publishes inspection
// records over MQTT (TCP), the unit's first-inspection pass rate drops below
// 70 % → one `unit_rates` alert with the figures and records as evidence,
// notified by webhook and pushed on the live feed; the rate recovers → resolved.
// Complaints reaching 5 per 100 elevators flag it too; records ageing out
// of the twelve months resolve it in the daily run.
import type { MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { DAY_MS } from '../../domain/time.js';
import { startWebhookSink, type WebhookSink } from '../../simulators/webhook-sink.js';
import { api, connect, publish, startTestService, waitFor, type TestService } from '../helpers.js';

let s: TestService;
let sink: WebhookSink;
let inst: MqttClient;
let hot: MqttClient;
const frames: { type: string; transition?: string; alert?: { id: number; type: string; subject: string; state: string } }[] = [];
let ws: WebSocket;
const UNIT = 'MUF';
const ELEVATORS = 20;

beforeAll(async () => {
  sink = await startWebhookSink();
  s = await startTestService({ NOTIFY_ALLOW_HOSTS: sink.allow, NOTIFY_RETRY_BASE_MS: '50' });
  const post = async (entity: string, body: unknown) => expect((await api(s, 'POST', `/api/v1/${entity}`, body)).status).toBe(201);
  await post('units', { id: UNIT, name: '福维电梯维保有限公司' });
  await post('units', { id: 'MUO', name: '其他维保公司' });
  for (let i = 0; i < ELEVATORS; i++) await post('elevators', { code: `F${i}`, address: '测试路1号', district: '大祥区', userUnit: '物业', maintenanceUnit: UNIT });
  await post('elevators', { code: 'O1', address: '测试路2号', district: '双清区', userUnit: '物业', maintenanceUnit: 'MUO' });
  await post('partners', { id: 'INST', kind: 'institute', name: '特检院' });
  await post('partners', { id: 'HOT', kind: 'hotline', name: '96333' });
  // A city-wide contact (no districts): units serve many districts, so their alerts carry none.
  await post('contacts', { id: 'chief', name: '王科长', minSeverity: 'major', webhook: `${sink.url}/chief` });
  const secret = async (id: string) => (await api(s, 'POST', `/api/v1/partners/${id}/secret`)).body.secret as string;
  inst = await connect(s.mqttPort, 'INST', await secret('INST'));
  hot = await connect(s.mqttPort, 'HOT', await secret('HOT'));
  ws = new WebSocket(`${s.httpUrl.replace('http', 'ws')}/api/v1/live`, { headers: { authorization: 'Bearer test-admin-token' } });
  ws.on('message', (d) => frames.push(JSON.parse(String(d)) as (typeof frames)[number]));
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', () => frames.some((f) => f.type === 'ready') && resolve());
  });
}, 60_000);
afterAll(async () => {
  ws?.close();
  await inst?.endAsync();
  await hot?.endAsync();
  await s?.cleanup();
  await sink?.close();
});

let n = 0;
/** First periodic inspections of the unit's elevators; the record names no unit for some (the registry's counts). */
async function inspect(results: ('pass' | 'fail')[], ts = Date.now() - 60_000) {
  const objects = results.map((result) => {
    const i = n++;
    return { id: `insp-${i}`, ts: ts + i, elevator: `F${i % ELEVATORS}`, institution: '邵阳特检院', ...(i % 2 ? { unit: UNIT } : {}), kind: 'periodic', attempt: 1, result };
  });
  await publish(inst, 'se/v1/records/inspection', objects);
  await waitFor(async () => s.spool.depthCount, (d) => d === 0);
}

const flags = async () => (await api(s, 'GET', `/api/v1/alerts?type=unit_rates&subject=${UNIT}`)).body.items as {
  id: number; state: string; severity: string; subjectKind: string; firstAt: number; resolvedBy: string | null; resolution: string | null; evidence: Record<string, any>[];
}[];
const pushed = (id: number, transition: string) => frames.some((f) => f.type === 'alert' && f.alert?.id === id && f.transition === transition);
const notified = (id: number, transition: string) => sink.received.some((r) => r.path === '/chief' && (r.body as { alert?: { id: number }; transition?: string }).alert?.id === id && (r.body as { transition?: string }).transition === transition);

describe('unit flags', () => {
  let flagId: number;

  it('exactly 70 % is no flag; one more failure drops the unit below 70 %: raised with evidence, notified, pushed live', async () => {
    await inspect(['pass', 'pass', 'pass', 'pass', 'pass', 'pass', 'pass', 'fail', 'fail', 'fail']); // 7/10
    expect(await flags()).toEqual([]);
    await inspect(['fail']); // 7/11 = 63.6 %
    const [flag] = await waitFor(flags, (x) => x.length === 1);
    flagId = flag!.id;
    expect(flag).toMatchObject({ state: 'open', severity: 'major', subjectKind: 'maintenance_unit' });
    const ev = flag!.evidence.at(-1)!;
    expect(ev.figures).toEqual({ first: 11, passed: 7, complaints: 0, elevators: ELEVATORS, passRate: 7 / 11, complaintRate: 0 });
    expect(ev.findings).toEqual([{ criterion: 'pass_rate', value: 7 / 11, threshold: 0.7 }]);
    expect(ev.failedInspections.map((r: { id: string }) => r.id).sort()).toEqual(['insp-10', 'insp-7', 'insp-8', 'insp-9']);
    expect(ev.failedInspections.map((r: { unit_source: string }) => r.unit_source)).toContain('registry');
    expect(ev.window.to > ev.window.from).toBe(true);
    await waitFor(async () => pushed(flagId, 'raised'), Boolean, 5000);
    await waitFor(async () => notified(flagId, 'raised'), Boolean, 10_000);
    const text = (sink.received.find((r) => r.path === '/chief')!.body as { text: string }).text;
    expect(text).toContain('- 定期检验一次合格率 63.6%（7/11）低于 70.0%');
  });

  it('a further failure or a duplicate record changes nothing: one flag, raised once', async () => {
    await inspect(['fail']); // 7/12: still below, same criterion
    await publish(inst, 'se/v1/records/inspection', { id: 'insp-0', ts: Date.now() - 60_000, elevator: 'F0', institution: '邵阳特检院', kind: 'periodic', attempt: 1, result: 'fail' }); // a re-send
    await waitFor(async () => s.spool.depthCount, (d) => d === 0);
    const all = await flags();
    expect(all).toHaveLength(1);
    expect(all[0]!.evidence).toHaveLength(1);
    const events = s.alerts.eventsSince(0).filter((e) => e.alert.id === flagId).map((e) => e.transition);
    expect(events).toEqual(['raised']);
  });

  it('the rate recovers → resolved by system, notified and pushed', async () => {
    await inspect(['pass', 'pass', 'pass', 'pass', 'pass', 'pass']); // 13/18 = 72.2 %
    const [flag] = await waitFor(flags, (x) => x[0]?.state === 'resolved');
    expect(flag).toMatchObject({ resolvedBy: 'system', resolution: 'rates recovered: pass rate 72.2 % (13/18), 0.00 complaints per 100 elevators' });
    await waitFor(async () => pushed(flagId, 'resolved'), Boolean, 5000);
    await waitFor(async () => notified(flagId, 'resolved'), Boolean, 10_000);
  });

  it('one complaint over 20 elevators is 5 per 100: flagged at the threshold', async () => {
    await publish(hot, 'se/v1/records/complaint', { id: 'c-1', ts: Date.now() - 30_000, source: '96333', category: '困人', elevator: 'F3' });
    const all = await waitFor(flags, (x) => x.some((a) => a.state === 'open'));
    const ev = all.find((a) => a.state === 'open')!.evidence.at(-1)!;
    expect(ev.findings).toEqual([{ criterion: 'complaint_rate', value: 5, threshold: 5 }]);
    expect(ev.complaints.map((c: { id: string }) => c.id)).toEqual(['c-1']);
  });

  it('an elevator joining the unit lowers its complaint rate: 1 over 21 is 4.76 per 100, the next record resolves the flag', async () => {
    expect((await api(s, 'POST', '/api/v1/elevators', { code: 'F20', address: '测试路1号', district: '大祥区', userUnit: '物业', maintenanceUnit: UNIT })).status).toBe(201);
    await inspect(['pass']);
    const all = await waitFor(flags, (x) => x.every((a) => a.state === 'resolved'));
    expect(all[0]!.resolution).toContain('4.76 complaints per 100 elevators');
    await publish(hot, 'se/v1/records/complaint', { id: 'c-2', ts: Date.now() - 20_000, source: '12345', category: '故障', unit: UNIT });
    await waitFor(flags, (x) => x.some((a) => a.state === 'open')); // 2 over 21
  });

  it('the daily run resolves a flag whose records aged out of the twelve months, and is a scheduled rule', async () => {
    const run = await api(s, 'POST', '/api/v1/rules/unit-rates/run');
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ rule: 'unit-rates', checked: 2, raised: 0, resolved: 0, stillActive: 1, error: null });
    const later = s.unitFlags.reevaluate(Date.now() + 367 * DAY_MS);
    expect(later).toMatchObject({ checked: 2, raised: 0, resolved: 1, stillActive: 0, error: null });
    const all = await flags();
    expect(all.every((a) => a.state === 'resolved')).toBe(true);
    expect(all[0]!.resolution).toContain('insufficient sample (0 < 5)');
  });
});
