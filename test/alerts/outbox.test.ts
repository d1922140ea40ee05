// A consumer of the alert transition log on SQLite and on PostgreSQL: it
// starts where it is told (all history or now), keeps its cursor in the
// database, replays from it after a failure, and resumes from it after a restart.
import { afterEach, describe, expect, it } from 'vitest';
import { follow } from '../../alerts/outbox.js';
import { AlertStore, type AlertResult, type RaiseInput } from '../../alerts/store.js';
import { reopenDb } from '../../storage/db.js';
import { BACKENDS, openTestDb } from '../db.js';
import { quietLog } from '../helpers.js';

const raise = (subject: string): RaiseInput => ({ type: 'entrapment', severity: 'critical', subjectKind: 'elevator', subject, district: '大祥区', at: 1000 });

for (const backend of BACKENDS) {
  describe(`alert log cursor on ${backend}`, () => {
    const cleanups: (() => unknown)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });

    it('starts from the start or from now, replays after a failure, and resumes from its kept cursor', async () => {
      const db = await openTestDb(backend, cleanups);
      const alerts = new AlertStore(db);
      alerts.raise(raise('E1'));
      const all: string[] = [];
      const news: string[] = [];
      let fail = 1;
      const subjects = (evs: AlertResult[]) => evs.map((e) => e.alert.subject);
      const history = follow({ db, alerts, name: 'history', from: 'start', log: quietLog, retryMs: 10, consume: (evs) => void all.push(...subjects(evs)) });
      const paging = follow({
        db, alerts, name: 'paging', from: 'now', log: quietLog, retryMs: 10, pageSize: 1,
        consume: (evs) => {
          if (fail-- > 0) throw new Error('webhook down'); // the first page fails once: replayed, not skipped
          news.push(...subjects(evs));
        },
      });
      alerts.raise(raise('E2'));
      alerts.raise(raise('E3'));
      expect(await history.caughtUp()).toBe(true);
      expect(await paging.caughtUp()).toBe(true);
      expect(all).toEqual(['E1', 'E2', 'E3']);
      expect(news).toEqual(['E2', 'E3']);
      await history.stop();
      await paging.stop();

      // A restart: the cursors come from the database, so nothing is consumed twice or skipped.
      const again = reopenDb(db.location!);
      cleanups.unshift(() => again.close());
      const alerts2 = new AlertStore(again);
      alerts2.raise(raise('E4'));
      const after: string[] = [];
      const resumed = follow({ db: again, alerts: alerts2, name: 'paging', from: 'now', log: quietLog, consume: (evs) => void after.push(...subjects(evs)) });
      expect(await resumed.caughtUp()).toBe(true);
      await resumed.stop();
      expect(after).toEqual(['E4']);
    });
  });
}
