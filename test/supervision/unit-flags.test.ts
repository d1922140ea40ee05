// Unit flags agree with the scorecards and the interview list: on the
// deterministic city (test/supervision/city.ts), evaluated as of 31 December
// 2025 (twelve months = 2025), exactly the units the 2025 list names are
// flagged, for the same criteria, on the same figures. Then the flags on the
// interview-list page's API, and the interview case opened from a flag.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cstMidnight } from '../../domain/time.js';
import type { Scorecard } from '../../supervision/scorecard.js';
import { api, startTestService, type TestService } from '../helpers.js';
import { seedInterviewCity, UNITS } from './city.js';

let s: TestService;
const AS_OF = cstMidnight('2025-12-31') + 12 * 3_600_000;

beforeAll(async () => {
  s = await startTestService();
  await seedInterviewCity(s);
}, 60_000);
afterAll(async () => {
  await s?.cleanup();
});

interface Flag { id: number; subject: string; state: string; firstAt: number; evidence: { window: { from: string; to: string }; figures: Record<string, number>; findings: { criterion: string; value: number }[] }[] }
const activeFlags = async () => (await api(s, 'GET', '/api/v1/alerts?type=unit_rates&state=active&pageSize=500')).body.items as Flag[];

describe('unit flags and the interview list', () => {
  let listId: number;

  it('flag exactly the units a list for the same twelve months names, for the same criteria and figures', async () => {
    // Live, as of today: the city's records are 2025's, outside the window (and one 2026 record per unit is too few).
    expect(await activeFlags()).toEqual([]);
    const run = s.unitFlags.reevaluate(AS_OF);
    expect(run.error).toBeNull();
    const flags = await activeFlags();
    const list = (await api(s, 'POST', '/api/v1/interview-lists', { from: '2025-01-01', to: '2026-01-01' })).body;
    listId = list.id;
    const cards = (await api(s, 'GET', '/api/v1/scorecards?from=2025-01-01&to=2026-01-01')).body.items as Scorecard[];

    const flagged = Object.fromEntries(flags.map((f) => [f.subject, f.evidence.at(-1)!.findings.map((x) => x.criterion)]));
    const listed = Object.fromEntries(list.units.map((u: { unit: string; reasons: { criterion: string }[] }) => [u.unit, u.reasons.map((r) => r.criterion)]));
    expect(flagged).toEqual(listed);
    expect(Object.keys(flagged).sort()).toEqual(Object.entries(UNITS).filter(([, u]) => u.expect.length).map(([k]) => k).sort());
    for (const f of flags) {
      const ev = f.evidence.at(-1)!;
      expect(ev.window).toEqual({ from: '2025-01-01', to: '2026-01-01' });
      const card = cards.find((c) => c.unit === f.subject)!;
      expect(ev.figures).toMatchObject({ first: card.inspections.first, passed: card.inspections.passed, complaints: card.complaints.count, elevators: card.elevators });
    }
    // Every unit, listed or not, has the scorecard's figures.
    for (const c of cards) {
      expect(s.unitFlags.figures(c.unit, AS_OF)).toEqual({ first: c.inspections.first, passed: c.inspections.passed, complaints: c.complaints.count, elevators: c.elevators });
    }
  });

  it('the interview list says which listed units carry a flag and since when', async () => {
    const r = await api(s, 'GET', `/api/v1/interview-lists/${listId}/flags`);
    expect(r.status).toBe(200);
    const byUnit = Object.fromEntries(r.body.items.map((x: { unit: string }) => [x.unit, x]));
    expect(Object.keys(byUnit).sort()).toEqual(['U_BOTH', 'U_CEXACT', 'U_COMPL', 'U_FALLBACK', 'U_LOW', 'U_REIN']);
    expect(byUnit.U_LOW).toMatchObject({ state: 'open', since: AS_OF, resolvedAt: null, alertId: expect.any(Number) });
    expect((await api(s, 'GET', '/api/v1/interview-lists/99999/flags')).status).toBe(404);
  });

  it('an inspector opens the interview case of a unit from its flag; again, the same case', async () => {
    const pw = 'inspector-password-1';
    expect((await api(s, 'POST', '/api/v1/users', { username: 'li', password: pw, role: 'inspector', districts: ['双清区'] })).status).toBe(201);
    const token = (await api(s, 'POST', '/api/v1/session', { username: 'li', password: pw, bearer: true }, { 'content-type': 'application/json' })).body.token as string;
    const as = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const flag = (await activeFlags()).find((f) => f.subject === 'U_LOW')!;
    const first = await api(s, 'POST', `/api/v1/alerts/${flag.id}/interview-case`, {}, as);
    expect(first.status, JSON.stringify(first.body)).toBe(201);
    expect(first.body).toMatchObject({ created: true, listId, case: { unit: 'U_LOW', state: 'draft', periodFrom: '2025-01-01', periodTo: '2026-01-01', listId } });
    const again = await api(s, 'POST', `/api/v1/alerts/${flag.id}/interview-case`, {}, as);
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ created: false, case: { id: first.body.case.id } });
    // Only U_LOW got a case; the flag notes it.
    expect((await api(s, 'GET', '/api/v1/interview-cases?periodFrom=2025-01-01&periodTo=2026-01-01')).body.items.map((c: { unit: string }) => c.unit)).toEqual(['U_LOW']);
    expect((await api(s, 'GET', `/api/v1/alerts/${flag.id}`)).body.notes[0]).toMatchObject({ by: 'li', text: expect.stringContaining(`#${first.body.case.id}`) });
    const audit = (await api(s, 'GET', '/api/v1/audit?action=interview-case.open')).body.items;
    expect(audit[0]).toMatchObject({ actor: 'li', target: `alert:${flag.id}` });
  });

  it('a flag whose twelve months have no list naming the unit gets that list generated; not a flag: 400', async () => {
    // As of 30 December 2025 the window starts on 31 December 2024: one more failed first inspection per unit (the
    // city's "-old" records) makes U_EXACT 7/11 and U_FEW 0/5.
    s.unitFlags.reevaluate(cstMidnight('2025-12-30') + 12 * 3_600_000);
    const flag = (await activeFlags()).find((f) => f.subject === 'U_EXACT')!;
    expect(flag.evidence.at(-1)!.window).toEqual({ from: '2024-12-31', to: '2025-12-31' });
    const r = await api(s, 'POST', `/api/v1/alerts/${flag.id}/interview-case`, {});
    expect(r.status, JSON.stringify(r.body)).toBe(201);
    expect(r.body.listId).not.toBe(listId);
    const list = (await api(s, 'GET', `/api/v1/interview-lists/${r.body.listId}`)).body;
    expect(list).toMatchObject({ periodFrom: '2024-12-31', periodTo: '2025-12-31', version: 1 });
    expect(list.units.map((u: { unit: string }) => u.unit)).toEqual(expect.arrayContaining(['U_EXACT', 'U_FEW']));
    expect(r.body.case).toMatchObject({ unit: 'U_EXACT', periodFrom: '2024-12-31', state: 'draft' });

    const offline = s.alerts.raise({ type: 'offline', severity: 'minor', subjectKind: 'elevator', subject: 'M1', district: '双清区', at: Date.now() });
    const bad = await api(s, 'POST', `/api/v1/alerts/${offline.alert.id}/interview-case`, {});
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/not a unit flag/);
    expect((await api(s, 'POST', '/api/v1/alerts/99999/interview-case', {})).status).toBe(404);
  });

  it('as of today the 2025 records have aged out: the daily run resolves every flag', async () => {
    const run = s.unitFlags.reevaluate(Date.now());
    expect(run).toMatchObject({ resolved: 8, stillActive: 0, error: null }); // the six of 2025, U_EXACT and U_FEW
    expect(await activeFlags()).toEqual([]);
    const r = await api(s, 'GET', `/api/v1/interview-lists/${listId}/flags`);
    expect(r.body.items.find((x: { unit: string }) => x.unit === 'U_LOW')).toMatchObject({ state: 'resolved', since: AS_OF, resolvedAt: expect.any(Number) });
  });
});
