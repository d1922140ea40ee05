// The registry's store on both backends: what a collection writes (put,
// patch, delete, putMany) is what a registry opened later on the same
// database reads back, and credentials (SHA-256 digests in a BLOB/BYTEA
// column) verify after a reload as they did before.
import { afterEach, describe, expect, it } from 'vitest';
import { reopenDb, type Db } from '../../storage/db.js';
import { appliedMigrations } from '../../storage/migrations.js';
import { Registry } from '../../registry/registry.js';
import { BACKENDS, openTestDb } from '../db.js';

const elevator = (code: string, district = '鼓楼区') => ({ code, address: '中山路 1 号', district, userUnit: '物业', maintenanceUnit: 'U1' });

for (const backend of BACKENDS) {
  describe(`registry store on ${backend}`, () => {
    const cleanups: (() => unknown)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });

    /** The same database through a second connection, as a restarted service sees it. */
    function reopened(db: Db): Registry {
      const again = reopenDb(db.location!);
      cleanups.unshift(() => again.close());
      return new Registry(again);
    }

    it('reads back what put, patch, remove and putMany wrote, from every collection', async () => {
      const db = await openTestDb(backend, cleanups);
      const r = new Registry(db);
      r.units.put({ id: 'U1', name: '维保一' });
      r.elevators.put(elevator('31103201012019000001'));
      r.elevators.put(elevator('31103201012019000002'));
      r.elevators.patch('31103201012019000001', { district: '双清区' });
      r.elevators.remove('31103201012019000002');
      expect(() => r.elevators.put(elevator('31103201012019000001'), 'create')).toThrow(/already exists/);
      const errors = r.gasSites.putMany([
        { row: 1, input: { code: 'G0001', name: '加气站', address: '路 1 号', district: '鼓楼区', kind: 'filling_station' } },
        { row: 2, input: { code: 'G0002', name: '', address: '路 2 号', district: '鼓楼区' } },
        { row: 3, input: { code: 'G0003', name: '餐馆', address: '路 3 号', district: '大祥区' } },
      ]);
      expect(errors).toEqual([{ row: 2, error: expect.stringMatching(/^name:/) }]);
      r.partners.put({ id: 'P1', kind: 'maintenance_unit', name: '维保平台', unit: 'U1' });
      r.gateways.put({ id: 'GW1', elevators: ['31103201012019000001'], gasSites: ['G0001'] });
      r.contacts.put({ id: 'C1', name: '值班', webhook: 'https://example.test/hook', districts: ['鼓楼区'] });

      const again = reopened(db);
      expect(again.elevators.list().items).toEqual([expect.objectContaining({ code: '31103201012019000001', district: '双清区', maintenanceIntervalDays: 15, nextInspectionDue: null })]);
      expect(again.gasSites.list().items.map((g) => g.code)).toEqual(['G0001', 'G0003']);
      expect(again.gasSites.get('G0001')).toEqual(r.gasSites.get('G0001'));
      expect(again.units.get('U1')).toEqual({ id: 'U1', name: '维保一' });
      expect(again.contacts.get('C1')).toMatchObject({ districts: ['鼓楼区'], enabled: true, format: 'generic' });
      expect(again.principal('GW1')).toMatchObject({ kind: 'gateway', elevators: new Set(['31103201012019000001']), gasSites: new Set(['G0001']) });
      expect(again.principal('P1')).toMatchObject({ kind: 'partner', partnerKind: 'maintenance_unit', unit: 'U1' });
      // one table per collection, plus credentials, created by one recorded step
      expect(appliedMigrations(db).filter((m) => m.owner === 'registry/registry').map((m) => m.version)).toEqual([1]);
    });

    it('stores secrets as digests that verify after a reload; a new secret replaces the old one', async () => {
      const db = await openTestDb(backend, cleanups);
      const r = new Registry(db);
      r.units.put({ id: 'U1', name: '维保一' });
      r.elevators.put(elevator('31103201012019000001'));
      r.gateways.put({ id: 'GW1', elevators: ['31103201012019000001'], gasSites: [] });
      r.partners.put({ id: 'P1', kind: 'hotline', name: '96333 热线' });
      const first = r.issueSecret('GW1');
      const many = r.issueSecrets(['GW1', 'P1']);
      expect(() => r.issueSecret('nobody')).toThrow(/no gateway or partner/);

      const row = db.prepare('SELECT digest FROM credentials WHERE principal = ?').get('GW1') as { digest: Buffer };
      expect(Buffer.isBuffer(row.digest) && row.digest.length).toBe(32);
      expect(row.digest.toString('latin1')).not.toContain(many.get('GW1'));

      const again = reopened(db);
      expect(again.verifySecret('GW1', many.get('GW1'))).toBe(true);
      expect(again.verifySecret('P1', Buffer.from(many.get('P1')!))).toBe(true);
      expect(again.verifySecret('GW1', first)).toBe(false);
      expect(again.verifySecret('P1', many.get('GW1'))).toBe(false);
      expect(again.verifySecret('nobody', first)).toBe(false);
      expect(again.verifySecret('GW1', undefined)).toBe(false);
    });

    it('opens a database it already migrated without changing it', async () => {
      const db = await openTestDb(backend, cleanups);
      new Registry(db).units.put({ id: 'U1', name: '维保一' });
      const again = new Registry(db);
      expect(again.units.get('U1')).toEqual({ id: 'U1', name: '维保一' });
      expect(appliedMigrations(db).filter((m) => m.owner === 'registry/registry')).toHaveLength(1);
    });
  });
}

describe('registry store on a SQLite file from before versioned migrations', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it('adopts the tables as they are, with their rows, and records version 1', async () => {
    const db = await openTestDb('sqlite', cleanups);
    // what the registry created before it had migrations
    db.exec(`CREATE TABLE credentials (principal TEXT PRIMARY KEY, digest BLOB NOT NULL, issued_at INTEGER NOT NULL);
      CREATE TABLE units (key TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at INTEGER NOT NULL);
      CREATE TABLE gateways (key TEXT PRIMARY KEY, data TEXT NOT NULL, updated_at INTEGER NOT NULL)`);
    db.prepare('INSERT INTO units VALUES (?, ?, ?)').run('U1', JSON.stringify({ id: 'U1', name: '维保一' }), 1);
    db.prepare('INSERT INTO gateways VALUES (?, ?, ?)').run('GW1', JSON.stringify({ id: 'GW1', elevators: [], gasSites: [] }), 1);
    const secret = new Registry(db).issueSecret('GW1');
    const r = new Registry(db);
    expect(r.units.get('U1')).toEqual({ id: 'U1', name: '维保一' });
    expect(r.verifySecret('GW1', secret)).toBe(true);
    expect(appliedMigrations(db).map((m) => [m.owner, m.version])).toEqual([['registry/registry', 1]]);
  });
});
