// Dashboard read APIs and live state frames, against the real service: MQTT
// messages in, the UI's endpoints and WebSocket frames out.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { WebSocket } from 'ws';
import { api, connect, publish, registerSmallCity, startTestService, status, testEnv, waitFor, type SmallCity, type TestService } from '../helpers.js';
import type { InterviewList } from '../../supervision/interview.js';

let s: TestService;
let city: SmallCity;
let gw: MqttClient;
let gas: MqttClient;
let heartbeat: NodeJS.Timeout;
let gasBeat: NodeJS.Timeout | undefined;
/** elevators the gateway keeps alive with a status every 300 ms */
const alive = new Set(['E1', 'E2']);
const modes: Record<string, string> = { E1: 'normal', E2: 'normal' };
let n = 0;
// Equipment kept alive beats every 300 ms; 5 s of silence (not 2) before offline, so a loaded CI machine's stall
// does not take it offline while a test asserts it online.
const env = testEnv({ OFFLINE_TIMEOUT_S: '5', ALERT_CHECK_MS: '200' });

beforeAll(async () => {
  s = await startTestService({}, env);
  city = await registerSmallCity(s);
  gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
  gas = await connect(s.mqttPort, 'GWG', city.secrets.GWG);
  const beat = () => {
    for (const e of alive) void publish(gw, `se/v1/elevator/${e}/status`, status(`hb-${e}-${++n}`, Date.now(), { serviceMode: modes[e], runCount: 1000 + n, doorCycles: 2000 + 2 * n, floor: n % 7 })).catch(() => undefined);
  };
  beat();
  heartbeat = setInterval(beat, 300);
});
afterAll(async () => {
  clearInterval(heartbeat);
  clearInterval(gasBeat);
  await gw?.endAsync();
  await gas?.endAsync();
  await s?.cleanup();
});

const get = (path: string, headers?: Record<string, string>) => api(s, 'GET', path, undefined, headers);

interface Frame { type: string; at?: number; district?: string; items?: { code: string; kind: string; district: string; online: boolean | null; serviceMode?: string | null }[]; case?: { id: number; unit: string; state: string }; [k: string]: unknown }

async function feed(token = 'test-admin-token') {
  const frames: Frame[] = [];
  const ws = new WebSocket(`${s.httpUrl.replace('http', 'ws')}/api/v1/live`, { headers: { authorization: `Bearer ${token}` } });
  ws.on('message', (d) => frames.push(JSON.parse(String(d)) as Frame));
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', () => frames.some((f) => f.type === 'ready') && resolve());
  });
  return { ws, frames };
}

