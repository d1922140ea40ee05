// Double-random spot checks: a draw is reproducible from its seed; over many
// draws higher risk is drawn more often in the configured proportion; never
// the same inspector to the same unit twice in a row, never outside the
// inspector's districts, a readable refusal when impossible; results recorded
// by their own inspector and published with only the public fields; on both
// state backends.
import { afterAll, describe, expect, it } from 'vitest';
import { BACKENDS, openTestDb } from '../db.js';
import { drawChecks, DEFAULT_LEVEL_WEIGHTS, mulberry32, SpotChecks, type Candidate, type Inspector } from '../../supervision/spot-checks.js';
import { RISK_LEVELS, type RiskLevel } from '../../supervision/risk.js';

const cleanups: (() => unknown)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

const DISTRICTS = ['北塔区', '大祥区'];
/** 40 elevators: 10 of each level, 8 units, two districts. */
const CANDIDATES: Candidate[] = Array.from({ length: 40 }, (_, i) => ({
  code: `E${String(i).padStart(2, '0')}`, unit: `U${i % 8}`, unitName: `维保${i % 8}`, district: DISTRICTS[i % 2]!, address: `测试路 ${i} 号`, level: RISK_LEVELS[i % 4]!,
}));
const POOL: Inspector[] = [
  { username: 'zhang', districts: ['北塔区'] }, { username: 'li', districts: ['北塔区', '大祥区'] }, { username: 'wang', districts: ['大祥区'] },
];

describe('the draw', () => {
  it('mulberry32 is the published generator (same outputs as the reference code of Tommy Ettinger\'s gist)', () => {
    // The reference, as published (var a grows unbounded; the bit operations take its low 32 bits).
    function reference(a: number) {
      return function () {
        let t = (a += 0x6d2b79f5);
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
      };
    }
    for (const seed of [0, 1, 42, 0xffffffff]) {
      const ours = mulberry32(seed);
      const ref = reference(seed);
      for (let i = 0; i < 1000; i++) expect(ours()).toBe(ref());
    }
  });

  it('is reproducible from its seed, and a different seed draws differently', () => {
    const args = { candidates: CANDIDATES, n: 10, weights: DEFAULT_LEVEL_WEIGHTS, inspectors: POOL, previous: new Map<string, string>() };
    const a = drawChecks({ ...args, seed: 12345 });
    expect(drawChecks({ ...args, seed: 12345, candidates: [...CANDIDATES].reverse() })).toEqual(a); // the order given does not matter
    expect(drawChecks({ ...args, seed: 54321 }).map((c) => c.code)).not.toEqual(a.map((c) => c.code));
    expect(new Set(a.map((c) => c.code)).size).toBe(10); // without replacement
  });

  it('draws higher risk more often, in the configured proportion (4:3:2:1, and 1:1:1:5, over 4000 fixed seeds each)', () => {
    const draws = 4000;
    for (const weights of [DEFAULT_LEVEL_WEIGHTS, { high: 1, elevated: 1, general: 1, low: 5 }]) {
      const counts: Record<RiskLevel, number> = { high: 0, elevated: 0, general: 0, low: 0 };
      for (let seed = 1; seed <= draws; seed++) {
        const [c] = drawChecks({ candidates: CANDIDATES, n: 1, seed, weights, inspectors: POOL, previous: new Map() });
        counts[c!.level]++;
      }
      // Ten elevators per level: each level's share is its weight over the sum (4+3+2+1: 40 %, 30 %, 20 %, 10 %).
      // Three standard deviations of a share over 4000 draws is at most 2.4 points.
      const sum = RISK_LEVELS.reduce((n, l) => n + weights[l], 0);
      for (const l of RISK_LEVELS) expect(Math.abs(counts[l] / draws - weights[l] / sum), `${l}: ${counts[l]}`).toBeLessThan(0.024);
    }
    // A weight of 0 is never drawn.
    for (let seed = 1; seed <= 200; seed++) {
      const drawn = drawChecks({ candidates: CANDIDATES, n: 5, seed, weights: { ...DEFAULT_LEVEL_WEIGHTS, low: 0 }, inspectors: POOL, previous: new Map() });
      expect(drawn.some((c) => c.level === 'low')).toBe(false);
    }
  });

  it('never assigns an inspector outside their districts, nor to the unit they checked in the previous draw', () => {
    let previous = new Map<string, string>();
    for (let seed = 1; seed <= 300; seed++) {
      const drawn = drawChecks({ candidates: CANDIDATES, n: 12, seed, weights: DEFAULT_LEVEL_WEIGHTS, inspectors: POOL, previous });
      for (const c of drawn) {
        expect(POOL.find((i) => i.username === c.inspector)!.districts).toContain(c.district);
        expect(c.inspector).not.toBe(previous.get(c.unit));
      }
      previous = new Map(drawn.map((c) => [c.unit, c.inspector]));
    }
  });

  it('refuses with a readable error when no inspector may check an elevator', () => {
    const one = CANDIDATES.filter((c) => c.district === '大祥区');
    expect(() => drawChecks({ candidates: one, n: 1, seed: 1, weights: DEFAULT_LEVEL_WEIGHTS, inspectors: [{ username: 'zhang', districts: ['北塔区'] }], previous: new Map() }))
      .toThrow(/no inspector works in 大祥区, where E\d+ is/);
    const [c] = drawChecks({ candidates: one, n: 1, seed: 1, weights: DEFAULT_LEVEL_WEIGHTS, inspectors: [{ username: 'wang', districts: ['大祥区'] }], previous: new Map() });
    expect(() => drawChecks({ candidates: one, n: 1, seed: 1, weights: DEFAULT_LEVEL_WEIGHTS, inspectors: [{ username: 'wang', districts: ['大祥区'] }], previous: new Map([[c!.unit, 'wang']]) }))
      .toThrow(`the only inspector of 大祥区, wang, checked unit ${c!.unit} in the previous draw`);
  });
});

