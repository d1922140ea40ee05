// Scheduled rules: overdue maintenance and overdue periodic inspection over
// the real pipeline (MQTT.js → spool → InfluxDB → stored-items hook), run
// over the API and on a cron schedule, idempotent, logged; and the pure
// decisions around midnight China Standard Time.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MqttClient } from 'mqtt';
import { Scheduler, type RuleRun } from '../../alerts/scheduled.js';
import { inspectionOverdue, maintenanceDueAt, maintenanceOverdue, routineEndsOverdue } from '../../alerts/rules/overdue.js';
import { addDays, cstDate, cstMidnight, DAY_MS, HOUR_MS } from '../../domain/time.js';
import { ConfigError, loadConfig } from '../../service/config.js';
import { api, connect, publish, quietLog, registerSmallCity, startTestService, waitFor, type SmallCity, type TestService } from '../helpers.js';

interface AlertBody { id: number; subject: string; state: string; firstAt: number; count: number; resolvedBy: string | null; resolution: string | null; resolvedAt: number | null; evidence: Record<string, unknown>[] }

let s: TestService;
let city: SmallCity;
let mu: MqttClient;
let inst: MqttClient;
const fileStart = Date.now();
const today = cstDate(fileStart);
const ts: Record<string, number> = {};

const elevator = (code: string, extra: Record<string, unknown> = {}) =>
  api(s, 'POST', '/api/v1/elevators', { code, address: '东风路2号', district: '北塔区', userUnit: '物业三', maintenanceUnit: 'MU1', ...extra });
/** A maintenance record `daysAgo` days before now, remembered by id. */
const maintenance = (id: string, code: string, daysAgo: number, kind = 'half_monthly') =>
  publish(mu, 'se/v1/records/maintenance', { id, ts: (ts[id] = Date.now() - daysAgo * DAY_MS), elevator: code, unit: 'MU1', kind });
const inspection = (id: string, code: string, result: 'pass' | 'fail', nextDue?: string) =>
  publish(inst, 'se/v1/records/inspection', { id, ts: (ts[id] = Date.now()), elevator: code, institution: 'INST', kind: 'periodic', attempt: 1, result, ...(nextDue ? { nextDue } : {}) });
const stored = async () => expect(await s.ingest.drained(10_000)).toBe(true);
const runNow = async (rule: string): Promise<RuleRun> => {
  const r = await api(s, 'POST', `/api/v1/rules/${rule}/run`);
  expect(r.status).toBe(200);
  return r.body;
};
const active = async (type: string): Promise<AlertBody[]> =>
  (await api(s, 'GET', `/api/v1/alerts?type=${type}&state=active`)).body.items.sort((a: AlertBody, b: AlertBody) => (a.subject < b.subject ? -1 : 1));
const alert = async (id: number): Promise<AlertBody> => (await api(s, 'GET', `/api/v1/alerts/${id}`)).body;
const transitions = () => (s.db.prepare('SELECT COUNT(*) n FROM alert_events').get() as { n: number }).n;

beforeAll(async () => {
  s = await startTestService({ SCHEDULE_CATCH_UP: 'false' });
  city = await registerSmallCity(s);
  await api(s, 'PATCH', '/api/v1/elevators/E1', { nextInspectionDue: addDays(today, 300) });
  for (const [code, extra] of [['E4', { maintenanceIntervalDays: 30 }], ['E5', {}], ['E6', { nextInspectionDue: addDays(today, -10) }], ['E7', { maintenanceIntervalDays: 10 }]] as const) {
    expect((await elevator(code, extra)).status).toBe(201);
  }
  mu = await connect(s.mqttPort, 'PMU1', city.secrets.PMU1);
  inst = await connect(s.mqttPort, 'INST', city.secrets.INST);
});
afterAll(async () => {
  await mu?.endAsync();
  await inst?.endAsync();
  await s?.cleanup();
});

