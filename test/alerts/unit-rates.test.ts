// The unit-rates rule as a pure function: figures and the active flag in, an action out.
import { describe, expect, it } from 'vitest';
import { findingZh, rollingWindow, unitFindings, unitRateStep, type UnitRateCriteria } from '../../alerts/rules/unit-rates.js';
import { cstMidnight } from '../../domain/time.js';

const C: UnitRateCriteria = { passRateBelow: 0.7, minInspections: 5, complaintRateAtLeast: 5, policy: 'any' };
const fig = (first: number, passed: number, complaints = 0, elevators = 100) => ({ first, passed, complaints, elevators });

describe('unit rates (pure)', () => {
  it('flags a pass rate strictly below the threshold, with the minimum sample', () => {
    expect(unitRateStep(null, fig(10, 6), C)).toEqual({ kind: 'raise', repeat: false, findings: [{ criterion: 'pass_rate', value: 0.6, threshold: 0.7 }] });
    expect(unitRateStep(null, fig(10, 7), C)).toEqual({ kind: 'none' }); // exactly 70 % is not below
    expect(unitRateStep(null, fig(4, 0), C)).toEqual({ kind: 'none' }); // 4 < 5: insufficient sample
    expect(unitRateStep(null, fig(0, 0), C)).toEqual({ kind: 'none' });
    // 2/3 is 66.7 %: below, though 0.7 × 3 is not an integer
    expect(unitRateStep(null, fig(3, 2), { ...C, minInspections: 3 })).toMatchObject({ kind: 'raise' });
  });

  it('flags a complaint rate at or above its threshold, on the exact rate', () => {
    expect(unitFindings(fig(0, 0, 1, 20), C)).toEqual({ flagged: true, findings: [{ criterion: 'complaint_rate', value: 5, threshold: 5 }] });
    // 50 over 1,001 elevators is 4.995 per 100: rounds to 5.00 but is below 5
    expect(unitFindings(fig(0, 0, 50, 1001), C)).toEqual({ flagged: false, findings: [] });
    expect(unitFindings(fig(0, 0, 3, 0), C).flagged).toBe(false); // no elevators: no rate
  });

  it('follows the policy: any criterion, or all of them', () => {
    const all = { ...C, policy: 'all' as const };
    expect(unitFindings(fig(10, 6), all)).toMatchObject({ flagged: false });
    expect(unitFindings(fig(10, 6, 5, 100), all)).toMatchObject({ flagged: true });
    expect(unitFindings(fig(10, 6, 5, 100), all).findings.map((f) => f.criterion)).toEqual(['pass_rate', 'complaint_rate']);
  });

  it('raises once, repeats only when the failed criteria change, resolves when the rates recover', () => {
    expect(unitRateStep(['pass_rate'], fig(11, 6), C)).toEqual({ kind: 'none' }); // another failure: still the same flag
    expect(unitRateStep(['pass_rate'], fig(11, 6, 5, 100), C)).toMatchObject({ kind: 'raise', repeat: true });
    const r = unitRateStep(['pass_rate'], fig(10, 7), C);
    expect(r.kind).toBe('resolve');
    expect(r.kind === 'resolve' && r.reason).toBe('rates recovered: pass rate 70.0 % (7/10), 0.00 complaints per 100 elevators');
    expect(unitRateStep(['pass_rate'], fig(4, 0), C)).toMatchObject({ kind: 'resolve', reason: expect.stringContaining('insufficient sample (4 < 5)') });
    expect(unitRateStep(null, fig(10, 9), C)).toEqual({ kind: 'none' });
  });

  it('the rolling window is the twelve months through today, China Standard Time', () => {
    const w = rollingWindow(cstMidnight('2025-12-31') + 23 * 3_600_000);
    expect(w).toEqual({ fromDate: '2025-01-01', toDate: '2026-01-01', from: cstMidnight('2025-01-01'), to: cstMidnight('2026-01-01') });
    expect(rollingWindow(cstMidnight('2028-02-28') + 1000)).toMatchObject({ fromDate: '2027-03-01', toDate: '2028-02-29' });
    expect(rollingWindow(cstMidnight('2028-02-29') + 1000)).toMatchObject({ fromDate: '2027-03-01', toDate: '2028-03-01' });
  });

  it('words a finding with as many decimals as it takes not to read as its threshold (the notification)', () => {
    // 699/999 is 69.97 %: one decimal would read "70.0% 低于 70.0%", as the interview list's reasons never do
    const big = fig(999, 699);
    const [f] = unitFindings(big, C).findings;
    expect(findingZh(f!, big)).toBe('定期检验一次合格率 69.97%（699/999）低于 70.0%');
    expect(findingZh(unitFindings(fig(10, 6), C).findings[0]!, fig(10, 6))).toBe('定期检验一次合格率 60.0%（6/10）低于 70.0%');
  });
});
