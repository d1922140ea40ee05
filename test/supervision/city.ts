// A deterministic city for the supervision tests, whose per-unit outcomes
// for 2025 are known in advance, sent through the real pipeline (HTTP ingest
// → spool → InfluxDB): units and elevators in the registry, an institute, a
// hotline and a maintenance unit's app as partners, and their records.
import { expect } from 'vitest';
import { cstMidnight } from '../../domain/time.js';
import { api, waitFor, type TestService } from '../helpers.js';

export const D = 86_400_000;
export const day = (date: string, hours = 10) => cstMidnight(date) + hours * 3_600_000;

export interface UnitPlan {
  elevators: number;
  pass: number;
  fail: number;
  reinspect?: number;
  complaints?: number;
  /** records do not name the unit: the registry's counts */
  noUnit?: boolean;
  /** criteria the unit fails for 2025 */
  expect: string[];
  /** registry name; default `<id> 电梯维保有限公司` */
  name?: string;
}

/** Per unit: elevators, first-inspection passes and fails, re-inspections, complaints, and whether records name the unit. */
export const UNITS = {
  U_LOW: { elevators: 10, pass: 6, fail: 4, expect: ['pass_rate'] }, // 60 % < 70 %
  U_EXACT: { elevators: 10, pass: 7, fail: 3, expect: [] }, // exactly 70 % is not below; a duplicate fail must not count
  U_FEW: { elevators: 10, pass: 0, fail: 4, expect: [] }, // 4 < minimum sample: insufficient data
  U_NONE: { elevators: 10, pass: 0, fail: 0, expect: [] }, // no inspections at all
  U_REIN: { elevators: 10, pass: 6, fail: 4, reinspect: 4, expect: ['pass_rate'] }, // re-inspections (attempt 2) all pass: still 60 %
  U_FALLBACK: { elevators: 10, pass: 2, fail: 3, noUnit: true, expect: ['pass_rate'] }, // records without unit: the registry's
  U_COMPL: { elevators: 10, pass: 9, fail: 1, complaints: 1, expect: ['complaint_rate'] }, // 10 per 100 elevators
  U_CEXACT: { elevators: 20, pass: 8, fail: 2, complaints: 1, expect: ['complaint_rate'] }, // exactly 5 per 100: at the threshold
  U_BOTH: { elevators: 10, pass: 3, fail: 7, complaints: 2, expect: ['pass_rate', 'complaint_rate'] },
} as const satisfies Record<string, UnitPlan>;

export const unitName = (id: string, u: UnitPlan) => u.name ?? `${id} 电梯维保有限公司`;

export interface InterviewCity {
  /** posts records as a partner over the HTTP ingest; every object must be accepted */
  post(who: string, channel: string, body: unknown[]): Promise<void>;
  /** waits until everything posted is stored */
  settle(): Promise<void>;
}

/**
 * Registers the units (UNITS plus `extra`) and U_MAINT, posts their 2025 records
 * (and some outside 2025, never counted) and waits until they are stored.
 * U_MAINT's one elevator M1 has two overdue maintenance episodes in 2025,
 * 16 + 299 = 315 overdue days.
 */