describe('overdue maintenance', () => {
  it('raises once for each elevator whose last routine maintenance is older than its interval; a repair does not count', async () => {
    await maintenance('m-e1', 'E1', 20); // 15-day interval: overdue
    await maintenance('m-e2', 'E2', 3);
    await maintenance('m-e4', 'E4', 20); // 30-day interval: not overdue
    await maintenance('m-e5', 'E5', 20);
    await maintenance('r-e5', 'E5', 1, 'repair'); // a repair is no routine visit: still overdue
    await maintenance('m-e7', 'E7', 12); // 10-day interval: overdue
    await maintenance('m-e1-old', 'E1', 40); // arrives late and older: the newest counts
    await stored();
    // E3 and E6 have no maintenance on record: counted from registration (today), not overdue.
    const run = await runNow('overdue-maintenance');
    expect(run).toMatchObject({ rule: 'overdue-maintenance', trigger: 'api', checked: 7, raised: 3, resolved: 0, stillActive: 3, error: null });

    const [e1, e5, e7] = await active('maintenance_overdue');
    expect([e1, e5, e7].map((a) => a?.subject)).toEqual(['E1', 'E5', 'E7']);
    expect(e1).toMatchObject({ severity: 'minor', subjectKind: 'elevator', district: '大祥区', unit: 'MU1', state: 'open', count: 1, firstAt: maintenanceDueAt(ts['m-e1']!, 15) });
    expect(e1!.evidence[0]).toMatchObject({ rule: 'overdue-maintenance', lastRoutineAt: ts['m-e1'], intervalDays: 15, dueAt: maintenanceDueAt(ts['m-e1']!, 15), daysWithoutRoutine: 20 });
    expect(e5!.firstAt).toBe(maintenanceDueAt(ts['m-e5']!, 15));
    expect(e7).toMatchObject({ firstAt: maintenanceDueAt(ts['m-e7']!, 10), district: '北塔区' });
    expect(e7!.evidence[0]).toMatchObject({ intervalDays: 10 });
  });

  it('a second run changes nothing, and a run asked for while one is running is that run', async () => {
    const before = { alerts: await active('maintenance_overdue'), transitions: transitions() };
    const again = await runNow('overdue-maintenance');
    expect(again).toMatchObject({ raised: 0, resolved: 0, stillActive: 3, error: null });
    const [a, b] = await Promise.all([s.scheduler.run('overdue-maintenance'), s.scheduler.run('overdue-maintenance')]);
    expect(a.id).toBe(b.id);
    expect(a).toMatchObject({ raised: 0, resolved: 0 });
    expect(await active('maintenance_overdue')).toEqual(before.alerts);
    expect(transitions()).toBe(before.transitions);
  });

  it('a routine record resolves the alert at once; a repair does not', async () => {
    const [e1, e5] = await active('maintenance_overdue');
    await maintenance('r2-e5', 'E5', 0, 'repair');
    await maintenance('q-e1', 'E1', 0, 'quarterly');
    const done = await waitFor(() => alert(e1!.id), (a) => a.state === 'resolved');
    expect(done).toMatchObject({ resolvedBy: 'system', resolution: 'routine maintenance recorded', resolvedAt: ts['q-e1'] });
    await stored();
    expect((await alert(e5!.id)).state).toBe('open');
    expect(await runNow('overdue-maintenance')).toMatchObject({ raised: 0, resolved: 0, stillActive: 2 });
  });

  it('a late record showing the visit was on time resolves it too', async () => {
    const e7 = (await active('maintenance_overdue')).find((a) => a.subject === 'E7')!;
    await maintenance('m-e7-late', 'E7', 5); // older than the alert, but within 10 days of today
    const done = await waitFor(() => alert(e7.id), (a) => a.state === 'resolved');
    expect(done).toMatchObject({ resolvedBy: 'system', resolution: 'routine maintenance recorded', resolvedAt: e7.firstAt });
  });
});

