// The record ledger keeps one row per record id, with the unit the record
// names or else the registry's, and only raised events.
import { sqliteDb, type Db } from '../../storage/db.js';
import { describe, expect, it } from 'vitest';
import { RecordLedger, type LedgerItem } from '../../storage/ledger.js';

const ctx = { district: '大祥区', unit: 'U_REG' };
const rows = (db: Db) => db.prepare('SELECT channel, id, ts, elevator, unit, unit_source, kind, routine, attempt, result, next_due, party, category FROM records ORDER BY channel, id').all();

describe('record ledger', () => {
  it('maps each kept channel to one row; events only when raised', () => {
    const db = sqliteDb(':memory:');
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

  it('a re-sent record replaces its row instead of adding one; the same id on another channel is another record', () => {
    const db = sqliteDb(':memory:');
    const ledger = new RecordLedger(db);
    const first = { channel: 'inspection', record: { id: 'x', ts: 3000, elevator: 'E1', institution: '特检院', unit: 'U1', kind: 'periodic', attempt: 1, result: 'fail' }, code: null, ctx } satisfies LedgerItem;
    ledger.add([first, first]);
    ledger.add([{ ...first, record: { ...first.record, result: 'pass' } }]);
    ledger.add([{ channel: 'complaint', record: { id: 'x', ts: 4000, source: '96333', category: '异响' }, code: null, ctx }]);
    expect(ledger.count('inspection')).toBe(1);
    expect(ledger.count()).toBe(2);
    expect(db.prepare(`SELECT result FROM records WHERE channel = 'inspection'`).get()).toEqual({ result: 'pass' });
  });
});
