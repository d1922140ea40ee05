// Rescue timings per entrapment on SQLite and on PostgreSQL: opened once,
// each stage keeps the first (earliest) time it was reached, and the row
// survives reopening the database.
import { afterEach, describe, expect, it } from 'vitest';
import { RescueTimings } from '../../alerts/rescue-timings.js';
import { reopenDb } from '../../storage/db.js';
import { BACKENDS, openTestDb } from '../db.js';

for (const backend of BACKENDS) {
  describe(`rescue timings on ${backend}`, () => {
    const cleanups: (() => unknown)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });

    it('opens a rescue once and keeps the earliest time of each stage', async () => {
      const db = await openTestDb(backend, cleanups);
      const t = new RescueTimings(db);
      t.open(7, 'E1', 'MU1', 1_764_000_000_000);
      t.open(7, 'E9', null, 5); // a replayed raise: the first one stands
      t.stage(7, 'dispatched', 1_764_000_060_000);
      t.stage(7, 'dispatched', 1_764_000_090_000); // later: ignored
      t.stage(7, 'arrived', 1_764_000_900_000);
      t.stage(7, 'arrived', 1_764_000_600_000); // earlier (out of order): kept
      t.stage(7, 'false_alarm', 1_764_001_000_000); // ends the rescue like a release
      t.stage(8, 'arrived', 1); // no such rescue: nothing
      expect(t.get(7)).toEqual({
        alertId: 7, elevator: 'E1', unit: 'MU1', trappedAt: 1_764_000_000_000,
        dispatchedAt: 1_764_000_060_000, arrivedAt: 1_764_000_600_000, releasedAt: 1_764_001_000_000,
      });
      expect(t.get(8)).toBeUndefined();

      const again = reopenDb(db.location!);
      cleanups.unshift(() => again.close());
      expect(new RescueTimings(again).get(7)).toMatchObject({ arrivedAt: 1_764_000_600_000, releasedAt: 1_764_001_000_000 });
    });
  });
}