describe('overdue periodic inspection', () => {
  it('raises when nextInspectionDue has passed and resolves when an inspection moves it forward', async () => {
    const due = addDays(today, -10);
    const run = await runNow('overdue-inspection');
    expect(run).toMatchObject({ rule: 'overdue-inspection', checked: 7, raised: 1, resolved: 0, stillActive: 1, error: null });
    const [e6] = await active('inspection_overdue');
    expect(e6).toMatchObject({ subject: 'E6', severity: 'minor', unit: 'MU1', firstAt: cstMidnight(addDays(due, 1)) });
    expect(e6!.evidence[0]).toMatchObject({ rule: 'overdue-inspection', nextInspectionDue: due, lastPassAt: null, daysOverdue: 10 });
    expect(await runNow('overdue-inspection')).toMatchObject({ raised: 0, resolved: 0, stillActive: 1 });

    await inspection('i-e6-fail', 'E6', 'fail');
    await stored();
    expect((await alert(e6!.id)).state).toBe('open');
    await inspection('i-e6-pass', 'E6', 'pass', addDays(today, 365));
    const done = await waitFor(() => alert(e6!.id), (a) => a.state === 'resolved');
    expect(done.resolvedBy).toBe('system');
    expect((await api(s, 'GET', '/api/v1/elevators/E6')).body.nextInspectionDue).toBe(addDays(today, 365));
    expect(await runNow('overdue-inspection')).toMatchObject({ raised: 0, resolved: 0, stillActive: 0 });
  });

  it('a registry change of nextInspectionDue to today or later resolves it at once', async () => {
    await api(s, 'PATCH', '/api/v1/elevators/E2', { nextInspectionDue: addDays(today, -1) });
    expect(await runNow('overdue-inspection')).toMatchObject({ raised: 1 });
    const [e2] = await active('inspection_overdue');
    await api(s, 'PATCH', '/api/v1/elevators/E2', { nextInspectionDue: today });
    expect(await alert(e2!.id)).toMatchObject({ state: 'resolved', resolvedBy: 'system', resolution: `next inspection due ${today}` });
  });

  it('a passing inspection without nextDue, on or after the due date, also ends it', async () => {
    await api(s, 'PATCH', '/api/v1/elevators/E3', { nextInspectionDue: addDays(today, -3) });
    expect(await runNow('overdue-inspection')).toMatchObject({ raised: 1 });
    const [e3] = await active('inspection_overdue');
    await publish(inst, 'se/v1/records/inspection', { id: 'i-e3', ts: Date.now(), elevator: 'E3', institution: 'INST', kind: 'periodic', attempt: 1, result: 'pass' });
    expect(await waitFor(() => alert(e3!.id), (a) => a.state === 'resolved')).toMatchObject({ resolution: 'periodic inspection passed' });
    expect(await runNow('overdue-inspection')).toMatchObject({ raised: 0, resolved: 0, stillActive: 0 });
  });
});

describe('run log and API', () => {
  it('lists runs newest first, per rule and paginated', async () => {
    const all = (await api(s, 'GET', '/api/v1/rules/runs')).body;
    expect(all.total).toBeGreaterThanOrEqual(8);
    const ids = all.items.map((r: RuleRun) => r.id);
    expect(ids).toEqual([...ids].sort((a, b) => b - a));
    const maint = (await api(s, 'GET', '/api/v1/rules/runs?rule=overdue-maintenance&pageSize=2&page=1')).body;
    expect(maint.items).toHaveLength(2);
    expect(maint.items.every((r: RuleRun) => r.rule === 'overdue-maintenance' && r.trigger === 'api')).toBe(true);
    expect(maint.items[0]).toMatchObject({ checked: 7, raised: 0, error: null });
    expect(maint.items[0].durationMs).toBeGreaterThanOrEqual(0);
    expect((await api(s, 'GET', '/api/v1/rules/runs?rule=nope')).status).toBe(400);
  });

  it('lists the rules with their schedule, next and last run', async () => {
    const { items } = (await api(s, 'GET', '/api/v1/rules')).body;
    expect(items.map((r: { rule: string }) => r.rule)).toEqual(['overdue-maintenance', 'overdue-inspection', 'unit-rates']);
    expect(items[2]).toMatchObject({ alertType: 'unit_rates', schedule: '20 0 * * *', timezone: 'Asia/Shanghai' });
    expect(items[0]).toMatchObject({ alertType: 'maintenance_overdue', schedule: '0 2 * * *', timezone: 'Asia/Shanghai', running: false });
    expect(items[1]).toMatchObject({ alertType: 'inspection_overdue', schedule: '10 2 * * *' });
    // next run: 02:00 China Standard Time, within a day
    expect((items[0].nextRunAt + 8 * HOUR_MS) % DAY_MS).toBe(2 * HOUR_MS);
    expect(items[0].nextRunAt - Date.now()).toBeLessThanOrEqual(DAY_MS);
    expect(items[1].lastRun).toEqual((await api(s, 'GET', '/api/v1/rules/runs?rule=overdue-inspection')).body.items[0]);
  });

  it('answers an unknown rule with 404 and the rules there are; needs the admin token', async () => {
    const r = await api(s, 'POST', '/api/v1/rules/overdue-everything/run');
    expect(r.status).toBe(404);
    expect(r.body.error).toMatch(/overdue-everything.*overdue-maintenance, overdue-inspection/);
    expect((await api(s, 'POST', '/api/v1/rules/overdue-maintenance/run', undefined, {})).status).toBe(401);
    expect((await api(s, 'GET', '/api/v1/rules', undefined, {})).status).toBe(401);
  });
});