describe('overview', () => {
  it('counts equipment by district with the online rate, and today\'s entrapments with their rescue timers', async () => {
    const o = await waitFor(() => get('/api/v1/overview'), (r) => r.body.districts?.find((d: { district: string }) => d.district === '大祥区')?.elevatorsOnline === 2);
    expect(o.status).toBe(200);
    const dx = o.body.districts.find((d: { district: string }) => d.district === '大祥区');
    const sq = o.body.districts.find((d: { district: string }) => d.district === '双清区');
    expect(dx).toMatchObject({ elevators: 2, elevatorsOnline: 2, elevatorsOffline: 0, elevatorOnlineRate: 1, gasSites: 0 });
    expect(sq).toMatchObject({ elevators: 1, elevatorsOnline: 0, elevatorsNeverSeen: 1, elevatorOnlineRate: 0, gasSites: 1, gasSitesNeverSeen: 1 });
    expect(o.body.totals).toMatchObject({ elevators: 3, elevatorsOnline: 2, gasSites: 1 });
    expect(o.body.totals.elevatorOnlineRate).toBeCloseTo(2 / 3);
    expect(o.body.interview).toBeNull();

    const mu = await connect(s.mqttPort, 'PMU1', city.secrets.PMU1);
    const trapped = Date.now() - 60_000;
    await publish(gw, 'se/v1/elevator/E1/event', { id: 'ov-trap', ts: trapped, type: 'entrapment', state: 'raised', floor: 4 });
    await publish(mu, 'se/v1/records/rescue', { id: 'ov-disp', ts: trapped + 20_000, elevator: 'E1', unit: 'MU1', stage: 'dispatched' });
    await mu.endAsync();
    const o2 = await waitFor(() => get('/api/v1/overview'), (r) => r.body.entrapmentsToday?.[0]?.dispatchedAt != null);
    expect(o2.body.entrapmentsToday[0]).toMatchObject({ elevator: 'E1', district: '大祥区', unit: 'MU1', address: '红旗路1号', state: 'open', trappedAt: trapped, dispatchedAt: trapped + 20_000, arrivedAt: null, overdueArrival: false });
    expect(o2.body.entrapmentsToday[0].waitingMs).toBeGreaterThanOrEqual(60_000);
    expect(o2.body.totals).toMatchObject({ entrapmentsToday: 1, entrapmentsActive: 1, unacknowledgedCritical: 1 });
    expect(o2.body.totals.alertsBySeverity.critical).toBe(1);
    // the rescue ends it
    const mu2 = await connect(s.mqttPort, 'PMU1', city.secrets.PMU1);
    await publish(mu2, 'se/v1/records/rescue', { id: 'ov-rel', ts: trapped + 50_000, elevator: 'E1', unit: 'MU1', stage: 'released' });
    await mu2.endAsync();
    const o3 = await waitFor(() => get('/api/v1/overview'), (r) => r.body.entrapmentsToday?.[0]?.state === 'resolved');
    expect(o3.body.entrapmentsToday[0]).toMatchObject({ releasedAt: trapped + 50_000, durationMs: 50_000 });
    expect(o3.body.totals).toMatchObject({ entrapmentsToday: 1, entrapmentsActive: 0 });
  });
});

