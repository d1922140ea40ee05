// Scorecards and the interview list on a deterministic city whose per-unit
// outcomes are known in advance, through the real pipeline (HTTP ingest →
// spool → InfluxDB) and the real API.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cstMidnight } from '../../domain/time.js';
import { failedCriteria, DEFAULT_CRITERIA } from '../../supervision/interview.js';
import type { Scorecard } from '../../supervision/scorecard.js';
import { api, startTestService, waitFor, type TestService } from '../helpers.js';

let s: TestService;
const secrets: Record<string, string> = {};
const D = 86_400_000;
const day = (date: string, hours = 10) => cstMidnight(date) + hours * 3_600_000;

/** Per unit: elevators, first-inspection passes and fails, re-inspections, complaints, and whether records name the unit. */
const UNITS = {
  U_LOW: { elevators: 10, pass: 6, fail: 4, expect: ['pass_rate'] }, // 60 % < 70 %
  U_EXACT: { elevators: 10, pass: 7, fail: 3, expect: [] }, // exactly 70 % is not below; a duplicate fail must not count
  U_FEW: { elevators: 10, pass: 0, fail: 4, expect: [] }, // 4 < minimum sample: insufficient data
  U_NONE: { elevators: 10, pass: 0, fail: 0, expect: [] }, // no inspections at all
  U_REIN: { elevators: 10, pass: 6, fail: 4, reinspect: 4, expect: ['pass_rate'] }, // re-inspections (attempt 2) all pass: still 60 %
  U_FALLBACK: { elevators: 10, pass: 2, fail: 3, noUnit: true, expect: ['pass_rate'] }, // records without unit: the registry's
  U_COMPL: { elevators: 10, pass: 9, fail: 1, complaints: 1, expect: ['complaint_rate'] }, // 10 per 100 elevators
  U_CEXACT: { elevators: 20, pass: 8, fail: 2, complaints: 1, expect: ['complaint_rate'] }, // exactly 5 per 100: at the threshold
  U_BOTH: { elevators: 10, pass: 3, fail: 7, complaints: 2, expect: ['pass_rate', 'complaint_rate'] },
} as const satisfies Record<string, { elevators: number; pass: number; fail: number; reinspect?: number; complaints?: number; noUnit?: boolean; expect: string[] }>;