describe('scheduling', () => {
  const later = (days: number, extra: Partial<ConstructorParameters<typeof Scheduler>[0]> = {}) =>
    new Scheduler({ db: s.db, registry: s.registry, alerts: s.alerts, ingest: s.ingest, log: quietLog, catchUp: false, clock: () => Date.now() + days * DAY_MS, ...extra });
  const startupRuns = () => (s.db.prepare(`SELECT COUNT(*) n FROM rule_runs WHERE trigger = 'startup'`).get() as { n: number }).n;

  it('runs on its cron schedule until stopped', async () => {
    const sched = later(0, { schedules: { 'overdue-inspection': '* * * * * *' } });
    await sched.start();
    try {
      await waitFor(async () => sched.runs({ rule: 'overdue-inspection' }).items[0], (r) => r?.trigger === 'schedule', 5000);
    } finally {
      sched.stop();
    }
    const n = sched.runs().total;
    await new Promise((r) => setTimeout(r, 1500));
    expect(sched.runs().total).toBe(n);
  });

  it('catches up on start when the last successful run is older than 24 h, once', async () => {
    const before = startupRuns();
    const first = later(2, { catchUp: true });
    await first.start();
    first.stop();
    expect(startupRuns()).toBe(before + 3); // each rule once: overdue-maintenance, overdue-inspection, unit-rates
    const second = later(2, { catchUp: true });
    await second.start();
    second.stop();
    expect(startupRuns()).toBe(before + 3);
  });

  it('an elevator with no routine maintenance ever counts from when the service first knew of it', async () => {
    const firstKnown = (s.db.prepare(`SELECT first_known_at at FROM elevator_facts WHERE elevator = 'E6'`).get() as { at: number }).at;
    expect(firstKnown).toBeGreaterThanOrEqual(fileStart); // registered by this test file: known since then
    const sched = later(20);
    const run = await sched.run('overdue-maintenance', 'api');
    expect(run.error).toBeNull();
    const e6 = (await active('maintenance_overdue')).find((a) => a.subject === 'E6')!;
    expect(e6.firstAt).toBe(maintenanceDueAt(firstKnown, 15));
    expect(e6.evidence[0]).toMatchObject({ lastRoutineAt: null, noRoutineSince: firstKnown });
    expect(await sched.run('overdue-maintenance', 'api')).toMatchObject({ raised: 0, resolved: 0 });
  });
});

