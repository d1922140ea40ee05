// The gas rule as a pure function: thresholds, hysteresis and hold time.
import { describe, expect, it } from 'vitest';
import { gasStep, type GasState } from '../../alerts/rules/gas.js';

function run(readings: [number, number][]) {
  let state: GasState | undefined;
  const actions: string[] = [];
  for (const [ts, lel] of readings) {
    const r = gasStep(state, lel, ts);
    state = r.state;
    if (r.action.kind !== 'none') actions.push(r.action.kind === 'raise' ? `raise${r.action.level}@${ts}` : `resolve@${ts}`);
  }
  return actions;
}

describe('gas hysteresis', () => {
  it('a reading hovering at 25 %LEL raises once and does not flap', () => {
    const hover = Array.from({ length: 40 }, (_, i) => [i * 10_000, i % 2 ? 24.6 : 25.2] as [number, number]);
    expect(run(hover)).toEqual(['raise1@0']);
  });

  it('raises the second level at 50 %LEL and clears only after the hold time below the margin', () => {
    expect(run([[0, 10], [1000, 30], [2000, 55], [3000, 40], [4000, 19], [30_000, 18], [50_000, 22], [60_000, 10], [119_999, 10], [120_000, 10]])).toEqual([
      'raise1@1000', 'raise2@2000', 'resolve@120000',
    ]);
  });

  it('exactly at the threshold counts; a late reading does not change the state', () => {
    expect(run([[0, 25]])).toEqual(['raise1@0']);
    expect(run([[5000, 10], [1000, 80]])).toEqual([]);
  });
});
