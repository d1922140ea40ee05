// PostgreSQL lost while the service runs (its project-local server killed
// with SIGKILL, restarted by the supervisor): MQTT keeps acknowledging into
// the spool, the accept stage retries until the state is back, and then
// every acknowledged message is stored once and every alert raised once.
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/free-port.js';
import { loadConfig } from '../../service/config.js';
import { startService } from '../../service/service.js';
import { api, connect, count, publish, quietLog, registerSmallCity, status, testEnv, waitFor } from '../helpers.js';

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => undefined);
});

describe('PostgreSQL killed under a running service', () => {
  it('keeps acknowledging, then stores everything once and raises each alert once when PostgreSQL is back', async () => {
    const env = testEnv({ POSTGRES_LOCAL: 'true', POSTGRES_LOCAL_PORT: String(await freePort()), ALERT_CHECK_MS: '200' });
    cleanups.push(() => rmSync(env.DATA_DIR!, { recursive: true, force: true }));
    const s = { ...(await startService(loadConfig(env), quietLog)), database: env.INFLUX_DATABASE! };
    cleanups.push(() => s.stop());
    const city = await registerSmallCity(s);
    const gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
    cleanups.push(() => gw.endAsync(true));
    const t0 = Date.now() - 60_000;
    for (let i = 0; i < 20; i++) await publish(gw, 'se/v1/elevator/E1/status', status(`before${i}`, t0 + i));
    await publish(gw, 'se/v1/elevator/E1/event', { id: 'trap1', ts: t0 + 100, type: 'entrapment', state: 'raised' });
    await waitFor(() => api(s, 'GET', '/api/v1/alerts?type=entrapment'), (r) => r.body.total === 1, 10_000);

    const { pid } = JSON.parse(readFileSync(join(env.DATA_DIR!, 'postgres', 'postgres.pid'), 'utf8')) as { pid: number };
    process.kill(pid, 'SIGKILL');
    // While it is away (and restarting): publishes are still acknowledged (the spool), an entrapment among them.
    const during = performance.now();
    for (let i = 0; i < 20; i++) await publish(gw, 'se/v1/elevator/E1/status', status(`during${i}`, t0 + 1000 + i));
    await publish(gw, 'se/v1/elevator/E2/event', { id: 'trap2', ts: t0 + 2000, type: 'entrapment', state: 'raised' });
    expect(performance.now() - during).toBeLessThan(15_000);

    // Back: everything stored once, each entrapment one alert.
    await waitFor(() => api(s, 'GET', '/api/v1/alerts?type=entrapment'), (r) => r.status === 200 && r.body.total === 2, 60_000);
    await waitFor(async () => s.spool.depthCount, (n) => n === 0, 60_000);
    expect(await count(s, 'elevator_status')).toBe(40);
    expect(await count(s, 'elevator_event')).toBe(2);
    const alerts = (await api(s, 'GET', '/api/v1/alerts?type=entrapment')).body as { items: { subject: string; count: number }[] };
    expect(alerts.items.map((a) => [a.subject, a.count]).sort()).toEqual([['E1', 1], ['E2', 1]]);
  });
});
