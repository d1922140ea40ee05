// The alert lifecycle on its own, on SQLite and on PostgreSQL: one active
// alert per subject and type, repeats update it, transitions are checked and
// kept, lists filter and page, and everything survives reopening the database.
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { reopenDb, sqliteDb, type Db } from '../../storage/db.js';
import { DEFAULT_ESCALATION, escalationStep } from '../../alerts/rules/escalation.js';
import { AlertError, AlertStore, type AlertSort, type RaiseInput } from '../../alerts/store.js';
import { cstDate } from '../../domain/time.js';
import { BACKENDS, openTestDb } from '../db.js';

const entrapment = (at: number, evidence?: unknown): RaiseInput => ({ type: 'entrapment', severity: 'critical', subjectKind: 'elevator', subject: 'E1', district: '大祥区', unit: 'MU1', at, evidence });

for (const backend of BACKENDS) {
  describe(`alert store on ${backend}`, () => {
    const cleanups: (() => unknown)[] = [];
    afterEach(async () => {
      for (const c of cleanups.splice(0)) await c();
    });
    const open = async () => {
      const db = await openTestDb(backend, cleanups);
      return { db, store: new AlertStore(db) };
    };
    /** The same database through a second connection (a restart). */
    const reopen = (db: Db) => {
      const again = reopenDb(db.location!);
      cleanups.unshift(() => again.close());
      return { db: again, store: new AlertStore(again) };
    };

    it('keeps one active alert per subject and type; a repeat updates it', async () => {
      const { store } = await open();
      const first = store.raise(entrapment(1000, { id: 'ev-1' }));
      expect(first.transition).toBe('raised');
      const again = store.raise(entrapment(5000, { id: 'ev-2' }));
      expect(again.transition).toBe('repeated');
      expect(again.alert).toMatchObject({ id: first.alert.id, count: 2, firstAt: 1000, lastAt: 5000, evidence: [{ id: 'ev-1' }, { id: 'ev-2' }] });
      // a late occurrence moves first occurrence back, never last occurrence
      expect(store.raise(entrapment(500)).alert).toMatchObject({ firstAt: 500, lastAt: 5000, count: 3 });
      // another subject or type is another alert
      expect(store.raise({ ...entrapment(1000), subject: 'E2' }).transition).toBe('raised');
      expect(store.raise({ ...entrapment(1000), type: 'overspeed', severity: 'major' }).transition).toBe('raised');
      expect(store.list({ state: 'active' }).total).toBe(3);
    });

    it('a repeat at a higher severity is its own transition; a lower one is a plain repeat and never lowers it', async () => {
      const { store } = await open();
      const gas = (at: number, severity: 'major' | 'critical'): RaiseInput => ({ type: 'gas_leak', severity, subjectKind: 'gas_site', subject: 'G1:D1', district: '双清区', at });
      expect(store.raise(gas(1000, 'major')).transition).toBe('raised');
      expect(store.raise(gas(2000, 'major')).transition).toBe('repeated');
      const up = store.raise(gas(3000, 'critical'));
      expect(up).toMatchObject({ transition: 'severity_raised', at: 3000, alert: { severity: 'critical', count: 3 } });
      // paged as it rose: the unacknowledged-critical reminder counts from the rise, not from the opening
      expect(escalationStep({ ...up.alert, openedAt: Date.now() - 10 * 60_000 }, Date.now() + 1000, { ...DEFAULT_ESCALATION, escalateMs: 3_600_000 }).remind).toBe(false);
      expect(store.raise(gas(4000, 'major'))).toMatchObject({ transition: 'repeated', alert: { severity: 'critical', count: 4 } });
      expect(store.eventsSince(0).map((e) => [e.transition, e.alert.severity])).toEqual([['raised', 'major'], ['repeated', 'major'], ['severity_raised', 'critical'], ['repeated', 'critical']]);
    });

    it('sorts the list by a named key, ties by id; -severity puts critical first', async () => {
      const { store } = await open();
      store.raise({ ...entrapment(3000), subject: 'E1' });
      store.raise({ ...entrapment(1000), subject: 'E2', type: 'door_open_fault', severity: 'minor' });
      store.raise({ ...entrapment(2000), subject: 'E3', type: 'overspeed', severity: 'major' });
      store.raise({ ...entrapment(4000), subject: 'E4', type: 'offline', severity: 'warning' });
      const subjects = (sort?: AlertSort) => store.list({ sort }).items.map((a) => a.subject);
      expect(subjects()).toEqual(['E4', 'E3', 'E2', 'E1']); // newest first by default
      expect(subjects('-severity')).toEqual(['E1', 'E3', 'E2', 'E4']);
      expect(subjects('severity')).toEqual(['E4', 'E2', 'E3', 'E1']);
      expect(subjects('firstAt')).toEqual(['E2', 'E3', 'E1', 'E4']);
    });

    it('goes open → acknowledged → resolved with who and when, and opens a new alert only after resolution', async () => {
      const { store } = await open();
      const { alert } = store.raise(entrapment(1000));
      expect(store.acknowledge(alert.id, 'inspector-wang', 2000).alert).toMatchObject({ state: 'acknowledged', ackBy: 'inspector-wang', ackAt: 2000 });
      expect(() => store.acknowledge(alert.id, 'x')).toThrow(AlertError);
      expect(store.raise(entrapment(2500)).alert.id).toBe(alert.id); // still active while acknowledged
      expect(store.note(alert.id, 'inspector-wang', '已联系维保单位', 2600).alert.notes).toEqual([{ at: 2600, by: 'inspector-wang', text: '已联系维保单位' }]);
      expect(store.escalate(alert.id, 2700).alert.escalation).toBe(1);
      expect(store.resolve(alert.id, 'system', 'released', 3000).alert).toMatchObject({ state: 'resolved', resolvedBy: 'system', resolution: 'released' });
      expect(() => store.resolve(alert.id, 'x', 'again')).toThrow(/already resolved/);
      const next = store.raise(entrapment(4000));
      expect(next.transition).toBe('raised');
      expect(next.alert.id).not.toBe(alert.id);
    });

    it('tells listeners every transition and keeps them for resuming a feed', async () => {
      const { store } = await open();
      const heard: string[] = [];
      store.onTransition((r) => heard.push(`${r.alert.id}:${r.transition}`));
      const { alert } = store.raise(entrapment(1));
      store.raise(entrapment(2));
      store.acknowledge(alert.id, 'a', 3);
      store.resolve(alert.id, 'a', 'done', 4);
      expect(heard).toEqual([`${alert.id}:raised`, `${alert.id}:repeated`, `${alert.id}:acknowledged`, `${alert.id}:resolved`]);
      const events = store.eventsSince(0);
      expect(events.map((e) => e.transition)).toEqual(['raised', 'repeated', 'acknowledged', 'resolved']);
      expect(store.eventsSince(events[1]!.seq).map((e) => e.transition)).toEqual(['acknowledged', 'resolved']);
      expect(events[2]!.alert.state).toBe('acknowledged');
    });

    it('survives reopening the database', async () => {
      const a = await open();
      const { alert } = a.store.raise(entrapment(1000));
      a.store.acknowledge(alert.id, 'w', 1500);
      const seq = a.store.lastSeq;
      const b = reopen(a.db);
      a.db.close();
      expect(b.store.active('entrapment', 'elevator', 'E1')).toMatchObject({ id: alert.id, state: 'acknowledged', ackBy: 'w' });
      expect(b.store.raise(entrapment(2000)).transition).toBe('repeated');
      expect(b.store.lastSeq).toBe(seq + 1);
    });

    it('filters the list by state, severity, districts (plus city-wide alerts), types, subject and maxId, and pages it', async () => {
      const { store } = await open();
      const e1 = store.raise(entrapment(1000)).alert;
      store.raise({ ...entrapment(1000), subject: 'E2', district: '双清区', type: 'overspeed', severity: 'major' });
      store.raise({ ...entrapment(1000), subject: 'E3', district: '北塔区', type: 'door_open_fault', severity: 'minor' });
      const unit = store.raise({ type: 'unit_slow_response', severity: 'major', subjectKind: 'maintenance_unit', subject: 'MU1', unit: 'MU1', at: 1000 }).alert;
      store.resolve(e1.id, 'w', 'done', 2000);
      const subjects = (q: Parameters<AlertStore['list']>[0]) => store.list({ sort: 'id', ...q }).items.map((a) => a.subject);
      expect(subjects({ state: 'active' })).toEqual(['E2', 'E3', 'MU1']);
      expect(subjects({ state: 'resolved' })).toEqual(['E1']);
      expect(subjects({ severity: 'major' })).toEqual(['E2', 'MU1']);
      expect(subjects({ district: '双清区' })).toEqual(['E2']);
      expect(subjects({ districts: ['大祥区', '双清区'] })).toEqual(['E1', 'E2', 'MU1']); // a unit's alert is city-wide
      expect(subjects({ districts: [] })).toEqual(['MU1']);
      expect(subjects({ districts: null })).toEqual(['E1', 'E2', 'E3', 'MU1']);
      expect(subjects({ types: ['overspeed', 'door_open_fault'] })).toEqual(['E2', 'E3']);
      expect(subjects({ types: [] })).toEqual([]);
      expect(subjects({ notTypes: ['overspeed', 'door_open_fault'] })).toEqual(['E1', 'MU1']);
      expect(subjects({ notTypes: [] })).toEqual(['E1', 'E2', 'E3', 'MU1']);
      expect(subjects({ types: ['entrapment', 'overspeed'], districts: ['双清区'], state: 'active' })).toEqual(['E2']);
      expect(subjects({ subject: 'E3', unit: 'MU1' })).toEqual(['E3']);
      expect(subjects({ maxId: unit.id - 1 })).toEqual(['E1', 'E2', 'E3']);
      const page = store.list({ page: 2, pageSize: 3 });
      expect(page).toMatchObject({ total: 4, page: 2, pageSize: 3 });
      expect(page.items.map((a) => a.subject)).toEqual(['E1']); // newest first: the oldest is alone on page 2
      expect(store.list({ districts: ['双清区'], pageSize: 1 })).toMatchObject({ total: 2, items: [{ subject: 'MU1' }] });
    });

    it('counts alerts per type and day they were opened (China Standard Time), with how many are open and the worst severity', async () => {
      const { store } = await open();
      const before = cstDate(Date.now());
      store.raise(entrapment(1000));
      store.raise({ ...entrapment(1000), subject: 'E2', severity: 'major' });
      const e3 = store.raise({ ...entrapment(1000), subject: 'E3', severity: 'minor' }).alert;
      store.acknowledge(e3.id, 'w');
      store.raise({ ...entrapment(1000), subject: 'E4', type: 'overspeed', severity: 'minor' });
      const after = cstDate(Date.now());
      const groups = store.groups({});
      expect([before, after]).toContain(groups[0]!.day);
      expect(groups.map(({ day: _, ...g }) => g)).toEqual([
        { type: 'entrapment', count: 3, open: 2, worst: 'critical' },
        { type: 'overspeed', count: 1, open: 1, worst: 'minor' },
      ]);
      expect(store.groups({ types: ['overspeed'] }).map((g) => g.type)).toEqual(['overspeed']);
    });

    it('finds the unresolved alerts of a subject and its parts, not of a subject that only looks alike', async () => {
      const { store } = await open();
      const gas = (subject: string): RaiseInput => ({ type: 'gas_leak', severity: 'major', subjectKind: 'gas_site', subject, district: '双清区', at: 1000 });
      for (const s of ['G_1', 'G_1:D1', 'G_1:D2', 'GX1:D1', 'G_10:D1']) store.raise(gas(s));
      store.resolve(store.active('gas_leak', 'gas_site', 'G_1:D2')!.id, 'system', 'clear', 2000);
      expect(store.unresolvedOf('gas_site', 'G_1').map((a) => a.subject)).toEqual(['G_1:D1', 'G_1']);
      expect(store.activeIds('gas_leak').get('gas_site:GX1:D1')).toBe(store.active('gas_leak', 'gas_site', 'GX1:D1')!.id);
      expect(store.unresolved({ type: 'gas_leak', state: 'open' }).map((a) => a.subject)).toEqual(['G_1', 'G_1:D1', 'GX1:D1', 'G_10:D1']);
      expect(store.lastResolved('gas_leak', 'gas_site', 'G_1:D2')).toMatchObject({ resolvedAt: 2000, resolution: 'clear' });
    });

    it('a raise inside a caller\'s transaction commits with it, and goes when it rolls back (the ingest accept stage)', async () => {
      const { db, store } = await open();
      db.transaction(() => store.raise(entrapment(1000)))();
      expect(() => db.transaction(() => {
        store.raise({ ...entrapment(1000), subject: 'E2' });
        store.raise(entrapment(2000));
        throw new Error('the accept stage failed');
      })()).toThrow('the accept stage failed');
      expect(store.list().items.map((a) => [a.subject, a.count, a.lastAt])).toEqual([['E1', 1, 1000]]);
      expect(store.eventsSince(0).map((e) => e.transition)).toEqual(['raised']);
      expect(store.transitionAt(store.lastSeq)).toMatchObject({ transition: 'raised', alert: { subject: 'E1' } });
    });

    it('a transition listener that throws is logged; the other listeners still hear it and the transition stands', async () => {
      const logged: { obj: object; msg: string }[] = [];
      const store = new AlertStore(await openTestDb(backend, cleanups), { error: (obj, msg) => logged.push({ obj, msg }) });
      store.onTransition(() => {
        throw new Error('listener broke');
      });
      const heard: string[] = [];
      store.onTransition((r) => heard.push(r.transition));
      const raised = store.raise(entrapment(1000));
      expect(heard).toEqual(['raised']);
      expect(store.get(raised.alert.id)?.state).toBe('open');
      expect(logged.map((l) => [l.msg, (l.obj as { err: Error }).err.message])).toEqual([['alert transition listener failed', 'listener broke']]);
    });
  });
}

