// The interview list a simulated city's generated records call for, counted
// independently of the service from the records themselves: first periodic
// inspections and complaints per unit in the period, against the default
// criteria (pass rate below 70 % with at least 5 inspections, or 5 or more
// complaints per 100 elevators).
import { cstMidnight } from '../../domain/time.js';
import { backfillRecords } from '../../simulators/backfill.js';
import type { City } from '../../simulators/city.js';

export interface Expectation {
  first: Map<string, { n: number; pass: number }>;
  complaints: Map<string, number>;
  /** unit → the criteria it fails, for the listed units only */
  listed: Map<string, string[]>;
}

export function expectedList(city: City, seed: number, period: { from: string; to: string }, backfill: { from: number; to: number }): Expectation {
  const from = cstMidnight(period.from);
  const to = cstMidnight(period.to);
  const unitOf = new Map(city.elevators.map((e) => [e.code, e.maintenanceUnit]));
  const elevators = new Map<string, number>();
  for (const e of city.elevators) elevators.set(e.maintenanceUnit, (elevators.get(e.maintenanceUnit) ?? 0) + 1);
  const first = new Map<string, { n: number; pass: number }>();
  const complaints = new Map<string, number>();
  for (const { topic, payload } of backfillRecords(city, { seed, ...backfill })) {
    const r = payload as { ts: number; unit?: string; elevator?: string; kind?: string; attempt?: number; result?: string };
    if (r.ts < from || r.ts >= to) continue;
    const unit = r.unit ?? unitOf.get(r.elevator!)!;
    if (topic.endsWith('/inspection') && r.kind === 'periodic' && r.attempt === 1) {
      const f = first.get(unit) ?? { n: 0, pass: 0 };
      f.n++;
      if (r.result === 'pass') f.pass++;
      first.set(unit, f);
    } else if (topic.endsWith('/complaint')) complaints.set(unit, (complaints.get(unit) ?? 0) + 1);
  }
  const listed = new Map<string, string[]>();
  for (const u of city.units) {
    const f = first.get(u.id) ?? { n: 0, pass: 0 };
    const reasons: string[] = [];
    if (f.n >= 5 && f.pass / f.n < 0.7) reasons.push('pass_rate');
    if (((complaints.get(u.id) ?? 0) / elevators.get(u.id)!) * 100 >= 5) reasons.push('complaint_rate');
    if (reasons.length) listed.set(u.id, reasons);
  }
  return { first, complaints, listed };
}
