// No acknowledged message is lost: InfluxDB stopped mid-stream, the spool
// filling up, and the service killed with SIGKILL mid-stream; with the state
// on SQLite and on PostgreSQL.
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../../bench/free-port.js';
import { InfluxStore } from '../../storage/influx.js';
import { BACKENDS, databaseUrl } from '../db.js';
import { api, connect, count, ownInflux, publish, quietLog, registerSmallCity, startTestService, status, testEnv, waitFor } from '../helpers.js';

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await Promise.resolve().then(c).catch(() => undefined);
});


// INGEST_QUEUE_BYTES=1000: most batches waiting for InfluxDB are dropped from memory and decoded again from the spool.
for (const backend of BACKENDS) {
  describe(`InfluxDB stopped mid-stream (state on ${backend})`, () => {
    it('keeps accepting into the spool, refuses visibly when the spool is full, and stores everything acknowledged once InfluxDB is back', async () => {
      const influx = await ownInflux('se-influx-stop-', cleanups);
      const s = await startTestService({}, testEnv({ ...influx.env, DATABASE_URL: await databaseUrl(backend, cleanups), SPOOL_MAX_BYTES: String(1024 * 1024), INGEST_QUEUE_BYTES: '1000' }));
      cleanups.push(() => s.cleanup());
      const city = await registerSmallCity(s);
      let gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
      const acked: string[] = [];
      const t0 = Date.now() - 3600_000;
      for (let i = 0; i < 300; i++) {
        await publish(gw, 'se/v1/elevator/E1/status', status(`a-${i}`, t0 + i));
        acked.push(`a-${i}`);
      }
      await influx.stop();
      // Still accepted while InfluxDB is down: the spool holds them.
      for (let i = 0; i < 300; i++) {
        await publish(gw, 'se/v1/elevator/E1/status', status(`b-${i}`, t0 + 1000 + i));
        acked.push(`b-${i}`);
      }
      // Alerts do not wait for InfluxDB: an entrapment raises at once.
      await publish(gw, 'se/v1/elevator/E1/event', { id: 'trapped', ts: Date.now() - 1000, type: 'entrapment', state: 'raised' });
      await waitFor(() => api(s, 'GET', '/api/v1/alerts?type=entrapment'), (r) => r.body.total === 1, 5000);
      const health = await api(s, 'GET', '/healthz');
      expect(health.status).toBe(503);
      expect(health.body.influx.reachable).toBe(false);

      // Fill the 1 MiB spool with padded messages until the broker refuses.
      const pad = 'x'.repeat(20_000);
      let refused = false;
      for (let i = 0; i < 200 && !refused; i++) {
        try {
          await publish(gw, 'se/v1/elevator/E1/status', { ...status(`c-${i}`, t0 + 2000 + i), pad });
          acked.push(`c-${i}`);
        } catch {
          refused = true;
        }
      }
      expect(refused).toBe(true);
      const metrics = await (await fetch(`${s.httpUrl}/metrics`)).text();
      expect(metrics).toMatch(/se_refusals_total\{reason="spool_full"\} 1/);
      expect((await api(s, 'GET', '/healthz')).body.spool.full).toBe(true);

      await influx.start();
      await waitFor(async () => s.spool.depthCount, (n) => n === 0, 30_000);
      expect(await count(s, 'elevator_status', `WHERE elevator = 'E1'`)).toBe(acked.length);
      expect(await count(s, 'elevator_event')).toBe(1);
      // and the broker accepts again
      gw.end(true);
      gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
      await publish(gw, 'se/v1/elevator/E1/status', status('after', t0 + 5000));
      await gw.endAsync();
    });
  });
}