describe('elevators', () => {
  it('lists with filters, search, pagination and sort; rejects an unknown sort with the allowed ones', async () => {
    modes.E2 = 'inspection';
    const insp = await waitFor(() => get('/api/v1/equipment/elevators?serviceMode=inspection'), (r) => r.body.total === 1);
    expect(insp.body.items[0]).toMatchObject({ code: 'E2', serviceMode: 'inspection', online: true, district: '大祥区', maintenanceUnitName: '一号电梯维保公司' });
    expect((await get('/api/v1/equipment/elevators?serviceMode=abnormal')).body.items.map((e: { code: string }) => e.code)).toEqual(['E2']);
    modes.E2 = 'normal';

    const all = await get('/api/v1/equipment/elevators?sort=-code');
    expect(all.body).toMatchObject({ total: 3, page: 1, pageSize: 50 });
    expect(all.body.items.map((e: { code: string }) => e.code)).toEqual(['E3', 'E2', 'E1']);
    expect(all.body.items[0]).toMatchObject({ code: 'E3', online: null, lastSeenAt: null, serviceMode: null, activeAlerts: 0, overdueMaintenance: false });
    const p2 = await get('/api/v1/equipment/elevators?pageSize=2&page=2');
    expect(p2.body).toMatchObject({ total: 3, page: 2, pageSize: 2 });
    expect(p2.body.items.map((e: { code: string }) => e.code)).toEqual(['E3']);
    expect((await get(`/api/v1/equipment/elevators?district=${encodeURIComponent('大祥区')}`)).body.items.map((e: { code: string }) => e.code)).toEqual(['E1', 'E2']);
    expect((await get(`/api/v1/equipment/elevators?q=${encodeURIComponent('宝庆')}`)).body.items.map((e: { code: string }) => e.code)).toEqual(['E3']);
    expect((await get('/api/v1/equipment/elevators?unit=MU2')).body.total).toBe(1);
    expect((await get('/api/v1/equipment/elevators?online=never')).body.items.map((e: { code: string }) => e.code)).toEqual(['E3']);
    expect((await get('/api/v1/equipment/elevators?online=true')).body.total).toBe(2);
    const bad = await get('/api/v1/equipment/elevators?sort=colour');
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('sort must be one of code');
    expect((await get('/api/v1/equipment/elevators?pageSize=501')).status).toBe(400);
    // documented in the OpenAPI document with their query parameters
    const doc = (await get('/api/openapi.json')).body;
    const params = (path: string) => (doc.paths[path]?.get?.parameters ?? []).map((p: { name: string }) => p.name);
    expect(params('/api/v1/equipment/elevators')).toEqual(expect.arrayContaining(['district', 'unit', 'q', 'online', 'serviceMode', 'overdue', 'alerts', 'page', 'pageSize', 'sort']));
    expect(params('/api/v1/equipment/gas-sites/{code}/fillings')).toEqual(expect.arrayContaining(['code', 'violations', 'from', 'to']));
    expect(doc.paths['/api/v1/overview']?.get?.tags).toEqual(['dashboard']);
  });

  it('shows an elevator with its state, recent events, maintenance and inspection history, overdue flags and open alerts', async () => {
    const t = Date.now() - 5000;
    await publish(gw, 'se/v1/elevator/E1/event', { id: 'd-ev1', ts: t, type: 'door_close_fault', state: 'raised', floor: 3, detail: '门锁回路' });
    const mu = await connect(s.mqttPort, 'PMU1', city.secrets.PMU1);
    await publish(mu, 'se/v1/records/maintenance', { id: 'd-m1', ts: t - 86_400_000, elevator: 'E1', unit: 'MU1', kind: 'half_monthly', technician: '张三' });
    await publish(mu, 'se/v1/records/maintenance', { id: 'd-m2', ts: t, elevator: 'E1', unit: 'MU1', kind: 'repair' });
    await mu.endAsync();
    const inst = await connect(s.mqttPort, 'INST', city.secrets.INST);
    await publish(inst, 'se/v1/records/inspection', { id: 'd-i1', ts: t - 3 * 86_400_000, elevator: 'E1', institution: '特检院', kind: 'periodic', attempt: 1, result: 'fail' });
    await publish(inst, 'se/v1/records/inspection', { id: 'd-i2', ts: t - 2 * 86_400_000, elevator: 'E1', institution: '特检院', kind: 'periodic', attempt: 2, result: 'pass', nextDue: '2027-06-01' });
    await inst.endAsync();
    const d = await waitFor(() => get('/api/v1/equipment/elevators/E1'), (r) => r.body.recentEvents?.some((e: { id: string }) => e.id === 'd-ev1') && r.body.inspections?.length === 2);
    expect(d.status).toBe(200);
    expect(d.body.elevator).toMatchObject({ code: 'E1', district: '大祥区', maintenanceUnit: 'MU1', maintenanceUnitName: '一号电梯维保公司', nextInspectionDue: '2027-06-01' });
    expect(d.body.state.online).toBe(true);
    expect(d.body.state.status).toMatchObject({ serviceMode: 'normal', carStatus: 'running' });
    expect(d.body.state.status.runCount).toBeGreaterThan(1000);
    expect(d.body.recentEvents.find((e: { id: string }) => e.id === 'd-ev1')).toMatchObject({ type: 'door_close_fault', state: 'raised', floor: 3, detail: '门锁回路', at: t });
    expect(d.body.maintenance).toEqual([
      { at: t, id: 'd-m2', kind: 'repair', routine: false, unit: 'MU1', unitName: '一号电梯维保公司' },
      { at: t - 86_400_000, id: 'd-m1', kind: 'half_monthly', routine: true, unit: 'MU1', unitName: '一号电梯维保公司' },
    ]);
    expect(d.body.inspections.map((i: { id: string; result: string }) => [i.id, i.result])).toEqual([['d-i2', 'pass'], ['d-i1', 'fail']]);
    expect(d.body.inspections[0]).toMatchObject({ institution: '特检院', attempt: 2, nextDue: '2027-06-01', kind: 'periodic' });
    expect(d.body.overdue.maintenance).toMatchObject({ overdue: false, lastRoutineAt: t - 86_400_000, intervalDays: 15, alertId: null });
    expect(d.body.overdue.inspection).toMatchObject({ overdue: false, nextInspectionDue: '2027-06-01', lastPassAt: t - 2 * 86_400_000 });
    expect(d.body.openAlerts.map((a: { type: string }) => a.type)).toContain('door_close_fault');
    expect(d.body.entrapments[0]).toMatchObject({ state: 'resolved' });
    const list = await get('/api/v1/equipment/elevators?alerts=true');
    expect(list.body.items.map((e: { code: string }) => e.code)).toEqual(['E1']);
    expect(list.body.items[0]).toMatchObject({ activeAlerts: 1, worstSeverity: 'minor' });

    const missing = await get('/api/v1/equipment/elevators/NOPE');
    expect(missing.status).toBe(404);
    expect(missing.body.error).toContain('elevator NOPE not found');
  });

  it('flags overdue inspection from the scheduled rule, in the list, the page and the overview', async () => {
    expect((await api(s, 'PATCH', '/api/v1/elevators/E3', { nextInspectionDue: '2025-01-01' })).status).toBe(200);
    const run = await api(s, 'POST', '/api/v1/rules/overdue-inspection/run');
    expect(run.body).toMatchObject({ raised: 1 });
    const list = await get('/api/v1/equipment/elevators?overdue=inspection');
    expect(list.body.items.map((e: { code: string }) => e.code)).toEqual(['E3']);
    expect(list.body.items[0]).toMatchObject({ overdueInspection: true, overdueMaintenance: false, activeAlerts: 1, worstSeverity: 'minor' });
    expect((await get('/api/v1/equipment/elevators?overdue=any')).body.total).toBe(1);
    const d = await get('/api/v1/equipment/elevators/E3');
    expect(d.body.overdue.inspection).toMatchObject({ overdue: true, nextInspectionDue: '2025-01-01', lastPassAt: null, alertId: expect.any(Number) });
    expect(d.body.state).toEqual({ online: null, lastSeenAt: null, status: null });
    const o = await get('/api/v1/overview');
    expect(o.body.districts.find((x: { district: string }) => x.district === '双清区')).toMatchObject({ overdueInspection: 1 });
    expect(o.body.totals).toMatchObject({ overdueInspection: 1, overdueMaintenance: 0 });
  });

  it('returns a downsampled series after status messages', async () => {
    const r = await waitFor(() => get(`/api/v1/equipment/elevators/E1/series?from=${Date.now() - 3_600_000}`), (x) => x.body.points?.length >= 2, 20_000);
    expect(r.body).toMatchObject({ code: 'E1', intervalMs: 10_000 });
    const p = r.body.points.at(-1);
    expect(p).toMatchObject({ t: expect.any(Number) });
    expect(p.runCount).toBeGreaterThan(1000);
    expect(p.doorCycles).toBeGreaterThan(2000);
    expect(p.samples).toBeGreaterThan(0);
    expect(p.trips).toBeGreaterThan(0);
    // a day: at most ~500 points
    const day = await get('/api/v1/equipment/elevators/E1/series');
    expect(day.body.intervalMs).toBe(300_000);
    expect((await get('/api/v1/equipment/elevators/E1/series?from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z')).body.error).toContain('must be before');
    expect((await get('/api/v1/equipment/elevators/E1/series?from=yesterday')).body.error).toContain('epoch milliseconds or an ISO date-time');
  });
});

