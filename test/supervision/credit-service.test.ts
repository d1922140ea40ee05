// Unit credit grades through the real service: the interview test city (records
// through the real HTTP ingest) plus a unit with a clean record, graded over the
// API with a CREDIT_SCORING file, each unit's grade and factor points matching
// the known answer; the red and black lists published as frozen versions (a
// later record changes nothing published, publishing again does), a unit's
// history, the exports, the audit and the roles — on SQLite and on PostgreSQL.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ExcelJS from 'exceljs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UnitGrade } from '../../supervision/credit.js';
import { BACKENDS, databaseUrl } from '../db.js';
import { admin, api, startTestService, type TestService } from '../helpers.js';
import { day, seedInterviewCity, type InterviewCity } from './city.js';

const PERIOD = 'from=2025-01-01&to=2026-01-01';
/** Stricter thresholds than the defaults, so the city spans A to D: A ≥ 95, B ≥ 80, C ≥ 65. */
const SCORING = { thresholds: { A: 95, B: 80, C: 65 } };

/**
 * The known answer with that scoring (pass-rate target 95 %, 1 point per point below, cap 25; complaints 2 points per
 * complaint per 100 elevators, cap 15): [unit, score, grade, partial, non-zero factor points].
 */
const EXPECTED: [string, number | null, string | null, boolean, Record<string, number>][] = [
  ['U_BOTH', 60, 'D', false, { pass_rate: 25, complaint_rate: 15 }], // 30 %: 65 points below, capped; 20 per 100 → 40, capped
  ['U_CEXACT', 75, 'C', false, { pass_rate: 15, complaint_rate: 10 }], // 80 %; 1 complaint on 20 elevators = 5 per 100
  ['U_COMPL', 80, 'B', false, { pass_rate: 5, complaint_rate: 15 }], // 90 %; 10 per 100 → 20, capped
  ['U_EXACT', 75, 'C', false, { pass_rate: 25 }],
  ['U_FALLBACK', 75, 'C', false, { pass_rate: 25 }], // the registry's unit for records without one
  ['U_FEW', 100, 'A', true, {}], // 4 first inspections: insufficient, graded without the pass rate, never red-listed
  ['U_GOOD', 100, 'A', false, {}],
  ['U_LOW', 75, 'C', false, { pass_rate: 25 }],
  ['U_MAINT', null, null, false, { overdue_maintenance: 15 }], // 1 elevator: not graded (its 315 overdue days still shown)
  ['U_NONE', 100, 'A', true, {}],
  ['U_REIN', 75, 'C', false, { pass_rate: 25 }], // re-inspections do not count
];

const nonZero = (g: UnitGrade) => Object.fromEntries(g.factors.filter((f) => f.points !== 0).map((f) => [f.factor, f.points]));

