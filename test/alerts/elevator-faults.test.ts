// Elevator faults and entrapments through the real pipeline: MQTT.js publish
// → InfluxDB → rule → alert, acknowledged and resolved over the API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { RescueTimings } from '../../alerts/rescue-timings.js';
import { api, connect, publish, registerSmallCity, startTestService, waitFor, type SmallCity, type TestService } from '../helpers.js';

let s: TestService;
let city: SmallCity;
let gw: MqttClient;
let mu: MqttClient;

beforeAll(async () => {
  s = await startTestService();
  city = await registerSmallCity(s);
  gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
  mu = await connect(s.mqttPort, 'PMU1', city.secrets.PMU1);
});
afterAll(async () => {
  await gw?.endAsync();
  await mu?.endAsync();
  await s?.cleanup();
});

const alertsOf = async (q: string) => (await api(s, 'GET', `/api/v1/alerts?${q}`)).body;
const T0 = Date.now() - 30 * 60_000; // the entrapment began half an hour ago
const ev = (id: string, ts: number, type: string | number, state: 'raised' | 'cleared') => ({ id, ts, type, state });

describe('entrapment', () => {
  it('raises one critical alert, updates it on repeats, and resolves it when the passengers are released', async () => {
    const t = T0;
    await publish(gw, 'se/v1/elevator/E1/event', ev('en-1', t, 11, 'raised'));
    const raised = await waitFor(() => alertsOf('type=entrapment&state=active'), (b) => b.total === 1);
    expect(raised.items[0]).toMatchObject({ severity: 'critical', subject: 'E1', district: '大祥区', unit: 'MU1', state: 'open', firstAt: t, count: 1 });
    expect(raised.items[0].evidence[0]).toMatchObject({ id: 'en-1', sender: 'GW1' });

    await publish(gw, 'se/v1/elevator/E1/event', ev('en-2', t + 5000, 'entrapment', 'raised'));
    await waitFor(() => alertsOf('type=entrapment&state=active'), (b) => b.items[0]?.count === 2);

    const id = raised.items[0].id;
    const ack = await api(s, 'POST', `/api/v1/alerts/${id}/ack`, { by: 'inspector-li' });
    expect(ack.body).toMatchObject({ state: 'acknowledged', ackBy: 'inspector-li' });
    expect((await api(s, 'POST', `/api/v1/alerts/${id}/ack`, { by: 'again' })).status).toBe(409);

    await publish(mu, 'se/v1/records/rescue', { id: 'rs-1', ts: t + 20 * 60_000, elevator: 'E1', unit: 'MU1', stage: 'released' });
    const done = await waitFor(() => api(s, 'GET', `/api/v1/alerts/${id}`), (r) => r.body.state === 'resolved');
    expect(done.body).toMatchObject({ resolvedBy: 'system', resolution: 'released', resolvedAt: t + 20 * 60_000 });
  });

  it('a late raise older than the resolution is history, not a new alert', async () => {
    const before = (await alertsOf('type=entrapment')).total;
    await publish(gw, 'se/v1/elevator/E1/event', ev('en-late', T0 + 60_000, 'entrapment', 'raised'));
    await publish(gw, 'se/v1/elevator/E2/event', ev('marker', Date.now() - 1000, 'alarm_button', 'raised'));
    await waitFor(() => alertsOf('type=alarm_button'), (b) => b.total === 1);
    expect((await alertsOf('type=entrapment')).total).toBe(before);
  });
});

describe('other faults', () => {
  it('raise with the documented severity and clear by state; a clear older than the raise does not close it', async () => {
    const t = Date.now() - 30_000;
    await publish(gw, 'se/v1/elevator/E2/event', ev('os-1', t, 'overspeed', 'raised'));
    await publish(gw, 'se/v1/elevator/E2/event', ev('os-0', t - 10_000, 'overspeed', 'cleared'));
    await publish(gw, 'se/v1/elevator/E2/event', ev('dc-1', t, 2, 'raised'));
    const a = await waitFor(() => alertsOf('state=active&district=大祥区'), (b) => b.items.some((x: { type: string }) => x.type === 'door_close_fault'));
    const overspeed = a.items.find((x: { type: string }) => x.type === 'overspeed');
    expect(overspeed).toMatchObject({ severity: 'critical', state: 'open' });
    expect(a.items.find((x: { type: string }) => x.type === 'door_close_fault').severity).toBe('minor');

    await publish(gw, 'se/v1/elevator/E2/event', ev('os-2', t + 1000, 'overspeed', 'cleared'));
    await waitFor(() => api(s, 'GET', `/api/v1/alerts/${overspeed.id}`), (r) => r.body.state === 'resolved');
  });

  it('resolves by hand with a reason, and needs the admin token', async () => {
    const { items } = await alertsOf('type=door_close_fault&state=active');
    const r = await api(s, 'POST', `/api/v1/alerts/${items[0].id}/resolve`, { by: 'inspector-li', reason: '现场确认已修复' });
    expect(r.body).toMatchObject({ state: 'resolved', resolvedBy: 'inspector-li', resolution: '现场确认已修复' });
    expect((await api(s, 'GET', '/api/v1/alerts', undefined, {})).status).toBe(401);
    expect((await api(s, 'POST', `/api/v1/alerts/99999/ack`, { by: 'x' })).status).toBe(404);
  });
});

describe('entrapment escalation', () => {
  it('escalates when no rescue arrives within the limit, and keeps the rescue timings', async () => {
    const e = await startTestService({ ENTRAPMENT_ARRIVAL_S: '2', ALERT_CHECK_MS: '200' });
    try {
      const c = await registerSmallCity(e);
      const g = await connect(e.mqttPort, 'GW1', c.secrets.GW1);
      const m = await connect(e.mqttPort, 'PMU1', c.secrets.PMU1);
      const t = Date.now();
      await publish(g, 'se/v1/elevator/E2/event', ev('x-1', t, 'entrapment', 'raised'));
      await publish(m, 'se/v1/records/rescue', { id: 'x-d', ts: t + 100, elevator: 'E2', unit: 'MU1', stage: 'dispatched' });
      const a = await waitFor(() => api(e, 'GET', '/api/v1/alerts?type=entrapment'), (r) => r.body.items[0]?.escalation >= 1, 10_000);
      const id = a.body.items[0].id;
      // the unit arrives: no further escalation
      await publish(m, 'se/v1/records/rescue', { id: 'x-a', ts: Date.now(), elevator: 'E2', unit: 'MU1', stage: 'arrived' });
      const timings = new RescueTimings(e.db);
      await waitFor(async () => timings.get(id)?.arrivedAt, (v) => typeof v === 'number');
      const level = (await api(e, 'GET', `/api/v1/alerts/${id}`)).body.escalation;
      await new Promise((r) => setTimeout(r, 2500));
      expect((await api(e, 'GET', `/api/v1/alerts/${id}`)).body.escalation).toBe(level);
      const timing = timings.get(id)!;
      expect(timing).toMatchObject({ elevator: 'E2', unit: 'MU1', trappedAt: t, dispatchedAt: t + 100 });
      await Promise.all([g.endAsync(), m.endAsync()]);
    } finally {
      await e.cleanup();
    }
  });
});