describe('gas sites', () => {
  it('shows detectors with their latest %LEL, open alerts, a %LEL series and fillings with a violation', async () => {
    const t = Date.now() - 2000;
    await publish(gas, 'se/v1/gas-site/G1/reading', { id: 'g-1', ts: t - 1000, detector: 'D1', lel: 3, gas: 'LPG' });
    await publish(gas, 'se/v1/gas-site/G1/reading', { id: 'g-2', ts: t, detector: 'D1', lel: 4.5, gas: 'LPG' });
    // the site stays online: D1 keeps reporting 4.5 %LEL
    gasBeat = setInterval(() => void publish(gas, 'se/v1/gas-site/G1/reading', { id: `g-hb-${++n}`, ts: Date.now(), detector: 'D1', lel: 4.5, gas: 'LPG' }).catch(() => undefined), 300);
    await publish(gas, 'se/v1/gas-site/G1/reading', { id: 'g-3', ts: t, detector: 'D2', lel: 31, gas: 'LPG' });
    await publish(gas, 'se/v1/gas-site/G1/filling', { id: 'f-ok', ts: t, cylinder: 'CYL-OK', medium: 'LPG', manufactured: '2020-01-01', nextInspectionDue: '2028-01-01', netKg: 14.5 });
    await publish(gas, 'se/v1/gas-site/G1/filling', { id: 'f-bad', ts: t + 1, cylinder: 'CYL-OLD', medium: 'LPG', manufactured: '2010-01-01', nextInspectionDue: '2024-01-01', netKg: 14.5 });
    const d = await waitFor(() => get('/api/v1/equipment/gas-sites/G1'), (r) => r.body.openAlerts?.length === 2 && r.body.detectors?.length === 2);
    expect(d.body.site).toMatchObject({ code: 'G1', district: '双清区', kind: 'filling_station' });
    expect(d.body.state.online).toBe(true);
    expect(d.body.thresholds).toEqual({ level1: 25, level2: 50 });
    expect(d.body.detectors[0]).toMatchObject({ detector: 'D1', lel: 4.5, gas: 'LPG', level: 0, alertId: null });
    expect(d.body.detectors[0].at).toBeGreaterThanOrEqual(t);
    expect(d.body.detectors[1]).toMatchObject({ detector: 'D2', lel: 31, level: 1, alertId: expect.any(Number) });
    expect(d.body.openAlerts.map((a: { type: string }) => a.type).sort()).toEqual(['gas_leak', 'illegal_filling']);

    const list = await get('/api/v1/equipment/gas-sites?sort=-maxLel');
    expect(list.body).toMatchObject({ total: 1, page: 1 });
    expect(list.body.items[0]).toMatchObject({ code: 'G1', online: true, detectors: 2, maxLel: 31, activeAlerts: 2, worstSeverity: 'major' });
    expect((await get(`/api/v1/equipment/gas-sites?district=${encodeURIComponent('大祥区')}`)).body.total).toBe(0);

    const series = await waitFor(() => get(`/api/v1/equipment/gas-sites/G1/series?from=${t - 3_600_000}&to=${t + 60_000}`), (r) => r.body.detectors?.length === 2);
    expect(series.body.detectors[0]).toMatchObject({ detector: 'D1' });
    const pts = series.body.detectors[0].points as { t: number; lel: number; lelMax: number }[];
    expect(pts.reduce((a, p) => Math.max(a, p.lelMax), 0)).toBe(4.5);
    expect(pts.reduce((a, p) => Math.min(a, p.lel), 100)).toBeGreaterThanOrEqual(3);
    expect(pts.some((p) => p.lel < 4.5)).toBe(true); // the mean of 3 and 4.5 in D1's first interval
    expect(series.body.detectors[1].points[0]).toMatchObject({ lel: 31, lelMax: 31 });

    const all = await waitFor(() => get('/api/v1/equipment/gas-sites/G1/fillings'), (r) => r.body.total === 2);
    expect(all.body.items.map((f: { cylinder: string }) => f.cylinder)).toEqual(['CYL-OLD', 'CYL-OK']);
    const bad = await get('/api/v1/equipment/gas-sites/G1/fillings?violations=true');
    expect(bad.body).toMatchObject({ total: 1, page: 1, pageSize: 50 });
    expect(bad.body.items[0]).toMatchObject({ id: 'f-bad', cylinder: 'CYL-OLD', medium: 'LPG', nextInspectionDue: '2024-01-01', inspectionOverdue: true, scrapOverdue: false, violation: true, netKg: 14.5 });
  });
});

