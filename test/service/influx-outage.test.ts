// The service starts while InfluxDB is down or hanging: it listens at once,
// acknowledges and spools, raises alerts, says "degraded" on /healthz, and
// stores everything once InfluxDB appears.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/free-port.js';
import { localInfluxCredentials, startLocalInflux } from '../../storage/influxd.js';
import { api, connect, count, publish, quietLog, registerSmallCity, startTestService, status, testEnv, waitFor } from '../helpers.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** A TCP server that accepts connections and never answers: a hanging influxd. */
async function hangingServer(port: number) {
  const sockets = new Set<Socket>();
  const srv = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => srv.listen(port, '127.0.0.1', r));
  return () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      srv.close(() => r());
    });
}

describe.each([
  ['nothing listens', async () => async () => undefined],
  ['influxd accepts connections but never answers', hangingServer],
] as const)('InfluxDB unavailable at start-up: %s', (_what, makeOutage) => {
  it('listens at once, acknowledges, raises alerts, is degraded, and stores everything once InfluxDB appears', async () => {
    const port = await freePort();
    const endOutage = await makeOutage(port);
    cleanups.push(endOutage);
    // The InfluxDB that appears later: its credentials exist before it does.
    const influxDir = mkdtempSync(join(tmpdir(), 'se-outage-influx-'));
    cleanups.push(async () => rmSync(influxDir, { recursive: true, force: true }));
    const cred = localInfluxCredentials(influxDir);

    const t0 = performance.now();
    const s = await startTestService({}, testEnv({ INFLUX_URL: `http://127.0.0.1:${port}`, INFLUX_USERNAME: cred.username, INFLUX_PASSWORD: cred.password }));
    cleanups.push(() => s.cleanup());
    const city = await registerSmallCity(s);
    const gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
    const base = Date.now() - 60_000;
    await publish(gw, 'se/v1/elevator/E1/status', status('o-0', base));
    const firstPubackMs = performance.now() - t0;
    // Before: start-up threw at the ping (nothing listens) or waited on it; no listener, no PUBACK.
    expect(firstPubackMs).toBeLessThan(10_000);
    for (let i = 1; i < 100; i++) await publish(gw, 'se/v1/elevator/E1/status', status(`o-${i}`, base + i));
    await publish(gw, 'se/v1/elevator/E1/event', { id: 'trapped', ts: Date.now() - 1000, type: 'entrapment', state: 'raised' });
    await waitFor(() => api(s, 'GET', '/api/v1/alerts?type=entrapment'), (r) => r.body.total === 1, 5000);
    const health = await api(s, 'GET', '/healthz');
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ status: 'degraded', influx: { reachable: false, connected: false } });
    expect(s.spool.depthCount).toBe(101);
    // The dashboard does not claim InfluxDB is writing when it never connected.
    expect((await api(s, 'GET', '/api/v1/overview')).body.ingest.influxWriting).toBe(false);
    expect((await api(s, 'GET', '/api/v1/ingest/health')).body.influx).toMatchObject({ writing: false, version: null });

    await endOutage();
    const influx = await startLocalInflux({ dataDir: influxDir, port, log: quietLog });
    cleanups.push(() => influx.stop());
    await waitFor(() => api(s, 'GET', '/healthz'), (r) => r.status === 200, 30_000);
    await waitFor(async () => s.spool.depthCount, (n) => n === 0, 30_000);
    expect(await count(s, 'elevator_status', `WHERE elevator = 'E1'`)).toBe(100);
    expect(await count(s, 'elevator_event')).toBe(1);
    await gw.endAsync();
  });
});
