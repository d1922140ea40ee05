// Memory through an InfluxDB outage under sustained load (issue 10, item 10):
// what waits for InfluxDB in memory stays within INGEST_QUEUE_BYTES, the rest
// stays in the spool on disk, RSS does not grow with the outage, and every
// acknowledged message is stored once InfluxDB is back.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { api, connect, count, ownInflux, publish, registerSmallCity, startTestService, status, testEnv, waitFor } from '../helpers.js';

const MESSAGES = 120_000;
const CLIENTS = 4;
const WINDOW = 100;
const QUEUE_BYTES = 16 * 1024 * 1024;
const MB = 1024 * 1024;

// A full collection on demand, so the test sees what is retained rather than garbage V8 has not collected yet.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const liveHeap = () => {
  gc();
  return process.memoryUsage().heapUsed;
};

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** Publishes `n` QoS 1 status messages over `clients`, `WINDOW` in flight each; resolves with how many were acknowledged. */
function load(clients: MqttClient[], n: number, t0: number): Promise<number> {
  let sent = 0;
  let settled = 0;
  let acked = 0;
  return new Promise((done) => {
    const pump = (c: MqttClient) => {
      while (sent < n && c.queue.length + Object.keys(c.outgoing).length < WINDOW) {
        const i = sent++;
        c.publish(`se/v1/elevator/E${1 + (i % 2)}/status`, JSON.stringify(status(`o-${i}`, t0 + i, { floor: i % 30, runCount: i })), { qos: 1 }, (err) => {
          settled++;
          if (!err) acked++;
          if (settled === n) done(acked);
          else pump(c);
        });
      }
    };
    clients.forEach(pump);
  });
}

describe('InfluxDB outage under sustained load', () => {
  it('keeps the in-memory queue within INGEST_QUEUE_BYTES and RSS flat, and stores every message after recovery', async () => {
    const influx = await ownInflux('se-outage-', cleanups);
    const s = await startTestService({}, testEnv({ ...influx.env, INGEST_QUEUE_BYTES: String(QUEUE_BYTES) }));
    cleanups.push(() => s.cleanup());
    const city = await registerSmallCity(s);
    const clients = await Promise.all(Array.from({ length: CLIENTS }, (_, k) => connect(s.mqttPort, 'GW1', city.secrets.GW1, { clientId: `gw1-${k}` })));
    cleanups.push(async () => clients.forEach((c) => c.end(true)));
    const t0 = Date.now() - 3_600_000;
    // Warm up with InfluxDB up, so the baseline includes what any load allocates.
    await load(clients, 5000, t0 - 10_000);
    await waitFor(async () => s.spool.depthCount, (d) => d === 0);
    const heapBefore = liveHeap();
    const rssBefore = process.memoryUsage().rss;

    await influx.stop();
    let rssPeak = rssBefore;
    let queuePeak = 0;
    const sampler = setInterval(() => {
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      queuePeak = Math.max(queuePeak, s.ingest.queuedBytes);
    }, 100);
    const acked = await load(clients, MESSAGES, t0);
    // Everything acknowledged is accepted (rules run) while InfluxDB is down; the queue holds what fits.
    await waitFor(async () => s.ingest.queuedBytes, (b) => b > QUEUE_BYTES / 2);
    clearInterval(sampler);
    expect(acked).toBe(MESSAGES);
    expect(s.spool.depthCount).toBe(MESSAGES);
    expect(queuePeak).toBeLessThanOrEqual(QUEUE_BYTES);
    // Without a bound in bytes each queued message held 2.5 KB (300 MB retained here); now the queue's bytes
    // are what the heap holds (a few MB more: the write being retried, code compiled meanwhile).
    const heapGrowthMb = (liveHeap() - heapBefore) / MB;
    const rssGrowthMb = (rssPeak - rssBefore) / MB;
    const figures = `live heap +${heapGrowthMb.toFixed(0)} MB; RSS ${(rssBefore / MB).toFixed(0)} MB before, ${(rssPeak / MB).toFixed(0)} MB at the peak`;
    expect(heapGrowthMb, figures).toBeLessThan(QUEUE_BYTES / MB + 12);
    // RSS also carries garbage V8 has not collected yet (a young generation sized for throughput).
    expect(rssGrowthMb, figures).toBeLessThan(300);

    await influx.start();
    await waitFor(async () => s.spool.depthCount, (d) => d === 0, 120_000);
    expect(await count(s, 'elevator_status')).toBe(MESSAGES + 5000);
  }, 300_000);

  it('keeps one entry per run of dropped messages, however many small batches an outage brings', async () => {
    const influx = await ownInflux('se-outage-', cleanups);
    const s = await startTestService({}, testEnv({ ...influx.env, INGEST_QUEUE_BYTES: '0' }));
    cleanups.push(() => s.cleanup());
    const city = await registerSmallCity(s);
    const gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
    await influx.stop();
    // One message at a time, as live traffic arrives: each is accepted in a batch of its own.
    const t0 = Date.now() - 3_600_000;
    for (let i = 0; i < 2000; i++) await publish(gw, 'se/v1/elevator/E1/status', status(`p-${i}`, t0 + i));
    // Last, an entrapment: once its alert is up, everything before it has been accepted.
    await publish(gw, 'se/v1/elevator/E1/event', { id: 'p-trapped', ts: Date.now() - 1000, type: 'entrapment', state: 'raised' });
    await waitFor(() => api(s, 'GET', '/api/v1/alerts?type=entrapment'), (r) => r.body.total === 1);
    expect(s.spool.depthCount).toBe(2001);
    // ~300 bytes a message in the spool: a handful of 128 KiB ranges, not 2000 entries.
    expect(s.ingest.queueEntries).toBeLessThan(20);
    await gw.endAsync();
  });
});