describe('ingest health', () => {
  it('shows message rates, dead letters by reason with an excerpt, the spool, InfluxDB and rule runs', async () => {
    await publish(gw, 'se/v1/elevator/E1/status', '{"id":"broken",');
    const h = await waitFor(() => get('/api/v1/ingest/health'), (r) => r.body.deadLetters?.byReason?.some((x: { reason: string }) => x.reason === 'malformed_json') && r.body.rates.messagesPerSec > 0, 20_000);
    const mj = h.body.deadLetters.byReason.find((x: { reason: string }) => x.reason === 'malformed_json');
    expect(mj).toMatchObject({ count: 1, latest: { topic: 'se/v1/elevator/E1/status', sender: 'GW1', transport: 'mqtt' } });
    expect(mj.latest.excerpt).toContain('broken');
    expect(h.body.deadLetters.recent[0]).toMatchObject({ reason: 'malformed_json' });
    expect(h.body.rates.byChannel.status).toBeGreaterThan(0);
    expect(h.body.totals.messages).toBeGreaterThan(10);
    expect(h.body.spool).toMatchObject({ full: false, limitBytes: expect.any(Number), depthMessages: expect.any(Number) });
    expect(h.body.influx).toMatchObject({ writing: true, version: expect.any(String) });
    expect(h.body.rules.map((r: { rule: string }) => r.rule)).toEqual(['overdue-maintenance', 'overdue-inspection', 'unit-rates']);
    expect(h.body.ruleRuns.length).toBeGreaterThanOrEqual(1); // the start-up catch-up
    expect(h.body.mqttClients).toBeGreaterThanOrEqual(2);
  });
});

