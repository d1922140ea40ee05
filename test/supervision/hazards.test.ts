// The hazard book on both state backends: found → rectified, the major-hazard
// alert raised once and resolved by the rectification, the overdue alert once
// per hazard (injected clock), unmatched and out-of-order rectifications, and
// the agreed query methods.
import { afterEach, describe, expect, it } from 'vitest';
import { AlertStore } from '../../alerts/store.js';
import { hazardSchema, type HazardIn } from '../../domain/messages.js';
import { DAY_MS } from '../../domain/time.js';
import type { IngestedItem } from '../../ingest/pipeline.js';
import type { Db } from '../../storage/db.js';
import { HAZARD_OVERDUE_ALERT, HazardBook, MAJOR_HAZARD_ALERT } from '../../supervision/hazards.js';
import { quietLog } from '../helpers.js';
import { BACKENDS, openTestDb } from '../db.js';

const T0 = Date.parse('2026-03-01T02:00:00Z');

/** A hazard record as the accept stage hands it over (validated by the real schema), from E1 of unit MU1 unless said otherwise. */
const item = (rec: Partial<HazardIn> & { id: string; state: 'found' | 'rectified' }, ctx = { district: '大祥区', unit: 'MU1' }, sender = 'PMU1'): IngestedItem => {
  const record = hazardSchema.parse({ ts: T0, elevator: 'E1', level: 'general', category: '门锁', source: 'self_inspection', ...rec });
  return { channel: 'hazard', record, code: null, ctx, sender, receivedAt: record.ts } as IngestedItem;
};

