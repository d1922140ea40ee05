// The scheduled rules' own state on SQLite and on PostgreSQL: the facts per
// elevator (first known, newest routine maintenance, whatever order records
// arrive in) and the run log, kept across a restart so that a run after it
// decides the same and raises nothing twice. Records reach the scheduler as
// the accept stage hands them over: real decoded items, inside a transaction
// on the same database. The whole pipeline (MQTT → spool → InfluxDB) is in
// scheduled.test.ts, on SQLite.
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Scheduler } from '../../alerts/scheduled.js';
import { AlertStore } from '../../alerts/store.js';
import { Listeners } from '../../domain/listeners.js';
import { cstMidnight, DAY_MS, HOUR_MS } from '../../domain/time.js';
import { decode } from '../../ingest/decode.js';
import type { Ingest, IngestedItem } from '../../ingest/pipeline.js';
import { Registry } from '../../registry/registry.js';
import { reopenDb, wrapSqlite, type Db } from '../../storage/db.js';
import { BACKENDS, openTestDb } from '../db.js';
import { quietLog } from '../helpers.js';

const T0 = cstMidnight('2026-11-01') + 10 * HOUR_MS;

/** The registry supplies the elevators; its tables are its own owner's business, so it lives apart. */
function city(): Registry {
  const registry = new Registry(wrapSqlite(new Database(':memory:')));
  registry.units.put({ id: 'MU1', name: '一号电梯维保公司' });
  for (const code of ['E1', 'E2']) registry.elevators.put({ code, address: '东风路2号', district: '北塔区', userUnit: '物业三', maintenanceUnit: 'MU1' });
  return registry;
}

/** A scheduler on `db` and what the accept stage would hand it: decoded maintenance records, in a transaction on `db`. */
function scheduler(db: Db, registry: Registry, clock: () => number) {
  const accepted = new Listeners<[IngestedItem[]]>('accepted-items', quietLog);
  // The two parts of the ingest the scheduler follows; the rest of it is not started here.
  const ingest = { onAccepted: (fn: (items: IngestedItem[]) => void) => accepted.on(fn), drained: async () => true } as Pick<Ingest, 'onAccepted' | 'drained'> as Ingest;
  const alerts = new AlertStore(db);
  const s = new Scheduler({ db, registry, alerts, ingest, log: quietLog, catchUp: false, clock });
  const maintenance = (records: { id: string; elevator: string; ts: number; kind: string }[]) => {
    const items = records.flatMap((r) => decode('se/v1/records/maintenance', Buffer.from(JSON.stringify({ ...r, unit: 'MU1' })), r.ts + 60_000, registry).items);
    expect(items).toHaveLength(records.length);
    db.transaction(() => accepted.emit(items.map((it) => ({ ...it, sender: 'PMU1', receivedAt: clock() }))))();
  };
  return { s, alerts, maintenance };
}

for (const backend of BACKENDS) {
  describe(`scheduled rules' state on ${backend}`, () => {
    const cleanups: (() => unknown)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });

    it('keeps the newest routine maintenance and the run log across a restart; a run after it raises nothing twice', async () => {
      const db = await openTestDb(backend, cleanups);
      const registry = city();
      let now = T0;
      const a = scheduler(db, registry, () => now);
      await a.s.start();
      cleanups.unshift(() => a.s.stop());
      a.maintenance([
        { id: 'm1', elevator: 'E1', ts: T0 + DAY_MS, kind: 'half_monthly' },
        { id: 'm2', elevator: 'E1', ts: T0 - 3 * DAY_MS, kind: 'quarterly' }, // older, arriving later: not the newest
        { id: 'm3', elevator: 'E1', ts: T0 + 2 * DAY_MS, kind: 'repair' }, // a repair is not routine maintenance
      ]);
      now = T0 + 20 * DAY_MS;
      const first = await a.s.run('overdue-maintenance', 'api');
      expect(first).toMatchObject({ rule: 'overdue-maintenance', trigger: 'api', startedAt: now, checked: 2, raised: 2, resolved: 0, stillActive: 2, error: null });
      const evidence = (code: string) => a.alerts.active('maintenance_overdue', 'elevator', code)?.evidence[0];
      expect(evidence('E1')).toMatchObject({ lastRoutineAt: T0 + DAY_MS, intervalDays: 15 });
      expect(evidence('E2')).toMatchObject({ lastRoutineAt: null, noRoutineSince: T0 });
      a.s.stop();

      // A restart, an hour later: the facts and the log come back from the database.
      now += HOUR_MS;
      const again = reopenDb(db.location!);
      cleanups.unshift(() => again.close());
      const b = scheduler(again, registry, () => now);
      await b.s.start(); // knows E1 and E2 already: their first-known times stay
      cleanups.unshift(() => b.s.stop());
      expect(b.s.lastRun('overdue-maintenance')).toEqual(first);
      expect(b.s.rules().find((r) => r.rule === 'overdue-maintenance')?.lastRun).toEqual(first);
      const second = await b.s.run('overdue-maintenance', 'schedule');
      expect(second).toMatchObject({ trigger: 'schedule', checked: 2, raised: 0, resolved: 0, stillActive: 2, error: null });
      expect(b.s.runs({ rule: 'overdue-maintenance', pageSize: 1, page: 2 })).toEqual({ items: [first], total: 2, page: 2, pageSize: 1 });
      expect(b.s.runs({ rule: 'overdue-inspection' }).total).toBe(0);
      expect(b.s.runs().items.map((r) => r.id)).toEqual([second.id, first.id]);

      // A newer routine visit ends E1's alert at once and moves its fact forward.
      b.maintenance([{ id: 'm4', elevator: 'E1', ts: now - HOUR_MS, kind: 'half_monthly' }]);
      expect(b.alerts.active('maintenance_overdue', 'elevator', 'E1')).toBeUndefined();
      expect(await b.s.run('overdue-maintenance')).toMatchObject({ raised: 0, resolved: 0, stillActive: 1 });
    });
  });
}