describe('overdue decisions (pure)', () => {
  const at = (iso: string) => Date.parse(iso);
  const facts = (lastRoutineAt: number | null, firstKnownAt = at('2025-12-01T09:00:00+08:00')) => ({ firstKnownAt, lastRoutineAt, lastPassAt: null });

  it('maintenance turns overdue at 00:00 CST once more than the interval has passed', () => {
    const last = at('2026-01-01T23:59:59+08:00');
    expect(maintenanceDueAt(last, 15)).toBe(at('2026-01-17T00:00:00+08:00'));
    expect(maintenanceOverdue({ maintenanceIntervalDays: 15 }, facts(last), at('2026-01-16T23:59:59.999+08:00')).overdue).toBe(false);
    expect(maintenanceOverdue({ maintenanceIntervalDays: 15 }, facts(last), at('2026-01-17T00:00:00+08:00'))).toMatchObject({ overdue: true, dueAt: at('2026-01-17T00:00:00+08:00') });
    expect(maintenanceOverdue({}, facts(last), at('2026-01-17T00:00:00+08:00')).overdue).toBe(true); // default 15 days
    expect(maintenanceOverdue({ maintenanceIntervalDays: 30 }, facts(last), at('2026-01-17T00:00:00+08:00')).overdue).toBe(false);
  });

  it('counts China Standard Time days, not UTC days', () => {
    const justAfterMidnightCst = at('2026-01-02T00:00:00+08:00'); // still 1 January in UTC
    expect(maintenanceDueAt(justAfterMidnightCst, 15)).toBe(at('2026-01-18T00:00:00+08:00'));
    expect(maintenanceDueAt(justAfterMidnightCst - 1, 15)).toBe(at('2026-01-17T00:00:00+08:00'));
  });

  it('with no routine visit on record, counts from when the elevator was first known', () => {
    const d = maintenanceOverdue({ maintenanceIntervalDays: 15 }, facts(null, at('2026-03-10T15:00:00+08:00')), at('2026-03-26T00:00:00+08:00'));
    expect(d).toMatchObject({ overdue: true, dueAt: at('2026-03-26T00:00:00+08:00') });
    expect(d.evidence()).toMatchObject({ lastRoutineAt: null, noRoutineSince: at('2026-03-10T15:00:00+08:00'), daysWithoutRoutine: 16 });
  });

  it('a routine visit ends an overdue period when it is after it began, or shows it never began', () => {
    const firstAt = maintenanceDueAt(at('2026-01-01T10:00:00+08:00'), 15); // 17 January
    expect(routineEndsOverdue(firstAt, at('2026-01-20T10:00:00+08:00'))).toBe(true);
    expect(routineEndsOverdue(firstAt, at('2026-01-16T23:00:00+08:00'))).toBe(true); // a late record: it was on time
    expect(routineEndsOverdue(firstAt, at('2026-01-01T12:00:00+08:00'))).toBe(false);
  });

  it('inspection turns overdue at 00:00 CST after the due date unless a periodic inspection passed on or after it', () => {
    const e = { nextInspectionDue: '2026-03-01' };
    expect(inspectionOverdue(e, { lastPassAt: null }, at('2026-03-01T23:59:59.999+08:00')).overdue).toBe(false);
    expect(inspectionOverdue(e, { lastPassAt: null }, at('2026-03-02T00:00:00+08:00'))).toMatchObject({ overdue: true, dueAt: at('2026-03-02T00:00:00+08:00') });
    expect(inspectionOverdue(e, { lastPassAt: at('2026-03-01T10:00:00+08:00') }, at('2026-03-05T00:00:00+08:00')).overdue).toBe(false);
    expect(inspectionOverdue(e, { lastPassAt: at('2026-02-28T23:59:00+08:00') }, at('2026-03-05T00:00:00+08:00')).overdue).toBe(true);
    expect(inspectionOverdue({ nextInspectionDue: null }, { lastPassAt: null }, at('2030-01-01T00:00:00+08:00'))).toMatchObject({ overdue: false, dueAt: null });
  });

  it('a bad cron expression stops the start with a message naming the variable and the field', () => {
    const bad = () => loadConfig({ SCHEDULE_OVERDUE_MAINTENANCE: '61 2 * * *', SCHEDULE_OVERDUE_INSPECTION: 'daily' });
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(/SCHEDULE_OVERDUE_MAINTENANCE="61 2 \* \* \*": .*minute/);
    expect(bad).toThrow(/SCHEDULE_OVERDUE_INSPECTION="daily": .*5 or 6 fields/);
  });
});
