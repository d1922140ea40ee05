// The record ledger keeps one row per record id, with the unit the record
// names or else the registry's, and only raised events.
import type { Db } from '../../storage/db.js';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordLedger, type LedgerItem } from '../../storage/ledger.js';
import { appliedMigrations } from '../../storage/migrations.js';
import { BACKENDS, openTestDb } from '../db.js';

const ctx = { district: '大祥区', unit: 'U_REG' };
const rows = (db: Db) => db.prepare('SELECT channel, id, ts, elevator, unit, unit_source, kind, routine, attempt, result, next_due, party, category FROM records ORDER BY channel, id').all();

for (const backend of BACKENDS) describe(`record ledger on ${backend}`, () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0)) await c();
  });

  it('maps each kept channel to one row; events only when raised', async () => {
    const db = await openTestDb(backend, cleanups);
    const ledger = new RecordLedger(db);
    const items: LedgerItem[] = [
      { channel: 'maintenance', record: { id: 'm1', ts: 1000, elevator: 'E1', unit: 'U1', kind: 'half_monthly', technician: '张三' }, code: null, ctx },
      { channel: 'maintenance', record: { id: 'm2', ts: 2000, elevator: 'E1', unit: 'U1', kind: 'repair', technician: '张三' }, code: null, ctx },
      { channel: 'inspection', record: { id: 'i1', ts: 3000, elevator: 'E1', institution: '特检院', kind: 'periodic', attempt: 1, result: 'pass', nextDue: '2026-03-01' }, code: null, ctx },
      { channel: 'complaint', record: { id: 'c1', ts: 4000, source: '12345', category: '困人', unit: 'U1' }, code: null, ctx },
      { channel: 'event', record: { id: 'e1', ts: 5000, type: 'entrapment', state: 'raised' }, code: 'E1', ctx },
      { channel: 'event', record: { id: 'e2', ts: 6000, type: 'entrapment', state: 'cleared' }, code: 'E1', ctx },
      { channel: 'status', record: { id: 's1', ts: 7000 }, code: 'E1', ctx } as unknown as LedgerItem,
    ];
    ledger.add(items);
    expect(rows(db)).toEqual([
      { channel: 'complaint', id: 'c1', ts: 4000, elevator: null, unit: 'U1', unit_source: 'record', kind: null, routine: null, attempt: null, result: null, next_due: null, party: '12345', category: '困人' },
      { channel: 'event', id: 'e1', ts: 5000, elevator: 'E1', unit: 'U_REG', unit_source: 'registry', kind: 'entrapment', routine: null, attempt: null, result: null, next_due: null, party: null, category: null },
      { channel: 'inspection', id: 'i1', ts: 3000, elevator: 'E1', unit: 'U_REG', unit_source: 'registry', kind: 'periodic', routine: null, attempt: 1, result: 'pass', next_due: '2026-03-01', party: '特检院', category: null },
      { channel: 'maintenance', id: 'm1', ts: 1000, elevator: 'E1', unit: 'U1', unit_source: 'record', kind: 'half_monthly', routine: 1, attempt: null, result: null, next_due: null, party: null, category: null },
      { channel: 'maintenance', id: 'm2', ts: 2000, elevator: 'E1', unit: 'U1', unit_source: 'record', kind: 'repair', routine: 0, attempt: null, result: null, next_due: null, party: null, category: null },
    ]);
  });

  it('a re-sent record replaces its row instead of adding one; the same id on another channel is another record', async () => {
    const db = await openTestDb(backend, cleanups);
    const ledger = new RecordLedger(db);
    const first = { channel: 'inspection', record: { id: 'x', ts: 3000, elevator: 'E1', institution: '特检院', unit: 'U1', kind: 'periodic', attempt: 1, result: 'fail' }, code: null, ctx } satisfies LedgerItem;
    ledger.add([first, first]);
    ledger.add([{ ...first, record: { ...first.record, result: 'pass' } }]);
    ledger.add([{ channel: 'complaint', record: { id: 'x', ts: 4000, source: '96333', category: '异响' }, code: null, ctx }]);
    expect(ledger.count('inspection')).toBe(1);
    expect(ledger.count()).toBe(2);
    expect(db.prepare(`SELECT result FROM records WHERE channel = 'inspection'`).get()).toEqual({ result: 'pass' });
  });

  it("counts a unit's figures over a window and lists its evidence oldest or newest first", async () => {
    const db = await openTestDb(backend, cleanups);
    const ledger = new RecordLedger(db);
    const insp = (id: string, ts: number, result: 'pass' | 'fail', attempt = 1) =>
      ({ channel: 'inspection', record: { id, ts, elevator: 'E1', institution: '特检院', unit: 'U1', kind: 'periodic', attempt, result }, code: null, ctx }) satisfies LedgerItem;
    const compl = (id: string, ts: number) => ({ channel: 'complaint', record: { id, ts, source: '12345', category: '困人', unit: 'U1', elevator: 'E1' }, code: null, ctx }) satisfies LedgerItem;
    // Written inside a caller's transaction, as the accept stage does: no nested transaction of its own.
    db.transaction(() => ledger.add([insp('a', 1000, 'fail'), insp('b', 2000, 'pass'), insp('c', 3000, 'fail'), insp('d', 3500, 'pass', 2), insp('out', 9000, 'fail'), compl('k1', 1500), compl('k2', 2500)]))();
    expect(ledger.unitFigures('U1', 1000, 5000)).toEqual({ first: 3, passed: 1, complaints: 2 });
    expect(ledger.unitFigures('U2', 0, 10_000)).toEqual({ first: 0, passed: 0, complaints: 0 });
    const oldest = ledger.unitRecords('U1', 0, 5000, 10);
    expect(oldest.failedInspections).toEqual([
      { time: 1000, elevator: 'E1', institution: '特检院', attempt: 1, id: 'a', unit_source: 'record' },
      { time: 3000, elevator: 'E1', institution: '特检院', attempt: 1, id: 'c', unit_source: 'record' },
    ]);
    expect(oldest.complaints.map((c) => c.id)).toEqual(['k1', 'k2']);
    const newest = ledger.unitRecords('U1', 0, 10_000, 2, 'newest');
    expect(newest.failedInspections.map((r) => r.id)).toEqual(['out', 'c']);
    expect(newest.complaints.map((c) => [c.id, c.time, c.source, c.category])).toEqual([['k2', 2500, '12345', '困人'], ['k1', 1500, '12345', '困人']]);
  });

  it('commits and rolls back with the transaction it is written in (the accept stage)', async () => {
    const db = await openTestDb(backend, cleanups);
    const ledger = new RecordLedger(db);
    const item = (id: string) => ({ channel: 'complaint', record: { id, ts: 4000, source: '96333', category: '异响' }, code: null, ctx }) satisfies LedgerItem;
    expect(() => db.transaction(() => {
      ledger.add([item('lost')]);
      throw new Error('the accept stage failed after the ledger rows');
    })()).toThrow(/accept stage failed/);
    db.transaction(() => ledger.add([item('kept')]))();
    expect(db.prepare('SELECT id FROM records').pluck().all()).toEqual(['kept']);
  });

  it('creates its table by a versioned migration, once', async () => {
    const db = await openTestDb(backend, cleanups);
    new RecordLedger(db);
    new RecordLedger(db);
    expect(appliedMigrations(db).filter((m) => m.owner === 'storage/ledger').map((m) => [m.version, m.name])).toEqual([[1, 'records']]);
  });
});
