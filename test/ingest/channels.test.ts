// Every channel, published over MQTT (and HTTP), stored in InfluxDB in event
// time and read back with InfluxQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { api, connect, count, publish, registerSmallCity, rows, startTestService, status, waitFor, type SmallCity, type TestService } from '../helpers.js';

let s: TestService;
let city: SmallCity;
let gw: MqttClient;
const T = Date.UTC(2026, 10, 1, 8, 0, 0); // fixed event time, weeks in the past: stored as such, not as arrival time

beforeAll(async () => {
  s = await startTestService();
  city = await registerSmallCity(s);
  gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
});
afterAll(async () => {
  await gw?.endAsync();
  await s?.cleanup();
});

const one = async (q: string) => (await waitFor(() => rows(s, q), (r) => r.length > 0))[0]!;

describe('round trip to InfluxDB', () => {
  it('status, by name and by GB/T 38656 numeric code, in event time', async () => {
    await publish(gw, 'se/v1/elevator/E1/status', status('st-1', T, { speed: 1.5, runCount: 1234, doorCycles: 99 }));
    await publish(gw, 'se/v1/elevator/E2/status', { ...status('st-2', new Date(T).toISOString().replace('Z', '+00:00')), serviceMode: 3, carStatus: 0, direction: 2 });
    const a = await one(`SELECT * FROM elevator_status WHERE elevator = 'E1'`);
    expect(a).toMatchObject({ time: T, service_mode: 'normal', car_status: 'running', floor: 3, door_zone: false, passengers: true, speed: 1.5, run_count: 1234, door_cycles: 99, district: '大祥区', id: 'st-1', sender: 'GW1' });
    const b = await one(`SELECT * FROM elevator_status WHERE elevator = 'E2'`);
    expect(b).toMatchObject({ time: T, service_mode: 'fire_return', car_status: 'stopped', direction: 'down' });
  });

  it('events, with numeric fault codes', async () => {
    await publish(gw, 'se/v1/elevator/E1/event', { id: 'ev-1', ts: T, type: 11, state: 'raised', floor: 5 });
    await publish(gw, 'se/v1/elevator/E1/event', { id: 'ev-2', ts: T + 60_000, type: 'entrapment', state: 'cleared' });
    const r = await waitFor(() => rows(s, `SELECT * FROM elevator_event WHERE elevator = 'E1'`), (x) => x.length === 2);
    expect(r.map((x) => [x.type, x.state, x.unit])).toEqual([['entrapment', 'raised', 'MU1'], ['entrapment', 'cleared', 'MU1']]);
  });

  it('gas readings and cylinder fillings, flagging overdue cylinders', async () => {
    const g = await connect(s.mqttPort, 'GWG', city.secrets.GWG);
    await publish(g, 'se/v1/gas-site/G1/reading', { id: 'gr-1', ts: T, detector: 'D1', lel: 27.5, gas: 'LPG' });
    await publish(g, 'se/v1/gas-site/G1/filling', { id: 'f-1', ts: T, cylinder: 'CYL-1', medium: 'LPG', manufactured: '2016-01-01', nextInspectionDue: '2024-01-01', netKg: 14.5 });
    await g.endAsync();
    expect(await one(`SELECT * FROM gas_reading`)).toMatchObject({ site: 'G1', detector: 'D1', lel: 27.5, district: '双清区', time: T });
    expect(await one(`SELECT * FROM cylinder_filling`)).toMatchObject({ cylinder: 'CYL-1', inspection_overdue: true, scrap_overdue: false });
  });

  it('maintenance, inspection, complaint and rescue records from partners', async () => {
    const mu = await connect(s.mqttPort, 'PMU1', city.secrets.PMU1);
    const inst = await connect(s.mqttPort, 'INST', city.secrets.INST);
    const hot = await connect(s.mqttPort, 'HOT', city.secrets.HOT);
    await publish(mu, 'se/v1/records/maintenance', { id: 'm-1', ts: T, elevator: 'E1', unit: 'MU1', kind: 'half_monthly', technician: '张三' });
    await publish(mu, 'se/v1/records/rescue', { id: 'r-1', ts: T, elevator: 'E1', unit: 'MU1', stage: 'arrived' });
    // no unit: the registry's unit is used
    await publish(inst, 'se/v1/records/inspection', { id: 'i-1', ts: T, elevator: 'E3', institution: 'INST', kind: 'periodic', attempt: 1, result: 'fail' });
    await publish(hot, 'se/v1/records/complaint', { id: 'c-1', ts: T, source: '96333', category: '困人', elevator: 'E2' });
    await Promise.all([mu.endAsync(), inst.endAsync(), hot.endAsync()]);
    expect(await one(`SELECT * FROM maintenance`)).toMatchObject({ elevator: 'E1', unit: 'MU1', kind: 'half_monthly', routine: 'true', technician: '张三' });
    expect(await one(`SELECT * FROM rescue`)).toMatchObject({ stage: 'arrived', unit: 'MU1' });
    expect(await one(`SELECT * FROM inspection`)).toMatchObject({ elevator: 'E3', unit: 'MU2', unit_source: 'registry', attempt: 1, result: 'fail' });
    expect(await one(`SELECT * FROM complaint`)).toMatchObject({ unit: 'MU1', source: '96333', elevator: 'E2' });
  });

  it('the same records over HTTP POST, answered with what was rejected', async () => {
    const auth = { authorization: `Basic ${Buffer.from(`INST:${city.secrets.INST}`).toString('base64')}`, 'content-type': 'application/json' };
    const body = [
      { id: 'i-h1', ts: T, elevator: 'E1', institution: 'INST', unit: 'MU1', kind: 'periodic', attempt: 1, result: 'pass', nextDue: '2027-11-01' },
      { id: 'i-h2', ts: T, elevator: 'E1', institution: 'INST', kind: 'periodic', attempt: 0, result: 'maybe' },
    ];
    const r = await api(s, 'POST', '/api/v1/ingest/se/v1/records/inspection', body, auth);
    expect(r.status).toBe(202);
    expect(r.body.accepted).toBe(1);
    expect(r.body.rejected).toHaveLength(1);
    expect(r.body.rejected[0]).toMatchObject({ index: 1, reason: 'invalid_object' });
    expect(r.body.rejected[0].message).toMatch(/attempt/);
    await waitFor(() => count(s, 'inspection', `WHERE id = 'i-h1'`), (n) => n === 1);
    // a periodic inspection's nextDue updates the registry
    // (listeners run right after the batch commits, which may be just after InfluxDB answers a query)
    await waitFor(async () => s.registry.elevators.get('E1')?.nextInspectionDue, (d) => d === '2027-11-01');
    const denied = await api(s, 'POST', '/api/v1/ingest/se/v1/records/complaint', [], auth);
    expect(denied.status).toBe(403);
    const anon = await api(s, 'POST', '/api/v1/ingest/se/v1/records/complaint', [], { 'content-type': 'application/json' });
    expect(anon.status).toBe(401);
  });

  it('backfilled data a year old is stored at its event time', async () => {
    const old = T - 365 * 86_400_000;
    await publish(gw, 'se/v1/elevator/E2/status', status('st-old', old));
    const r = await one(`SELECT * FROM elevator_status WHERE id = 'st-old'`);
    expect(r.time).toBe(old);
  });
});

describe('a client none of us wrote', () => {
  it('mosquitto_pub with a gateway\'s credentials publishes a status that is then queryable', async () => {
    // Asynchronously: the service under test runs in this process.
    const { execFile } = await import('node:child_process');
    const msg = JSON.stringify(status('mosq-1', T + 7));
    const args = ['-h', '127.0.0.1', '-p', String(s.mqttPort), '-u', 'GW1', '-P', city.secrets.GW1!, '-q', '1', '-t', 'se/v1/elevator/E2/status', '-m', msg];
    const r = await new Promise<{ code: number | string; stderr: string }>((res) =>
      execFile('mosquitto_pub', args, { timeout: 10_000 }, (err, _out, stderr) => res({ code: (err as { code?: number | string } | null)?.code ?? 0, stderr })),
    );
    expect(r.code, `mosquitto_pub (apt-get install mosquitto-clients): ${r.stderr}`).toBe(0);
    expect(await one(`SELECT * FROM elevator_status WHERE id = 'mosq-1'`)).toMatchObject({ elevator: 'E2', time: T + 7, sender: 'GW1' });
  });
});