describe('district scope', () => {
  it('an inspector of 双清区 sees only 双清区, and gets 404 for an elevator in 大祥区', async () => {
    const created = await api(s, 'POST', '/api/v1/users', { username: 'wang', password: 'correct-horse-battery', role: 'inspector', displayName: '王检查员', districts: ['双清区'] });
    expect(created.status).toBe(201);
    const login = await api(s, 'POST', '/api/v1/session', { username: 'wang', password: 'correct-horse-battery', bearer: true }, { 'content-type': 'application/json' });
    expect(login.status).toBe(200);
    const h = { authorization: `Bearer ${login.body.token}` };
    const e1 = await get('/api/v1/equipment/elevators/E1', h);
    expect(e1.status).toBe(404);
    expect(e1.body.error).toContain('not found');
    expect((await get('/api/v1/equipment/elevators/E1/series', h)).status).toBe(404);
    expect((await get('/api/v1/equipment/elevators/E3', h)).status).toBe(200);
    const list = await get('/api/v1/equipment/elevators', h);
    expect(list.body.items.map((e: { code: string }) => e.code)).toEqual(['E3']);
    expect((await get(`/api/v1/equipment/elevators?district=${encodeURIComponent('大祥区')}`, h)).body.total).toBe(0);
    const o = await get('/api/v1/overview', h);
    expect(o.body.districts.map((d: { district: string }) => d.district)).toEqual(['双清区']);
    expect(o.body.totals.elevators).toBe(1);
    expect(o.body.entrapmentsToday).toEqual([]); // the entrapment was in 大祥区
    expect((await get('/api/v1/equipment/gas-sites/G1', h)).status).toBe(200);

    // a viewer sees every district
    expect((await api(s, 'POST', '/api/v1/users', { username: 'zhao', password: 'correct-horse-battery', role: 'viewer', districts: [] })).status).toBe(201);
    const vl = await api(s, 'POST', '/api/v1/session', { username: 'zhao', password: 'correct-horse-battery', bearer: true }, { 'content-type': 'application/json' });
    const vh = { authorization: `Bearer ${vl.body.token}` };
    expect((await get('/api/v1/equipment/elevators', vh)).body.total).toBe(3);
    expect((await get('/api/v1/equipment/elevators/E1', vh)).status).toBe(200);
    expect((await get('/api/v1/ingest/health', vh)).status).toBe(200);
    expect((await get('/api/v1/overview', { authorization: 'Bearer wrong' })).status).toBe(401);

    // live: the inspector's kpi frames are of 双清区 only
    const f = await feed(login.body.token);
    await waitFor(async () => f.frames.filter((x) => x.type === 'kpi').length, (k) => k >= 1, 5000);
    await new Promise((r) => setTimeout(r, 2200));
    expect(new Set(f.frames.filter((x) => x.type === 'kpi').map((x) => x.district))).toEqual(new Set(['双清区']));
    f.ws.close();
  });
});

