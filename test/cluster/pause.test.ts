// A node paused (SIGSTOP) for longer than its claim, then resumed (SIGCONT):
// its partitions move to the others meanwhile, and when it wakes it commits
// nothing for them. Entrapments published to its partitions just before the
// pause, some read by it and not yet committed, raise exactly one alert each.
import { afterAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../../storage/jetstream-log.js';
import { freshPostgresUrl } from '../db.js';
import { natsServerForFile } from '../nats.js';
import { api, connect, testEnv, waitFor } from '../helpers.js';
import { balanced, registerFleet, startNode, type NodeProcess } from './harness.js';

const nats = natsServerForFile('se-pause-');
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const P = 6;
const LEASE_MS = 3000;

describe('a node paused for longer than its claim', () => {
  it('commits nothing for the partitions it lost: each entrapment raises one alert', async () => {
    const base = testEnv();
    const shared = { NATS_URL: nats().url, DATABASE_URL: await freshPostgresUrl(cleanups), CLUSTER_PARTITIONS: String(P), CLUSTER_LEASE_MS: String(LEASE_MS), INFLUX_DATABASE: base.INFLUX_DATABASE! };
    const first = await startNode('p1', shared, cleanups);
    const fleet = await registerFleet(first, 36);
    const nodes: NodeProcess[] = [first, await startNode('p2', shared, cleanups), await startNode('p3', shared, cleanups)];
    const hs = await balanced(nodes, P);
    const victim = nodes[1]!;
    const others = nodes.filter((n) => n !== victim);
    const victimParts = new Set(hs[1]!.cluster.partitions.map((p) => p.partition));
    const trapped = fleet.codes.filter((c) => victimParts.has(partitionOf(c, P)));
    expect(trapped.length).toBeGreaterThan(2);

    // A burst of entrapments on the victim's partitions (through another node), then the pause at once:
    // some are read by the victim and not yet committed when it stops.
    const gw = await connect(others[0]!.mqttPort, 'GWC', fleet.gateway, { clientId: 'burst' });
    cleanups.push(() => gw.endAsync(true));
    const burst = trapped.map((code, i) => gw.publishAsync(`se/v1/elevator/${code}/event`, JSON.stringify({ id: `trap-${i}`, ts: Date.now() - 1000, type: 'entrapment', state: 'raised' }), { qos: 1 }));
    await Promise.all(burst);
    victim.kill('SIGSTOP');
    const pausedAt = Date.now();
    await balanced(others, P, 20_000);
    const movedMs = Date.now() - pausedAt;
    // while it sleeps, more for the same elevators: a second occurrence each (count 2 on the one alert)
    for (const [i, code] of trapped.entries()) await gw.publishAsync(`se/v1/elevator/${code}/event`, JSON.stringify({ id: `again-${i}`, ts: Date.now(), type: 'entrapment', state: 'raised' }), { qos: 1 });
    await new Promise((r) => setTimeout(r, Math.max(0, 2 * LEASE_MS - (Date.now() - pausedAt)))); // well past its lease
    victim.kill('SIGCONT');

    // it wakes, finds its claims moved, and rejoins with a share of its own
    const after = await balanced(nodes, P, 30_000);
    const fenced = after[1]!.cluster.fenced;
    type Page = { total: number; items: { subject: string; count: number }[] };
    const alerts = await waitFor(
      async () => (await api(others[1]!, 'GET', '/api/v1/alerts?type=entrapment&pageSize=100')).body as Page,
      (b) => b.total >= trapped.length && b.items.every((a) => a.count >= 2),
      30_000,
    );
    console.log(`node paused ${Date.now() - pausedAt} ms: its ${victimParts.size} partitions moved after ${movedMs} ms; commits it attempted on waking and that were refused: ${fenced}`);
    expect(alerts.total).toBe(trapped.length); // one alert per elevator: nothing raised twice
    expect(alerts.items.map((a) => a.subject).sort()).toEqual([...trapped].sort());
    expect(alerts.items.map((a) => a.count)).toEqual(trapped.map(() => 2)); // each occurrence counted once
    // and the woken node sees the same
    expect(((await api(victim, 'GET', '/api/v1/alerts?type=entrapment&pageSize=100')).body as Page).total).toBe(trapped.length);
  }, 180_000);
});
