// The registry across cluster nodes: two Registry instances on one real
// PostgreSQL schema, each with its own NATS connection and bus on one real
// nats-server. A write on A takes effect on B within 1 s (equipment, a
// gateway's binding, a new secret, a removal with its revocation); B's
// reloads are not writes (no ping-pong); after a bus reconnect B catches up
// with writes whose notices it never heard.
import { afterEach, describe, expect, it } from 'vitest';
import { publishDenied } from '../../broker/broker.js';
import { REGISTRY_TOPIC } from '../../registry/cluster-sync.js';
import type { RegistryNotice } from '../../registry/registry.js';
import { waitFor } from '../helpers.js';
import { natsServerForFile } from '../nats.js';
import { registryNodes } from './cluster-nodes.js';

const nats = natsServerForFile('se-regsync-');
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/** The bound of the issue: a registry change takes effect on every node within 1 s. */
const WITHIN_MS = 1000;
const within = <T>(fn: () => T, ok: (v: T) => boolean) => waitFor(async () => fn(), ok, WITHIN_MS);

const elevator = (code: string, district = '鼓楼区') => ({ code, address: '中山路 1 号', district, userUnit: '物业', maintenanceUnit: 'U1' });

async function twoNodes() {
  const [a, b] = await registryNodes(2, nats().url, cleanups);
  a!.registry.units.put({ id: 'U1', name: '维保一' });
  a!.registry.elevators.put(elevator('E1'));
  a!.registry.elevators.put(elevator('E2'));
  a!.registry.gateways.put({ id: 'GW1', elevators: ['E1', 'E2'] });
  await within(() => b!.registry.principal('GW1'), (p) => p !== undefined);
  return { a: a!, b: b! };
}

