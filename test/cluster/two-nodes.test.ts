// Cluster mode in one test process: two service nodes on one NATS server and
// one PostgreSQL schema share the partitions, store every acknowledged message
// once, raise an entrapment once, and one of them leads.
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { partitionOf } from '../../storage/jetstream-log.js';
import { freshPostgresUrl } from '../db.js';
import { natsServerForFile } from '../nats.js';
import { api, connect, count, publish, registerSmallCity, startTestService, status, testEnv, waitFor, type TestService } from '../helpers.js';

const nats = natsServerForFile('se-cluster2-');
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

interface ClusterHealth { nodeId: string; leader: boolean; partitions: { partition: number; lag: number }[] }
const health = async (s: TestService) => (await api(s, 'GET', '/healthz')).body as { cluster: ClusterHealth };

describe('two nodes in cluster mode', () => {
  it('share the partitions, store every acknowledged message once and raise an entrapment once', async () => {
    const pg = await freshPostgresUrl(cleanups);
    const shared = { NATS_URL: nats().url, DATABASE_URL: pg, CLUSTER_PARTITIONS: '4', CLUSTER_LEASE_MS: '3000' };
    const envA = testEnv({ ...shared, CLUSTER_NODE_ID: 'a' });
    const a = await startTestService({}, envA);
    cleanups.push(() => a.cleanup());
    const city = await registerSmallCity(a);
    const b = await startTestService({}, testEnv({ ...shared, CLUSTER_NODE_ID: 'b', INFLUX_DATABASE: envA.INFLUX_DATABASE! }));
    cleanups.push(() => b.cleanup());

    // each takes its share within a few heartbeats; exactly one leads
    await waitFor(async () => [await health(a), await health(b)], ([x, y]) => x!.cluster.partitions.length === 2 && y!.cluster.partitions.length === 2, 15_000);
    const [ha, hb] = [await health(a), await health(b)];
    expect([ha.cluster.leader, hb.cluster.leader].filter(Boolean)).toHaveLength(1);
    expect([...ha.cluster.partitions, ...hb.cluster.partitions].map((p) => p.partition).sort()).toEqual([0, 1, 2, 3]);

    const ca = await connect(a.mqttPort, 'GW1', city.secrets.GW1);
    const cb = await connect(b.mqttPort, 'GW1', city.secrets.GW1, { clientId: 'gw1-b' });
    cleanups.push(() => ca.endAsync(), () => cb.endAsync());
    const t0 = Date.now() - 60_000;
    for (let i = 0; i < 100; i++) {
      const code = i % 2 ? 'E1' : 'E2';
      await publish(i % 3 ? ca : cb, `se/v1/elevator/${code}/status`, status(`s-${i}`, t0 + i * 10));
    }
    await publish(cb, 'se/v1/elevator/E1/event', { id: 'trap-1', ts: Date.now() - 1000, type: 'entrapment', state: 'raised' });
    await waitFor(() => count(a, 'elevator_status'), (n) => n === 100, 20_000);
    // A service-mode change accepted by the node that owns the elevator's partition reaches a screen on the other node.
    const ownsE3 = [ha, hb].findIndex((h) => h.cluster.partitions.some((p) => p.partition === partitionOf('E3', 4)));
    const screenOn = ownsE3 === 0 ? b : a;
    const frames: { type: string; items?: { code: string; serviceMode?: string | null }[] }[] = [];
    const ws = new WebSocket(`${screenOn.httpUrl.replace('http', 'ws')}/api/v1/live`, { headers: { authorization: 'Bearer test-admin-token' } });
    ws.on('message', (d) => frames.push(JSON.parse(String(d))));
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.on('message', () => frames.some((f) => f.type === 'ready') && resolve());
    });
    cleanups.push(() => ws.close());
    const gw = await connect(a.mqttPort, 'GW1', city.secrets.GW1, { clientId: 'gw1-mode' });
    cleanups.push(() => gw.endAsync());
    expect((await api(a, 'PUT', '/api/v1/gateways/GW1', { id: 'GW1', elevators: ['E1', 'E2', 'E3'] })).status).toBe(200);
    await waitFor(async () => publish(gw, 'se/v1/elevator/E3/status', status('mode-1', Date.now(), { serviceMode: 'inspection' })).then(() => true, () => false), (ok) => ok, 5000);
    const frame = await waitFor(async () => frames.find((f) => f.type === 'equipment' && f.items?.some((i) => i.code === 'E3')), (f) => f !== undefined, 10_000);
    expect(frame!.items!.find((i) => i.code === 'E3')).toMatchObject({ serviceMode: 'inspection' });

    // A user disabled on one node loses its live feed on the other at once (not at the next 30 s ping).
    const PW = 'correct-horse-battery-9';
    expect((await api(a, 'POST', '/api/v1/users', { username: 'insp', role: 'inspector', districts: ['大祥区'], password: PW })).status).toBe(201);
    const signIn = await api(b, 'POST', '/api/v1/session', { username: 'insp', password: PW, bearer: true }, { 'content-type': 'application/json' });
    expect(signIn.status).toBe(200);
    const inspWs = new WebSocket(`${b.httpUrl.replace('http', 'ws')}/api/v1/live`, { headers: { authorization: `Bearer ${signIn.body.token}` } });
    await new Promise<void>((resolve, reject) => {
      inspWs.once('error', reject);
      inspWs.on('message', (d) => JSON.parse(String(d)).type === 'ready' && resolve());
    });
    const closed = new Promise<number>((r) => inspWs.once('close', (code) => r(code)));
    const disabledAt = Date.now();
    expect((await api(a, 'PATCH', '/api/v1/users/insp', { disabled: true })).status).toBe(200);
    expect(await closed).toBe(4401);
    expect(Date.now() - disabledAt).toBeLessThan(1000);

    const active = await waitFor(async () => (await api(b, 'GET', '/api/v1/alerts?type=entrapment')).body, (r: { total: number; items: unknown[] }) => r.total >= 1, 10_000);
    expect(active.items).toHaveLength(1);
  });
});
