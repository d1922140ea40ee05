// Overdue periodic inspections in a unit's scorecard: due dates come from the
// passing inspections' nextDue; overdue from the day after until the next pass.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cstMidnight } from '../../domain/time.js';
import { api, startTestService, waitFor, type TestService } from '../helpers.js';

let s: TestService;

beforeAll(async () => {
  s = await startTestService();
  const put = async (entity: string, body: unknown) => expect((await api(s, 'POST', `/api/v1/${entity}`, body)).status).toBe(201);
  await put('units', { id: 'U', name: '测试维保' });
  for (const code of ['X1', 'X2', 'X3', 'X4']) await put('elevators', { code, address: '测试路', district: '大祥区', userUnit: '物业', maintenanceUnit: 'U' });
  const pass = (id: string, elevator: string, date: string, nextDue?: string) => ({ id, ts: cstMidnight(date) + 36_000_000, elevator, institution: '特检院', kind: 'periodic', attempt: 1, result: 'pass', ...(nextDue ? { nextDue } : {}) });
  const records = [
    pass('a', 'X1', '2024-06-01', '2025-06-01'), // never inspected again: overdue 2025-06-02 → 2026-01-01 (213 days)
    pass('b', 'X2', '2024-06-01', '2025-06-01'), pass('c', 'X2', '2025-05-20', '2026-05-20'), // in time
    pass('d', 'X3', '2024-06-01', '2025-06-01'), pass('e', 'X3', '2025-07-02', '2026-07-02'), // 30.4 days late
    pass('f', 'X4', '2025-03-01', '2026-03-01'), // falls due after the period
  ];
  const r = await api(s, 'POST', '/api/v1/ingest/se/v1/records/inspection', records);
  expect(r.status).toBe(202);
  await waitFor(async () => s.spool.depthCount, (n) => n === 0);
});
afterAll(async () => {
  await s?.cleanup();
});

describe('overdue periodic inspections', () => {
  it('counts inspections that fell due in the period and were not passed by then, with the elevator-days overdue', async () => {
    const cards = (await api(s, 'GET', '/api/v1/scorecards?from=2025-01-01&to=2026-01-01')).body.items;
    expect(cards.find((c: { unit: string }) => c.unit === 'U').overdueInspections).toEqual({ count: 2, elevatorDays: 243.4 }); // 213 + 30.4 (the late pass came at 10:00)
  });
});
