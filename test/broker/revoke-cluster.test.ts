// Revocation across a cluster: two brokers, each on its own registry node
// (one real PostgreSQL schema, one real nats-server, test/registry/
// cluster-nodes.ts) and its own spool. A gateway connected to broker B is
// disconnected within 1 s when it is removed, or given a new secret, on node
// A; with the new secret it connects to B again.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker } from '../../broker/broker.js';
import { Spool } from '../../storage/spool.js';
import { connect, publish, quietLog, status, waitFor } from '../helpers.js';
import { natsServerForFile } from '../nats.js';
import { registryNodes, type RegistryNode } from '../registry/cluster-nodes.js';
import { closedWithin } from './fixture.js';

const nats = natsServerForFile('se-revoke-');
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** The bound of the issue: a revoked gateway is disconnected wherever it is connected within 1 s. */
const WITHIN_MS = 1000;

async function brokerOn(node: RegistryNode) {
  const dir = mkdtempSync(join(tmpdir(), 'se-revoke-spool-'));
  const spool = Spool.open({ dir, maxBytes: 16 << 20, fsync: 'none', log: quietLog });
  const broker = await startBroker({
    host: '127.0.0.1', port: 0, limits: { maxPacketBytes: 131_072, maxConnectBytes: 4096 },
    registry: node.registry, spool, metrics: node.metrics, log: quietLog,
  });
  cleanups.unshift(async () => {
    await broker.close();
    await spool.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return broker;
}

/** Nodes A and B with a broker each; GW1 (bound to E1) has a secret, known on B. */
async function twoBrokers() {
  const [a, b] = await registryNodes(2, nats().url, cleanups);
  a!.registry.units.put({ id: 'U1', name: '维保一' });
  a!.registry.elevators.put({ code: 'E1', address: '中山路 1 号', district: '鼓楼区', userUnit: '物业', maintenanceUnit: 'U1' });
  a!.registry.gateways.put({ id: 'GW1', elevators: ['E1'] });
  const secret = a!.registry.issueSecret('GW1');
  await waitFor(async () => b!.registry.verifySecret('GW1', secret), (ok) => ok, WITHIN_MS);
  return { a: a!, b: b!, brokerB: await brokerOn(b!), secret };
}

const revokedOn = async (n: RegistryNode) => (await n.metrics.refusals.get()).values.find((v) => v.labels.reason === 'revoked')?.value ?? 0;

describe('revocation across cluster nodes', () => {
  it('a gateway connected to broker B is disconnected within 1 s when it is removed on node A', async () => {
    const { a, b, brokerB, secret } = await twoBrokers();
    const c = await connect(brokerB.port, 'GW1', secret);
    await publish(c, 'se/v1/elevator/E1/status', status('rc-1'));

    await closedWithin(c, WITHIN_MS, () => a.registry.gateways.remove('GW1'));
    expect(await revokedOn(b)).toBe(1);
    await expect(connect(brokerB.port, 'GW1', secret)).rejects.toThrow(/bad user ?name or password/i);
  });

  it('a gateway connected to broker B is disconnected within 1 s when node A issues it a new secret, and connects to B with it', async () => {
    const { a, b, brokerB, secret } = await twoBrokers();
    const c = await connect(brokerB.port, 'GW1', secret);
    const fresh = await closedWithin(c, WITHIN_MS, () => a.registry.issueSecret('GW1'));
    expect(await revokedOn(b)).toBe(1);

    await expect(connect(brokerB.port, 'GW1', secret)).rejects.toThrow(/bad user ?name or password/i);
    const again = await connect(brokerB.port, 'GW1', fresh);
    await publish(again, 'se/v1/elevator/E1/status', status('rc-2'));
    await again.endAsync();
  });
});
