// Distinct status messages of one elevator with the same ts are both kept in
// InfluxDB, even when their ids hash to the same sub-millisecond offset; a
// re-send changes nothing, also after a restart that replays the spool.
import { afterAll, describe, expect, it } from 'vitest';
import { idOffsetNs } from '../../storage/points.js';
import { api, connect, count, ownInflux, publish, registerSmallCity, rows, startTestService, status, testEnv, waitFor } from '../helpers.js';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

describe('point identity in InfluxDB', () => {
  it('keeps 500 messages sharing a ts, colliding hashes included; re-sends change nothing', async () => {
    const s = await startTestService();
    cleanups.push(() => s.cleanup());
    const city = await registerSmallCity(s);
    const gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
    const ts = Date.now() - 3_600_000;
    // m-3198 / m-5400 from the audit, and three ids sharing one offset with a fourth holding the next one.
    const ids = ['m-3198', 'm-5400', 'x-0', 'x-830227', 'x-1781732', 'x-1288418', ...Array.from({ length: 494 }, (_, i) => `b-${i}`)];
    expect(idOffsetNs('m-3198')).toBe(idOffsetNs('m-5400'));
    expect(new Set(ids.map(idOffsetNs)).size).toBeLessThanOrEqual(ids.length - 3);
    for (let i = 0; i < ids.length; i += 250) await publish(gw, 'se/v1/elevator/E1/status', ids.slice(i, i + 250).map((id, j) => status(id, ts, { floor: (i + j) % 20 }))); // two batches: 64 KiB each at most
    await publish(gw, 'se/v1/elevator/E1/status', ids.slice(0, 6).map((id, i) => status(id, ts, { floor: i % 20 }))); // re-sent
    await waitFor(async () => s.spool.depthCount, (n) => n === 0);
    expect(await count(s, 'elevator_status', `WHERE elevator = 'E1'`)).toBe(500);
    const stored = await rows(s, `SELECT id FROM elevator_status WHERE elevator = 'E1'`);
    expect(new Set(stored.map((r) => r.id)).size).toBe(500);
    await gw.endAsync();
  });

  it('a replay of the spool after a restart, and a re-send after it, land on the points the first acceptance chose', async () => {
    const influx = await ownInflux('se-point-id-', cleanups);
    const env = testEnv(influx.env);
    let s = await startTestService({}, env);
    const city = await registerSmallCity(s);
    let gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
    const ts = Date.now() - 3_600_000;
    await influx.stop();
    // Accepted (the entrapment behind them raises its alert) but not stored: InfluxDB is down.
    await publish(gw, 'se/v1/elevator/E1/status', [status('m-3198', ts, { floor: 1 }), status('m-5400', ts, { floor: 2 })]);
    await publish(gw, 'se/v1/elevator/E1/event', { id: 'after', ts: Date.now() - 1000, type: 'entrapment', state: 'raised' });
    await waitFor(() => api(s, 'GET', '/api/v1/alerts?type=entrapment'), (r) => r.body.total === 1, 10_000);
    expect(s.spool.depthCount).toBeGreaterThan(0);
    await gw.endAsync();
    await s.stop();

    await influx.start();
    s = await startTestService({}, env);
    cleanups.push(() => s.cleanup());
    await waitFor(async () => s.spool.depthCount, (n) => n === 0);
    expect(await count(s, 'elevator_status', `WHERE elevator = 'E1'`)).toBe(2);
    gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
    await publish(gw, 'se/v1/elevator/E1/status', [status('m-5400', ts, { floor: 2 }), status('m-3198', ts, { floor: 1 })]);
    await waitFor(async () => s.spool.depthCount, (n) => n === 0);
    const stored = await rows(s, `SELECT id, floor FROM elevator_status WHERE elevator = 'E1'`);
    expect(stored.map((r) => [r.id, r.floor, r.time])).toEqual([['m-3198', 1, ts], ['m-5400', 2, ts]]);
    await gw.endAsync();
  });
});