describe('registry sync between cluster nodes', () => {
  it('equipment and a gateway created on A are on B within 1 s, with the gateway’s rights', async () => {
    const { a, b } = await twoNodes();
    expect(b.registry.elevators.get('E1')).toEqual(a.registry.elevators.get('E1'));
    expect(b.registry.units.get('U1')?.name).toBe('维保一');
    expect(publishDenied(b.registry, 'GW1', 'se/v1/elevator/E2/status')).toMatchObject({ channel: 'status' });

    a.registry.gasSites.put({ code: 'G1', name: '城南液化气站', address: '城南路', district: '双清区', kind: 'filling_station' });
    a.registry.partners.put({ id: 'HOT', kind: 'hotline', name: '96333' });
    await within(() => b.registry.principal('HOT'), (p) => p?.kind === 'partner');
    expect(b.registry.gasSites.get('G1')?.name).toBe('城南液化气站');
  });

  it('an elevator unbound from a gateway on A is refused to that gateway on B within 1 s', async () => {
    const { a, b } = await twoNodes();
    a.registry.gateways.patch('GW1', { elevators: ['E2'] });
    await within(() => publishDenied(b.registry, 'GW1', 'se/v1/elevator/E1/status'), (d) => typeof d === 'string');
    expect(publishDenied(b.registry, 'GW1', 'se/v1/elevator/E1/status')).toBe('gateway GW1 is not bound to elevator E1');
    expect(publishDenied(b.registry, 'GW1', 'se/v1/elevator/E2/status')).toMatchObject({ channel: 'status' });
  });

  it('a secret issued again on A: B accepts the new one and refuses the old within 1 s, and hears the revocation', async () => {
    const { a, b } = await twoNodes();
    const first = a.registry.issueSecret('GW1');
    await within(() => b.registry.verifySecret('GW1', first), (ok) => ok);
    const revokedOnB: string[] = [];
    b.registry.onRevoked((id) => revokedOnB.push(id));

    const second = a.registry.issueSecret('GW1');
    await within(() => b.registry.verifySecret('GW1', second), (ok) => ok);
    expect(b.registry.verifySecret('GW1', first)).toBe(false);
    expect(revokedOnB).toEqual(['GW1']);
  });

  it('a gateway removed on A is revoked on B within 1 s', async () => {
    const { a, b } = await twoNodes();
    const secret = a.registry.issueSecret('GW1');
    await within(() => b.registry.verifySecret('GW1', secret), (ok) => ok);
    const revokedOnA: string[] = [];
    const revokedOnB: string[] = [];
    a.registry.onRevoked((id) => revokedOnA.push(id));
    b.registry.onRevoked((id) => revokedOnB.push(id));

    a.registry.gateways.remove('GW1');
    expect(revokedOnA).toEqual(['GW1']);
    await within(() => revokedOnB, (r) => r.length > 0);
    expect(revokedOnB).toEqual(['GW1']);
    expect(b.registry.principal('GW1')).toBeUndefined();
    expect(b.registry.verifySecret('GW1', secret)).toBe(false);
  });

  it('reloads are not writes: B re-announces nothing, and hears onChange only for items that changed', async () => {
    const { a, b } = await twoNodes();
    const writesOnB: RegistryNotice[] = [];
    const changesOnB: [string, string | undefined][] = [];
    b.registry.onWrite((n) => writesOnB.push(n));
    b.registry.elevators.onChange((code, e) => changesOnB.push([code, e?.district]));

    // Once B has a marker written last, B has heard every earlier notice.
    const marker = async (id: string) => {
      a.registry.units.put({ id, name: 'marker' });
      await within(() => b.registry.units.get(id), (u) => u !== undefined);
    };
    a.registry.elevators.put(elevator('E1')); // the same item again: nothing changed
    await marker('U8');
    expect(changesOnB).toEqual([]);

    a.registry.elevators.put(elevator('E2', '双清区'));
    a.registry.elevators.remove('E1');
    await marker('U9');
    // one notice per item a tick: E1's put and remove are one re-read, so the order is not the writes'
    expect(changesOnB.sort()).toEqual([['E1', undefined], ['E2', '双清区']]);
    expect(writesOnB).toEqual([]);
    expect((await b.syncCounts()).sent ?? 0).toBe(0);
  });

  it('a bulk import on A (one transaction) and a city’s secrets go out as batches of keys and are on B within 1 s', async () => {
    const { a, b } = await twoNodes();
    const sentBefore = (await a.syncCounts()).sent!;
    // 20-character codes, as real registration codes: 1600 of them are more than one notice's 32 KiB of keys
    const codes = Array.from({ length: 1600 }, (_, i) => `3110320101201900${String(i).padStart(4, '0')}`);
    expect(a.registry.elevators.putMany(codes.map((code, i) => ({ row: i + 1, input: elevator(code) })))).toEqual([]);
    await within(() => b.registry.elevators.items.size, (n) => n === 1602);
    expect((await a.syncCounts()).sent! - sentBefore).toBe(2);
    expect(b.registry.elevators.get(codes[1599]!)).toEqual(a.registry.elevators.get(codes[1599]!));

    expect(a.registry.gateways.putMany(['GA', 'GB', 'GC'].map((id, i) => ({ row: i + 1, input: { id, elevators: codes.slice(i * 10, i * 10 + 10) } })))).toEqual([]);
    const secrets = a.registry.issueSecrets(['GA', 'GB', 'GC']);
    await within(() => [...secrets].every(([id, secret]) => b.registry.verifySecret(id, secret)), (ok) => ok);
    expect((await a.syncCounts()).sent! - sentBefore).toBe(4);
  });

  it('after a bus reconnect, B catches up with writes whose notices it never heard', async () => {
    const { a, b } = await twoNodes();
    a.stopSync(); // A's writes reach the database but no notice goes out
    a.registry.elevators.patch('E1', { district: '双清区' });
    a.registry.elevators.remove('E2');
    a.registry.gateways.patch('GW1', { elevators: ['E1'] });
    const secret = a.registry.issueSecret('GW1');
    expect(b.registry.elevators.get('E1')?.district).toBe('鼓楼区');
    const revokedOnB: string[] = [];
    b.registry.onRevoked((id) => revokedOnB.push(id));

    await b.nc.reconnect();
    await waitFor(async () => b.registry.verifySecret('GW1', secret), (ok) => ok, 10_000);
    expect(b.registry.elevators.get('E1')?.district).toBe('双清区');
    expect(b.registry.elevators.get('E2')).toBeUndefined();
    expect(publishDenied(b.registry, 'GW1', 'se/v1/elevator/E2/status')).toBe('gateway GW1 is not bound to elevator E2');
    expect(revokedOnB).toEqual([]); // a first secret revokes nothing
    expect((await b.syncCounts()).reload_all).toBeGreaterThanOrEqual(1);
  });

  it('a notice B cannot apply (its database query fails) is caught up by re-reading everything once the database answers', async () => {
    const { a, b } = await twoNodes();
    a.stopSync();
    a.registry.elevators.put(elevator('E5'));
    a.db.exec('ALTER TABLE elevators RENAME TO elevators_away'); // B's next query of elevators fails
    a.bus.publish(REGISTRY_TOPIC, { kind: 'item', collection: 'elevators', key: 'E5' });
    await waitFor(() => b.syncCounts(), (c) => (c.reload_failed ?? 0) >= 1, 10_000);
    expect(b.registry.elevators.get('E5')).toBeUndefined();
    expect(b.registry.elevators.get('E1')).toBeDefined(); // a failed re-read drops nothing

    a.db.exec('ALTER TABLE elevators_away RENAME TO elevators');
    await waitFor(async () => b.registry.elevators.get('E5'), (e) => e !== undefined, 10_000);
    expect((await b.syncCounts()).reload_all).toBeGreaterThanOrEqual(1);
  });

  it('a notice that is not a registry notice is counted and changes nothing', async () => {
    const { a, b } = await twoNodes();
    a.bus.publish(REGISTRY_TOPIC, { kind: 'item', collection: 'users', key: 'admin' });
    a.bus.publish(REGISTRY_TOPIC, 'hello');
    a.registry.units.put({ id: 'U9', name: 'marker' });
    await within(() => b.registry.units.get('U9'), (u) => u !== undefined);
    expect((await b.syncCounts()).bad_notice).toBe(2);
  });
});