for (const backend of BACKENDS) {
  describe(`unit credit grades on ${backend}`, () => {
    let s: TestService;
    let city: InterviewCity;
    const cleanups: (() => unknown)[] = [];
    beforeAll(async () => {
      const file = join(mkdtempSync(join(tmpdir(), 'credit-')), 'scoring.json');
      writeFileSync(file, JSON.stringify(SCORING));
      s = await startTestService({ DATABASE_URL: await databaseUrl(backend, cleanups), CREDIT_SCORING: file });
      city = await seedInterviewCity(s, { U_GOOD: { elevators: 10, pass: 10, fail: 0, expect: [] } });
    });
    afterAll(async () => {
      await s?.cleanup();
      for (const c of cleanups.splice(0)) await c();
    });

    it('grades every unit of the city to the known answer with the configured scoring', async () => {
      const r = await api(s, 'GET', `/api/v1/credit/grades?${PERIOD}`);
      expect(r.status).toBe(200);
      expect(r.body.scoring.thresholds).toEqual(SCORING.thresholds);
      const items = r.body.items as UnitGrade[];
      expect(items.map((g) => [g.unit, g.score, g.grade, g.partial, nonZero(g)])).toEqual(EXPECTED);
      expect([r.body.red, r.body.black]).toEqual([['U_GOOD'], ['U_BOTH']]);
      expect(items.find((g) => g.unit === 'U_MAINT')!.insufficient).toEqual(['在册电梯 1 台，少于评级所需的 5 台，不评级']);
    });

    let v1: { id: number; version: number; red: string[]; black: string[] };
    it('publishes a frozen version; a later record changes nothing published, the next version does', async () => {
      const p = await api(s, 'POST', '/api/v1/credit-lists', { from: '2025-01-01', to: '2026-01-01' });
      expect(p.status).toBe(201);
      v1 = p.body;
      expect(v1).toMatchObject({ version: 1, red: ['U_GOOD'], black: ['U_BOTH'], publishedBy: 'admin-token' });
      const audit = await api(s, 'GET', '/api/v1/audit?action=credit-list.publish');
      expect(audit.body.items).toMatchObject([{ action: 'credit-list.publish', details: { from: '2025-01-01', to: '2026-01-01' } }]);

      // A later complaint on U_GOOD (10 per 100 → 20, capped 15: 85, B): graded now, not in the published version.
      await city.post('HOT', 'complaint', [{ id: 'late-c', ts: day('2025-07-01'), source: '96333', category: '困人', elevator: 'U_GOOD-E0' }]);
      await city.settle();
      const now = await api(s, 'GET', `/api/v1/credit/grades?${PERIOD}`);
      expect(now.body.items.find((g: UnitGrade) => g.unit === 'U_GOOD')).toMatchObject({ score: 85, grade: 'B' });
      expect((await api(s, 'GET', `/api/v1/credit-lists/${v1.id}`)).body).toEqual(v1);

      const v2 = await api(s, 'POST', '/api/v1/credit-lists', { from: '2025-01-01', to: '2026-01-01' });
      expect(v2.body).toMatchObject({ version: 2, red: [], black: ['U_BOTH'] });
      expect((await api(s, 'GET', `/api/v1/credit-lists/${v1.id}`)).body).toEqual(v1);
      const page = await api(s, 'GET', '/api/v1/credit-lists');
      expect(page.body.items.map((i: { version: number; red: number; black: number }) => [i.version, i.red, i.black])).toEqual([[2, 0, 1], [1, 1, 1]]);
      expect((await api(s, 'GET', '/api/v1/credit-lists/99999')).status).toBe(404);

      const h = await api(s, 'GET', '/api/v1/credit/units/U_GOOD/history');
      expect(h.body.items.map((x: { periodFrom: string; version: number; grade: string; score: number }) => [x.periodFrom, x.version, x.grade, x.score])).toEqual([['2025-01-01', 2, 'B', 85]]);
    });

    it('exports a publication as CSV (one list) and XLSX (both lists, every grade, the scoring)', async () => {
      const csv = await fetch(`${s.httpUrl}/api/v1/credit-lists/${v1.id}/export?format=csv&list=black`, { headers: admin });
      expect(csv.status).toBe(200);
      expect(csv.headers.get('content-disposition')).toContain(`credit-list-${v1.id}-black_2025-01-01_2025-12-31_v1.csv`);
      const lines = (await csv.text()).trim().split('\r\n');
      expect(lines).toHaveLength(2);
      expect(lines[1]).toMatch(/^U_BOTH,U_BOTH 电梯维保有限公司,10,60,D,25,15,/);
      const x = await fetch(`${s.httpUrl}/api/v1/credit-lists/${v1.id}/export`, { headers: admin });
      const wb = new ExcelJS.Workbook();
      await wb.xlsx.load(await x.arrayBuffer());
      expect(wb.worksheets.map((w) => w.name)).toEqual(['守信红名单', '失信黑名单', '信用等级', '评分办法']);
      expect(wb.getWorksheet('守信红名单')!.getCell(3, 1).value).toBe('U_GOOD');
      expect(wb.getWorksheet('信用等级')!.rowCount).toBe(2 + EXPECTED.length);
    });

    it('a viewer reads the grades but may not publish', async () => {
      const pw = 'viewer-password-1';
      expect((await api(s, 'POST', '/api/v1/users', { username: 'zhao', password: pw, role: 'viewer' })).status).toBe(201);
      const token = (await api(s, 'POST', '/api/v1/session', { username: 'zhao', password: pw, bearer: true }, { 'content-type': 'application/json' })).body.token as string;
      const as = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      expect((await api(s, 'GET', `/api/v1/credit-lists/${v1.id}`, undefined, as)).status).toBe(200);
      const denied = await api(s, 'POST', '/api/v1/credit-lists', {}, as);
      expect(denied.status).toBe(403);
    });
  });
}
