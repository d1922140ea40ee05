// Offline detection's last-seen clocks on SQLite and on PostgreSQL: flushed
// in slices, reloaded after a restart, and a flush never moves a clock back.
import { afterEach, describe, expect, it } from 'vitest';
import { OfflineMonitor } from '../../alerts/rules/offline.js';
import { reopenDb } from '../../storage/db.js';
import { BACKENDS, openTestDb } from '../db.js';

for (const backend of BACKENDS) {
  describe(`last seen on ${backend}`, () => {
    const cleanups: (() => unknown)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });

    it('keeps the newest sign of life per equipment across a restart', async () => {
      const db = await openTestDb(backend, cleanups);
      // Loaded before anything was written: it will hold an older time for E1 than the database.
      const stale = new OfflineMonitor(db, 60_000);
      const m = new OfflineMonitor(db, 60_000);
      expect(m.seen({ key: 'elevator:E1', at: 1_764_000_050_000, district: '大祥区', unit: 'MU1' })).toBe(true);
      expect(m.seen({ key: 'elevator:E1', at: 1_764_000_040_000, district: '大祥区', unit: 'MU1' })).toBe(false); // older
      m.seen({ key: 'gas_site:G1', at: 1_764_000_030_000, district: '双清区', unit: null });
      m.seen({ key: 'elevator:E2', at: 1_764_000_010_000, district: '大祥区', unit: 'MU2' });
      m.flush(2);
      expect(m.pending).toBe(1);
      m.flush();
      expect(m.pending).toBe(0);
      stale.seen({ key: 'elevator:E1', at: 1_764_000_000_000, district: '大祥区', unit: 'MU1' });
      stale.flush(); // must not move E1's clock back

      const again = reopenDb(db.location!);
      cleanups.unshift(() => again.close());
      const after = new OfflineMonitor(again, 60_000);
      expect(after.lastSeen('elevator:E1')).toBe(1_764_000_050_000);
      expect(after.lastSeen('gas_site:G1')).toBe(1_764_000_030_000);
      expect(after.lastSeen('elevator:E3')).toBeNull();
      expect(after.silent(1_764_000_075_000)).toEqual([{ key: 'elevator:E2', at: 1_764_000_010_000, district: '大祥区', unit: 'MU2' }]);
    });
  });
}