describe('live frames', () => {
  it('sends a kpi frame within 3 s, one per district', async () => {
    const f = await feed();
    const t0 = Date.now();
    await waitFor(async () => f.frames.filter((x) => x.type === 'kpi').length, (k) => k >= 2, 3000);
    expect(Date.now() - t0).toBeLessThan(3000);
    const kpi = f.frames.filter((x) => x.type === 'kpi');
    expect(new Set(kpi.map((x) => x.district))).toEqual(new Set(['大祥区', '双清区']));
    expect(kpi.find((x) => x.district === '大祥区')).toMatchObject({ elevators: 2, at: expect.any(Number), alertsBySeverity: expect.any(Object) });
    f.ws.close();
  });

  it('sends an equipment frame when an elevator goes offline and when it comes back', async () => {
    const f = await feed();
    const equipment = () => f.frames.filter((x) => x.type === 'equipment').flatMap((x) => x.items!);
    alive.delete('E2');
    await waitFor(async () => equipment().filter((i) => i.code === 'E2' && i.online === false).length, (k) => k >= 1, 20_000);
    expect(equipment().find((i) => i.code === 'E2')).toMatchObject({ kind: 'elevator', district: '大祥区', online: false, lastSeenAt: expect.any(Number) });
    // the same state over the API
    expect((await get('/api/v1/equipment/elevators?online=false')).body.items.map((e: { code: string }) => e.code)).toEqual(['E2']);
    expect((await get('/api/v1/overview')).body.districts.find((x: { district: string }) => x.district === '大祥区')).toMatchObject({ elevatorsOnline: 1, elevatorsOffline: 1, elevatorOnlineRate: 0.5 });
    alive.add('E2');
    await waitFor(async () => equipment().filter((i) => i.code === 'E2' && i.online === true).length, (k) => k >= 1, 20_000);
    // a service-mode change is pushed too
    modes.E1 = 'fire_return';
    await waitFor(async () => equipment().filter((i) => i.code === 'E1' && i.serviceMode === 'fire_return').length, (k) => k >= 1, 10_000);
    modes.E1 = 'normal';
    // batched: at most one equipment frame per district and second
    const frames = f.frames.filter((x) => x.type === 'equipment' && x.items![0]!.district === '大祥区');
    expect(frames.every((x) => x.items!.every((i) => i.district === '大祥区'))).toBe(true);
    for (let i = 1; i < frames.length; i++) expect(frames[i]!.at! - frames[i - 1]!.at!).toBeGreaterThanOrEqual(900);
    f.ws.close();
  });

  it('sends a case frame when an interview case opens', async () => {
    const f = await feed();
    const list = { id: 1, periodFrom: '2025-01-01', periodTo: '2026-01-01', version: 1, units: [{ unit: 'MU1', name: '一号电梯维保公司' }] } as unknown as InterviewList;
    s.supervision.cases.openFor(list, 'test');
    await waitFor(async () => f.frames.filter((x) => x.type === 'case').length, (k) => k === 1, 3000);
    expect(f.frames.find((x) => x.type === 'case')!.case).toMatchObject({ unit: 'MU1', state: 'draft' });
    f.ws.close();
  });
});

describe('restart', () => {
  it('knows the latest status and readings again after a restart (from InfluxDB)', async () => {
    clearInterval(heartbeat);
    clearInterval(gasBeat);
    await publish(gw, 'se/v1/elevator/E1/status', status('last-before-restart', Date.now(), { serviceMode: 'inspection' }));
    await gw.endAsync();
    await gas.endAsync();
    await s.ingest.drained(10_000);
    await s.stop();
    s = await startTestService({}, env);
    const list = await waitFor(() => get('/api/v1/equipment/elevators'), (r) => r.body.items?.[0]?.serviceMode != null, 10_000);
    expect(list.body.items[0]).toMatchObject({ code: 'E1', serviceMode: 'inspection', online: expect.any(Boolean), statusAt: expect.any(Number) });
    expect((await get('/api/v1/equipment/gas-sites')).body.items[0]).toMatchObject({ code: 'G1', detectors: 2, maxLel: 31 });
  });
});