for (const backend of BACKENDS) {
  describe(`hazard book on ${backend}`, () => {
    const cleanups: (() => unknown)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });
    let now = T0;
    const open = async () => {
      const db: Db = await openTestDb(backend, cleanups);
      const alerts = new AlertStore(db, quietLog);
      now = T0;
      const book = new HazardBook({ db, alerts, log: quietLog, clock: () => now });
      // As ingest runs its listeners: in one transaction per accepted batch.
      const accept = (...items: IngestedItem[]) => db.transaction(() => book.onAccepted(items))();
      return { db, alerts, book, accept };
    };

    it('books found → rectified; a major hazard raises one alert, resolved when the last major hazard on the elevator is rectified', async () => {
      const { alerts, book, accept } = await open();
      accept(item({ id: 'H1', state: 'found', level: 'major', category: '制动器', description: '制动器闸瓦磨损超标' }));
      accept(item({ id: 'H2', state: 'found', level: 'major', ts: T0 + 1000 }), item({ id: 'H3', state: 'found' }));
      const major = alerts.list({ type: MAJOR_HAZARD_ALERT }).items;
      expect(major).toHaveLength(1);
      expect(major[0]).toMatchObject({ subjectKind: 'elevator', subject: 'E1', severity: 'major', state: 'open', district: '大祥区', unit: 'MU1', count: 2 });
      expect(book.openHazards('MU1').map((h) => h.id)).toEqual(['H1', 'H3', 'H2']);
      expect(book.openByElevator('E1')).toBe(3);
      // Another sender's record with a hazard's id is not booked over it (ids are unique per sender only).
      accept(item({ id: 'H1', state: 'found', category: '机房' }, undefined, 'INST'));
      expect(book.get('H1')).toMatchObject({ level: 'major', category: '制动器', sender: 'PMU1' });

      accept(item({ id: 'R1', state: 'rectified', hazardId: 'H1', ts: T0 + DAY_MS, evidence: ['https://example.org/photo/1.jpg'] }));
      expect(book.get('H1')).toMatchObject({ state: 'rectified', rectifiedAt: T0 + DAY_MS, rectifyId: 'R1', rectifiedBy: 'PMU1', evidence: ['https://example.org/photo/1.jpg'] });
      expect(alerts.get(major[0]!.id)!.state).toBe('open'); // H2 is still open and major
      accept(item({ id: 'R2', state: 'rectified', hazardId: 'H2', ts: T0 + 2 * DAY_MS }));
      expect(alerts.get(major[0]!.id)).toMatchObject({ state: 'resolved', resolvedBy: 'system', resolvedAt: T0 + 2 * DAY_MS });
      expect(book.openByElevator('E1')).toBe(1);
      // A second rectification of the same hazard changes nothing, and raises nothing.
      accept(item({ id: 'R2b', state: 'rectified', hazardId: 'H2', ts: T0 + 3 * DAY_MS }));
      expect(book.get('H2')!.rectifyId).toBe('R2');
      expect(alerts.list({ type: MAJOR_HAZARD_ALERT }).total).toBe(1);
    });

    it('keeps a rectification of an unknown or another unit\'s hazard as unmatched, and matches one that came before its hazard', async () => {
      const { alerts, book, accept } = await open();
      accept(item({ id: 'H1', state: 'found' }));
      accept(item({ id: 'R-x', state: 'rectified', hazardId: 'NOPE' }));
      accept(item({ id: 'R-e', state: 'rectified', hazardId: 'H1', elevator: 'E2' }));
      accept(item({ id: 'R-u', state: 'rectified', hazardId: 'H1' }, { district: '大祥区', unit: 'MU2' }, 'PMU2'));
      const un = book.store.unmatched();
      expect(un.total).toBe(3);
      expect(Object.fromEntries(un.items.map((u) => [u.id, [u.kind, u.reason]]))).toEqual({
        'R-x': ['unknown_hazard', 'hazard NOPE is not in the book (yet)'], 'R-e': ['other_equipment', 'hazard H1 is on E1, not on E2'], 'R-u': ['other_unit', 'hazard H1 is unit MU1\'s, not unit MU2\'s'],
      });
      expect(book.get('H1')!.state).toBe('open');

      // Out of order: the rectification first, then its (major) hazard: booked rectified, no alert raised.
      accept(item({ id: 'R9', state: 'rectified', hazardId: 'H9', ts: T0 + DAY_MS }));
      accept(item({ id: 'H9', state: 'found', level: 'major' }));
      expect(book.get('H9')).toMatchObject({ state: 'rectified', rectifyId: 'R9', rectifiedAt: T0 + DAY_MS });
      expect(book.store.unmatched().items.map((u) => u.id)).not.toContain('R9');
      expect(alerts.list({ type: MAJOR_HAZARD_ALERT }).total).toBe(0);
    });

    it('raises one overdue alert per hazard past its deadline, and its rectification resolves it', async () => {
      const { alerts, book, accept } = await open();
      accept(item({ id: 'G1', state: 'found' }), item({ id: 'M1', state: 'found', level: 'major' }), item({ id: 'S1', state: 'found', elevator: undefined, site: 'G7' }, { district: '双清区', unit: undefined as never }, 'INST'));
      now = T0 + 7 * DAY_MS; // the major deadline (7 days) is reached, not passed
      expect(book.checkOverdue()).toBe(0);
      now = T0 + 7 * DAY_MS + 1;
      expect(book.checkOverdue()).toBe(1);
      expect(book.checkOverdue()).toBe(0); // once
      expect(book.list({ state: 'overdue' }).items.map((h) => h.id)).toEqual(['M1']);
      expect(book.list({ state: 'open', sort: 'foundAt' }).items.map((h) => `${h.id}:${h.state}`)).toEqual(['G1:open', 'M1:overdue', 'S1:open']); // open includes overdue
      now = T0 + 31 * DAY_MS;
      expect(book.checkOverdue()).toBe(2);
      const overdue = alerts.list({ type: HAZARD_OVERDUE_ALERT, sort: 'id' }).items;
      expect(overdue.map((a) => [a.subjectKind, a.subject, a.severity])).toEqual([['elevator', 'E1:M1', 'major'], ['elevator', 'E1:G1', 'minor'], ['gas_site', 'G7:S1', 'minor']]);
      expect(book.openHazards().filter((h) => h.overdue)).toHaveLength(3);
      // Resolved by hand: it stays resolved (one alert per hazard, not one per check).
      alerts.resolve(overdue[2]!.id, 'inspector1', '已电话督办');
      now += DAY_MS;
      expect(book.checkOverdue()).toBe(0);

      accept(item({ id: 'RG1', state: 'rectified', hazardId: 'G1', ts: now }));
      expect(alerts.get(overdue[1]!.id)).toMatchObject({ state: 'resolved', resolvedBy: 'system' });
      expect(alerts.get(overdue[0]!.id)!.state).toBe('open');
      expect(book.list({ state: 'rectified' }).items.map((h) => h.id)).toEqual(['G1']);
    });

    it('runs the timed overdue check only on the cluster\'s leader', async () => {
      const { db, alerts, accept } = await open();
      accept(item({ id: 'L1', state: 'found' }));
      let leader = false;
      const timed = new HazardBook({ db, alerts, log: quietLog, clock: () => T0 + 31 * DAY_MS, isLeader: () => leader, checkMs: 3_600_000 });
      timed.start(); // runs once at once, then every checkMs
      timed.stop();
      expect(alerts.list({ type: HAZARD_OVERDUE_ALERT }).total).toBe(0);
      leader = true;
      timed.start();
      timed.stop();
      expect(alerts.list({ type: HAZARD_OVERDUE_ALERT }).items.map((a) => a.subject)).toEqual(['E1:L1']);
    });

    it('counts a unit\'s hazards over a period: found, major and rectified in it; open and overdue at its end', async () => {
      const { book, accept } = await open();
      const d = (n: number) => T0 + n * DAY_MS;
      accept(
        item({ id: 'A', state: 'found', ts: d(-60) }), // before the period, still open and overdue at its end
        item({ id: 'B', state: 'found', ts: d(1), level: 'major' }), // in it, rectified in it
        item({ id: 'C', state: 'found', ts: d(25) }), // in it, open, not yet due at its end
        item({ id: 'D', state: 'found', ts: d(2) }, { district: '双清区', unit: 'MU2' }, 'PMU2'),
      );
      accept(item({ id: 'RB', state: 'rectified', hazardId: 'B', ts: d(5) }));
      now = d(100);
      expect(book.hazardCounts('MU1', { from: d(0), to: d(30) })).toEqual({ found: 2, major: 1, rectified: 1, open: 2, overdue: 1 });
      expect(book.hazardCounts('MU2', { from: d(0), to: d(30) })).toEqual({ found: 1, major: 0, rectified: 0, open: 1, overdue: 0 });
      // A period still running counts what is open now.
      now = d(3);
      expect(book.hazardCounts('MU1', { from: d(0), to: d(30) })).toMatchObject({ open: 2, overdue: 1 });
      expect(book.hazardCounts('MU9', { from: d(0), to: d(30) })).toEqual({ found: 0, open: 0, overdue: 0, rectified: 0, major: 0 });
      expect(book.list({ unit: 'MU1', pageSize: 2, sort: 'foundAt' })).toMatchObject({ total: 3, items: [{ id: 'A' }, { id: 'B' }] });
      expect(book.list({ districts: ['双清区'] }).items.map((h) => h.id)).toEqual(['D']);
    });
  });
}

describe('hazard schema', () => {
  const base = { id: 'h', ts: T0, level: 'general', category: '门锁', source: 'user', state: 'found' };
  const issues = (v: unknown) => {
    const r = hazardSchema.safeParse(v);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  it('names what is wrong, field by field', () => {
    expect(issues({ ...base, elevator: 'E1', site: 'G1' })).toEqual(['elevator: exactly one of elevator or site is required']);
    expect(issues(base)).toEqual(['elevator: exactly one of elevator or site is required']);
    expect(issues({ ...base, elevator: 'E1', state: 'rectified' })).toEqual(['hazardId: a rectified record must name the found record\'s id in hazardId']);
    expect(issues({ ...base, elevator: 'E1', evidence: Array.from({ length: 11 }, (_, i) => `f${i}.jpg`) })).toEqual(['evidence: at most 10 evidence entries']);
    expect(issues({ ...base, elevator: 'E1', description: 'x'.repeat(2001) })[0]).toMatch(/^description: /);
    expect(issues({ ...base, elevator: 'E1', level: 'severe' })[0]).toMatch(/^level: /);
    expect(issues({ ...base, elevator: 'E1', evidence: ['a.jpg'], description: '轿门锁啮合不足7mm' })).toEqual([]);
  });
});