const post = async (who: string, channel: string, body: unknown[]) => {
  const r = await fetch(`${s.httpUrl}/api/v1/ingest/se/v1/records/${channel}`, {
    method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${who}:${secrets[who]}`).toString('base64')}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  expect(r.status).toBe(202);
  const b = (await r.json()) as { rejected?: unknown[] };
  expect(b.rejected ?? []).toEqual([]);
};

beforeAll(async () => {
  s = await startTestService();
  const put = async (entity: string, body: unknown) => expect((await api(s, 'POST', `/api/v1/${entity}`, body)).status).toBe(201);
  for (const [unit, u] of Object.entries(UNITS)) {
    await put('units', { id: unit, name: `${unit} 电梯维保有限公司` });
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
  for (const [unit, u] of Object.entries(UNITS) as [string, (typeof UNITS)[keyof typeof UNITS] & { reinspect?: number; complaints?: number; noUnit?: boolean }][]) {
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
  await post('INST', 'inspection', inspections);
  await post('HOT', 'complaint', complaints);
  // M1: routine maintenance on 2024-12-25, then 2025-01-01, 01-10, 02-10 (31-day gap: 16 days overdue), 02-20,
  // then nothing until 12-31 (314-day gap: 299 days overdue); a repair in between does not count.
  const m = ['2024-12-25', '2025-01-01', '2025-01-10', '2025-02-10', '2025-02-20', '2025-12-31'].map((d, i) => ({ id: `m${i}`, ts: cstMidnight(d), elevator: 'M1', unit: 'U_MAINT', kind: 'half_monthly' }));
  m.push({ id: 'rep', ts: cstMidnight('2025-06-01'), elevator: 'M1', unit: 'U_MAINT', kind: 'repair' });
  await post('PM', 'maintenance', m);
  await waitFor(async () => s.spool.depthCount, (n) => n === 0);
});
afterAll(async () => {
  await s?.cleanup();
});

const card = (cards: Scorecard[], unit: string) => cards.find((c) => c.unit === unit)!;

describe('scorecards', () => {
  it('counts first periodic inspections, pass rates, complaints and overdue maintenance in the period', async () => {
    const r = await api(s, 'GET', '/api/v1/scorecards?from=2025-01-01&to=2026-01-01');
    expect(r.status).toBe(200);
    const cards = r.body.items as Scorecard[];
    expect(card(cards, 'U_LOW').inspections).toEqual({ first: 10, passed: 6, passRate: 0.6, insufficient: false, reinspections: 0 });
    expect(card(cards, 'U_EXACT').inspections).toMatchObject({ first: 10, passed: 7, passRate: 0.7 });
    expect(card(cards, 'U_FEW').inspections).toMatchObject({ first: 4, passRate: null, insufficient: true });
    expect(card(cards, 'U_NONE').inspections).toMatchObject({ first: 0, passRate: null, insufficient: true });
    expect(card(cards, 'U_REIN').inspections).toMatchObject({ first: 10, passed: 6, passRate: 0.6, reinspections: 4 });
    expect(card(cards, 'U_FALLBACK').inspections).toMatchObject({ first: 5, passed: 2, passRate: 0.4 });
    expect(card(cards, 'U_CEXACT').complaints).toEqual({ count: 1, rate: 5 });
    expect(card(cards, 'U_COMPL')).toMatchObject({ elevators: 10, complaints: { count: 1, rate: 10 } });
    expect(card(cards, 'U_MAINT').maintenance).toEqual({ records: 6, routine: 5, overdueEpisodes: 2, overdueElevatorDays: 315, elevatorsWithoutRecords: 0 });
    expect(card(cards, 'U_LOW').maintenance.elevatorsWithoutRecords).toBe(10);
  });

  it('is identical when computed again', async () => {
    const a = await api(s, 'GET', '/api/v1/scorecards?from=2025-01-01&to=2026-01-01');
    const b = await api(s, 'GET', '/api/v1/scorecards?from=2025-01-01&to=2026-01-01');
    expect(b.body).toEqual(a.body);
  });
});

describe('interview list', () => {
  it('lists exactly the expected units with the expected reasons, ranked', async () => {
    const r = await api(s, 'POST', '/api/v1/interview-lists', { from: '2025-01-01', to: '2026-01-01' });
    expect(r.status).toBe(201);
    const listed = Object.fromEntries(r.body.units.map((u: { unit: string; reasons: { criterion: string }[] }) => [u.unit, u.reasons.map((x) => x.criterion)]));
    const expected = Object.fromEntries(Object.entries(UNITS).filter(([, u]) => u.expect.length).map(([k, u]) => [k, [...u.expect]]));
    expect(listed).toEqual(expected);
    expect(r.body.units[0].unit).toBe('U_BOTH'); // two failed criteria rank first
    expect(r.body.units.map((u: { rank: number }) => u.rank)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(r.body.units.find((u: { unit: string }) => u.unit === 'U_LOW').reasons[0].text).toContain('定期检验一次合格率 60.0%（6/10）低于 70.0%');
    expect(r.body).toMatchObject({ periodFrom: '2025-01-01', periodTo: '2026-01-01', version: 1, trigger: 'api' });
  });

  it('drills down to the records behind a unit', async () => {
    const list = (await api(s, 'GET', '/api/v1/interview-lists')).body.items[0];
    const ev = await api(s, 'GET', `/api/v1/interview-lists/${list.id}/units/U_FALLBACK/evidence`);
    expect(ev.status).toBe(200);
    expect(ev.body.failedInspections.map((i: { elevator: string }) => i.elevator).sort()).toEqual(['U_FALLBACK-E2', 'U_FALLBACK-E3', 'U_FALLBACK-E4']);
    expect(ev.body.failedInspections.every((i: { unit_source: string }) => i.unit_source === 'registry')).toBe(true);
    expect((await api(s, 'GET', `/api/v1/interview-lists/${list.id}/units/U_EXACT/evidence`)).status).toBe(404);
  });

  it('is a frozen snapshot: late records change only a new version', async () => {
    const first = (await api(s, 'GET', '/api/v1/interview-lists')).body.items[0];
    const before = (await api(s, 'GET', `/api/v1/interview-lists/${first.id}`)).body;
    // Three late failing first inspections for U_EXACT (7/13 = 54 %) arrive after the list was generated.
    await post('INST', 'inspection', [0, 1, 2].map((i) => ({ id: `late-${i}`, ts: day('2025-11-01') + i * D, elevator: `U_EXACT-E${i}`, institution: '邵阳特检院', unit: 'U_EXACT', kind: 'periodic', attempt: 1, result: 'fail' })));
    await waitFor(async () => s.spool.depthCount, (n) => n === 0);
    expect((await api(s, 'GET', `/api/v1/interview-lists/${first.id}`)).body).toEqual(before);
    const v2 = (await api(s, 'POST', '/api/v1/interview-lists', { from: '2025-01-01', to: '2026-01-01' })).body;
    expect(v2.version).toBe(2);
    expect(v2.units.map((u: { unit: string }) => u.unit)).toContain('U_EXACT');
  });

  it('defaults to the previous calendar year and refuses a bad period with a reason', async () => {
    const r = await api(s, 'GET', '/api/v1/scorecards');
    expect(r.body.period.to.slice(5)).toBe('01-01');
    const bad = await api(s, 'GET', '/api/v1/scorecards?from=2026-01-01&to=2025-01-01');
    expect(bad.status).toBe(400);
  });
});

describe('criteria (pure)', () => {
  const base: Scorecard = {
    unit: 'X', name: null, elevators: 100, inspections: { first: 5, passed: 3, passRate: 0.6, insufficient: false, reinspections: 0 }, complaints: { count: 4, rate: 4 },
    maintenance: { records: 0, routine: 0, overdueEpisodes: 0, overdueElevatorDays: 0, elevatorsWithoutRecords: 0 },
    overdueInspections: { count: 0, elevatorDays: 0 },
    entrapments: { count: 0, per100: 0, meanArrivalMin: null, meanRescueMin: null, arrivalsOverLimit: 0 }, dangerousFaults: 0,
  };
  it('applies the any/all policy', () => {
    expect(failedCriteria(base, DEFAULT_CRITERIA).listed).toBe(true);
    expect(failedCriteria(base, { ...DEFAULT_CRITERIA, policy: 'all' }).listed).toBe(false);
    expect(failedCriteria({ ...base, complaints: { count: 5, rate: 5 } }, { ...DEFAULT_CRITERIA, policy: 'all' }).listed).toBe(true);
    expect(failedCriteria({ ...base, inspections: { ...base.inspections, first: 4, passed: 0 } }, DEFAULT_CRITERIA).listed).toBe(false);
  });
});