export async function seedInterviewCity(s: TestService, extra: Record<string, UnitPlan> = {}): Promise<InterviewCity> {
  const secrets: Record<string, string> = {};
  const units: Record<string, UnitPlan> = { ...UNITS, ...extra };
  const put = async (entity: string, body: unknown) => expect((await api(s, 'POST', `/api/v1/${entity}`, body)).status).toBe(201);
  const city: InterviewCity = {
    async post(who, channel, body) {
      const r = await fetch(`${s.httpUrl}/api/v1/ingest/se/v1/records/${channel}`, {
        method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${who}:${secrets[who]}`).toString('base64')}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      expect(r.status).toBe(202);
      const b = (await r.json()) as { rejected?: unknown[] };
      expect(b.rejected ?? []).toEqual([]);
    },
    settle: async () => void (await waitFor(async () => s.spool.depthCount, (n) => n === 0)),
  };

  for (const [unit, u] of Object.entries(units)) {
    await put('units', { id: unit, name: unitName(unit, u) });
    for (let i = 0; i < u.elevators; i++) await put('elevators', { code: `${unit}-E${i}`, address: '测试路1号', district: '大祥区', userUnit: '物业', maintenanceUnit: unit });
  }
  await put('units', { id: 'U_MAINT', name: '维保超期测试公司' });
  await put('elevators', { code: 'M1', address: '测试路2号', district: '双清区', userUnit: '物业', maintenanceUnit: 'U_MAINT' });
  await put('partners', { id: 'INST', kind: 'institute', name: '特检院' });
  await put('partners', { id: 'HOT', kind: 'hotline', name: '96333' });
  await put('partners', { id: 'PM', kind: 'maintenance_unit', name: '维保App', unit: 'U_MAINT' });
  for (const id of ['INST', 'HOT', 'PM']) secrets[id] = (await api(s, 'POST', `/api/v1/partners/${id}/secret`)).body.secret;

  const inspections: unknown[] = [];
  const complaints: unknown[] = [];
  for (const [unit, u] of Object.entries(units)) {
    const results = [...Array(u.pass).fill('pass'), ...Array(u.fail).fill('fail')] as string[];
    results.forEach((result, i) => {
      inspections.push({ id: `${unit}-i${i}`, ts: day('2025-03-01') + i * D, elevator: `${unit}-E${i}`, institution: '邵阳特检院', ...(u.noUnit ? {} : { unit }), kind: 'periodic', attempt: 1, result });
    });
    for (let i = 0; i < (u.reinspect ?? 0); i++) {
      inspections.push({ id: `${unit}-r${i}`, ts: day('2025-05-01') + i * D, elevator: `${unit}-E${u.pass + i}`, institution: '邵阳特检院', unit, kind: 'periodic', attempt: 2, result: 'pass' });
    }
    for (let i = 0; i < (u.complaints ?? 0); i++) complaints.push({ id: `${unit}-c${i}`, ts: day('2025-06-01') + i * D, source: '96333', category: '困人', elevator: `${unit}-E0` });
    // Outside the period (2024 and 2026): never counted.
    inspections.push({ id: `${unit}-old`, ts: day('2024-12-31', 23), elevator: `${unit}-E0`, institution: '邵阳特检院', unit, kind: 'periodic', attempt: 1, result: 'fail' });
    inspections.push({ id: `${unit}-new`, ts: day('2026-01-01', 1), elevator: `${unit}-E0`, institution: '邵阳特检院', unit, kind: 'periodic', attempt: 1, result: 'fail' });
  }
  // The same failing record sent again (same id): stored once, counted once.
  inspections.push({ id: 'U_EXACT-i9', ts: day('2025-03-01') + 9 * D, elevator: 'U_EXACT-E9', institution: '邵阳特检院', unit: 'U_EXACT', kind: 'periodic', attempt: 1, result: 'fail' });
  await city.post('INST', 'inspection', inspections);
  await city.post('HOT', 'complaint', complaints);
  // M1: routine maintenance on 2024-12-25, then 2025-01-01, 01-10, 02-10 (31-day gap: 16 days overdue), 02-20,
  // then nothing until 12-31 (314-day gap: 299 days overdue); a repair in between does not count.
  const m = ['2024-12-25', '2025-01-01', '2025-01-10', '2025-02-10', '2025-02-20', '2025-12-31'].map((d, i) => ({ id: `m${i}`, ts: cstMidnight(d), elevator: 'M1', unit: 'U_MAINT', kind: 'half_monthly' }));
  m.push({ id: 'rep', ts: cstMidnight('2025-06-01'), elevator: 'M1', unit: 'U_MAINT', kind: 'repair' });
  await city.post('PM', 'maintenance', m);
  await city.settle();
  return city;
}
