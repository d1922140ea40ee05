// A restart with a large backlog in the spool (issue 10, item 9): the broker
// and the API listen at once and acknowledge new messages while the backlog
// is replayed in slices; every message of the backlog is stored, and the
// rules run on the ones never accepted before the restart.
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { Spool } from '../../storage/spool.js';
import { api, connect, count, publish, quietLog, registerSmallCity, startTestService, status, testEnv, waitFor, type TestService } from '../helpers.js';

const BACKLOG = 250_000;
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

/** Appends `n` status messages of GW1 straight to the stopped service's spool, as a long outage would leave them. */
async function fillSpool(dataDir: string, n: number, t0: number): Promise<void> {
  const spool = Spool.open({ dir: join(dataDir, 'spool'), maxBytes: 1 << 30, fsync: 'none', log: quietLog });
  const appends: Promise<void>[] = [];
  for (let i = 0; i < n; i++) {
    const payload = Buffer.from(JSON.stringify(status(`bl-${i}`, t0 + i, { floor: i % 30, runCount: i })));
    appends.push(spool.appendAsync({ qos: 1, topic: `se/v1/elevator/E${1 + (i % 2)}/status`, sender: 'GW1', receivedAt: Date.now(), payload }));
    if (i % 20_000 === 0) await Promise.all(appends.splice(0));
  }
  // Last in the backlog: an entrapment, so the rules must have run on the replay.
  appends.push(spool.appendAsync({ qos: 1, topic: 'se/v1/elevator/E1/event', sender: 'GW1', receivedAt: Date.now(), payload: Buffer.from(JSON.stringify({ id: 'bl-trapped', ts: t0 + n, type: 'entrapment', state: 'raised' })) }));
  await Promise.all(appends);
  await spool.close();
}

describe('restart with a large backlog in the spool', () => {
  it(`acknowledges a new message within 2 s of starting with ${BACKLOG} messages to replay, then stores them all`, async () => {
    const env = testEnv();
    cleanups.push(async () => rmSync(env.DATA_DIR!, { recursive: true, force: true }));
    const first = await startTestService({}, env);
    const city = await registerSmallCity(first);
    await first.stop();
    const t0 = Date.now() - 3_600_000;
    await fillSpool(env.DATA_DIR!, BACKLOG, t0);

    const startedAt = performance.now();
    const s: TestService = await startTestService({}, env);
    cleanups.push(() => s.stop());
    const tStarted = performance.now() - startedAt;
    const gw = await connect(s.mqttPort, 'GW1', city.secrets.GW1);
    const tConnected = performance.now() - startedAt;
    await publish(gw, 'se/v1/elevator/E1/status', status('after-restart', Date.now()));
    const firstPubackMs = performance.now() - startedAt;
    await gw.endAsync();
    expect(firstPubackMs, `listening after ${tStarted.toFixed(0)} ms, connected after ${tConnected.toFixed(0)} ms`).toBeLessThan(2000);

    // Nothing lost: the whole backlog and the new message are stored, and the replay ran the rules.
    await waitFor(async () => s.spool.depthCount, (n) => n === 0, 100_000);
    expect(await count(s, 'elevator_status')).toBe(BACKLOG + 1);
    expect((await api(s, 'GET', '/api/v1/alerts?type=entrapment&subject=E1')).body.total).toBe(1);
  }, 180_000);
});
