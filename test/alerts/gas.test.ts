// Gas alarms through the real pipeline: hovering readings raise once, the
// second level raises the severity, and low readings for the hold time clear.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { api, connect, publish, registerSmallCity, startTestService, testEnv, waitFor, type SmallCity, type TestService } from '../helpers.js';

let s: TestService;
let city: SmallCity;
beforeAll(async () => {
  s = await startTestService();
  city = await registerSmallCity(s);
});
afterAll(async () => s?.cleanup());

describe('gas leak alarms', () => {
  it('raise once while hovering at 25 %LEL, go critical at 50, and clear after a minute below 20', async () => {
    const g = await connect(s.mqttPort, 'GWG', city.secrets.GWG);
    const t0 = Date.now() - 10 * 60_000;
    const reading = (i: number, lel: number) => ({ id: `gr-${i}`, ts: t0 + i * 10_000, detector: 'D1', lel });
    // one batch per message, hovering at the line
    await publish(g, 'se/v1/gas-site/G1/reading', Array.from({ length: 12 }, (_, i) => reading(i, i % 2 ? 24.5 : 25.5)));
    const raised = await waitFor(() => api(s, 'GET', '/api/v1/alerts?type=gas_leak'), (r) => r.body.total === 1);
    expect(raised.body.items[0]).toMatchObject({ subject: 'G1:D1', severity: 'major', district: '双清区', count: 1, state: 'open' });

    await publish(g, 'se/v1/gas-site/G1/reading', reading(20, 62));
    await waitFor(() => api(s, 'GET', '/api/v1/alerts?type=gas_leak'), (r) => r.body.items[0]?.severity === 'critical');

    await publish(g, 'se/v1/gas-site/G1/reading', [reading(21, 5), reading(24, 4), reading(27, 3)]);
    const done = await waitFor(() => api(s, 'GET', '/api/v1/alerts?type=gas_leak'), (r) => r.body.items[0]?.state === 'resolved');
    expect(done.body.total).toBe(1);
    expect(done.body.items[0].resolvedAt).toBe(t0 + 27 * 10_000);
    await g.endAsync();
  });
});

describe('illegal cylinder filling', () => {
  it('a cylinder past its inspection or scrap date raises one violation against the site, with each cylinder as evidence', async () => {
    const g = await connect(s.mqttPort, 'GWG', city.secrets.GWG);
    const ts = Date.now() - 60_000;
    const fill = (id: string, cylinder: string, nextInspectionDue: string, scrapDue?: string) => ({ id, ts, cylinder, medium: 'LPG', manufactured: '2015-03-01', nextInspectionDue, scrapDue });
    await publish(g, 'se/v1/gas-site/G1/filling', [fill('f1', 'CYL-OK', '2099-01-01'), fill('f2', 'CYL-OLD', '2020-01-01'), fill('f3', 'CYL-SCRAP', '2099-01-01', '2021-06-30')]);
    const r = await waitFor(() => api(s, 'GET', '/api/v1/alerts?type=illegal_filling'), (x) => x.body.items[0]?.count === 2);
    expect(r.body.total).toBe(1);
    expect(r.body.items[0]).toMatchObject({ subject: 'G1', subjectKind: 'gas_site', severity: 'major', district: '双清区' });
    expect(r.body.items[0].evidence.map((e: { cylinder: string; why: string }) => e.cylinder)).toEqual(['CYL-OLD', 'CYL-SCRAP']);
    expect(r.body.items[0].evidence[1].why).toMatch(/scrap date 2021-06-30/);
    await g.endAsync();
  });
});

describe('gas alarm across a restart', () => {
  it('keeps the level in force: hovering after a restart does not raise a second alert, low readings still clear it', async () => {
    const env = testEnv();
    let x = await startTestService({}, env);
    try {
      const c = await registerSmallCity(x);
      let g = await connect(x.mqttPort, 'GWG', c.secrets.GWG);
      const t0 = Date.now() - 10 * 60_000;
      await publish(g, 'se/v1/gas-site/G1/reading', { id: 'r-0', ts: t0, detector: 'D7', lel: 30 });
      await waitFor(() => api(x, 'GET', '/api/v1/alerts?type=gas_leak&state=active'), (r) => r.body.total === 1);
      await g.endAsync();
      await x.stop();
      x = await startTestService({}, env);
      g = await connect(x.mqttPort, 'GWG', c.secrets.GWG);
      await publish(g, 'se/v1/gas-site/G1/reading', [{ id: 'r-1', ts: t0 + 10_000, detector: 'D7', lel: 26 }, { id: 'r-2', ts: t0 + 20_000, detector: 'D7', lel: 24 }]);
      await publish(g, 'se/v1/gas-site/G1/reading', [{ id: 'r-3', ts: t0 + 30_000, detector: 'D7', lel: 2 }, { id: 'r-4', ts: t0 + 100_000, detector: 'D7', lel: 2 }]);
      const r = await waitFor(() => api(x, 'GET', '/api/v1/alerts?type=gas_leak'), (b) => b.body.items[0]?.state === 'resolved');
      expect(r.body.total).toBe(1);
      expect(r.body.items[0].count).toBe(1);
      await g.endAsync();
    } finally {
      await x.cleanup();
    }
  });
});
