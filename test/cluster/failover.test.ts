// Three service nodes as real processes on one NATS server and one
// PostgreSQL: SIGKILL the leader under load. Its partitions move to the
// survivors within the lease, every acknowledged message is stored, and an
// entrapment published to a survivor during the takeover raises one alert.
import { WebSocket } from 'ws';
import { afterAll, describe, expect, it } from 'vitest';
import { partitionOf } from '../../storage/jetstream-log.js';
import { freshPostgresUrl } from '../db.js';
import { natsServerForFile } from '../nats.js';
import { api, connect, testEnv, waitFor } from '../helpers.js';
import { balanced, pump, registerFleet, startNode, storedIds, type NodeProcess } from './harness.js';

const nats = natsServerForFile('se-failover-');
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const P = 6;
const LEASE_MS = 3000;

describe('a cluster of three nodes', () => {
  it('SIGKILL of the leader under load: partitions move within the lease, every acknowledged message is stored, an entrapment during the takeover raises one alert', async () => {
    const base = testEnv();
    const shared = {
      NATS_URL: nats().url, DATABASE_URL: await freshPostgresUrl(cleanups), CLUSTER_PARTITIONS: String(P), CLUSTER_LEASE_MS: String(LEASE_MS),
      INFLUX_DATABASE: base.INFLUX_DATABASE!, SPOOL_FSYNC: 'always', ALERT_CHECK_MS: '500',
    };
    const first = await startNode('n1', shared, cleanups);
    const fleet = await registerFleet(first, 24);
    const nodes: NodeProcess[] = [first, await startNode('n2', shared, cleanups), await startNode('n3', shared, cleanups)];
    const hs = await balanced(nodes, P);
    const victim = nodes[hs.findIndex((h) => h.cluster.leader)]!;
    const survivors = nodes.filter((n) => n !== victim);
    const victimParts = new Set(hs[nodes.indexOf(victim)]!.cluster.partitions.map((p) => p.partition));

    // A dashboard on a survivor other than the one the entrapment is published to.
    const frames: { type: string; transition?: string; alert?: { type: string; subject: string } }[] = [];
    const ws = new WebSocket(`${survivors[1]!.httpUrl.replace('http', 'ws')}/api/v1/live`, { headers: { authorization: 'Bearer test-admin-token' } });
    ws.on('message', (d) => frames.push(JSON.parse(String(d))));
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.on('message', () => frames.some((f) => f.type === 'ready') && resolve());
    });
    cleanups.push(() => ws.close());

    const acked = new Set<string>();
    let running = true;
    const t0 = Date.now() - 3_600_000;
    const clients = await Promise.all(nodes.map((n, i) => connect(n.mqttPort, 'GWC', fleet.gateway, { clientId: `load-${i}` })));
    for (const c of clients) c.on('error', () => undefined);
    cleanups.push(() => Promise.all(clients.map((c) => c.endAsync(true))));
    const pumps = clients.map((c, i) => pump(c, fleet.codes, `n${i}`, acked, () => running, t0 + i * 1_000_000));
    await waitFor(async () => acked.size, (n) => n >= 600, 30_000);

    const killedAt = Date.now();
    victim.kill('SIGKILL');
    // During the takeover: an entrapment on an elevator of one of the victim's partitions, published to a survivor.
    const trapped = fleet.codes.find((c) => victimParts.has(partitionOf(c, P)))!;
    const trapClient = await connect(survivors[0]!.mqttPort, 'GWC', fleet.gateway, { clientId: 'trap' });
    cleanups.push(() => trapClient.endAsync(true));
    await trapClient.publishAsync(`se/v1/elevator/${trapped}/event`, JSON.stringify({ id: 'trap-1', ts: Date.now(), type: 'entrapment', state: 'raised' }), { qos: 1 });

    await balanced(survivors, P, 20_000);
    const failoverMs = Date.now() - killedAt;
    const alert = await waitFor(async () => (await api(survivors[1]!, 'GET', '/api/v1/alerts?type=entrapment')).body as { total: number; items: { subject: string }[] }, (b) => b.total >= 1, 20_000);
    const raisedMs = Date.now() - killedAt;
    await new Promise((r) => setTimeout(r, 1000)); // more load on the survivors after the takeover
    running = false;
    const sent = (await Promise.all(pumps)).reduce((a, b) => a + b, 0);

    // everything taken is stored: the survivors' backlog empties
    await waitFor(async () => Promise.all(survivors.map((n) => n.health())), (h) => h.every((x) => x?.spool.depthMessages === 0), 60_000);
    const ids = await storedIds(base);
    const stored = new Set(ids);
    console.log(`cluster failover: ${acked.size} acknowledged of ${sent} sent; partitions of the killed leader processed again after ${failoverMs} ms; entrapment alert visible after ${raisedMs} ms`);
    expect([...acked].filter((id) => !stored.has(id))).toEqual([]); // lost = 0
    expect(ids.length).toBe(stored.size); // each once
    expect(failoverMs).toBeLessThan(10_000);
    expect(alert.total).toBe(1);
    expect(alert.items[0]!.subject).toBe(trapped);
    const again = (await api(survivors[0]!, 'GET', '/api/v1/alerts?type=entrapment')).body as { total: number };
    expect(again.total).toBe(1);
    const pushed = await waitFor(async () => frames.filter((f) => f.type === 'alert' && f.alert?.type === 'entrapment'), (f) => f.length >= 1, 10_000);
    expect(pushed.map((f) => [f.transition, f.alert!.subject])).toEqual([['raised', trapped]]);
    // one survivor leads now
    const after = await waitFor(async () => Promise.all(survivors.map((n) => n.health())), (h) => h.filter((x) => x?.cluster.leader).length === 1, 20_000);
    expect(after.filter((x) => x?.cluster.leader)).toHaveLength(1);
  }, 240_000);
});
