// Credit publications (red and black lists) on SQLite and PostgreSQL: frozen
// versions per period (a later record changes nothing published; publishing
// again makes a new version that does), the publication page, and a unit's
// grade history over periods (the newest version of each).
import { afterEach, describe, expect, it } from 'vitest';
import { AlertStore } from '../../alerts/store.js';
import { InterviewCases } from '../../supervision/cases.js';
import { CreditBook } from '../../supervision/credit-lists.js';
import { cstMidnight } from '../../domain/time.js';
import { DEFAULT_CRITERIA, InterviewLists } from '../../supervision/interview.js';
import type { Scorecard } from '../../supervision/scorecard.js';
import { BACKENDS, openTestDb } from '../db.js';
import { card, CITY, CITY_SOURCES, PERIOD } from './credit-city.js';

const Y2024 = { from: '2024-01-01', to: '2025-01-01' };

for (const backend of BACKENDS) {
  describe(`credit publications on ${backend}`, () => {
    const cleanups: (() => unknown)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });

    it('freezes each version: a later record changes nothing published, a new version does', async () => {
      const db = await openTestDb(backend, cleanups);
      let cards: Scorecard[] = CITY;
      const book = new CreditBook(db, { scorecards: async () => cards, sources: CITY_SOURCES });
      const v1 = await book.publish(PERIOD, 'insp1', 'api', 1000);
      expect(v1).toMatchObject({ version: 1, periodFrom: PERIOD.from, periodTo: PERIOD.to, publishedBy: 'insp1', publishedAt: 1000, red: ['U_A'], black: ['U_D'] });
      expect(v1.grades.find((g) => g.unit === 'U_A')).toMatchObject({ score: 95, grade: 'A', scorecard: CITY[0] });

      // Later records: U_A gets three complaints (20 elevators: 15 per 100 × 2 = 30, capped 15 → 80, B).
      cards = CITY.map((c) => (c.unit === 'U_A' ? card('U_A', 20, 20, 19, { overdueDays: 400, complaints: 3 }) : c));
      expect((await book.grades(PERIOD)).find((g) => g.unit === 'U_A')).toMatchObject({ score: 80, grade: 'B' });
      expect(book.get(v1.id)).toEqual(v1); // the published version is unchanged

      const v2 = await book.publish(PERIOD, 'admin', 'api', 2000);
      expect([v2.version, v2.red, v2.black]).toEqual([2, [], ['U_D']]);
      expect(book.get(v1.id)).toEqual(v1);
      const other = await book.publish(Y2024, 'admin', 'demo', 3000);
      expect(other.version).toBe(1);

      const page = book.list();
      expect(page).toMatchObject({ total: 3, page: 1, pageSize: 20 });
      expect(page.items.map((i) => [i.id, i.version, i.considered, i.red, i.black, i.trigger])).toEqual([
        [other.id, 1, 6, 0, 1, 'demo'], [v2.id, 2, 6, 0, 1, 'api'], [v1.id, 1, 6, 1, 1, 'api']]);
      expect(book.list({ from: PERIOD.from, sort: 'version' }).items.map((i) => i.id)).toEqual([v1.id, v2.id]);
      expect(book.get(9999)).toBeUndefined();

      // History: one entry per period, the newest version of each, oldest period first.
      expect(book.history('U_A').map((h) => [h.periodFrom, h.version, h.grade, h.score])).toEqual([['2024-01-01', 1, 'B', 80], ['2025-01-01', 2, 'B', 80]]);
      expect(book.history('U_S').map((h) => [h.grade, h.score, h.partial])).toEqual([[null, null, false], [null, null, false]]);
      expect(book.history('U_P')[0]!.partial).toBe(true);
      expect(book.history('nobody')).toEqual([]);
    });

    it('counts interviews from the interview cases published in the period', async () => {
      const db = await openTestDb(backend, cleanups);
      const alerts = new AlertStore(db);
      const lists = new InterviewLists(db);
      const cases = new InterviewCases(db, alerts);
      const list = lists.save(Y2024, [card('U_D', 10, 10, 5)], DEFAULT_CRITERIA, 'api', 1);
      const [c] = cases.openFor(list, 'insp1', 2);
      expect(cases.summoned('U_D', cstMidnight(PERIOD.from), cstMidnight(PERIOD.to))).toBe(0); // a draft summons nobody
      cases.advance(c!.id, 'published', { by: 'insp1' }, cstMidnight('2025-03-01'));
      expect(cases.summoned('U_D', cstMidnight(PERIOD.from), cstMidnight(PERIOD.to))).toBe(1);
      expect(cases.summoned('U_D', cstMidnight(Y2024.from), cstMidnight(Y2024.to))).toBe(0);
      expect(cases.summoned('U_A', cstMidnight(PERIOD.from), cstMidnight(PERIOD.to))).toBe(0);
    });
  });
}