for (const backend of BACKENDS) {
  describe(`service killed with SIGKILL mid-stream (state on ${backend})`, () => {
    it('stores every message it acknowledged before the kill, after a restart', async () => {
      const env = { ...process.env, ...testEnv({ DATABASE_URL: await databaseUrl(backend, cleanups), HTTP_PORT: String(await freePort()), MQTT_PORT: String(await freePort()), SPOOL_FSYNC: 'always', LOG_LEVEL: 'warn' }) };
      cleanups.push(async () => rmSync(env.DATA_DIR!, { recursive: true, force: true }));
      const start = () => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'service/main.ts'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
        cleanups.push(async () => void child.kill('SIGKILL'));
        return child;
      };
      const httpUrl = `http://127.0.0.1:${env.HTTP_PORT}`;
      const ready = () => waitFor(() => fetch(`${httpUrl}/healthz`).then((r) => r.status, () => 0), (st) => st === 200, 30_000);
      let child: ChildProcess = start();
      await ready();
      const city = await registerSmallCity({ httpUrl });
      const gw = await connect(Number(env.MQTT_PORT), 'GW1', city.secrets.GW1);
      gw.on('error', () => undefined);
      const acked = new Set<string>();
      const t0 = Date.now() - 600_000;
      let sent = 0;
      let killed = false;
      // A steady stream of QoS 1 messages, up to 50 in flight; kill the service while it flows.
      await new Promise<void>((done) => {
        const pump = () => {
          while (!killed && sent - acked.size < 50) {
            const id = `k-${sent}`;
            gw.publish('se/v1/elevator/E1/status', JSON.stringify(status(id, t0 + sent)), { qos: 1 }, (err) => {
              if (!err) acked.add(id);
              if (!killed) pump();
            });
            sent++;
          }
        };
        pump();
        setTimeout(() => {
          killed = true;
          child.kill('SIGKILL');
          child.once('exit', () => done());
        }, 1500);
      });
      gw.end(true);
      expect(acked.size).toBeGreaterThan(100);

      child = start();
      await ready();
      const store = await InfluxStore.connect({ url: env.INFLUX_URL!, database: env.INFLUX_DATABASE!, username: env.INFLUX_USERNAME, password: env.INFLUX_PASSWORD }, quietLog);
      await waitFor(() => fetch(`${httpUrl}/healthz`).then((r) => r.json() as Promise<{ spool: { depthMessages: number } }>), (h) => h.spool.depthMessages === 0, 30_000);
      const stored = new Set((await store.rows(`SELECT id FROM elevator_status WHERE elevator = 'E1'`)).map((r) => r.id as string));
      const missing = [...acked].filter((id) => !stored.has(id));
      expect(missing).toEqual([]);
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    });
  });
}

for (const backend of BACKENDS) {
  describe(`service killed after alerting but before storing (state on ${backend})`, () => {
    it('stores the message after the restart without running the rules on it again', async () => {
      const influx = await ownInflux('se-kill-accepted-', cleanups);
      const env = { ...process.env, ...testEnv({ ...influx.env, DATABASE_URL: await databaseUrl(backend, cleanups), HTTP_PORT: String(await freePort()), MQTT_PORT: String(await freePort()), LOG_LEVEL: 'error' }) };
      cleanups.push(async () => rmSync(env.DATA_DIR!, { recursive: true, force: true }));
      const start = () => {
        const child = spawn(process.execPath, ['--import', 'tsx', 'service/main.ts'], { env, stdio: ['ignore', 'ignore', 'inherit'] });
        cleanups.push(async () => void child.kill('SIGKILL'));
        return child;
      };
      const s = { httpUrl: `http://127.0.0.1:${env.HTTP_PORT}` };
      const healthy = () => waitFor(() => fetch(`${s.httpUrl}/healthz`).then((r) => r.status, () => 0), (st) => st === 200, 30_000);
      let child = start();
      await healthy();
      const city = await registerSmallCity(s);
      await influx.stop();
      const gw = await connect(Number(env.MQTT_PORT), 'GW1', city.secrets.GW1);
      await publish(gw, 'se/v1/elevator/E1/event', { id: 'trapped', ts: Date.now() - 1000, type: 'entrapment', state: 'raised' });
      await waitFor(() => api(s, 'GET', '/api/v1/alerts?type=entrapment'), (r) => r.body.total === 1, 5000);
      gw.end(true);
      child.kill('SIGKILL');
      await new Promise((r) => child.once('exit', r));

      await influx.start();
      child = start();
      await healthy();
      await waitFor(() => fetch(`${s.httpUrl}/healthz`).then((r) => r.json() as Promise<{ spool: { depthMessages: number } }>), (h) => h.spool.depthMessages === 0, 30_000);
      const store = await InfluxStore.connect({ url: influx.url, database: env.INFLUX_DATABASE!, username: influx.username, password: influx.password }, quietLog);
      expect(await count({ store }, 'elevator_event')).toBe(1);
      const alerts = (await api(s, 'GET', '/api/v1/alerts?type=entrapment')).body;
      expect(alerts.total).toBe(1);
      expect(alerts.items[0].count).toBe(1); // not counted again as a repeat
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    });
  });
}