describe.each(BACKENDS)('the spot-check store on %s', (backend) => {
  it('records a draw with who, when, seed and parameters; results by their inspector; publishes only public fields', async () => {
    const db = await openTestDb(backend, cleanups);
    const store = new SpotChecks(db);
    const params = { n: 6, from: '2026-01-01', to: '2026-07-01', seed: 777 };
    const { draw, checks } = store.draw(params, { candidates: CANDIDATES, inspectors: POOL, by: 'admin1', at: 1000 });
    expect(draw).toMatchObject({ kind: 'elevator', n: 6, seed: 777, drawnBy: 'admin1', drawnAt: 1000, periodFrom: '2026-01-01', periodTo: '2026-07-01' });
    expect(draw.params).toMatchObject({ districts: null, weights: DEFAULT_LEVEL_WEIGHTS, candidates: 40 });
    const expected = drawChecks({ candidates: CANDIDATES, n: 6, seed: 777, weights: DEFAULT_LEVEL_WEIGHTS, inspectors: POOL, previous: new Map() });
    expect(checks.map((c) => [c.code, c.inspector])).toEqual(expected.map((c) => [c.code, c.inspector]));

    // The next draw knows the previous one's assignments.
    const second = store.draw({ ...params, seed: 4_000_000_000 }, { candidates: CANDIDATES, inspectors: POOL, by: 'admin1', at: 2000 });
    expect(second.draw.seed).toBe(4_000_000_000); // a seed above 2^31 is kept whole (64-bit on PostgreSQL)
    const before = new Map(checks.map((c) => [c.unit, c.inspector]));
    for (const c of second.checks) expect(c.inspector).not.toBe(before.get(c.unit));
    expect(store.draws().items.map((d) => d.id)).toEqual([second.draw.id, draw.id]);

    const c = checks[0]!;
    const other = POOL.find((i) => i.username !== c.inspector)!.username;
    expect(() => store.record(c.id, { result: 'passed', checkedOn: '2026-02-01' }, other)).toThrow(`spot check ${c.id} is assigned to ${c.inspector}`);
    expect(() => store.record(c.id, { result: 'problems', checkedOn: '2026-02-01' }, c.inspector)).toThrow(/problems: say what problems were found/);
    expect(store.record(c.id, { result: 'problems', problems: '轿厢应急照明失效', checkedOn: '2026-02-01' }, c.inspector, false, 3000))
      .toMatchObject({ result: 'problems', problems: '轿厢应急照明失效', checkedOn: '2026-02-01', recordedBy: c.inspector, recordedAt: 3000 });
    store.record(checks[1]!.id, { result: 'passed', checkedOn: '2026-02-03' }, 'admin1', true);
    const pub = store.published();
    expect(pub).toEqual([
      { drawId: draw.id, periodFrom: '2026-01-01', periodTo: '2026-07-01', code: checks[1]!.code, address: checks[1]!.address, unitName: checks[1]!.unitName, checkedOn: '2026-02-03', result: 'passed' },
      { drawId: draw.id, periodFrom: '2026-01-01', periodTo: '2026-07-01', code: c.code, address: c.address, unitName: c.unitName, checkedOn: '2026-02-01', result: 'problems' },
    ]);
    expect(JSON.stringify(pub)).not.toMatch(/轿厢|zhang|wang|"li"|level/); // no problem text, inspectors or risk levels in public

    expect(() => store.draw({ ...params, n: 41 }, { candidates: CANDIDATES, inspectors: POOL, by: 'a' })).toThrow(/only 40 elevators to draw from; ask for at most that many/);
    expect(() => store.draw({ n: 1, from: '2026-02-01', to: '2026-01-01' }, { candidates: CANDIDATES, inspectors: POOL, by: 'a' })).toThrow(/to: from must be before to/);
    const units = store.draw({ kind: 'unit', n: 3, from: '2026-01-01', to: '2026-07-01', districts: ['北塔区'] }, { candidates: CANDIDATES, inspectors: POOL, by: 'a' });
    expect(units.checks).toHaveLength(3);
    for (const u of units.checks) expect(u.code).toMatch(/^U\d$/);
    expect(units.draw.seed).toBeGreaterThanOrEqual(0);
  });
});
