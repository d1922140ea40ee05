// The live feed (WebSocket) and the alert history in InfluxDB, through the
// real pipeline: MQTT.js publish → InfluxDB → rule → alert → ws client.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { WebSocket } from 'ws';
import { api, connect, publish, registerSmallCity, rows, startTestService, waitFor, type SmallCity, type TestService } from '../helpers.js';

let s: TestService;
let city: SmallCity;
let gw: MqttClient;

beforeAll(async () => {
  s = await startTestService();
  city = await registerSmallCity(s);
  gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
});
afterAll(async () => {
  await gw?.endAsync();
  await s?.cleanup();
});

interface Frame { type: string; seq: number; transition?: string; alert?: { id: number; type: string; subject: string } }

/** A feed client that keeps every frame it receives. */
async function feed(query = '', token = 'test-admin-token') {
  const frames: Frame[] = [];
  const ws = new WebSocket(`${s.httpUrl.replace('http', 'ws')}/api/v1/live${query}`, { headers: { authorization: `Bearer ${token}` } });
  ws.on('message', (d) => frames.push(JSON.parse(String(d)) as Frame));
  await new Promise<void>((resolve, reject) => {
    ws.once('error', reject);
    ws.on('message', () => frames.some((f) => f.type === 'ready') && resolve());
  });
  return { ws, frames, alerts: () => frames.filter((f) => f.type === 'alert') };
}

const fault = (id: string, elevator: string, type: string, state: 'raised' | 'cleared', ts = Date.now() - 500) => publish(gw, `se/v1/elevator/${elevator}/event`, { id, ts, type, state });

describe('live feed', () => {
  it('refuses a client without the admin token, with a reason', async () => {
    const ws = new WebSocket(`${s.httpUrl.replace('http', 'ws')}/api/v1/live`, { headers: { authorization: 'Bearer wrong' } });
    const status = await new Promise<number>((resolve) => ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(401);
    const bad = new WebSocket(`${s.httpUrl.replace('http', 'ws')}/api/v1/live?since=abc&token=test-admin-token`);
    expect(await new Promise<number>((resolve) => bad.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)))).toBe(400);
  });

  it('pushes transitions as they happen, and a client resuming after a dropped connection misses nothing and gets nothing twice', async () => {
    const a = await feed();
    await fault('lv-1', 'E1', 'door_close_fault', 'raised');
    await fault('lv-2', 'E1', 'door_close_fault', 'cleared');
    await waitFor(async () => a.alerts().length, (n) => n === 2);
    expect(a.alerts().map((f) => f.transition)).toEqual(['raised', 'resolved']);
    const lastSeen = a.alerts().at(-1)!.seq;

    a.ws.terminate(); // the connection drops; meanwhile more happens
    await fault('lv-3', 'E2', 'door_open_fault', 'raised');
    await fault('lv-4', 'E2', 'door_open_fault', 'raised');
    const open = await waitFor(() => api(s, 'GET', '/api/v1/alerts?type=door_open_fault&state=active'), (r) => r.body.items[0]?.count === 2);
    await api(s, 'POST', `/api/v1/alerts/${open.body.items[0].id}/ack`, { by: 'li' });

    const b = await feed(`?since=${lastSeen}`);
    expect(b.alerts().map((f) => f.transition)).toEqual(['raised', 'repeated', 'acknowledged']); // replayed before `ready`
    await fault('lv-5', 'E2', 'door_open_fault', 'cleared');
    await waitFor(async () => b.alerts().length, (n) => n === 4);
    const seqs = b.alerts().map((f) => f.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs[0]).toBe(lastSeen + 1);
    expect(seqs.every((q, i) => i === 0 || q === seqs[i - 1]! + 1)).toBe(true); // no gap
    b.ws.close();
  });

  it('accepts the token as a query parameter (browsers cannot set headers)', async () => {
    const ws = new WebSocket(`${s.httpUrl.replace('http', 'ws')}/api/v1/live?token=test-admin-token&since=0`);
    const first = await new Promise<Frame>((resolve) => ws.once('message', (d) => resolve(JSON.parse(String(d)) as Frame)));
    expect(first).toMatchObject({ type: 'alert', seq: 1, transition: 'raised' });
    ws.close();
  });
});

describe('alert history in InfluxDB', () => {
  it('writes every transition as an alert_event point at its event time', async () => {
    const t = Date.now() - 60_000;
    await fault('hist-1', 'E1', 'overspeed', 'raised', t);
    await fault('hist-2', 'E1', 'overspeed', 'cleared', t + 5000);
    const id = (await waitFor(() => api(s, 'GET', '/api/v1/alerts?type=overspeed'), (r) => r.body.items[0]?.state === 'resolved')).body.items[0].id;
    const points = await waitFor(() => rows(s, `SELECT "transition", "state", "alert_id", "severity", "district", "unit", "subject" FROM "alert_event" WHERE "alert_id" = ${id}`), (r) => r.length === 2);
    expect(points.map((p) => [p.transition, p.state])).toEqual([['raised', 'open'], ['resolved', 'resolved']]);
    expect(points[0]).toMatchObject({ severity: 'critical', district: '大祥区', unit: 'MU1', subject: 'E1' });
    expect(Math.floor(new Date(points[0]!.time as string).getTime())).toBe(t);
    expect(Math.floor(new Date(points[1]!.time as string).getTime())).toBe(t + 5000);
  });
});
