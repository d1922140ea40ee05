// Unit credit grades: a test city with a known answer (every unit's grade and
// the points each factor took), configurable weights and thresholds changing
// the result as the README says, and insufficient data marked, not hidden.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_SCORING, gradeUnits, loadScoring, parseScoring, redAndBlack, type UnitGrade } from '../../supervision/credit.js';
import { CITY, CITY_SOURCES, EXPECTED, PERIOD } from './credit-city.js';

const nonZero = (g: UnitGrade) => Object.fromEntries(g.factors.filter((f) => f.points !== 0).map((f) => [f.factor, f.points]));

describe('unit credit grades', () => {
  it("grades the test city to the known answer, every factor's points explained", () => {
    const grades = gradeUnits(CITY, PERIOD, CITY_SOURCES);
    expect(grades.map((g) => [g.unit, g.score, g.grade, g.partial, nonZero(g)])).toEqual(EXPECTED);
    const c = grades.find((g) => g.unit === 'U_C')!.factors.find((f) => f.factor === 'complaint_rate')!;
    expect(c).toMatchObject({ value: 10, perUnit: 2, cap: 15, points: 15, capped: true, text: '每百台电梯投诉数 10 × 2 = 15 分（封顶 15）' });
    const p = grades.find((g) => g.unit === 'U_P')!;
    expect(p.factors.find((f) => f.factor === 'pass_rate')).toMatchObject({ value: null, points: 0 });
    expect(p.insufficient).toEqual(['首次定期检验 3 台次，少于 5 台次，合格率不计分，不列入守信名单']);
    expect(grades.find((g) => g.unit === 'U_S')!.insufficient[0]).toContain('不评级');
    expect(grades.find((g) => g.unit === 'U_D')!.counts).toEqual({ hazards: CITY_SOURCES.hazardCounts('U_D', PERIOD), orders: { issued: 2, overdue: 1, cases: 1 }, interviews: 1 });
    // Red: A with the full record (U_P is A but partial); black: D.
    const { red, black } = redAndBlack(grades);
    expect([red.map((g) => g.unit), black.map((g) => g.unit)]).toEqual([['U_A'], ['U_D']]);
  });

  it('without other parts wired, their factors take nothing', () => {
    const d = gradeUnits(CITY, PERIOD).find((g) => g.unit === 'U_D')!;
    expect([d.score, d.grade, nonZero(d)]).toEqual([60, 'C', { pass_rate: 25, overdue_inspections: 15 }]);
  });

  it('weights and thresholds from a CREDIT_SCORING file change the result as documented', () => {
    const dir = mkdtempSync(join(tmpdir(), 'credit-'));
    const file = join(dir, 'scoring.json');
    writeFileSync(file, JSON.stringify({ thresholds: { A: 96 }, factors: { complaint_rate: { points: 1 }, late_arrivals: { cap: 3 } } }));
    const sc = loadScoring(file);
    expect(sc.factors.complaint_rate).toEqual({ points: 1, cap: 15 }); // the cap kept from the defaults
    expect(sc.thresholds).toEqual({ A: 96, B: 75, C: 60 });
    const grades = gradeUnits(CITY, PERIOD, CITY_SOURCES, sc);
    expect(grades.map((g) => [g.unit, g.score, g.grade])).toEqual([
      ['U_A', 95, 'B'], // 95 no longer reaches A
      ['U_B', 82, 'B'], // late arrivals capped at 3
      ['U_C', 75, 'B'], // complaints 10 × 1
      ['U_D', 43.5, 'D'], ['U_P', 100, 'A'], ['U_S', null, null],
    ]);
    expect(loadScoring(undefined)).toBe(DEFAULT_SCORING);
  });

  it('refuses a bad scoring with a message naming the field', () => {
    expect(() => parseScoring({ factors: { complaint_rate: { points: -1 } } })).toThrow(/factors\.complaint_rate\.points/);
    expect(() => parseScoring({ factors: { typo: { points: 1, cap: 2 } } })).toThrow(/typo/);
    expect(() => parseScoring({ thresholds: { A: 70, B: 75 } })).toThrow(/thresholds must fall/);
    expect(() => parseScoring([1])).toThrow(/expected a JSON object/);
    const dir = mkdtempSync(join(tmpdir(), 'credit-'));
    writeFileSync(join(dir, 'bad.json'), '{ nope');
    expect(() => loadScoring(join(dir, 'bad.json'))).toThrow(/is not JSON/);
    expect(() => loadScoring(join(dir, 'missing.json'))).toThrow(/cannot read/);
  });
});
