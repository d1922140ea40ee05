// Three nodes in one test process: a timed rule (silence → offline) fires
// once in the cluster, not once per node, and again once after the leader
// left; a gateway registered on one node can connect to another within 1 s.
import { afterAll, describe, expect, it } from 'vitest';
import { freshPostgresUrl } from '../db.js';
import { natsServerForFile } from '../nats.js';
import { api, connect, publish, registerSmallCity, startTestService, status, testEnv, waitFor, type TestService } from '../helpers.js';

const nats = natsServerForFile('se-timed-');
const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const leaderOf = async (nodes: TestService[]) => {
  const hs = await Promise.all(nodes.map(async (n) => (await api(n, 'GET', '/healthz')).body.cluster as { leader: boolean; partitions: unknown[] }));
  return hs.flatMap((h, i) => (h.leader ? [nodes[i]!] : []));
};
/** Passes of the timed rules run on a node, from its /metrics. */
const timedRuns = async (n: TestService) => {
  const text = await (await fetch(`${n.httpUrl}/metrics`)).text();
  return Number(/^se_timed_rule_runs_total (\d+)/m.exec(text)?.[1] ?? 0);
};
type AlertPage = { total: number; items: { subject: string; count: number }[] };
const offline = async (n: TestService, subject: string) => (await api(n, 'GET', `/api/v1/alerts?type=offline&subject=${subject}`)).body as AlertPage;

describe('timed rules in a cluster', () => {
  it('raise an offline alert once, not once per node, also after the leader left', async () => {
    const base = testEnv();
    const shared = {
      NATS_URL: nats().url, DATABASE_URL: await freshPostgresUrl(cleanups), CLUSTER_PARTITIONS: '6', CLUSTER_LEASE_MS: '1500',
      INFLUX_DATABASE: base.INFLUX_DATABASE!, OFFLINE_TIMEOUT_S: '1', ALERT_CHECK_MS: '100',
    };
    const nodes: TestService[] = [];
    for (const id of ['a', 'b', 'c']) {
      const n = await startTestService({}, testEnv({ ...shared, CLUSTER_NODE_ID: id }));
      cleanups.push(() => n.cleanup());
      nodes.push(n);
    }
    const city = await registerSmallCity(nodes[0]!);
    await waitFor(() => leaderOf(nodes), (l) => l.length === 1, 15_000);

    // a gateway registered on node a connects to node c at once (its secret reached c's memory)
    const gw = await waitFor(() => connect(nodes[2]!.mqttPort, 'GW1', city.secrets.GW1).catch(() => null), (c) => c !== null, 1000);
    cleanups.push(() => gw!.endAsync());

    await publish(gw!, 'se/v1/elevator/E1/status', status('s-1', Date.now()));
    const first = await waitFor(() => offline(nodes[1]!, 'E1'), (p) => p.total >= 1, 15_000);
    // many check periods later, on every node: still one alert
    await new Promise((r) => setTimeout(r, 1500));
    for (const n of nodes) expect((await offline(n, 'E1')).total).toBe(1);
    expect(first.items[0]!.count).toBe(1);
    // the timed rules ran on the leader only
    const [lead] = await leaderOf(nodes);
    for (const n of nodes) {
      if (n === lead) expect(await timedRuns(n)).toBeGreaterThan(10);
      else expect(await timedRuns(n)).toBe(0);
    }

    // the leader leaves (clean stop: it hands leadership back); another leads and raises the next silence once
    const [leader] = await leaderOf(nodes);
    const rest = nodes.filter((n) => n !== leader);
    await leader!.stop();
    await waitFor(() => leaderOf(rest), (l) => l.length === 1, 15_000);
    const gw2 = await connect(rest[0]!.mqttPort, 'GW1', city.secrets.GW1, { clientId: 'gw1-again' });
    cleanups.push(() => gw2.endAsync());
    await publish(gw2, 'se/v1/elevator/E2/status', status('s-2', Date.now()));
    await waitFor(() => offline(rest[1]!, 'E2'), (p) => p.total >= 1, 15_000);
    await new Promise((r) => setTimeout(r, 1500));
    for (const n of rest) {
      expect((await offline(n, 'E2')).total).toBe(1);
      expect((await offline(n, 'E1')).total).toBe(1);
    }
  });
});
