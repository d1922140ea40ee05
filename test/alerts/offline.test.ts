// Offline detection from the last message received, on a timer: silent
// equipment goes offline once, comes back when it sends again, and the
// last-seen clocks survive a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { api, connect, publish, registerSmallCity, startTestService, status, testEnv, waitFor, type SmallCity, type TestService } from '../helpers.js';

let s: TestService;
let city: SmallCity;
let gw: MqttClient;
const env = testEnv({ OFFLINE_TIMEOUT_S: '1', ALERT_CHECK_MS: '200' });

beforeAll(async () => {
  s = await startTestService({}, env);
  city = await registerSmallCity(s);
  gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
});
afterAll(async () => {
  await gw?.endAsync();
  await s?.cleanup();
});

const offline = () => api(s, 'GET', '/api/v1/alerts?type=offline');

describe('offline', () => {
  it('raises once for silent equipment and resolves when it sends again', async () => {
    const t = Date.now();
    await publish(gw, 'se/v1/elevator/E1/status', status('on-1', t));
    const raised = await waitFor(offline, (r) => r.body.total === 1, 10_000);
    expect(raised.body.items[0]).toMatchObject({ subject: 'E1', subjectKind: 'elevator', severity: 'minor', state: 'open', firstAt: t, district: '大祥区', unit: 'MU1' });
    await new Promise((r) => setTimeout(r, 600)); // several more checks: still one alert
    expect((await offline()).body.total).toBe(1);
    await publish(gw, 'se/v1/elevator/E1/status', status('on-2'));
    await waitFor(offline, (r) => r.body.items[0]?.state === 'resolved');
  });

  it('backfilled history is not a sign of life', async () => {
    await publish(gw, 'se/v1/elevator/E2/status', status('old-1', Date.now() - 86_400_000));
    const r = await waitFor(offline, (x) => x.body.items.some((a: { subject: string; state: string }) => a.subject === 'E2' && a.state === 'open'), 10_000);
    expect(r.body.items.find((a: { subject: string }) => a.subject === 'E2').firstAt).toBeLessThan(Date.now() - 86_000_000);
  });

  it('keeps the clocks and open alerts across a restart', async () => {
    await gw.endAsync();
    await s.stop();
    s = await startTestService({}, env);
    const r = await offline();
    expect(r.body.items.find((a: { subject: string }) => a.subject === 'E2').state).toBe('open');
    // E1 went silent again after its last message before the restart: offline again, from the kept clock
    await waitFor(offline, (x) => x.body.items.filter((a: { subject: string; state: string }) => a.subject === 'E1' && a.state === 'open').length === 1, 10_000);
    gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
  });
});