describe('alert store on an older SQLite file', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('adopts tables from before versioned migrations and adds the columns they lack', () => {
    const dir = mkdtempSync(join(tmpdir(), 'alerts-'));
    dirs.push(dir);
    const file = join(dir, 'state.db');
    const old = new Database(file);
    old.exec(`CREATE TABLE alerts (id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, severity TEXT NOT NULL, subject_kind TEXT NOT NULL, subject TEXT NOT NULL,
      district TEXT, unit TEXT, first_at INTEGER NOT NULL, last_at INTEGER NOT NULL, count INTEGER NOT NULL DEFAULT 1,
      state TEXT NOT NULL DEFAULT 'open', ack_by TEXT, ack_at INTEGER, resolved_by TEXT, resolved_at INTEGER, resolution TEXT,
      escalation INTEGER NOT NULL DEFAULT 0, notes TEXT NOT NULL DEFAULT '[]', evidence TEXT NOT NULL DEFAULT '[]');
      CREATE TABLE alert_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, alert_id INTEGER NOT NULL, transition TEXT NOT NULL, at INTEGER NOT NULL, snapshot TEXT NOT NULL);
      INSERT INTO alerts (type, severity, subject_kind, subject, first_at, last_at) VALUES ('entrapment', 'critical', 'elevator', 'E1', 1000, 1000);`);
    old.close();
    const db = sqliteDb(file);
    const store = new AlertStore(db);
    expect(store.active('entrapment', 'elevator', 'E1')).toMatchObject({ count: 1, openedAt: 0, openedLagMs: 0, remindedAt: null });
    expect(store.raise(entrapment(2000, undefined))).toMatchObject({ transition: 'repeated', lagMs: 0, alert: { count: 2, lastAt: 2000 } });
    db.close();
  });
});
